"""One run listing in the core (training/runs.py): RunStatus, ordered by date and number."""

from __future__ import annotations

import json

from metahuman_core.storage import PidLock, atomic_write_json
from metahuman_core.training import runs


def _run(profile, label: str, **summary) -> runs.Run:
    path = profile.home.runs / label
    path.mkdir(parents=True)
    run = runs.Run(label, path)
    if summary:
        atomic_write_json(run.summary_path, summary)
    return run


def test_runs_sorted_by_date_then_number(profile):
    for label in ("2025-10-19-10", "2025-10-19-9", "2025-10-19", "2025-10-18-2", "2025-10-20"):
        _run(profile, label, date=label[:10], status="completed")
    order = [r.run for r in runs.run_statuses(profile)]
    assert order == ["2025-10-18-2", "2025-10-19", "2025-10-19-9", "2025-10-19-10", "2025-10-20"]
    assert [r.run for r in runs.run_statuses(profile, newest_first=True)] == order[::-1]
    assert runs.latest_run_status(profile).run == "2025-10-20"


def test_latest_is_run_10_not_9(profile):
    _run(profile, "2025-10-19-9", status="completed")
    _run(profile, "2025-10-19-10", status="running")
    assert runs.latest_run_status(profile).run == "2025-10-19-10"


def test_status_fields_from_summary_and_progress(profile):
    run = _run(profile, "2025-10-19", date="2025-10-19", mode="local", status="completed")
    lines = [{"stage": "TRAINING", "pct": 40.0, "loss": 1.5, "message": "step 4"},
             {"stage": "GGUF_MERGE", "pct": 92.0, "loss": None, "message": "merging"}]
    run.progress_path.write_text("".join(json.dumps(x) + "\n" for x in lines) + '{"stage": "CO')
    st = runs.run_status(run)
    assert (st.status, st.stage, st.pct, st.loss, st.message) == \
        ("completed", "GGUF_MERGE", 92.0, 1.5, "merging")
    assert st.stage_text() == "GGUF_MERGE 92%"
    assert st.to_dict()["run"] == "2025-10-19" and st.to_dict()["mode"] == "local"


def test_running_without_a_lock_is_lost_and_with_lock_is_running(profile):
    run = _run(profile, "2025-10-19", status="running")
    assert runs.run_status(run).status == "lost"
    with PidLock(run.lock_path, "training"):
        st = runs.run_status(run)
        assert (st.status, st.alive) == ("running", True)


def test_corrupt_summary_is_listed_not_fatal(profile):
    run = _run(profile, "2025-10-19")
    run.summary_path.write_text("{trunc")
    _run(profile, "2025-10-20", status="completed")
    rows = runs.run_statuses(profile)
    assert [r.status for r in rows] == ["corrupt", "completed"]
    assert "run-summary.json" in rows[0].error


def test_progress_tail_reads_only_the_end(profile):
    run = _run(profile, "2025-10-19", status="running")
    big = "".join(json.dumps({"stage": "TRAINING", "pct": 20.0, "loss": 2.0, "message": "x" * 100})
                  + "\n" for _ in range(2000))
    run.progress_path.write_text(big + json.dumps({"stage": "TRAINING", "pct": 50.0}) + "\n")
    st = runs.run_status(run)
    assert st.pct == 50.0 and st.loss == 2.0


def test_one_list_of_stages():
    """STAGES lives in trainer/progress.py (the trainer cannot import the core); the core
    re-exports that very tuple for the faces, so there is nothing to drift."""
    import trainer.progress

    assert runs.STAGES is trainer.progress.STAGES
    assert runs.STAGES[0] == "INIT" and runs.STAGES[-1] == "COMPLETE"


def test_one_sha256_file(tmp_path):
    import hashlib

    from metahuman_core.storage import sha256_file

    path = tmp_path / "blob.bin"
    path.write_bytes(b"x" * 3_000_000)
    seen = []
    assert sha256_file(path, on_progress=lambda d, t: seen.append((d, t)), chunk=1 << 20) == \
        hashlib.sha256(b"x" * 3_000_000).hexdigest()
    assert seen[-1] == (3_000_000, 3_000_000) and len(seen) == 3
