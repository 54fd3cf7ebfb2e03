"""boredom-service: interval from etc/boredom.json (custom levels, comments, off), the
associative chain, and the reflection + summary memories it writes."""

from __future__ import annotations

import random


from metahuman_core.agents.boredom import BoredomService, build_chain, keywords, reflect
from metahuman_core.agents.records import AgentLog
from metahuman_core.agents.runner import Context
from metahuman_core.memory import MemoryStore

SEED_EXAMPLE = """{
  "level": "custom",
  "intervals": {
    "custom": 120  // Reflect every 2 minutes
  }
}
"""


def ctx(profile):
    return Context(profile, "boredom-service", AgentLog(profile.home.agents_dir, "boredom"))


def test_interval_follows_the_config_file(profile):
    svc = BoredomService()
    path = profile.config.path("boredom")
    path.write_text(SEED_EXAMPLE)                      # the seed's example, // comment included
    assert svc.interval(ctx(profile)) == 120.0
    profile.config.set_value("boredom.level", "off")
    assert svc.interval(ctx(profile)) is None          # off idles
    profile.config.set_value("boredom.intervals.custom", -1)
    profile.config.set_value("boredom.level", "custom")
    assert svc.interval(ctx(profile)) is None          # -1 idles too


def _memories(store):
    texts = [("Sailing on the lake with Sam", "sailing"), ("Sailing lessons at the club", "sailing"),
             ("Sailing trip planning for June", "sailing"), ("Filed my taxes online", "taxes"),
             ("Taxes due in April, receipts everywhere", "taxes"),
             ("Tax advisor meeting about receipts", "taxes")]
    return [store.capture(t, tags=[tag]) for t, tag in texts]


def test_chain_follows_shared_labels(profile, fixed_clock):
    store = MemoryStore(profile)
    _memories(store)
    pool = store.list()
    for seed in range(12):
        chain = build_chain(profile, store, pool, random.Random(seed), 3)
        ids = [r["id"] for r in chain]
        assert len(chain) == 3 and len(set(ids)) == 3
        assert set(chain[0]["tags"]) & set(chain[1]["tags"]), [r["content"] for r in chain]


def test_keywords_prefer_labels_then_salient_words():
    rec = {"tags": ["sailing"], "entities": ["Sam"], "content": "Met Sam at the Harbour today"}
    words = keywords(rec)
    assert words[:2] == ["sailing", "Sam"] and "Harbour" in words and "today" not in words


def test_too_few_memories_is_a_skip(profile, ollama):
    MemoryStore(profile).capture("only one")
    result = reflect(profile)
    assert result.status == "skipped" and "at least 3 memories" in result.reason
    assert ollama.chat_requests() == []


def test_reflection_and_summary_memories(profile, fixed_clock, ollama):
    store = MemoryStore(profile)
    made = _memories(store)
    ollama.script([{"content": "<think>hmm</think>I keep coming back to the water. It calms me."},
                   {"content": "The water calms me."}])
    result = reflect(profile, rng=random.Random(3))
    assert result.status == "ok" and result.counts["reflections"] == 1
    assert 3 <= result.counts["chain"] <= 5
    refl = store.list(type="reflection")
    assert len(refl) == 1
    r = refl[0]
    assert r["content"] == "I keep coming back to the water. It calms me."
    assert r["tags"] == ["idle-thought", "self-reflection"]
    known = {m["id"] for m in made}
    assert len(r["links"]) == result.counts["chain"]
    assert all(link["type"] == "memory" and link["target"] in known for link in r["links"])
    summary = store.list(type="reflection_summary")
    assert len(summary) == 1 and summary[0]["content"] == "The water calms me."
    assert summary[0]["links"] == [{"type": "reflection", "target": r["id"]}]
    prompt = ollama.chat_requests()[0]["messages"]
    assert "inner voice of Alex" in prompt[0]["content"] and "Greg" not in str(prompt)
    entries = [e for d in profile.audit.dates() for e in profile.audit.entries(d)]
    created = [e for e in entries if e["event"] == "reflection_created"]
    assert created and created[0]["actor"] == "boredom-service"
    assert set(created[0]["details"]) == {"id", "chain", "chars"}   # never the text itself


def test_reflections_are_not_seeds_of_new_chains(profile, fixed_clock, ollama):
    store = MemoryStore(profile)
    _memories(store)
    for _ in range(3):
        reflect(profile, rng=random.Random(1))
    for r in store.list(type="reflection"):
        targets = {link["target"] for link in r["links"]}
        linked_types = {store.get(t)["type"] for t in targets}
        assert linked_types == {"observation"}
