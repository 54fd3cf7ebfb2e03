"""Inbox import: every input kind, broken files, archive names, crash + rerun without duplicates,
and paragraph chunking (hypothesis)."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings, strategies as st

from metahuman_core.errors import ValidationFailed
from metahuman_core.memory import MemoryStore
from metahuman_core.memory.chunking import chunk_text, paragraphs
from metahuman_core.memory import inbox as inbox_mod
from metahuman_core.memory.inbox import ingest_paths
from metahuman_core.search import search


def process_inbox(profile, **kw):
    kw.setdefault("settle_s", 0)   # the files here are written before the run starts
    return inbox_mod.process_inbox(profile, **kw)


def counts(result):
    return {k: v for k, v in result.items() if k != "reports"}


def events(profile, name):
    return [e for d in profile.audit.dates() for e in profile.audit.entries(d) if e["event"] == name]


def contents(profile):
    return sorted(r["content"] for r in MemoryStore(profile).iter_all())


def test_every_input_kind(profile, fixed_clock):
    inbox = profile.home.inbox
    (inbox / "journal.md").write_text("# Monday\n\nWent hiking with Tom.\n\nIt rained.\n\n"
                                      "# Tuesday\n\nRead about owls.\n")
    (inbox / "plain.txt").write_text("One line note")
    (inbox / "one.json").write_text(json.dumps({
        "content": "Dinner with Ana", "timestamp": "2024-05-01T19:00:00+02:00",
        "type": "conversation", "tags": ["food"], "entities": ["Ana"], "mood": "happy"}))
    (inbox / "many.json").write_text(json.dumps(["first item", {"content": "second item",
                                                                "tags": ["x"]}]))
    (inbox / "str.json").write_text(json.dumps("just a string"))
    (inbox / "lines.jsonl").write_text('{"content": "line one", "type": "journal"}\n\n"line two"\n')
    result = process_inbox(profile)
    assert counts(result) == {"files": 6, "memories": 9, "failed": 0, "skipped": 0}
    assert [(r["file"], r["format"], r["status"], r["memories"]) for r in result["reports"]] == [
        ("journal.md", "text", "imported", 2), ("lines.jsonl", "jsonl", "imported", 2),
        ("many.json", "json", "imported", 2), ("one.json", "json", "imported", 1),
        ("plain.txt", "text", "imported", 1), ("str.json", "json", "imported", 1)]
    assert contents(profile) == sorted([
        "# Monday\n\nWent hiking with Tom.\n\nIt rained.", "# Tuesday\n\nRead about owls.",
        "One line note", "Dinner with Ana", "first item", "second item", "just a string",
        "line one", "line two"])
    ana = next(r for r in MemoryStore(profile).iter_all() if r["content"] == "Dinner with Ana")
    assert ana["id"] == "evt-20240501-190000-dinner-with-ana"
    assert ana["type"] == "conversation" and ana["entities"] == ["Ana"] and ana["mood"] == "happy"
    assert ana["tags"] == ["food", "ingested"] and ana["timestamp"] == "2024-05-01T19:00:00+02:00"
    assert ana["metadata"]["ingest"]["file"] == "one.json"
    assert ana["links"] == [{"type": "source", "target": "one.json[1/1]"}]
    archived = sorted(p.name for p in (inbox / "_archive/2025-10-19").iterdir())
    assert archived == ["journal.md", "lines.jsonl", "many.json", "one.json", "plain.txt", "str.json"]
    assert [p.name for p in inbox.iterdir() if p.is_file()] == []
    assert len(events(profile, "inbox_file_ingested")) == 6
    assert [h.content for h in search(profile, "owls")] == ["# Tuesday\n\nRead about owls."]


@pytest.mark.parametrize("name, data, reason", [
    ("photo.jpg", b"\xff\xd8\xff\xe0\x00\x10JFIF\x00", "binary"),
    ("latin1.txt", "café".encode("latin-1"), "not UTF-8"),
    ("empty.md", b"  \n\n", "empty"),
    ("broken.json", b'{"content": ', "invalid JSON"),
    ("nocontent.json", b'{"title": "x"}', "no text 'content'"),
    ("badtype.json", b'[{"content": "ok"}, {"content": "x", "type": "Not A Type"}]', "item 1"),
    ("badline.jsonl", b'{"content": "ok"}\n{oops\n', "line 2"),
    ("badtime.json", b'{"content": "x", "timestamp": "someday"}', "timestamp"),
])
def test_broken_files_go_to_failed_with_a_reason(profile, fixed_clock, name, data, reason):
    inbox = profile.home.inbox
    (inbox / name).write_bytes(data)
    assert process_inbox(profile)["failed"] == 1
    assert (inbox / "_failed" / name).read_bytes() == data
    assert reason in (inbox / "_failed" / f"{name}.error.txt").read_text()
    assert contents(profile) == []                  # nothing half-written
    failed = events(profile, "inbox_file_failed")
    assert failed[-1]["details"]["file"] == name and failed[-1]["level"] == "warn"


def test_archive_and_failed_names_never_overwrite(profile, fixed_clock):
    inbox = profile.home.inbox
    for text in ("first", "second", "third"):
        (inbox / "note.txt").write_text(text)
        (inbox / "bad.json").write_text("{" + text)
        process_inbox(profile)
    day = inbox / "_archive/2025-10-19"
    assert sorted(p.name for p in day.iterdir()) == ["note-2.txt", "note-3.txt", "note.txt"]
    assert (day / "note-3.txt").read_text() == "third"
    assert sorted(p.name for p in (inbox / "_failed").iterdir()) == [
        "bad-2.json", "bad-2.json.error.txt", "bad-3.json", "bad-3.json.error.txt", "bad.json",
        "bad.json.error.txt"]


class Crash(Exception):
    pass


def test_crash_halfway_then_rerun_never_duplicates(profile, fixed_clock, monkeypatch):
    inbox = profile.home.inbox
    (inbox / "a.jsonl").write_text("\n".join(json.dumps(f"alpha {i}") for i in range(6)))
    (inbox / "b.jsonl").write_text("\n".join(json.dumps(f"beta {i}") for i in range(6)))
    store = MemoryStore
    real_write = store.write_new
    written = []

    def dying_write(self, record, **kw):          # the process dies after 8 memories
        if len(written) == 8:
            raise Crash("power cut")
        out = real_write(self, record, **kw)
        written.append(out[0]["id"])
        return out

    monkeypatch.setattr(store, "write_new", dying_write)
    with pytest.raises(Crash):
        process_inbox(profile)
    monkeypatch.setattr(store, "write_new", real_write)
    assert len(contents(profile)) == 8 and (inbox / "a.jsonl").exists()  # nothing archived yet
    # the worst moment: the last memory is on disk but its ledger line is not
    ledger = inbox / "_ledger/journal.ndjson"
    lines = ledger.read_text().splitlines()      # ..., pending 8, done 8, pending 9 (crashed)
    assert "id" in json.loads(lines[-2]) and "stem" in json.loads(lines[-3])
    ledger.write_text("\n".join(lines[:-2] + lines[-1:]) + "\n")
    fixed_clock.advance(3600)                       # a later run: different time, same content
    result = process_inbox(profile)
    assert result["files"] == 2 and result["memories"] == 12
    got = contents(profile)
    assert got == sorted([f"alpha {i}" for i in range(6)] + [f"beta {i}" for i in range(6)])
    assert ledger.read_text() == ""               # journal forgotten once all is imported
    # the same content dropped again is archived as a duplicate, not imported twice
    (inbox / "again.jsonl").write_text((inbox / "_archive/2025-10-19/a.jsonl").read_text())
    assert process_inbox(profile)["skipped"] == 1 and len(contents(profile)) == 12


def test_stop_between_files_and_partial_files_left(profile, fixed_clock):
    inbox = profile.home.inbox
    for n in range(3):
        (inbox / f"n{n}.txt").write_text(f"note {n}")
    (inbox / "download.txt.part").write_text("half")
    calls = []
    result = process_inbox(profile, stop=lambda: len(calls.append(1) or calls) > 2)
    assert counts(result) == {"files": 2, "memories": 2, "failed": 0, "skipped": 1}
    assert sorted(p.name for p in inbox.iterdir() if p.is_file()) == ["download.txt.part", "n2.txt"]
    # a file changed a moment ago may still be being copied in: left for the next run
    assert inbox_mod.process_inbox(profile, settle_s=60)["files"] == 0
    assert (inbox / "n2.txt").exists()


def test_ingest_paths_copies_without_overwriting(profile, tmp_path, fixed_clock):
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.md").write_text("Alpha")
    (src / ".hidden").write_text("no")
    (src / "sub").mkdir()
    single = tmp_path / "a.md"
    single.write_text("Other alpha")
    out = ingest_paths(profile, [src, single])
    assert [p.name for p in out] == ["a.md", "a-2.md"]
    assert (profile.home.inbox / "a-2.md").read_text() == "Other alpha"
    assert len(events(profile, "inbox_file_queued")) == 2
    with pytest.raises(ValidationFailed, match="nope"):
        ingest_paths(profile, [tmp_path / "nope"])
    assert process_inbox(profile)["memories"] == 2


def test_binary_files_in_a_folder_are_left_out(profile, tmp_path, fixed_clock):
    src = tmp_path / "mixed"
    src.mkdir()
    (src / "notes.txt").write_text("Kept")
    (src / "photo.jpg").write_bytes(b"\xff\xd8\xff\x00\x10JFIF")
    skipped: list = []
    out = ingest_paths(profile, [src], skipped=skipped)
    assert [p.name for p in out] == ["notes.txt"]
    assert [p.name for p in skipped] == ["photo.jpg"]
    # named explicitly, it is queued and ends in _failed/ with its reason
    out = ingest_paths(profile, [src / "photo.jpg"])
    assert [p.name for p in out] == ["photo.jpg"]
    assert process_inbox(profile, settle_s=0)["failed"] == 1


# ------------------------------------------------------------------ chunking
def test_chunking_keeps_paragraphs_and_code_together():
    text = "Intro para.\n\n```\ncode\n\nmore code\n```\n\n## Next\n\nBody."
    assert paragraphs(text) == ["Intro para.", "```\ncode\n\nmore code\n```", "## Next", "Body."]
    assert chunk_text(text) == ["Intro para.\n\n```\ncode\n\nmore code\n```", "## Next\n\nBody."]
    long = " ".join(f"Sentence number {i} is here." for i in range(200))
    chunks = chunk_text(long, target=300, max_chars=400)
    assert all(len(c) <= 400 and c.endswith(".") for c in chunks)


def test_a_heading_stays_with_the_long_paragraph_after_it():
    body = "Words about the orchard. " * 60          # 1500 characters: over the target
    chunks = chunk_text(f"## Part 1\n\n{body}\n\n## Part 2\n\n{body}")
    assert [c.split("\n")[0] for c in chunks] == ["## Part 1", "## Part 2"]
    assert all(c.endswith("orchard.") for c in chunks)


words = st.text(alphabet="abcdefghij", min_size=1, max_size=30)
paras = st.lists(st.lists(words, min_size=1, max_size=40).map(" ".join), min_size=1, max_size=20)


@settings(max_examples=200, deadline=None)
@given(paras, st.sampled_from(["\n\n", "\n\n\n", "\r\n\r\n"]), st.integers(50, 400))
def test_chunks_keep_every_word_in_order_within_the_limit(ps, sep, max_chars):
    text = sep.join(ps)
    chunks = chunk_text(text, target=max_chars // 2, max_chars=max_chars)
    assert all(c.strip() and len(c) <= max_chars for c in chunks)
    assert " ".join(chunks).split() == text.split()
