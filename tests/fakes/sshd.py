"""A real OpenSSH server on 127.0.0.1 that plays a RunPod pod in the tests.

It runs as the current user with a temp host key, a temp authorized_keys and a temp sshd_config, so
files really travel over SFTP and commands really run. Tests that use it are marked `sshd` and skip
cleanly when /usr/sbin/sshd is missing (`apt-get install -y openssh-server`).

Fault injection: `kill_sessions()` drops every live connection (the listener keeps running, as a
pod's sshd would after a network blip); `stall_sftp_marker` makes the SFTP server stop answering
after the first WRITE and touch a marker file (once: later sessions run freely), so a test can
interrupt or drop an upload deterministically.
"""

from __future__ import annotations

import contextlib
import getpass
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

SSHD = Path("/usr/sbin/sshd")
SFTP_SERVER = Path("/usr/lib/openssh/sftp-server")

requires_sshd = pytest.mark.skipif(
    not SSHD.exists() or shutil.which("ssh-keygen") is None,
    reason="needs OpenSSH (apt-get install -y openssh-server)")

# An SFTP proxy that forwards both ways until the client sends its first SSH_FXP_WRITE (type 6),
# then touches the marker and stops answering: the client blocks mid-upload until interrupted.
_STALL_PROXY = r'''
import os, subprocess, sys, threading
marker, server = sys.argv[1], sys.argv[2]
proc = subprocess.Popen([server], stdin=subprocess.PIPE, stdout=subprocess.PIPE, bufsize=0)
stalled = threading.Event()
def pump_out():
    while True:
        chunk = proc.stdout.read(65536)
        if not chunk:
            break
        if stalled.is_set():
            continue
        os.write(1, chunk)
threading.Thread(target=pump_out, daemon=True).start()
buf = b""
while True:
    chunk = os.read(0, 65536)
    if not chunk:
        break
    proc.stdin.write(chunk)
    buf += chunk
    while not stalled.is_set() and len(buf) >= 5:
        size = int.from_bytes(buf[:4], "big")
        if len(buf) < 4 + size:
            break
        if buf[4] == 6 and not os.path.exists(marker):  # stall once; later sessions run freely
            stalled.set()
            open(marker, "w").close()
        buf = buf[4 + size:]
    if stalled.is_set():
        buf = b""
proc.kill()
'''


def keygen(path: Path, comment: str = "mh-test") -> Path:
    """An ed25519 key pair at `path` / `path.pub` (0600), made by the real ssh-keygen."""
    path.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)],
                   check=True, capture_output=True)
    os.chmod(path, 0o600)
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class SshServer:
    root: Path
    port: int
    user: str
    client_key: Path
    host_key: Path
    stall_sftp_marker: Path | None = None
    host: str = "127.0.0.1"
    proc: subprocess.Popen | None = field(default=None, repr=False)

    @property
    def log(self) -> Path:
        return self.root / "sshd.log"

    def _config(self) -> str:
        sftp = "internal-sftp"
        if self.stall_sftp_marker is not None:
            proxy = self.root / "stall_sftp.py"
            proxy.write_text(_STALL_PROXY)
            sftp = f"{sys.executable} {proxy} {self.stall_sftp_marker} {SFTP_SERVER}"
        return "\n".join([
            f"Port {self.port}", "ListenAddress 127.0.0.1", f"HostKey {self.host_key}",
            f"PidFile {self.root / 'sshd.pid'}", f"AuthorizedKeysFile {self.root / 'authorized_keys'}",
            "UsePAM no", "StrictModes no", "PasswordAuthentication no",
            "KbdInteractiveAuthentication no", "PubkeyAuthentication yes",
            "PermitRootLogin prohibit-password", f"AllowUsers {self.user}", "UseDNS no",
            "X11Forwarding no", "MaxStartups 50", "MaxSessions 50", "LogLevel VERBOSE",
            f"Subsystem sftp {sftp}", ""])

    def start(self) -> "SshServer":
        if os.geteuid() == 0:
            Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # privilege separation dir
        cfg = self.root / "sshd_config"
        cfg.write_text(self._config())
        check = subprocess.run([str(SSHD), "-t", "-f", str(cfg)], capture_output=True, text=True)
        if check.returncode != 0:
            raise RuntimeError(f"sshd config rejected: {check.stderr.strip()}")
        logf = self.log.open("ab")
        self.proc = subprocess.Popen([str(SSHD), "-D", "-e", "-f", str(cfg)], stdout=logf,
                                     stderr=logf, stdin=subprocess.DEVNULL, start_new_session=True)
        logf.close()
        self._wait_ready()
        return self

    def _wait_ready(self, timeout: float = 15.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"sshd exited: {self.log.read_text(errors='replace')[-2000:]}")
            with contextlib.suppress(OSError), socket.create_connection((self.host, self.port), 1) as s:
                s.settimeout(2)
                if s.recv(64).startswith(b"SSH-"):
                    return
            time.sleep(0.05)
        raise RuntimeError(f"sshd did not answer on port {self.port}")

    def session_pids(self) -> list[int]:
        """Pids of the per-connection sshd processes (children of the listener)."""
        if self.proc is None:
            return []
        pids = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            if ppid == self.proc.pid:
                pids.append(int(entry.name))
        return pids

    def kill_sessions(self) -> int:
        """Drop every live SSH connection (SIGKILL to its sshd process). Returns how many."""
        pids = self.session_pids()
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        return len(pids)

    def stop(self) -> None:
        if self.proc is None:
            return
        self.kill_sessions()
        with contextlib.suppress(ProcessLookupError):
            self.proc.terminate()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
        self.proc = None


def start_sshd(root: Path, *, stall_sftp_marker: Path | None = None) -> SshServer:
    """Start a server in `root` (created) with a fresh host key and a fresh client key pair."""
    root.mkdir(parents=True, exist_ok=True)
    host_key = root / "ssh_host_ed25519_key"
    if not host_key.exists():
        keygen(host_key, "host")
    client_key = root / "client_ed25519"
    if not client_key.exists():
        keygen(client_key, "client")
    (root / "authorized_keys").write_text(client_key.with_suffix(".pub").read_text())
    server = SshServer(root=root, port=free_port(), user=getpass.getuser(), client_key=client_key,
                       host_key=host_key, stall_sftp_marker=stall_sftp_marker)
    return server.start()


@pytest.fixture
def sshd_server(tmp_path):
    """A running SshServer for one test; skipped when OpenSSH is not installed."""
    if not SSHD.exists() or shutil.which("ssh-keygen") is None:
        pytest.skip("needs OpenSSH (apt-get install -y openssh-server)")
    server = start_sshd(tmp_path / "sshd")
    yield server
    server.stop()
