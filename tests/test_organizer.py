"""organizer: structured-output extraction, merge, processed marks, backoff and quarantine,
and the skip when no model is reachable (nothing is marked processed without an extraction)."""

from __future__ import annotations

import json
import os
from datetime import datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from metahuman_core.agents.organizer import (SCHEMA, Organizer, clean_labels, memory_stats,
                                             merge)
from metahuman_core.agents.records import AgentLog
from metahuman_core.agents.runner import Context
from metahuman_core.memory import MemoryStore
from metahuman_core.search import index_for
from tests.conftest import FIXED_NOW


def ctx(profile):
    return Context(profile, "organizer", AgentLog(profile.home.agents_dir, "organizer"))


def reply(tags, entities):
    return {"content": json.dumps({"tags": tags, "entities": entities})}


def test_tags_entities_merged_and_marked(profile, fixed_clock, ollama):
    store = MemoryStore(profile)
    tagged = store.capture("Sailing with Sam on Lake Geneva", tags=["Sailing"], entities=["Sam"])
    done = store.capture("Already organized", metadata={"processed": True})
    ollama.script([reply(["sailing", " weekend ", "lake", "lake"],
                         [{"name": "Sam"}, "Lake Geneva", {"entity": "Geneva"}, 3])])
    result = Organizer().cycle(ctx(profile))
    assert result.status == "ok" and result.counts["processed"] == 1
    req = ollama.chat_requests()
    assert len(req) == 1 and req[0]["format"] == SCHEMA          # structured output
    assert "Sailing with Sam" in req[0]["messages"][-1]["content"]
    rec = store.get(tagged["id"])
    assert rec["tags"] == ["Sailing", "weekend", "lake"]           # existing first, no dupes
    assert rec["entities"] == ["Sam", "Lake Geneva", "Geneva"]
    meta = rec["metadata"]
    assert meta["processed"] is True and meta["model"] == "ollama:qwen3:1.7b"
    assert meta["processedAt"].startswith("2025-10-19T16:00:00")
    assert store.get(done["id"])["metadata"] == {"processed": True}
    from metahuman_core.search import search

    assert [h.id for h in search(profile, "tag:weekend")] == [tagged["id"]]   # index updated
    assert memory_stats(profile) == {"total": 2, "processed": 2, "unprocessed": 0, "failed": 0,
                                     "backingOff": 0, "completion": 100.0}
    events = [e for d in profile.audit.dates() for e in profile.audit.entries(d)]
    organized = [e for e in events if e["event"] == "memory_organized"]
    assert organized[0]["details"] == {"id": tagged["id"], "tags": 3, "entities": 3}


def test_llm_unreachable_skips_and_marks_nothing(profile, fixed_clock):
    profile.config.set_value("agent.host", "http://127.0.0.1:9")
    store = MemoryStore(profile)
    mem = store.capture("Nothing will organize me today")
    result = Organizer().cycle(ctx(profile))
    assert result.status == "skipped" and result.reason.startswith("LLM unavailable")
    assert store.get(mem["id"])["metadata"] == {"processed": False}
    assert memory_stats(profile)["unprocessed"] == 1


def test_bad_replies_back_off_then_quarantine(profile, fixed_clock, ollama):
    profile.config.set_value("agent.organizer", {"maxAttempts": 2, "backoffSeconds": 30})
    store = MemoryStore(profile)
    mem = store.capture("A memory the model cannot read")
    ollama.script([{"content": "sorry, no JSON here"}])
    first = Organizer().cycle(ctx(profile))
    assert first.status == "ok" and first.counts["errors"] == 1
    org = store.get(mem["id"])["metadata"]["organizer"]
    assert org["attempts"] == 1 and "not JSON" in org["lastError"]
    assert org["nextTryAt"].startswith("2025-10-19T16:00:30")
    assert memory_stats(profile)["backingOff"] == 1

    again = Organizer().cycle(ctx(profile))                    # still backing off: untouched
    assert again.counts["candidates"] == 0 and len(ollama.chat_requests()) == 1

    fixed_clock.advance(31)
    ollama.script([{"content": "[1, 2]"}])
    Organizer().cycle(ctx(profile))
    meta = store.get(mem["id"])["metadata"]
    assert meta["organizerFailed"] is True and meta["processed"] is False
    fixed_clock.advance(3600)
    assert Organizer().cycle(ctx(profile)).counts["candidates"] == 0   # never retried forever
    assert memory_stats(profile) == {"total": 1, "processed": 0, "unprocessed": 0, "failed": 1,
                                     "backingOff": 0, "completion": 0.0}


def test_server_errors_in_a_row_fail_the_cycle(profile, fixed_clock, ollama):
    store = MemoryStore(profile)
    for i in range(5):
        store.capture(f"memory number {i}")
    ollama.script([{"error": "out of memory", "status": 500}] * 3)
    result = Organizer().cycle(ctx(profile))
    assert result.status == "failed" and "3 extractions failed in a row" in result.error
    assert result.counts["errors"] == 3
    assert memory_stats(profile)["backingOff"] == 3                    # two never tried


def test_batches_ask_for_more(profile, fixed_clock, ollama):
    profile.config.set_value("agent.organizer", {"batchSize": 2})
    store = MemoryStore(profile)
    for i in range(3):
        store.capture(f"batch memory {i}")
    first = Organizer().cycle(ctx(profile))
    assert first.counts["processed"] == 2 and first.more
    second = Organizer().cycle(ctx(profile))
    assert second.counts["processed"] == 1 and not second.more


def test_bad_organizer_config_names_the_field(profile):
    from metahuman_core.agents.organizer import settings
    import json

    from metahuman_core.errors import ConfigError, ValidationFailed

    with pytest.raises(ValidationFailed, match=r"agent.json: field 'organizer.maxAttempts'"):
        profile.config.set_value("agent.organizer", {"maxAttempts": 0})  # refused at edit time
    path = profile.config.path("agent")
    raw = json.loads(path.read_text())
    raw["organizer"] = {"maxAttempts": 0}
    path.write_text(json.dumps(raw))  # a hand edit is reported by name when read
    with pytest.raises(ConfigError, match=r"agent.json: field 'organizer.maxAttempts'"):
        settings(profile)


@given(st.lists(st.one_of(st.text(max_size=120), st.integers(),
                          st.dictionaries(st.sampled_from(["name", "x"]), st.text(max_size=20)))))
def test_clean_labels_are_one_line_unique_and_bounded(values):
    out = clean_labels(values, 8, lower=False)
    assert len(out) <= 8
    assert len({v.lower() for v in out}) == len(out)
    assert all(v and "\n" not in v and len(v) <= 100 and v == " ".join(v.split()) for v in out)
    merged = merge(["Keep", "keep"], out)
    assert merged[:2] == ["Keep", "keep"]


def test_one_organizer_sees_later_changes(profile, fixed_clock, ollama):
    store = MemoryStore(profile)
    mem = store.capture("First capture")
    organizer = Organizer()                           # one instance across cycles, as in the loop
    assert organizer.cycle(ctx(profile)).counts["processed"] == 1
    assert organizer.cycle(ctx(profile)).counts["candidates"] == 0
    store.update(mem["id"], {"metadata": {"processed": False}})   # re-queued by hand
    later = store.capture("Second capture")
    result = organizer.cycle(ctx(profile))
    assert result.counts["processed"] == 2
    assert store.get(later["id"])["metadata"]["processed"] is True


def test_a_memory_that_cannot_be_saved_is_quarantined_not_fatal(profile, fixed_clock, ollama):
    import json as _json

    profile.config.set_value("agent.organizer", {"maxAttempts": 1})
    store = MemoryStore(profile)
    bad = store.capture("Hand-edited later")
    good = store.capture("A normal memory")
    path = store.path_of(bad["id"])
    data = _json.loads(path.read_text())
    data["tags"] = ["x" * 150]                        # a person's edit the schema refuses
    path.write_text(_json.dumps(data))
    result = Organizer().cycle(ctx(profile))
    assert result.status == "ok" and result.counts["processed"] == 1
    assert store.get(good["id"])["metadata"]["processed"] is True
    meta = store.get(bad["id"])["metadata"]
    assert meta["organizerFailed"] is True and "cannot save" in meta["organizer"]["lastError"]


# ---------------------------------------------------------------------------- state from the index
def _save_by_hand(path, data, *, in_place: bool) -> None:
    """A person's edit: an editor that renames a new file over the old one, or writes in place."""
    if in_place:
        with open(path, "r+") as fh:
            fh.write(json.dumps(data))
            fh.truncate()
    else:
        tmp = path.with_name(".edit.tmp")
        tmp.write_text(json.dumps(data))
        os.replace(tmp, path)


def test_hand_edited_state_is_counted(profile, fixed_clock, mh):
    store = MemoryStore(profile)
    a, b, c = (store.capture(f"memory {n}") for n in "abc")
    assert memory_stats(profile)["unprocessed"] == 3
    path = store.path_of(a["id"])
    data = json.loads(path.read_text())
    data["metadata"]["processed"] = True
    _save_by_hand(path, data, in_place=False)                 # seen by the cheap sync at once
    assert memory_stats(profile)["processed"] == 1
    path = store.path_of(b["id"])
    data = json.loads(path.read_text())
    data["metadata"]["organizerFailed"] = True
    _save_by_hand(path, data, in_place=True)                  # same inode, folder unchanged
    assert memory_stats(profile, full=True)["failed"] == 1    # `monitor --refresh` / full sweep
    out = json.loads(mh("agent", "monitor", "--json").stdout)
    assert (out["total"], out["processed"], out["failed"], out["unprocessed"]) == (3, 1, 1, 1)
    text = mh("agent", "monitor", "--refresh").stdout
    assert "Total memories: 3" in text and "Unprocessed:    1" in text
    store.update(c["id"], {"metadata": {"processed": True}})   # through the store: reindexed
    assert memory_stats(profile)["completion"] == pytest.approx(66.7)


def test_organizer_takes_candidates_newest_first_and_heals_a_stale_index(profile, fixed_clock,
                                                                          ollama):
    profile.config.set_value("agent.organizer", {"batchSize": 1})
    store = MemoryStore(profile)
    old = store.capture("The older memory")
    fixed_clock.advance(60)
    new = store.capture("The newer memory")
    path = store.path_of(new["id"])
    data = json.loads(path.read_text())
    data["metadata"]["processed"] = True
    _save_by_hand(path, data, in_place=True)                  # the index still says pending
    ollama.script([reply(["old"], [])])
    first = Organizer().cycle(ctx(profile))
    assert first.counts["processed"] == 0 and ollama.chat_requests() == []   # file wins
    second = Organizer().cycle(ctx(profile))                  # the index was corrected
    assert second.counts == {"candidates": 1, "processed": 1, "errors": 0, "quarantined": 0}
    assert store.get(old["id"])["tags"] == ["old"]
    assert memory_stats(profile)["processed"] == 2


def _expected(record: dict, now) -> str:
    """The states as the spec words them, judged file by file (the reference for the index)."""
    meta = record.get("metadata") if isinstance(record.get("metadata"), dict) else {}
    if meta.get("processed") is True:
        return "processed"
    if meta.get("organizerFailed") is True:
        return "failed"
    org = meta.get("organizer") if isinstance(meta.get("organizer"), dict) else {}
    when = org.get("nextTryAt")
    if isinstance(when, str):
        try:
            if datetime.fromisoformat(when) > now:
                return "waiting"
        except ValueError:
            pass
    return "pending"


def _at(seconds: int) -> str:
    return (FIXED_NOW + timedelta(seconds=seconds)).isoformat()


_SOON, _PAST = st.integers(0, 7200).map(_at), st.integers(-7200, 0).map(_at)  # 0: due exactly now
_RETRY = st.fixed_dictionaries({"attempts": st.integers(1, 5), "nextTryAt": _SOON})
_META = st.one_of(   # every state, and look-alikes ("true", 1, "yes", bad times), often enough
    st.sampled_from([None, "not a dict", {}, {"processed": "true"}, {"processed": 1},
                     {"organizerFailed": "yes"}, {"organizer": []},
                     {"organizer": {"nextTryAt": "garbage"}}, {"organizer": {"nextTryAt": 5}}]),
    st.fixed_dictionaries({"processed": st.just(True)}, optional={
        "organizerFailed": st.booleans(), "organizer": _RETRY}),
    st.fixed_dictionaries({"processed": st.just(False), "organizerFailed": st.just(True)},
                          optional={"organizer": _RETRY}),
    st.fixed_dictionaries({"processed": st.just(False), "organizer": _RETRY}),
    st.fixed_dictionaries({"organizer": st.fixed_dictionaries({"nextTryAt": _PAST})}))
_serial = iter(range(10**9))


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(metas=st.lists(st.tuples(_META, st.sampled_from(["2024", "2025"]), st.booleans()),
                      max_size=20))
def test_index_counts_match_a_file_by_file_count(profile, fixed_clock, metas):
    root = profile.home.episodic
    for old in root.glob("*/*.json"):
        old.unlink()
    expected = {"processed": 0, "failed": 0, "waiting": 0, "pending": 0}
    for meta, year, through_store in metas:
        n = next(_serial)                                     # fresh names: no inode reuse
        record = {"content": f"memory {n}", "timestamp": f"{year}-03-01T10:00:00+02:00"}
        if meta is not None:
            record["metadata"] = meta
        path = root / year / f"evt-{year}0301-100000-m{n}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(record))
        if through_store and isinstance(meta, dict):         # and some changed through the store
            MemoryStore(profile).update(path.stem, {"metadata": {"processed": True}})
            record["metadata"] = {**meta, "processed": True}
        expected[_expected(record, FIXED_NOW)] += 1
    stats = memory_stats(profile)
    assert stats["total"] == len(metas)
    assert (stats["processed"], stats["failed"], stats["backingOff"]) == (
        expected["processed"], expected["failed"], expected["waiting"])
    assert stats["unprocessed"] == expected["pending"] + expected["waiting"]
    due = {i for i, _ in index_for(profile).due(FIXED_NOW)}
    assert len(due) == expected["pending"]
