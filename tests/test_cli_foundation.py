"""`mh init`, `mh status`, home resolution and the uninitialised-home message."""

import json
import os

from tests.conftest import run_mh


def test_uninitialised_home_exits_1_with_hint(tmp_path):
    r = run_mh("status", home=tmp_path / "empty")
    assert r.returncode == 1
    assert "not initialised: run mh init" in r.stderr


def test_init_creates_tree_and_never_overwrites(tmp_path):
    root = tmp_path / "p"
    r = run_mh("init", str(root))
    assert r.returncode == 0, r.stderr
    for rel in ("persona/core.json", "persona/decision-rules.json", "etc/agent.json",
                "etc/boredom.json", "etc/sleep.json", "etc/auto-approval.json", "etc/training.json",
                "etc/operator.json", "etc/network.json", "etc/api.json", "memory/episodic",
                "memory/tasks/active", "memory/inbox/_archive", "logs/audit", "out/approval-queue"):
        assert (root / rel).exists(), rel
    assert json.loads((root / "persona/decision-rules.json").read_text())["trustLevel"] == "supervised_auto"
    core = root / "persona/core.json"
    core.write_text('{"identity": {"name": "Mine"}}')
    r = run_mh("init", str(root))
    assert r.returncode == 0 and "nothing overwritten" in r.stdout
    assert json.loads(core.read_text())["identity"]["name"] == "Mine"


def test_status_json(mh, home):
    r = mh("status", "--json")
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert data["trustLevel"] == "supervised_auto"
    assert data["name"] and "counts" in data and data["activeModel"]


def test_home_resolution_order(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    run_mh("init", str(a)); run_mh("init", str(b))
    # nearest ancestor holding etc/ + persona/ wins when MH_HOME is unset
    env = {k: v for k, v in os.environ.items() if k != "MH_HOME"}
    sub = a / "memory"
    import subprocess, sys
    from tests.conftest import REPO
    r = subprocess.run([sys.executable, "-m", "metahuman_tui.cli.main", "status", "--json"],
                       capture_output=True, text=True, cwd=sub, env={**env, "PYTHONPATH": str(REPO)})
    assert json.loads(r.stdout)["home"] == str(a)
    # --home beats MH_HOME
    r = run_mh("--home", str(b), "status", "--json", home=a)
    assert json.loads(r.stdout)["home"] == str(b)


def test_usage_error_exit_2(mh):
    assert mh("audit", "--level").returncode == 2
    assert mh("no-such-command").returncode == 2


def test_qa_help_has_no_markup_escapes(mh):
    r = mh("capture", "--help")
    assert r.returncode == 0 and "[required]" in r.stdout and "\\[" not in r.stdout


def test_qa_broken_persona_is_a_status_problem_not_a_crash(mh, home):
    (home / "persona/core.json").write_text('{"identity": {"name": "A",}')
    r = mh("status")
    assert r.returncode == 0, r.stderr
    assert "Problems:" in r.stdout and "persona/core.json: corrupt JSON" in r.stdout
    r = mh("persona", "show")
    assert r.returncode == 1 and "core.json" in r.stderr and "hint: fix the file" in r.stderr
    assert mh("init", "").returncode == 2


def test_qa_unexpected_errors_are_one_line_not_a_traceback(home):
    import subprocess, sys
    from tests.conftest import REPO
    code = ("import sys, metahuman_core.status as s, metahuman_tui.cli.main as m\n"
            "s.collect_status = lambda p: 1 / 0\nsys.argv = ['mh', 'status']\nm.run()\n")
    env = {**os.environ, "MH_HOME": str(home), "PYTHONPATH": str(REPO)}
    env.pop("MH_DEBUG", None)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert "internal error: ZeroDivisionError" in r.stderr and "MH_DEBUG=1" in r.stderr
