"""The remote training cycle on RunPod (DESIGN §10.6): the seed's eight steps, done safely.

gates + run folder (runs.create_run: cleaned dataset, config.json) → pod (its id written to run-summary.json before anything else) → SSH with
a pinned host key → verified upload of data, config and the trainer package → detached training
polled with short commands (reconnecting on drops) → verified download → terminate (in `finally`
and on SIGINT/SIGTERM) → check the pod is gone → run-summary.json. Time and cost caps terminate
the pod. Every completed step is recorded in the summary; re-running the same date resumes after
the last one (steps that lived on a pod that is gone are redone on a new pod). The adapter is then
published and its evaluation recorded by `local.finalize`, the gate the local path uses too.
Keeping the SSH session up (connect, reconnect after a drop, retried transfers) is remote_link.py.
"""

from __future__ import annotations

import importlib.util
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import clock, events
from ..errors import MHError, ValidationFailed
from ..redact import scrub_string
from ..storage import PidLock
from . import local, runs
from . import remote_state as state
from .cancel import Cancelled, SignalGuard
from .pod_ssh import SSH_ERRORS, public_key_line, resolve_key_path, start_command, status_command
from .remote_link import PodLink, RemoteTrainingFailed
from .runpod import POD_NAME_PREFIX, PodSpec, RunPodClient, api_url, load_api_key

__all__ = ["CapExceeded", "RemoteOptions", "RemoteRun", "RemoteTrainingFailed", "run_remote"]

POD_STEPS = ("pod_ready", "connected", "uploaded", "training_started", "trained")


class CapExceeded(MHError):
    pass


@dataclass
class RemoteOptions:
    date: str | None = None                  # dataset label; default: newest approved, untrained
    gpu: str | None = None
    max_hours: float | None = None
    max_usd: float | None = None
    trainer_dir: Path | None = None          # default: the repo's trainer/ package
    ssh_key_path: str | None = None          # default: SSH_KEY_PATH / RUNPOD_SSH_KEY_PATH
    start_timeout_s: float = 900.0           # pod start + sshd up
    reconnect_timeout_s: float = 600.0       # how long a dropped connection may stay down
    actor: str = "cli"
    on_event: Callable[[str], None] | None = None
    handle_signals: bool = True


def default_trainer_dir() -> Path:
    spec = importlib.util.find_spec("trainer")
    if spec is None or not spec.origin:
        raise MHError("the trainer package is not importable", hint="run from the repo checkout")
    return Path(spec.origin).parent


class RemoteRun(PodLink):
    run: runs.Run          # execute() makes the client and opens the run folder before any
    client: RunPodClient   # step, log line or save uses them

    def __init__(self, profile, options: RemoteOptions):
        self.profile = profile
        self.opts = options
        self.cfg = profile.config.get("training").remote
        self.max_hours = options.max_hours if options.max_hours is not None else self.cfg.maxHours
        self.max_usd = options.max_usd if options.max_usd is not None else self.cfg.maxUsd
        if self.max_hours <= 0 or self.max_usd <= 0:
            raise ValidationFailed("--max-hours and --max-usd must be greater than 0")
        self._finalized = False
        self.summary: dict[str, Any] = {}
        self.signals = SignalGuard()

    # ---------------------------------------------------------------- plumbing
    def _say(self, message: str) -> None:
        state.log(self.run, message)
        if self.opts.on_event:
            self.opts.on_event(scrub_string(message))

    def _save(self, **changes: Any) -> None:
        self.summary.update(changes)
        self.summary["updated_at"] = clock.iso()
        state.save(self.run, self.summary)

    def _done(self, step: str, **changes: Any) -> None:
        steps = self.summary.setdefault("steps_completed", [])
        if step not in steps:
            steps.append(step)
        self._save(**changes)

    def _has(self, step: str) -> bool:
        return step in self.summary.get("steps_completed", [])

    # ---------------------------------------------------------------- caps
    def _check_caps(self, *_: Any) -> None:
        hours, usd = state.billable(self.summary, clock.now())
        self.summary["cost_usd"] = round(usd, 4)
        self.summary["billable_hours"] = round(hours, 4)
        if hours > self.max_hours:
            raise CapExceeded(f"time cap exceeded: {hours:.3f} h > {self.max_hours} h",
                              hint="raise --max-hours or remote.maxHours in etc/training.json")
        if usd > self.max_usd:
            raise CapExceeded(f"cost cap exceeded: ${usd:.4f} > ${self.max_usd}",
                              hint="raise --max-usd or remote.maxUsd in etc/training.json")

    # ---------------------------------------------------------------- the cycle
    def execute(self) -> dict[str, Any]:
        # every setting is checked before a folder is made or a cent is spent
        self.client = RunPodClient(load_api_key(self.profile.home.secrets_dir), api_url())
        self.key_path = resolve_key_path(self.opts.ssh_key_path)
        self.trainer_dir = Path(self.opts.trainer_dir) if self.opts.trainer_dir else default_trainer_dir()
        if not (self.trainer_dir / "__main__.py").is_file():
            raise ValidationFailed(f"{self.trainer_dir}: not a trainer package (no __main__.py)")
        self.run, resumed = state.open_run(self.profile, self.opts.date)
        with PidLock(self.run.lock_path, f"remote training run {self.run.label}"):
            self.summary = state.begin_attempt(self.run.summary(), self.run, resumed,
                                               self.max_hours, self.max_usd)
            self._save(ssh_user=self.cfg.sshUser, ssh_key_path=str(self.key_path), pid=os.getpid())
            if self.opts.handle_signals:
                self.signals.install()
            outcome: BaseException | None = None
            try:
                self._cycle()
            except BaseException as exc:  # noqa: BLE001 - every way out must still terminate
                outcome = exc
            finally:
                self.signals.closing = True
                self._shutdown(outcome)
                self.signals.restore()
        if outcome is not None:
            raise outcome
        return self.summary

    def _cycle(self) -> None:
        t0 = time.monotonic()
        self.profile.audit.append(events.LORA_TRAINING_STARTED, actor=self.opts.actor,
                                  category="action", details={
                                      "date": self.run.dataset, "run": self.run.label, "mode": "remote",
                                      "attempt": self.summary["attempts"],
                                      "samples_used": self.summary.get("samples_used")})
        self._save(status="running")
        self._say(f"run {self.run.label}: {self.summary.get('samples_used')} samples, "
                  f"base {self.summary.get('base_model')}, attempt {self.summary['attempts']}")
        if not self._has("downloaded"):  # after the download, no pod is needed any more
            self._ensure_pod()
            self._timed("pod_start_s", self._wait_and_connect)
            if not self._has("uploaded"):
                self._timed("upload_s", self._upload)
            if not self._has("trained"):
                self._timed("training_s", self._train)
            self._timed("download_s", self._download)
        self._terminate()
        self.summary.setdefault("timings", {})["cycle_s"] = round(time.monotonic() - t0, 3)
        self._done("finalized", phase="publishing")
        self._finalized = True  # finalize audits the outcome itself
        rc = local.finalize(self.profile, self.run, 0, False, self.opts.actor)
        self.summary = self.run.summary()
        if rc != 0:
            raise RemoteTrainingFailed(f"publishing the adapter failed: {self.summary.get('error')}")

    def _timed(self, key: str, fn: Callable[[], None]) -> None:
        t = time.monotonic()
        try:
            fn()
        finally:
            self.summary.setdefault("timings", {})[key] = round(time.monotonic() - t, 3)

    def _ensure_pod(self) -> None:
        pod_id = self.summary.get("pod_id")
        if pod_id and not self.summary.get("terminated"):
            if not self.client.is_gone(pod_id):
                self._say(f"resuming on pod {pod_id}")
                return
            self._say(f"pod {pod_id} is gone; starting a new one")
            state.pod_ended(self.summary, clock.now(), terminated=True)
        self.summary["steps_completed"] = [s for s in self.summary.get("steps_completed", [])
                                           if s not in POD_STEPS + ("pod_created",)]
        self._check_caps()
        name = f"{POD_NAME_PREFIX}{self.run.label}-{len(self.summary.get('pods', [])) + 1}"
        spec = PodSpec(name=name, image_name=self.cfg.imageName, template_id=self.cfg.templateId,
                       cloud_type=self.cfg.cloudType, volume_in_gb=self.cfg.volumeInGb,
                       container_disk_in_gb=self.cfg.containerDiskInGb,
                       public_key=public_key_line(self.key_path))
        gpus = [self.opts.gpu] if self.opts.gpu else list(self.cfg.gpuTypes)
        self._save(phase="creating_pod", pod_requested=name)
        with self.signals.critical():  # the pod id reaches the summary before any signal acts
            pod = self.client.deploy(spec, gpus, on_attempt=self._gpu_refused)
            state.pod_started(self.summary, pod, clock.now())
            self._done("pod_created", pod_requested=None, phase="starting_pod")
        self._say(f"pod {pod.id} created ({pod.gpu_type}, ${pod.cost_per_hr}/h)")
        self.profile.audit.append(events.POD_CREATED, actor=self.opts.actor, category="action",
                                  details={"pod_id": pod.id, "gpu_type": pod.gpu_type,
                                           "cost_per_hr": pod.cost_per_hr, "run": self.run.label})

    def _gpu_refused(self, gpu: str, why: str | None) -> None:
        if why:
            self._say(f"{gpu}: {why}; trying the next GPU type")

    def _wait_and_connect(self) -> None:
        pod_id = self.summary["pod_id"]
        endpoint, pod = self.client.wait_for_ssh(pod_id, timeout=self.opts.start_timeout_s,
                                                 poll=self.cfg.pollSeconds, check=self._check_caps)
        if pod.get("costPerHr") is not None:
            state.set_cost(self.summary, float(pod["costPerHr"]))
        self._done("pod_ready", pod_ip=endpoint.ip, ssh_port=endpoint.port, phase="connecting")
        self._connect(deadline=time.monotonic() + self.opts.start_timeout_s)
        fp = self.ssh.fingerprint
        if self.summary.get("host_key_fingerprint") != fp:
            self.ssh.write_known_hosts(self.run.dir / "known_hosts")
            self.profile.audit.append(events.POD_HOST_KEY_PINNED, actor=self.opts.actor,
                                      category="security", details={"pod_id": pod_id, "fingerprint": fp,
                                                                    "host": endpoint.ip, "port": endpoint.port})
        self._done("connected", host_key_fingerprint=fp)
        self._say(f"connected to {endpoint.ip}:{endpoint.port}, host key {fp}")

    def _upload(self) -> None:
        self._save(phase="uploading")
        rdir = state.remote_dir(self.run, self.cfg.workdir)
        files = [(p, f"{rdir}/input/{p.name}") for p in state.inputs(self.run)]
        tdir = self.trainer_dir
        for src in sorted(tdir.rglob("*")):
            if src.is_file() and "__pycache__" not in src.parts and src.suffix != ".pyc":
                files.append((src, f"{rdir}/code/trainer/{src.relative_to(tdir).as_posix()}"))
        last = [0.0]

        def progress(name: str, done: int, total: int) -> None:
            if time.monotonic() - last[0] > 2 or done == total:
                last[0] = time.monotonic()
                self._say(f"upload {name}: {done}/{total} bytes")
        sums = self._retrying("upload", lambda: self.ssh.upload(files, progress))
        self._done("uploaded", upload_verification={r: sums[r] for _, r in files})

    def _train(self) -> None:
        rdir = state.remote_dir(self.run, self.cfg.workdir)
        self._save(phase="training")
        if not self._has("training_started"):
            hf_home = self.cfg.workdir.rstrip("/") + "/.cache/huggingface"
            pid = self.ssh.check(start_command(rdir, self.cfg.python, hf_home)).decode().strip()
            self._done("training_started", remote_pid=pid, training_started_at=clock.iso())
            self._say(f"training started on the pod (pid {pid})")
        code = self._poll(rdir)
        self._save(remote_exit_code=code)
        if code != 0:
            tail = self._log_tail(rdir)
            self.summary["stop_reason"] = "trainer_failed"
            raise RemoteTrainingFailed(f"the trainer failed on the pod (exit {code}): {tail}",
                                       hint=f"full log: {self.run.log_path}")
        self._done("trained")

    def _poll(self, rdir: str) -> int:
        while True:
            self._check_caps()
            try:
                if not self.ssh.connected:
                    self._reconnect()
                path = self.run.progress_path
                off = path.stat().st_size if path.exists() else 0
                _, out, _ = self.ssh.run(status_command(rdir, off), timeout=60)
            except SSH_ERRORS as exc:
                self._say(f"connection to the pod dropped ({exc!r}); reconnecting")
                self.ssh.close()
                time.sleep(min(self.cfg.pollSeconds, 1.0))
                continue
            head, _, chunk = out.partition(b"\n")
            state.append_progress(self.run, chunk, self.summary)
            status = head.decode(errors="replace").strip()
            if status.startswith("exit "):
                return int(status.split()[1]) if status.split()[1].lstrip("-").isdigit() else 1
            if status == "gone":
                raise RemoteTrainingFailed("the trainer process vanished on the pod without an exit code")
            self._save()
            time.sleep(self.cfg.pollSeconds)

    def _log_tail(self, rdir: str) -> str:
        try:
            self.ssh.download([(f"{rdir}/train.log", self.run.log_path)])
            text = self.run.log_path.read_text(encoding="utf-8", errors="replace")
        except (MHError, *SSH_ERRORS):
            return "(no log)"
        return " | ".join(text.strip().splitlines()[-5:])[-600:] or "(empty log)"

    def _download(self) -> None:
        self._save(phase="downloading")
        rdir = state.remote_dir(self.run, self.cfg.workdir)

        def progress(name: str, done: int, total: int) -> None:
            if done == total:
                self._say(f"downloaded {name} ({total} bytes)")

        def fetch() -> dict[str, str]:
            plan = state.download_plan(self.run, self.ssh.list_files(f"{rdir}/output"), rdir)
            return self.ssh.download(plan, progress)
        done = self._retrying("download", fetch)
        self._done("downloaded", download_verification=state.verification(self.run, done))

    def _terminate(self) -> None:
        pod_id = self.summary.get("pod_id")
        if not pod_id or self.summary.get("terminated"):
            return
        self._save(phase="terminating")
        if self.shell:
            self.shell.close()
        t = time.monotonic()
        ok = self.client.terminate_and_verify(pod_id)
        state.pod_ended(self.summary, clock.now(), terminated=ok)
        self.summary.setdefault("timings", {})["terminate_s"] = round(time.monotonic() - t, 3)
        if not ok:
            raise MHError(f"pod {pod_id} still exists after podTerminate", hint="run: mh train reap")
        self._done("terminated")
        self._say(f"pod {pod_id} terminated")
        self.profile.audit.append(events.POD_TERMINATED, actor=self.opts.actor, category="action",
                                  details={"pod_id": pod_id, "cost_usd": self.summary.get("cost_usd"),
                                           "run": self.run.label})

    def _shutdown(self, outcome: BaseException | None) -> None:
        """Always: close SSH, terminate and verify, record the outcome. Never raises."""
        if self.shell:
            self.shell.close()
        terminate_error = None
        if outcome is not None:
            live = self.summary.get("pod_id") and not self.summary.get("terminated")
            if isinstance(outcome, (Cancelled, KeyboardInterrupt)) and live:
                self._say(f"{outcome or 'interrupted'}: terminating pod {self.summary['pod_id']} "
                          "(further Ctrl-C is ignored until it is gone)")
            try:
                state.find_requested_pod(self.client, self.summary)
                self._terminate()
            except BaseException as exc:  # noqa: BLE001
                terminate_error = exc
        state.finish(self.summary, outcome, terminate_error, clock.now())
        if self.signals.ignored:
            self.summary["signals_during_cleanup"] = self.signals.ignored
        state.save(self.run, self.summary)
        if outcome is not None and not self._finalized:
            self.profile.audit.append(events.LORA_TRAINING_FAILED, actor=self.opts.actor,
                                      level="error", category="action",
                                      details={"date": self.run.dataset, "run": self.run.label,
                                               "mode": "remote", "status": self.summary["status"],
                                               "stop_reason": self.summary.get("stop_reason"),
                                               "error": self.summary.get("error"),
                                               "pod_id": self.summary.get("pod_id"),
                                               "terminated": self.summary.get("terminated")})
        if self.summary.get("pod_id") and not self.summary.get("terminated"):
            self.profile.audit.append(events.POD_TERMINATE_FAILED, actor=self.opts.actor,
                                      level="critical", category="action",
                                      details={"pod_id": self.summary["pod_id"], "run": self.run.label,
                                               "error": self.summary.get("terminate_error")})
            self._say(f"WARNING: pod {self.summary['pod_id']} may still be running and billing: "
                      "run `mh train reap`")


def run_remote(profile, options: RemoteOptions) -> dict[str, Any]:
    """Run (or resume) the remote cycle for one date; returns the final run summary."""
    return RemoteRun(profile, options).execute()
