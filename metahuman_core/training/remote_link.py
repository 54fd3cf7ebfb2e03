"""Staying connected to the pod during a remote run: connect, reconnect after a drop, retry.

Why a module of its own: remote.py says which step of the cycle comes when; this says how one
SSH session to a pod is kept up over a network that drops. The session is opened with the key
pinned at first contact (pod_ssh.PodShell refuses a changed host key), retried until a deadline
while the pod boots, reopened after a drop (counted as `reconnects` in the run summary), and a
transfer cut by a drop is retried on a fresh connection (files already verified are kept).
Every wait checks the run's time and cost caps first, so a pod that never answers is not paid
for past them.

`PodLink` is a mixin for `remote.RemoteRun`: it uses the run's `summary` (pod_ip, ssh_port,
host_key_fingerprint), `cfg`, `key_path`, `opts` timeouts, `_check_caps` and `_say`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..errors import MHError
from .pod_ssh import SSH_ERRORS, PodShell


class RemoteTrainingFailed(MHError):
    pass


class PodLink:
    summary: dict[str, Any]
    cfg: Any                       # training.remote settings (sshUser, pollSeconds)
    key_path: Path
    opts: Any                      # remote.RemoteOptions (reconnect_timeout_s)
    _check_caps: Callable[[], None]
    _say: Callable[[str], None]
    shell: PodShell | None = None  # opened by _connect, before any step that uses `ssh`

    @property
    def ssh(self) -> PodShell:
        if self.shell is None:
            raise RemoteTrainingFailed("not connected to the pod", hint="re-run to resume")
        return self.shell

    def _connect(self, deadline: float) -> None:
        """Connect (or reconnect) with the pinned key, retrying until `deadline`."""
        if self.shell is None:
            self.shell = PodShell(self.summary["pod_ip"], self.summary["ssh_port"], self.cfg.sshUser,
                                  self.key_path, pinned=self.summary.get("host_key_fingerprint"))
        while True:
            try:
                self.ssh.connect()
                return
            except SSH_ERRORS as exc:
                if time.monotonic() >= deadline:
                    raise RemoteTrainingFailed(f"cannot reach the pod over SSH: {exc!r}",
                                               hint="check that the pod image runs sshd") from None
                self._check_caps()
                time.sleep(min(self.cfg.pollSeconds, 5.0))

    def _retrying(self, what: str, fn: Callable[[], Any], attempts: int = 3) -> Any:
        """Run a transfer; after a dropped connection reconnect and go on (verified files are kept)."""
        for attempt in range(1, attempts + 1):
            try:
                if not self.ssh.connected:
                    self._reconnect()
                return fn()
            except SSH_ERRORS as exc:
                if attempt == attempts:
                    raise RemoteTrainingFailed(f"{what} failed after {attempts} connection drops: {exc!r}",
                                               hint="re-run to resume") from None
                self._say(f"connection dropped during {what} ({exc!r}); reconnecting")
                self.ssh.close()
                self._check_caps()

    def _reconnect(self) -> None:
        self.summary["reconnects"] = self.summary.get("reconnects", 0) + 1
        self._connect(deadline=time.monotonic() + self.opts.reconnect_timeout_s)
        self._say("reconnected to the pod")
