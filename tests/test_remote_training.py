"""The remote cycle end to end: the fake RunPod API + a real sshd on 127.0.0.1 playing the pod.

Files really travel over SFTP, the trainer really runs "on the pod" (a stand-in package for the
fault tests, the real trainer with a tiny model in the slow test), and in every failure the pod
is terminated and run-summary.json says what happened. Signals go to a real `mh` subprocess.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from metahuman_core.profile import Profile
from metahuman_core.training.pod_ssh import HostKeyMismatch
from metahuman_core.training.remote import (
    CapExceeded,
    RemoteOptions,
    RemoteTrainingFailed,
    run_remote,
)
from tests.conftest import REPO
from tests.fakes.runpod_graphql import FakeRunPod
from tests.fakes.sshd import requires_sshd, sshd_server, start_sshd  # noqa: F401 (fixture)

pytestmark = [pytest.mark.sshd, requires_sshd]

KEY = "rpa_SECRET_live_key_5f3c9a1b7d"
DATE = "2025-10-19"
GGUF = f"persona-{DATE}.gguf"  # <persona slug>-<dataset label> ("persona" while the template is untouched)
SEED_FIELDS = ("date", "samples_used", "base_model", "pod_id", "pod_ip", "adapter_path",
               "terminated", "training_success")

STANDIN = r'''
import argparse, json, os, sys, time
from pathlib import Path
b = json.loads((Path(__file__).parent / "behaviour.json").read_text())
ap = argparse.ArgumentParser(); ap.add_argument("--input"); ap.add_argument("--output"); a = ap.parse_args()
out = Path(a.output); out.mkdir(parents=True, exist_ok=True)
if b.get("count_file"):
    with open(b["count_file"], "a") as fh: fh.write("start\n")
def emit(**kw):
    with open(out / "progress.ndjson", "a") as fh: fh.write(json.dumps(kw) + "\n")
cfg = json.loads((Path(a.input) / "config.json").read_text())
rows = (Path(a.input) / "unsloth_dataset.jsonl").read_text().splitlines()
emit(stage="INIT", pct=0, status="running", message=cfg["base_model"])
emit(stage="TRAINING", pct=15, step=1, loss=2.0, status="running")
if b.get("wait_for"):
    deadline = time.time() + 60
    while not os.path.exists(b["wait_for"]) and time.time() < deadline:
        time.sleep(0.05)
if b.get("fail"):
    emit(stage="TRAINING", pct=15, status="failed", message="boom")
    print("RuntimeError: CUDA out of memory (stand-in)", file=sys.stderr); sys.exit(1)
emit(stage="TRAINING", pct=80, step=2, loss=1.0, status="running")
(out / "adapter").mkdir(exist_ok=True)
(out / "adapter" / "adapter_model.safetensors").write_bytes(os.urandom(4096))
(out / "adapter" / "adapter_config.json").write_text('{"r": 8}')
(out / "merged").mkdir(exist_ok=True); (out / "merged" / "scratch.bin").write_bytes(b"x")
(out / ("%s-%s.gguf" % (cfg["gguf_name"], cfg["date"]))).write_bytes(b"GGUF" + os.urandom(300_000))
(out / "eval.json").write_text(json.dumps({"passed": True, "train_rows": len(rows), "heldout": 2,
                                           "loss_delta": -0.5, "llr_gain": 0.7,
                                           "per_prompt": [{"llr": 0.6}, {"llr": 0.7}, {"llr": 0.8}]}))
(out / "result.json").write_text(json.dumps({"success": True, "backend": "standin", "steps": 2,
                                             "eval_passed": True}))
emit(stage="COMPLETE", pct=100, status="done", message="done")
'''


def standin(root: Path, **behaviour) -> Path:
    pkg = root / "standin" / "trainer"
    pkg.mkdir(parents=True, exist_ok=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "__main__.py").write_text(STANDIN)
    (pkg / "behaviour.json").write_text(json.dumps(behaviour))
    return pkg


def _kill_trainers(workspace: Path):
    """What terminating a pod does to its processes: the fake API calls this on podTerminate."""
    def kill(_pod_id=None):
        for pidfile in workspace.glob("*/train.pid"):
            try:
                pid = int(pidfile.read_text().strip())
                if os.getpgid(pid) == pid:
                    os.killpg(pid, signal.SIGKILL)
            except (ValueError, ProcessLookupError, PermissionError):
                pass
    return kill


@pytest.fixture
def pod(tmp_path, sshd_server):  # noqa: F811 - the fixture imported above
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    fake = FakeRunPod(api_key=KEY, ssh_port=sshd_server.port, cost_per_hr=0.69,
                      on_terminate=_kill_trainers(workspace)).start()
    fake.workspace = workspace
    fake.sshd = sshd_server
    yield fake
    fake.stop()
    _kill_trainers(workspace)()


@pytest.fixture
def rhome(home, pod, monkeypatch):
    """A profile set up for remote training against `pod`; env as a person would set it."""
    prof = Profile(home)
    for key, value in (("workdir", str(pod.workspace)), ("python", sys.executable),
                       ("pollSeconds", 0.1), ("gpuTypes", ["NVIDIA GeForce RTX 5090", "NVIDIA A40"]),
                       ("sshUser", pod.sshd.user)):  # root on a pod; whoever runs the tests here
        prof.config.set_value(f"training.remote.{key}", value)
    raw = home / "out" / "adapters" / DATE / f"{DATE}.jsonl"
    raw.parent.mkdir(parents=True, exist_ok=True)
    rows = [{"instruction": f"What did you do on day {i}?", "input": "", "output": f"I fixed the bike, day {i}.",
             "meta": {"split": "heldout" if i >= 6 else "train"}} for i in range(8)]
    raw.write_text("\n".join(json.dumps(r) for r in rows + [{"instruction": "no output"}]) + "\n")
    (raw.parent / "metadata.json").write_text(json.dumps({"pairCount": 8, "trainCount": 6, "heldOutCount": 2}))
    from metahuman_core.training import gates

    gates.approve(prof, DATE)
    env = {"RUNPOD_API_KEY": KEY, "RUNPOD_API_URL": pod.url, "SSH_KEY_PATH": str(pod.sshd.client_key)}
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    prof.env = env
    return prof


def summary_of(prof, label=DATE) -> dict:
    return json.loads((prof.home.runs / label / "run-summary.json").read_text())


def check_summary(s: dict, status: str, pod: FakeRunPod) -> None:
    for field in SEED_FIELDS:
        assert field in s, field
    assert s["status"] == status, s.get("error")
    assert s["training_success"] is (status == "completed") and s["mode"] == "remote"
    assert s["terminated"] is True and s["pod_id"] in pod.terminated
    assert all(p["terminated"] for p in s["pods"]) and pod.live_pods() == []
    assert isinstance(s["cost_usd"], float) and s["finished_at"]


def assert_no_secret(*roots: Path, texts: tuple[str, ...] = ()) -> None:
    for text in texts:
        assert KEY not in text
    for root in roots:
        for path in root.rglob("*"):
            if path.is_file():
                assert KEY.encode() not in path.read_bytes(), f"secret leaked into {path}"


def wait_until(predicate, what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.05)


def steps(prof, label=DATE) -> list[str]:
    try:
        return summary_of(prof, label).get("steps_completed", [])
    except (FileNotFoundError, json.JSONDecodeError):
        return []


LAUNCH = ("from metahuman_tui.cli import main, remote_cmd\n"
          "'remote_cmd' in main.COMMAND_MODULES or remote_cmd.register(main.app)\nmain.run()")


@pytest.fixture
def start_mh():
    """Start `mh …` in the background (output to `log`); anything left running is killed after."""
    procs: list[subprocess.Popen] = []

    def start(prof, *args, log: Path) -> subprocess.Popen:
        env = {**os.environ, **prof.env, "MH_HOME": str(prof.root), "PYTHONPATH": str(REPO)}
        with log.open("wb") as fh:
            proc = subprocess.Popen([sys.executable, "-c", LAUNCH, *map(str, args)], stdout=fh,
                                    stderr=subprocess.STDOUT, env=env, cwd=REPO)
        procs.append(proc)
        return proc
    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


def mh_out(prof, *args) -> subprocess.CompletedProcess:
    env = {**os.environ, **prof.env, "MH_HOME": str(prof.root), "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-c", LAUNCH, *map(str, args)], capture_output=True,
                          text=True, env=env, cwd=REPO, timeout=120, check=False)


# ------------------------------------------------------------------ the happy path
def test_full_cycle_over_real_ssh(rhome, pod, tmp_path):
    pod.no_capacity = {"NVIDIA GeForce RTX 5090"}
    events: list[str] = []
    s = run_remote(rhome, RemoteOptions(date=DATE, trainer_dir=standin(tmp_path), on_event=events.append))
    check_summary(s, "completed", pod)
    assert [m["op"] for m in pod.mutations] == ["podFindAndDeployOnDemand"] * 2 + ["podTerminate"]
    assert s["gpu_type"] == "NVIDIA A40" and s["samples_used"] == 6 and s["pod_ip"] == "127.0.0.1"
    assert s["steps_completed"][-3:] == ["downloaded", "terminated", "finalized"]
    assert s["run"] == DATE and s["exit_code"] == 0 and s["backend"] == "standin"
    assert s["host_key_fingerprint"].startswith("SHA256:")
    assert s["host_key_fingerprint"] in (rhome.home.runs / DATE / "known_hosts").read_text() or \
        (rhome.home.runs / DATE / "known_hosts").read_text().startswith(f"[127.0.0.1]:{pod.ssh_port} ")
    out = rhome.home.adapters / DATE  # published by the training gates
    gguf = out / GGUF
    assert s["gguf_path"] == str(gguf) and gguf.read_bytes().startswith(b"GGUF")
    remote_out = pod.workspace / f"metahuman-{DATE}" / "output"
    assert gguf.read_bytes() == (remote_out / gguf.name).read_bytes()
    assert (out / "adapter" / "adapter_model.safetensors").read_bytes() == \
        (remote_out / "adapter" / "adapter_model.safetensors").read_bytes()
    assert s["adapter_path"] == str(out / "adapter")
    run_dir = rhome.home.runs / DATE
    assert not (run_dir / "merged").exists() and not list(run_dir.rglob("*.part"))
    ev = json.loads((out / "eval.json").read_text())
    assert ev["passed"] is True and ev["run"] == DATE  # re-verified by the evaluated gate
    from metahuman_core.training import gates

    assert gates.dataset_state(rhome, DATE)["status"] == "evaluated"
    assert (run_dir / "eval_dataset.jsonl").read_text().count("\n") == 2
    lines = [json.loads(x) for x in (run_dir / "progress.ndjson").read_text().splitlines()]
    assert lines[-1]["stage"] == "COMPLETE" and s["training_steps_done"] == 2
    clean = [json.loads(x) for x in (run_dir / "unsloth_dataset.jsonl").read_text().splitlines()]
    assert len(clean) == 6 and set(clean[0]) == {"instruction", "input", "output"}
    assert json.loads((run_dir / "config.json").read_text())["date"] == DATE
    assert set(s["upload_verification"]) >= {f"{pod.workspace}/metahuman-{DATE}/input/config.json"}
    assert {"pod_start_s", "upload_s", "training_s", "download_s", "terminate_s"} <= set(s["timings"])
    audit = "".join(p.read_text() for p in (rhome.root / "logs" / "audit").glob("*.ndjson"))
    for event in ("lora_training_started", "runpod_pod_created", "runpod_host_key_pinned",
                  "runpod_pod_terminated", "lora_training_completed", "lora_adapter_evaluated"):
        assert f'"event":"{event}"' in audit
    assert any("trying the next GPU type" in e for e in events)
    env = pod.ops("podFindAndDeployOnDemand")[-1]["variables"]["input"]["env"]
    assert env[0]["value"].startswith("ssh-ed25519 ")
    assert_no_secret(rhome.root, pod.workspace, texts=tuple(events))


def test_ssh_drop_mid_training_reconnects_and_training_keeps_running(rhome, pod, tmp_path):
    go = tmp_path / "go"
    trainer = standin(tmp_path, wait_for=str(go), count_file=str(tmp_path / "starts"))

    def chaos():
        wait_until(lambda: "training_started" in steps(rhome), "training to start")
        wait_until(lambda: pod.sshd.kill_sessions() > 0, "a live SSH session to kill")
        go.touch()
    t = threading.Thread(target=chaos, daemon=True)
    t.start()
    s = run_remote(rhome, RemoteOptions(date=DATE, trainer_dir=trainer))
    t.join(5)
    check_summary(s, "completed", pod)
    assert s["reconnects"] >= 1
    assert (tmp_path / "starts").read_text() == "start\n"  # never restarted
    assert "reconnected to the pod" in (rhome.home.runs / DATE / "remote.log").read_text()


def test_trainer_failure_terminates_and_reports_the_log(rhome, pod, tmp_path):
    with pytest.raises(RemoteTrainingFailed, match="exit 1.*CUDA out of memory"):
        run_remote(rhome, RemoteOptions(date=DATE, trainer_dir=standin(tmp_path, fail=True)))
    s = summary_of(rhome)
    check_summary(s, "failed", pod)
    assert s["remote_exit_code"] == 1 and "CUDA out of memory" in s["error"]
    assert s["stop_reason"] == "trainer_failed"
    assert "downloaded" not in s["steps_completed"] and s["progress"]["status"] == "failed"
    assert "CUDA out of memory" in (rhome.home.runs / DATE / "trainer.log").read_text()
    audit = "".join(p.read_text() for p in (rhome.root / "logs" / "audit").glob("*.ndjson"))
    assert '"event":"lora_training_failed"' in audit


@pytest.mark.parametrize("cap,value,words", [("max_usd", 1.0, "cost cap exceeded"),
                                             ("max_hours", 1.0 / 3600, "time cap exceeded")])
def test_caps_terminate_the_pod(rhome, pod, tmp_path, cap, value, words):
    pod.cost_per_hr = 3600.0  # one dollar a second
    opts = RemoteOptions(date=DATE, trainer_dir=standin(tmp_path, wait_for=str(tmp_path / "never")))
    setattr(opts, cap, value)
    with pytest.raises(CapExceeded, match=words):
        run_remote(rhome, opts)
    s = summary_of(rhome)
    check_summary(s, "failed", pod)
    assert s["stop_reason"] == "cap_exceeded" and words in s["error"] and s["caps"][cap] == value
    assert_no_secret(rhome.root, pod.workspace)


def test_no_capacity_anywhere_creates_nothing(rhome, pod, tmp_path):
    pod.no_capacity = {"NVIDIA GeForce RTX 5090", "NVIDIA A40"}
    with pytest.raises(Exception, match="no GPU type"):
        run_remote(rhome, RemoteOptions(date=DATE, trainer_dir=standin(tmp_path)))
    s = summary_of(rhome)
    assert s["status"] == "failed" and s["pod_id"] is None and pod.ops("podTerminate") == []
    assert s["pod_requested"] is None


def test_missing_settings_fail_before_anything_is_made(rhome, pod, tmp_path, monkeypatch):
    monkeypatch.delenv("RUNPOD_API_KEY")
    with pytest.raises(Exception, match="RUNPOD_API_KEY is not set"):
        run_remote(rhome, RemoteOptions(date=DATE, trainer_dir=standin(tmp_path)))
    assert not (rhome.home.runs / DATE).exists() and pod.requests == []


# ------------------------------------------------------------------ signals and kill -9
def test_sigint_during_upload_terminates_the_pod(rhome, pod, tmp_path, start_mh):
    marker = tmp_path / "stalled"
    stall = start_sshd(tmp_path / "stall-sshd", stall_sftp_marker=marker)
    try:
        pod.ssh_port = stall.port
        rhome.env["SSH_KEY_PATH"] = str(stall.client_key)
        proc = start_mh(rhome, "train", "remote", DATE, "--trainer-dir", standin(tmp_path),
                        log=tmp_path / "mh.log")
        wait_until(lambda: marker.exists() or proc.poll() is not None, "the upload to stall")
        assert proc.poll() is None, (tmp_path / "mh.log").read_text()
        proc.send_signal(signal.SIGINT)
        assert proc.wait(60) == 130
    finally:
        stall.stop()
    s = summary_of(rhome)
    check_summary(s, "cancelled", pod)
    assert s["stop_reason"] == "SIGINT" and "uploaded" not in s["steps_completed"]
    log = (tmp_path / "mh.log").read_text()
    assert "the pod was terminated" in log
    assert_no_secret(rhome.root, texts=(log,))


def test_connection_drop_during_upload_reconnects_and_resumes_it(rhome, pod, tmp_path, monkeypatch):
    marker = tmp_path / "stalled"
    stall = start_sshd(tmp_path / "stall-sshd", stall_sftp_marker=marker)
    try:
        pod.ssh_port = stall.port
        monkeypatch.setenv("SSH_KEY_PATH", str(stall.client_key))

        def drop():
            wait_until(marker.exists, "the upload to stall")
            stall.kill_sessions()
        t = threading.Thread(target=drop, daemon=True)
        t.start()
        s = run_remote(rhome, RemoteOptions(date=DATE, trainer_dir=standin(tmp_path)))
        t.join(5)
    finally:
        stall.stop()
    check_summary(s, "completed", pod)
    assert s["reconnects"] >= 1
    assert "connection dropped during upload" in (rhome.home.runs / DATE / "remote.log").read_text()


def test_sigterm_during_polling_terminates_the_pod(rhome, pod, tmp_path, start_mh):
    trainer = standin(tmp_path, wait_for=str(tmp_path / "never"))
    proc = start_mh(rhome, "train", "remote", DATE, "--trainer-dir", trainer, log=tmp_path / "mh.log")
    wait_until(lambda: "training_started" in steps(rhome) or proc.poll() is not None, "training")
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(60) == 143, (tmp_path / "mh.log").read_text()
    s = summary_of(rhome)
    check_summary(s, "cancelled", pod)
    assert s["stop_reason"] == "SIGTERM" and s["remote_pid"]
    assert_no_secret(rhome.root, pod.workspace, texts=((tmp_path / "mh.log").read_text(),))


def test_kill_9_leaves_a_pod_that_reap_terminates(rhome, pod, tmp_path, start_mh):
    trainer = standin(tmp_path, wait_for=str(tmp_path / "never"))
    proc = start_mh(rhome, "train", "remote", DATE, "--trainer-dir", trainer, log=tmp_path / "mh.log")
    wait_until(lambda: "training_started" in steps(rhome) or proc.poll() is not None, "training")
    proc.kill()
    proc.wait(30)
    (pod_id,) = pod.live_pods()
    runs = json.loads(mh_out(rhome, "train", "runs", "--json").stdout)
    assert runs[0]["pod_id"] == pod_id and runs[0]["state"] == "lost (pod may be alive)"
    assert runs[0]["pods_at_risk"] == [pod_id]
    dry = mh_out(rhome, "train", "reap", "--dry-run")
    assert "would terminate" in dry.stdout and pod.live_pods() == [pod_id]
    reaped = mh_out(rhome, "train", "reap")
    assert reaped.returncode == 0, reaped.stderr
    assert pod_id in reaped.stdout and "terminated" in reaped.stdout
    assert pod.live_pods() == [] and pod.terminated == [pod_id]
    s = summary_of(rhome)
    assert s["terminated"] is True and s["status"] == "lost" and s["training_success"] is False
    assert s["reaped"][0]["pod_id"] == pod_id
    again = mh_out(rhome, "train", "reap")
    assert "no pod to reap" in again.stdout and pod.terminated == [pod_id]
    table = mh_out(rhome, "train", "runs").stdout
    assert DATE in table and "lost" in table and pod_id in table
    assert_no_secret(rhome.root, texts=(reaped.stdout, reaped.stderr, table))


def test_rerun_after_kill_9_resumes_on_the_same_pod(rhome, pod, tmp_path, start_mh):
    go = tmp_path / "go"
    trainer = standin(tmp_path, wait_for=str(go), count_file=str(tmp_path / "starts"))
    proc = start_mh(rhome, "train", "remote", DATE, "--trainer-dir", trainer, log=tmp_path / "mh.log")
    wait_until(lambda: "training_started" in steps(rhome) or proc.poll() is not None, "training")
    proc.kill()
    proc.wait(30)
    go.touch()  # training finishes on the pod while nobody watches
    s = run_remote(rhome, RemoteOptions(date=DATE, trainer_dir=trainer))
    check_summary(s, "completed", pod)
    assert len(pod.ops("podFindAndDeployOnDemand")) == 1 and len(pod.ops("podTerminate")) == 1
    assert s["attempts"] == 2 and (tmp_path / "starts").read_text() == "start\n"
    assert not (rhome.home.runs / f"{DATE}-2").exists()
    # a trained dataset is not trained again (the gate), and a finished run is never resumed
    from metahuman_core.training.gates import GateError

    with pytest.raises(GateError, match="already has a trained adapter"):
        run_remote(rhome, RemoteOptions(date=DATE, trainer_dir=standin(tmp_path / "b")))


def test_resume_refuses_a_changed_host_key(rhome, pod, tmp_path, start_mh):
    trainer = standin(tmp_path, wait_for=str(tmp_path / "never"))
    proc = start_mh(rhome, "train", "remote", DATE, "--trainer-dir", trainer, log=tmp_path / "mh.log")
    wait_until(lambda: "training_started" in steps(rhome) or proc.poll() is not None, "training")
    proc.kill()
    proc.wait(30)
    root = tmp_path / "impostor"
    root.mkdir()
    for name in ("client_ed25519", "client_ed25519.pub"):
        (root / name).write_bytes((pod.sshd.root / name).read_bytes())
    os.chmod(root / "client_ed25519", 0o600)
    impostor = start_sshd(root)  # same client key, new host key
    try:
        pod.ssh_port = impostor.port
        with pytest.raises(HostKeyMismatch, match="differs from SHA256:"):
            run_remote(rhome, RemoteOptions(date=DATE, trainer_dir=trainer))
    finally:
        impostor.stop()
    s = summary_of(rhome)
    check_summary(s, "failed", pod)
    assert "host key" in s["error"]


# ------------------------------------------------------------------ the real trainer
@pytest.mark.slow
@pytest.mark.train
def test_real_trainer_runs_on_the_pod_and_the_gguf_comes_back(rhome, pod, tmp_path):
    pytest.importorskip("torch")
    gguf_mod = pytest.importorskip("gguf")
    from trainer.tiny_model import build_tiny_model

    base = tmp_path / "tiny-base"
    build_tiny_model(base)
    for key, value in (("base_model", str(base)), ("lora_rank", 4), ("num_train_epochs", 1),
                       ("gradient_accumulation_steps", 1), ("max_seq_length", 128),
                       ("trainer", {"eval_max_new_tokens": 4, "eval_samples": 1, "threads": 2})):
        rhome.config.set_value(f"training.{key}", value)
    s = run_remote(rhome, RemoteOptions(date=DATE))
    check_summary(s, "completed", pod)
    gguf = Path(s["gguf_path"])
    reader = gguf_mod.GGUFReader(str(gguf))
    assert len(reader.tensors) > 0
    out = rhome.home.adapters / DATE
    assert (out / "adapter" / "adapter_model.safetensors").is_file() and (out / "eval.json").is_file()
    assert json.loads((out / "eval.json").read_text())["heldout"] == 2
    assert s["training_steps_done"] >= 1 and s["progress"]["stage"] == "COMPLETE"
    uploaded = {Path(p).name for p in s["upload_verification"]}
    assert {"__main__.py", "progress.py", "unsloth_dataset.jsonl", "config.json"} <= uploaded
