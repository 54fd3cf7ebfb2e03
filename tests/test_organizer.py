"""organizer: structured-output extraction, merge, processed marks, backoff and quarantine,
and the skip when no model is reachable (nothing is marked processed without an extraction)."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, strategies as st

from metahuman_core.agents.organizer import (SCHEMA, Organizer, clean_labels, memory_stats,
                                             merge)
from metahuman_core.agents.records import AgentLog
from metahuman_core.agents.runner import Context
from metahuman_core.memory import MemoryStore
from tests.fakes.fake_ollama import FakeOllama


@pytest.fixture
def ollama(profile):
    with FakeOllama(models=["qwen3:1.7b"]) as fake:
        profile.config.set_value("agent.host", fake.url)
        yield fake


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
