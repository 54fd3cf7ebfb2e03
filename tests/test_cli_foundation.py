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


# ------------------------------------------------------------------ first contact (issue 17)
def test_mh_without_a_terminal_says_so_and_exits_2_at_once(home):
    import subprocess, sys
    from tests.conftest import REPO
    env = {**os.environ, "MH_HOME": str(home), "PYTHONPATH": str(REPO)}
    env.pop("TEXTUAL_DRIVER", None)
    for args in ([], ["tui"], ["tui", "--pane", "tasks"]):
        r = subprocess.run([sys.executable, "-m", "metahuman_tui.cli.main", *args], env=env,
                           capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=20)
        assert r.returncode == 2, (args, r.stdout, r.stderr)
        assert r.stderr.strip() == "error: not a terminal; try mh --help" and r.stdout == ""
    # stdin a terminal is not enough: stdout piped (mh | less) is refused too
    import pty
    leader, follower = pty.openpty()
    try:
        r = subprocess.run([sys.executable, "-m", "metahuman_tui.cli.main"], env=env,
                           stdin=follower, capture_output=True, text=True, timeout=20)
    finally:
        os.close(leader); os.close(follower)
    assert r.returncode == 2 and "not a terminal" in r.stderr


def _run_in_pty(args, answers: str, env, timeout=30):
    """Run `mh ARGS` with stdin and stdout on a pseudo-terminal, typing `answers`."""
    import pty, select, subprocess, sys, time
    leader, follower = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "metahuman_tui.cli.main", *args], env=env,
                            stdin=follower, stdout=follower, stderr=follower, close_fds=True)
    os.close(follower)
    out, typed, deadline = b"", False, time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([leader], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(leader, 4096)
                except OSError:
                    break
                if not chunk:
                    break
                out += chunk
                if not typed and b"Your name" in out:
                    os.write(leader, answers.encode())
                    typed = True
            elif proc.poll() is not None:
                break
    finally:
        os.close(leader)
        proc.wait(timeout=10)
    return proc.returncode, out.decode(errors="replace")


def test_init_at_a_terminal_asks_for_name_and_description(tmp_path):
    from tests.conftest import REPO
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    root = tmp_path / "twin"
    code, out = _run_in_pty(["init", str(root)], "Greg\ncarpenter in Bergen\n", env)
    assert code == 0, out
    assert "Your name [Alex]" in out and "saved your name" in out
    ident = json.loads((root / "persona/core.json").read_text())["identity"]
    assert ident["name"] == "Greg" and ident["humanName"] == "Greg"
    assert ident["role"] == "carpenter in Bergen"
    # Enter keeps the template's values and writes nothing
    other = tmp_path / "kept"
    code, out = _run_in_pty(["init", str(other)], "\n\n", env)
    assert code == 0 and "saved your name" not in out, out
    from metahuman_core.profile import TEMPLATE_ROOT
    assert (other / "persona/core.json").read_bytes() == \
        (TEMPLATE_ROOT / "persona" / "core.json").read_bytes()
    # an existing profile is never asked again
    code, out = _run_in_pty(["init", str(root)], "X\nY\n", env, timeout=15)
    assert code == 0 and "Your name" not in out and "nothing overwritten" in out


def test_init_name_and_about_options(tmp_path):
    root = tmp_path / "p"
    from tests.conftest import run_mh
    r = run_mh("init", str(root), "--name", "Greg", "--about", "carpenter in Bergen")
    assert r.returncode == 0, r.stderr
    ident = json.loads((root / "persona/core.json").read_text())["identity"]
    assert (ident["name"], ident["role"]) == ("Greg", "carpenter in Bergen")
    bad = run_mh("init", str(tmp_path / "q"), "--name", "  ")
    assert bad.returncode == 2 and "--name must be one non-empty line" in bad.stderr
    assert not (tmp_path / "q").exists()


def test_init_where_no_folder_can_be_made_is_one_clear_line(tmp_path):
    from tests.conftest import run_mh
    r = run_mh("init", "/proc/foo")
    assert r.returncode == 1
    assert "[Errno" not in r.stderr and "internal error" not in r.stderr
    assert r.stderr.startswith("error: cannot create the profile at /proc/foo"), r.stderr
    assert "hint: choose a folder you can write to" in r.stderr
    blocker = tmp_path / "file"
    blocker.write_text("x")
    r = run_mh("init", str(blocker / "sub"))
    assert r.returncode == 1 and "[Errno" not in r.stderr and "not a folder" in r.stderr


def test_serve_on_a_busy_port_prints_only_our_message(mh):
    import socket
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        r = mh("serve", "--port", str(port), timeout=30)
    assert r.returncode == 1
    assert r.stdout == ""
    assert r.stderr.splitlines() == [
        f"error: cannot listen on 127.0.0.1:{port}: the port is already in use",
        "  hint: pick another port with --port (or stop what is using it)"], r.stderr


def test_serve_tui_on_a_busy_port_prints_only_our_message(mh):
    import socket
    import pytest
    pytest.importorskip("textual_serve")
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        r = mh("serve-tui", "--port", str(port), timeout=30)
    assert r.returncode == 1 and r.stdout == "", r.stdout
    assert r.stderr.splitlines()[0] == \
        f"error: cannot listen on 127.0.0.1:{port}: the port is already in use", r.stderr
