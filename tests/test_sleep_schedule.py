"""sleep-service scheduling: window (wrapping midnight), idle minutes, once per night, no overlap.
Pure functions over datetimes, then the service's own check with the injected clock."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, strategies as st

from metahuman_core import activity
from metahuman_core.agents import schedule
from metahuman_core.agents.sleep import not_due, read_state, run_night
from metahuman_core.config import SleepConfig
from metahuman_core.storage import file_lock


def all_entries(profile):
    return [e for d in profile.audit.dates() for e in profile.audit.entries(d)]


TZ = timezone(timedelta(hours=2))


def at(day: int, hh: int, mm: int = 0) -> datetime:
    return datetime(2025, 10, day, hh, mm, tzinfo=TZ)


def cfg(start="23:00", end="06:00", idle=15, **kw) -> SleepConfig:
    return SleepConfig.model_validate({"window": {"start": start, "end": end},
                                       "minIdleMins": idle, **kw})


@pytest.mark.parametrize("hh,mm,inside", [
    (22, 59, False), (23, 0, True), (23, 59, True), (0, 0, True), (3, 30, True),
    (5, 59, True), (6, 0, False), (12, 0, False)])
def test_window_wrapping_midnight(hh, mm, inside):
    assert schedule.in_window(at(19, hh, mm), "23:00", "06:00") is inside


@pytest.mark.parametrize("hh,inside", [(1, False), (2, True), (4, True), (5, False)])
def test_window_within_one_day(hh, inside):
    assert schedule.in_window(at(19, hh), "02:00", "05:00") is inside


def test_equal_start_and_end_is_all_day():
    assert all(schedule.in_window(at(19, h), "03:00", "03:00") for h in range(24))


@given(st.integers(0, 1439), st.integers(0, 1439), st.integers(0, 1439))
def test_window_and_its_complement_partition_the_day(s, e, t):
    if s == e:
        return
    start, end = f"{s // 60:02d}:{s % 60:02d}", f"{e // 60:02d}:{e % 60:02d}"
    now = datetime(2025, 10, 19, t // 60, t % 60, tzinfo=TZ)
    assert schedule.in_window(now, start, end) != schedule.in_window(now, end, start)


def test_night_key_belongs_to_the_evening_the_window_opened():
    assert schedule.night_key(at(19, 23, 30), "23:00", "06:00") == "2025-10-19"
    assert schedule.night_key(at(20, 2, 0), "23:00", "06:00") == "2025-10-19"
    assert schedule.night_key(at(20, 23, 5), "23:00", "06:00") == "2025-10-20"
    assert schedule.night_key(at(20, 3, 0), "02:00", "05:00") == "2025-10-20"


def test_idle_minutes():
    now = at(20, 1, 0)
    assert schedule.is_idle(now, None, 15)                          # never any activity
    assert not schedule.is_idle(now, now - timedelta(minutes=14), 15)
    assert schedule.is_idle(now, now - timedelta(minutes=15), 15)
    assert schedule.is_idle(now, now, 0)
    assert schedule.is_idle(now, now + timedelta(minutes=1), 0)     # clock skew: 0 idle


def test_not_due_reasons_in_order():
    c = cfg()
    night = at(20, 1, 0)
    assert "outside the sleep window 23:00-06:00" in schedule.not_due_reason(at(19, 20), c, None, {})
    assert schedule.not_due_reason(night, c, None, {}) is None
    busy = schedule.not_due_reason(night, c, night - timedelta(minutes=5), {})
    assert busy.startswith("not idle: last activity 5 min ago")
    done = schedule.not_due_reason(night, c, None, {"lastNight": "2025-10-19"})
    assert done == "already ran tonight (night of 2025-10-19)"
    # the next evening is a new night
    assert schedule.not_due_reason(at(20, 23, 30), c, None, {"lastNight": "2025-10-19"}) is None
    off = schedule.not_due_reason(night, cfg(enabled=False), None, {})
    assert "disabled" in off


def test_service_check_uses_shared_activity_and_injected_clock(profile, fixed_clock):
    profile.config.update("sleep", {"window": {"start": "23:00", "end": "06:00"},
                                    "minIdleMins": 15})
    fixed_clock.set(at(19, 23, 30))
    assert not_due(profile) is None
    activity.touch(profile, "chat")                                 # written by chat
    assert "not idle" in not_due(profile)
    fixed_clock.advance(16 * 60)
    assert not_due(profile) is None
    fixed_clock.set(at(20, 7, 0))
    assert "outside the sleep window" in not_due(profile)


def test_runs_once_per_night_and_never_overlaps(profile, fixed_clock, ollama):
    from metahuman_core.memory import MemoryStore

    profile.config.update("sleep", {"minIdleMins": 0, "maxDreamsPerNight": 2})
    store = MemoryStore(profile)
    fixed_clock.set(at(19, 22, 0))
    for text in ("Walked by the river with Sam", "Fixed the flaky build",
                 "Read about sailing", "Cooked dinner for Maria"):
        store.capture(text)
    fixed_clock.set(at(20, 1, 0))
    ollama.next_turn = lambda req: {"content": '{"preferences": ["quiet mornings"], '
                                               '"heuristics": [], "styleNotes": ["short"], '
                                               '"avoidances": []}'} if req.get("format") \
        else {"content": "I was sailing a river of code."}

    with file_lock(profile.home.run_dir / "sleep-pipeline.lock"):   # another run in progress
        held = run_night(profile)
    assert held.status == "skipped" and "already in progress" in held.reason

    first = run_night(profile)
    assert first.status == "ok", first.error
    assert first.counts == {"dreams": 2, "learnings": 1, "lora": 0}
    state = read_state(profile)
    assert state["lastNight"] == "2025-10-19" and state["status"] == "done"
    assert state["steps"]["lora"] == {"status": "skipped", "reason": "adapters.lora is false"}
    dreams = store.list(type="dream")
    assert len(dreams) == 2 and all(d["links"] and d["links"][0]["type"] == "source"
                                    for d in dreams)
    notes = profile.home.memory / "procedural" / "overnight" / "2025-10-19.md"
    assert "- quiet mornings" in notes.read_text()

    fixed_clock.advance(3600)
    second = run_night(profile)
    assert second.status == "skipped" and "already ran tonight" in second.reason
    assert len(store.list(type="dream")) == 2
    events = [e["event"] for e in all_entries(profile)]
    for name in ("sleep_started", "dream_created", "overnight_learnings_written",
                 "sleep_finished"):
        assert name in events


def test_llm_down_keeps_the_night_open(profile, fixed_clock):
    profile.config.set_value("agent.host", "http://127.0.0.1:9")   # nothing listens there
    profile.config.update("sleep", {"minIdleMins": 0})
    fixed_clock.set(at(20, 1, 0))
    res = run_night(profile)
    assert res.status == "skipped" and res.reason.startswith("LLM unavailable")
    assert read_state(profile) == {}


def _lora_events(profile):
    return [e for e in all_entries(profile) if e["event"].startswith("lora_")]


def test_lora_switch_off_builds_no_dataset(profile, fixed_clock, ollama):
    from metahuman_core.agents.sleep import lora_step

    profile.config.set_value("sleep.adapters.lora", False)
    result = lora_step(profile)
    assert result == {"status": "skipped", "reason": "etc/sleep.json adapters.lora is false"}
    assert not [p for p in profile.home.adapters.iterdir() if p.is_dir()]
    assert _lora_events(profile)[-1]["event"] == "lora_pipeline_skipped"


def test_lora_night_builds_dataset_but_automation_off_stops_there(profile, fixed_clock, ollama):
    from metahuman_core.memory import MemoryStore

    store = MemoryStore(profile)
    for i in range(4):
        store.capture(f"I prefer long walks before work, day {i}", type="journal")
    profile.config.update("sleep", {"minIdleMins": 0, "adapters": {"prompt": False, "lora": True}})
    profile.config.set_value("auto-approval.enabled", False)        # the seed's emergency control
    fixed_clock.set(at(20, 1, 0))
    res = run_night(profile)
    assert res.status == "ok", res.error
    lora = read_state(profile)["steps"]["lora"]
    assert lora["status"] == "ok" and lora["approval"] == "disabled"
    label = lora["date"]
    assert (profile.home.adapters / label / "metadata.json").is_file()
    assert not (profile.home.adapters / label / "approved.json").exists()
    names = [e["event"] for e in _lora_events(profile)]
    assert names == ["lora_dataset_built", "lora_pipeline_skipped"]


def test_lora_auto_approval_decides_when_enabled(profile, fixed_clock, ollama):
    from metahuman_core.agents.sleep import lora_step
    from metahuman_core.memory import MemoryStore

    MemoryStore(profile).capture("I like quiet mornings", type="journal")
    profile.config.set_value("sleep.adapters.lora", True)
    profile.config.update("auto-approval", {"enabled": True, "dryRun": False, "autoTrain": False})
    result = lora_step(profile)
    assert result["status"] == "ok" and result["approval"] in ("approved", "rejected")
    assert _lora_events(profile)[-1]["event"].startswith("lora_dataset_auto_")
