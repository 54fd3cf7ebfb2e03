"""Three real `mh agent run` processes (organizer, boredom-service at 1 s, sleep-service with its
window opened by the injected clock) against the fake Ollama server, while memories are captured
with `mh capture` and inbox files are imported by `mh agent run ingestor`.

Must end with: every memory processed (monitor: 0 unprocessed, ingested ones included),
reflections written, no torn JSON file at any point, a verifying audit chain, and each agent
stopping on SIGTERM within 5 s."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time

from metahuman_core.agents.runner import running_pid
from tests.conftest import MH, REPO
from tests.fakes.fake_ollama import FakeOllama

# Every process shares one injected clock: 23:30 local, real time flowing from there.
FAKE_NOW = {"MH_FAKE_NOW": "2025-10-19T23:30:00+02:00", "MH_FAKE_NOW_MODE": "offset"}
AGENTS = ("organizer", "boredom-service", "sleep-service")


def responder(req: dict) -> dict:
    """Deterministic model: tags from the memory's words, learnings JSON, or prose."""
    fmt = req.get("format")
    text = (req.get("messages") or [{}])[-1].get("content", "")
    if isinstance(fmt, dict) and "tags" in fmt.get("properties", {}):
        body = text.split("\n\n", 1)[-1].lower()
        words = [w for w in re.findall(r"[a-z]{5,}", body)][:3]
        return {"content": json.dumps({"tags": words or ["misc"],
                                       "entities": ["Sam"] if "sam" in body else []})}
    if isinstance(fmt, dict):
        return {"content": json.dumps({"preferences": ["quiet mornings by the water"],
                                       "heuristics": ["sleep on big decisions"],
                                       "styleNotes": [], "avoidances": []})}
    return {"content": "I notice how these moments keep pointing at the same thing."}


def env_for(home) -> dict:
    return dict(os.environ, MH_HOME=str(home), PYTHONPATH=str(REPO), **FAKE_NOW)


def mh_run(home, *args, timeout=60):
    return subprocess.run([*MH, *args], env=env_for(home), cwd=REPO, capture_output=True,
                          text=True, timeout=timeout)


def check_json_files(home) -> int:
    """Parse every JSON file of the profile; a torn write would fail here."""
    n = 0
    for path in home.rglob("*.json"):
        if "index" in path.parts:
            continue
        try:
            raw = path.read_bytes()
            if path.name == "audit-head.json":   # two records, one per line (metahuman_core/audit_head.py)
                for line in raw.splitlines():
                    if line.strip():
                        json.loads(line)
            else:
                json.loads(raw)
        except FileNotFoundError:   # renamed away between listing and reading
            continue
        except json.JSONDecodeError as exc:
            if path.parent.name == "etc":
                continue             # hand-edited config may hold // comments (jsonc)
            raise AssertionError(f"torn JSON file {path}: {exc}") from None
        n += 1
    return n


def monitor(home) -> dict:
    res = mh_run(home, "agent", "monitor", "--json")
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout)


def wait_until(predicate, timeout: float, what: str, home=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        if home is not None:
            check_json_files(home)
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def test_three_agents_with_captures_and_ingest(home, profile, tmp_path):
    from metahuman_core.agents.organizer import memory_stats
    from metahuman_core.memory import MemoryStore

    with FakeOllama(models=["qwen3:1.7b"]) as fake:
        fake.next_turn = responder
        profile.config.set_value("agent.host", fake.url)
        profile.config.set_value("boredom.intervals.custom", 1)
        profile.config.set_value("boredom.level", "custom")
        profile.config.update("sleep", {"window": {"start": "23:00", "end": "06:30"},
                                        "minIdleMins": 0, "maxDreamsPerNight": 2})
        store = MemoryStore(profile)
        for text in ("Walked along the river with Sam", "Planned the garden beds",
                     "Finished reading the sailing book", "Called mother about the holidays"):
            store.capture(text)

        procs = {}
        try:
            for name in AGENTS:
                extra = [] if name == "boredom-service" else ["--interval", "0.5"]
                out = open(tmp_path / f"{name}.out", "wb")
                procs[name] = subprocess.Popen([*MH, "agent", "run", name, *extra],
                                               env=env_for(home), cwd=REPO, stdout=out,
                                               stderr=subprocess.STDOUT)
            for name, proc in procs.items():
                wait_until(lambda: running_pid(profile, name) == proc.pid, 20, f"{name} lock")

            # the person keeps working while the agents run
            for i in range(5):
                assert mh_run(home, "capture", f"Evening note {i}: tidied the workshop").returncode == 0
            (home / "memory/inbox/notes.txt").write_text("First paragraph about bread.\n\n"
                                                         "Second paragraph about baking.\n")
            (home / "memory/inbox/trip.json").write_text(json.dumps(
                {"content": "Booked the ferry to the island", "tags": ["travel"]}))
            (home / "memory/inbox/ideas.md").write_text("# Ideas\n\nBuild a bird house.\n")
            ingest = mh_run(home, "agent", "run", "ingestor")
            assert ingest.returncode == 0, ingest.stderr + ingest.stdout
            assert not [p for p in (home / "memory/inbox").iterdir() if p.is_file()]

            wait_until(lambda: store.list(type="reflection_summary"), 30, "a reflection", home)
            state_file = home / "logs/run/sleep-state.json"
            wait_until(lambda: state_file.exists() and
                       json.loads(state_file.read_text()).get("status") == "done",
                       30, "the nightly run", home)

            # a second organizer refuses while the first runs
            second = mh_run(home, "agent", "run", "organizer", "--once")
            assert second.returncode == 1
            assert f"already running (pid {procs['organizer'].pid})" in second.stderr

            for name in ("boredom-service", "sleep-service"):   # stop the memory makers
                procs[name].send_signal(signal.SIGTERM)
                assert procs[name].wait(timeout=5) == 0, name
            wait_until(lambda: memory_stats(profile)["unprocessed"] == 0, 40,
                       "the organizer to catch up", home)
            stats = monitor(home)                                # what `mh agent monitor` says
            assert stats["unprocessed"] == 0
            procs["organizer"].send_signal(signal.SIGTERM)
            assert procs["organizer"].wait(timeout=5) == 0
        finally:
            for proc in procs.values():
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()

    # everything processed, ingested memories included
    assert stats["failed"] == 0 and stats["processed"] == stats["total"] >= 14
    ingested = [m for m in store.iter_all() if "ingested" in m["tags"]]
    assert len(ingested) >= 3 and all(m["metadata"]["processed"] is True for m in ingested)
    assert all(m["metadata"]["processed"] is True and m["metadata"]["model"] ==
               "ollama:qwen3:1.7b" for m in store.iter_all())
    tagged = [m for m in store.iter_all() if "workshop" in m["tags"]]
    assert len(tagged) == 5

    reflections = store.list(type="reflection")
    assert reflections and all(r["tags"][:2] == ["idle-thought", "self-reflection"]
                               and 3 <= len(r["links"]) <= 5 for r in reflections)
    assert store.list(type="dream") and len(store.list(type="dream")) <= 2
    assert (home / "memory/procedural/overnight/2025-10-19.md").is_file()

    assert check_json_files(home) > 20
    verify = mh_run(home, "audit", "verify")
    assert verify.returncode == 0, verify.stdout + verify.stderr
    for name in AGENTS:
        status = json.loads(mh_run(home, "agent", "status", name, "--json").stdout)
        assert status["total"] >= 1 and status["failures"] == 0, status
        assert status["pid"] is None
        assert any("stopped (signal)" in line for line in status["recentLog"])
