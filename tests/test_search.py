"""Search: query parser (hypothesis), FTS5 index kept in step with files changed by hand,
filters, relevance floor, snippets, rebuild, and semantic/hybrid when the extra is installed."""

from __future__ import annotations

import json
import os
import sqlite3
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from metahuman_core.errors import ValidationFailed
from metahuman_core.memory import MemoryStore
from metahuman_core.search import index_for, search
from metahuman_core.search.query import parse
from metahuman_core.search.semantic import fuse

TZ = timezone(timedelta(hours=2))


# ------------------------------------------------------------------ parser
def test_parse_pieces():
    q = parse('sarah "project plan" -lunch type:journal tag:work entity:Bob after:2025-10-01 '
              'before:2025-11-01 meet* the')
    assert q.terms == ["sarah"] and q.phrases == ["project plan"] and q.excluded == ["lunch"]
    assert q.types == ["journal"] and q.tags == ["work"] and q.entities == ["Bob"]
    assert (q.after, q.before) == ("2025-10-01", "2025-11-01") and q.prefixes == ["meet"]
    assert parse("the who").terms == ["the", "who"]        # only stop words: keep them
    assert parse("foo:bar").terms == ["foo:bar"]            # unknown field is just text


_fts = sqlite3.connect(":memory:")
_fts.execute("CREATE VIRTUAL TABLE t USING fts5(content, response, tags, entities, "
             "tokenize='porter unicode61 remove_diacritics 2')")
_fts.execute("INSERT INTO t VALUES ('hello world', '', 'a', 'Bob')")


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=60)
       | st.lists(st.sampled_from(['"', "-", "*", ":", "tag:", "type:", "NOT", "OR", "(", ")",
                                   "^", "NEAR", "x", "entity:", " ", "{", "}", "'"]),
                  max_size=12).map("".join))
def test_any_query_text_gives_valid_fts(text):
    q = parse(text)
    for expr in (q.fts(), q.excluded_fts()):
        if expr is not None:
            _fts.execute("SELECT rowid FROM t WHERE t MATCH ?", (expr,)).fetchall()


# ------------------------------------------------------------------ search behaviour
@pytest.fixture
def store(profile):
    s = MemoryStore(profile)
    data = [
        ("Met with Sarah about the project plan for the new garden", "observation", ["work"], ["Sarah"], 1),
        ("Lunch with Sarah at the noodle bar", "conversation", ["food"], ["Sarah"], 2),
        ("Wrote in my journal about the rain and the garden", "journal", ["home"], [], 3),
        ("Fixed the bicycle brakes; meetings all afternoon", "action", ["chores"], [], 4),
    ]
    for text, kind, tags, ents, day in data:
        s.capture(text, type=kind, tags=tags, entities=ents,
                  timestamp=datetime(2025, 10, day, 9, tzinfo=TZ))
    return s


def ids(hits):
    return [h.content.split()[0] + str(h.timestamp[8:10]) for h in hits]


def test_keyword_filters_and_snippets(profile, store):
    hits = search(profile, "sarah")
    assert len(hits) == 2 and all("[Sarah]" in h.snippet for h in hits)
    assert hits[0].path.endswith(".json") and hits[0].to_dict()["tags"]
    assert ids(search(profile, "sarah -noodle")) == ["Met01"]
    assert ids(search(profile, '"noodle bar"')) == ["Lunch02"]
    assert ids(search(profile, "garden type:journal")) == ["Wrote03"]
    assert ids(search(profile, "garden", type="journal")) == ["Wrote03"]
    assert ids(search(profile, "sarah tag:food")) == ["Lunch02"]
    assert ids(search(profile, "garden after:2025-10-02")) == ["Wrote03"]
    assert ids(search(profile, "garden before:2025-10-03")) == ["Met01"]
    assert ids(search(profile, "entity:sarah before:2025-10-02")) == ["Met01"]
    assert "Fixed04" in ids(search(profile, "meeting"))       # stemming: meetings ~ meeting
    assert ids(search(profile, "tag:chores")) == ["Fixed04"]  # filters alone: newest first
    assert ids(search(profile, "-sarah")) == ["Fixed04", "Wrote03"]
    with pytest.raises(ValidationFailed, match="mode"):
        search(profile, "x", mode="fuzzy")
    with pytest.raises(ValidationFailed, match="after"):
        search(profile, "garden after:yesterday")


def test_relevance_floor(profile, store):
    assert search(profile, "zebra") == []
    assert search(profile, "sarah zebra") == []                # AND: a partial match is not a hit
    assert search(profile, "") == [] and search(profile, "-") == []
    # natural language: no memory holds every word; those holding most of them still come back
    got = ids(search(profile, "what did sarah and I plan for the garden project yesterday"))
    assert got[0] == "Met01" and "Fixed04" not in got


def test_hand_made_changes_are_picked_up(profile, store):
    idx = index_for(profile)
    folder = profile.root / "memory/episodic/2025"
    target = next(p for p in folder.glob("*.json") if "bicycle" in p.read_text())
    # an editor's save (new file renamed over the old one)
    data = json.loads(target.read_text())
    data["content"] = "Fixed the tandem brakes"
    tmp = folder / ".edit.tmp"
    tmp.write_text(json.dumps(data))
    os.replace(tmp, target)
    assert ids(search(profile, "tandem")) == ["Fixed04"] and search(profile, "bicycle") == []
    # a file added by hand, and one deleted by hand
    (folder / "evt-20251005-080000-hand-made.json").write_text(json.dumps(
        {"content": "Hand made note about kites", "timestamp": "2025-10-05T08:00:00+02:00"}))
    lunch = next(p for p in folder.glob("*.json") if "noodle" in p.read_text())
    lunch.unlink()
    assert ids(search(profile, "kites")) == ["Hand05"]
    assert search(profile, "noodle") == []
    # an in-place edit (same inode, folder mtime unchanged): a displayed hit is re-checked,
    # and a full sweep (mh index status/refresh, or every FULL_SWEEP_S) finds the rest
    journal = next(p for p in folder.glob("*.json") if "journal" in p.read_text())
    with open(journal, "r+") as fh:
        data = json.load(fh)
        data["content"] += " and a rainbow"
        fh.seek(0)
        fh.write(json.dumps(data))
        fh.truncate()
    assert "rainbow" in search(profile, "garden type:journal")[0].content
    assert ids(search(profile, "rainbow")) == ["Wrote03"]
    # a broken file is reported, never a crash
    (folder / "evt-20251006-080000-broken.json").write_text("{oops")
    assert idx.sync(full=True)["bad"] == 1
    assert idx.status()["corrupt"][0]["path"].endswith("broken.json")
    assert len(search(profile, "sarah")) == 1


def test_index_is_derived_and_rebuildable(profile, store):
    before = ids(search(profile, "garden"))
    idx = index_for(profile)
    idx.close()
    for p in profile.root.joinpath("memory/index").glob("memory.db*"):
        p.unlink()
    assert ids(search(profile, "garden")) == before           # rebuilt from the files on open
    counts = idx.rebuild()
    assert counts["added"] == 4 and counts["bad"] == 0
    assert ids(search(profile, "garden")) == before
    assert idx.status()["memories"] == 4 and idx.status()["last_rebuild"]
    # an index file that is no longer a database is set aside and built again
    idx.close()
    (profile.root / "memory/index/memory.db").write_bytes(b"garbage" * 100)
    assert ids(search(profile, "garden")) == before
    assert list(profile.root.joinpath("memory/index").glob("memory.db.broken-*"))


def test_reciprocal_rank_fusion():
    fused = fuse([1, 2, 3], [3, 4])
    assert [r for r, _ in fused][:2] == [3, 1]   # in both lists beats first of one list
    assert fused[0][1] == pytest.approx(1 / 63 + 1 / 61)


semantic = pytest.importorskip("metahuman_core.search.embedder")


@pytest.mark.skipif(not semantic.available(), reason="needs the semantic extra")
def test_semantic_and_hybrid(profile, store):
    hits = search(profile, "eating noodles with a friend", mode="semantic", limit=2)
    assert hits and hits[0].content.startswith("Lunch with Sarah")
    assert all(h.matched == "semantic" for h in hits)
    assert search(profile, "quantum chromodynamics lattice", mode="semantic") == []
    hyb = search(profile, "sarah", mode="hybrid", limit=3)
    assert {h.content.split()[0] for h in hyb[:2]} == {"Met", "Lunch"}
    assert hyb[0].matched == "both"
    assert ids(search(profile, "garden", mode="semantic", type="journal")) == ["Wrote03"]
    assert index_for(profile).status()["embedded"] == 4


# ------------------------------------------------------------------ common words at scale
@pytest.fixture
def crowd(profile, monkeypatch):
    """13 memories sharing common words, oldest first; the index ranks at most 4 matches of a
    query (ranking.WINDOW, ~1000 in real use), as if every word here were in thousands."""
    from metahuman_core.search import ranking

    monkeypatch.setattr(ranking, "WINDOW", 4)
    s = MemoryStore(profile)
    texts = ["Coffee on the beach in Zanzibar, a dream trip"] + [
        f"Coffee on the beach with the team, day {i}" for i in range(2, 14)]
    kinds = ["dream"] + ["observation"] * 12
    for day, (text, kind) in enumerate(zip(texts, kinds), 1):
        s.capture(text, type=kind, timestamp=datetime(2025, 10, day, 9, tzinfo=TZ))
    return s


def days(hits):
    return [int(h.timestamp[8:10]) for h in hits]


def test_common_words_rank_the_newest_matches(profile, crowd):
    got = days(search(profile, "coffee beach", limit=3))
    assert len(got) == 3 and set(got) <= {10, 11, 12, 13}       # newest window, best of it
    assert days(search(profile, "coffee beach", limit=20)) != []  # limit > window: still works
    assert len(search(profile, "coffee beach", limit=20)) == 13
    assert days(search(profile, "coffee zanzibar")) == [1]      # a rare word: exact, old one found
    assert days(search(profile, "coffee type:dream")) == [1]    # filters widen the window
    assert search(profile, "coffee zebra") == []                # relevance floor unchanged


def test_mixed_natural_query_ranks_the_rare_word_first(profile, crowd):
    # no memory holds all four words: those holding half come back, the rare word's first,
    # though the window of newest "coffee beach" matches does not reach back to it
    got = days(search(profile, "zanzibar beach coffee holiday", limit=3))
    assert got[0] == 1 and len(got) == 3 and set(got[1:]) <= {10, 11, 12, 13}
    assert days(search(profile, "team beach coffee holiday", limit=2)) != [1]
    assert search(profile, "zanzibar holiday zebra unicorn") == []  # one word of four: no hit


def test_rebuild_indexes_in_time_order(profile, crowd):
    idx = index_for(profile)
    idx.rebuild()
    stamps = [r[0] for r in idx.conn.execute("SELECT ts FROM docs ORDER BY rid")]
    assert stamps == sorted(stamps)


def test_an_index_of_another_schema_version_is_rebuilt_from_the_files(profile, store):
    from metahuman_core.search.index import SCHEMA_VERSION

    idx = index_for(profile)
    first = next(iter(idx.select(limit=1)))[0]
    store.update(first, {"metadata": {"processed": True}})
    assert idx.state_counts() == {"processed": 1, "failed": 0, "pending": 3, "waiting": 0}
    idx.close()
    with sqlite3.connect(idx.path) as old:               # as left by an older version of mh
        old.execute("DROP INDEX docs_state")
        old.execute(f"PRAGMA user_version={SCHEMA_VERSION - 1}")
    assert ids(search(profile, "garden")) and idx.count() == 4   # new schema, filled on sync
    assert idx.conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert idx.state_counts()["processed"] == 1
    newest_first = [i for i, _ in idx.select()]
    assert [i for i, _ in idx.due()] == [i for i in newest_first if i != first]
    assert [i for i, _ in idx.due(limit=2)] == newest_first[1:3]


# ------------------------------------------------------------------ source: and count()
@pytest.fixture
def chats(profile, store):
    """Two imported chats (source set by `mh ingest`) beside the four plain memories."""
    store.capture("Sarah: the garden numbers are ready", type="conversation",
                  source="whatsapp:family_chat.txt", timestamp=datetime(2025, 10, 5, 9, tzinfo=TZ))
    store.capture("Standup moved to 10, garden later", type="conversation",
                  source="Telegram:work", timestamp=datetime(2025, 10, 6, 9, tzinfo=TZ))
    return store


def test_parse_source_filters():
    q = parse("numbers source:whatsapp -source:telegram:work")
    assert q.terms == ["numbers"] and q.sources == ["whatsapp"] and q.not_sources == ["telegram:work"]
    assert q.has_filters and not parse("numbers").has_filters


def test_source_filter_is_a_prefix_alone_or_with_words(profile, chats):
    assert ids(search(profile, "source:whatsapp")) == ["Sarah:05"]
    assert ids(search(profile, "source:WhatsApp:family")) == ["Sarah:05"]    # case does not matter
    assert ids(search(profile, "garden source:telegram")) == ["Standup06"]
    assert ids(search(profile, "source:whatsapp source:telegram")) == ["Standup06", "Sarah:05"]
    assert ids(search(profile, "garden -source:whatsapp -source:telegram")) == ["Wrote03", "Met01"]
    assert search(profile, "source:signal") == [] and search(profile, "garden source:signal") == []
    assert search(profile, "source:whatsapp_") == [] and search(profile, "source:%") == []  # no LIKE wildcards
    assert ids(search(profile, "source:whatsapp", mode="hybrid")) == ["Sarah:05"]


def test_an_index_made_before_the_source_column_is_rebuilt_with_it(profile, chats):
    idx = index_for(profile)
    idx.close()
    with sqlite3.connect(idx.path) as old:               # as left by schema 6 (no source column)
        old.execute("DROP INDEX docs_source")
        old.execute("ALTER TABLE docs DROP COLUMN source")
        old.execute("PRAGMA user_version=6")
    assert ids(search(profile, "source:whatsapp")) == ["Sarah:05"]
    assert idx.count() == 6
    path = Path(search(profile, "source:telegram")[0].path)
    data = json.loads(path.read_text())
    data["source"] = "signal:work"                          # a hand edit is picked up too
    path.write_text(json.dumps(data))
    idx.sync(full=True)
    assert search(profile, "source:telegram") == [] and ids(search(profile, "source:signal")) == ["Standup06"]


def test_count_is_the_true_total_behind_a_capped_search(profile):
    folder = profile.home.memory / "episodic" / "2025"
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(620):                     # hand-made files: the index picks them up on sync
        rec = {"id": f"evt-20250101-{i // 60:02d}{i % 60:02d}00-n{i}", "type": "observation",
               "timestamp": f"2025-01-01T{i // 60:02d}:{i % 60:02d}:00+00:00",
               "content": f"walked the dog number {i}" + (" in the rain" if i % 2 else ""),
               "tags": ["walk"] if i < 100 else [],
               **({"source": "whatsapp:dogs.txt"} if i % 10 == 0 else {})}
        (folder / f"{rec['id']}.json").write_text(json.dumps(rec))
    from metahuman_core.search import count

    assert len(search(profile, "dog", limit=500)) == 500 and count(profile, "dog") == 620
    assert count(profile, "dog rain") == 310 and count(profile, "dog -rain") == 310
    assert count(profile, "tag:walk") == 100 and count(profile, "dog", tag="walk") == 100
    assert count(profile, "source:whatsapp") == 62 and count(profile, "rain source:whatsapp") == 0
    assert count(profile, "after:2025-01-02") == 0 and count(profile, "") == 0
    # no memory holds all four words: the OR fallback keeps those holding at least half
    assert count(profile, "dog rain zebra unicorn") == 310 == len(search(profile, "dog rain zebra unicorn", limit=1000))
    assert count(profile, "dog rain zebra unicorn -number") == 0
