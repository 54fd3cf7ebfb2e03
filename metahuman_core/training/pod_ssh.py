"""SSH to the training pod with paramiko: a host key pinned per run, verified transfers.

The seed used `StrictHostKeyChecking=no`; here the first key a run sees is trusted, its SHA-256
fingerprint recorded, and every later connection of that run (reconnects, resumes, a new IP after
a pod restart) must present the same key. Files travel over SFTP to `NAME.part`, are checked with
`sha256sum` on the pod, then renamed, so a half-sent file never looks complete (and vice versa for
downloads).
"""

from __future__ import annotations

import base64
import hashlib
import os
import shlex
import socket
import stat
from collections.abc import Callable
from pathlib import Path

import paramiko

from ..errors import ConfigError, MHError
from ..storage import sha256_file  # the one implementation (verified transfers)

Progress = Callable[[str, int, int], None]  # (name, bytes done, bytes total)
SSH_ERRORS = (paramiko.SSHException, EOFError, OSError, socket.timeout)


class HostKeyMismatch(MHError):
    """The pod presented a different host key than the one pinned for this run: refuse."""


class TransferError(MHError):
    pass


def fingerprint(key: paramiko.PKey) -> str:
    """OpenSSH-style `SHA256:…` fingerprint."""
    digest = hashlib.sha256(key.asbytes()).digest()
    return "SHA256:" + base64.b64encode(digest).decode().rstrip("=")


def resolve_key_path(explicit: str | os.PathLike | None = None, env=None) -> Path:
    """SSH_KEY_PATH (the seed's name), else RUNPOD_SSH_KEY_PATH, else ~/.ssh/id_ed25519."""
    env = os.environ if env is None else env
    raw = explicit or env.get("SSH_KEY_PATH") or env.get("RUNPOD_SSH_KEY_PATH") or "~/.ssh/id_ed25519"
    path = Path(raw).expanduser()
    if not path.is_file():
        raise ConfigError(f"SSH key not found: {path}",
                          hint="set SSH_KEY_PATH to the private key registered with RunPod")
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise ConfigError(f"{path}: permissions {mode:04o} let other users read the SSH key",
                          hint=f"chmod 600 {path}")
    return path


def public_key_line(key_path: Path) -> str:
    """`<type> <base64>` from KEY.pub when present, else derived from the private key."""
    pub = key_path.with_name(key_path.name + ".pub")
    if pub.is_file():
        parts = pub.read_text(encoding="utf-8").split()
        if len(parts) >= 2:
            return f"{parts[0]} {parts[1]}"
    key = paramiko.PKey.from_path(str(key_path))
    return f"{key.get_name()} {key.get_base64()}"


class _PinPolicy(paramiko.MissingHostKeyPolicy):
    def __init__(self, pinned: str | None):
        self.pinned = pinned
        self.key: paramiko.PKey | None = None

    def missing_host_key(self, client, hostname, key):
        fp = fingerprint(key)
        if self.pinned is not None and fp != self.pinned:
            raise HostKeyMismatch(
                f"{hostname}: host key {fp} differs from {self.pinned} pinned for this run",
                hint="someone may be intercepting the connection; the pod is terminated")
        self.pinned = fp
        self.key = key


class PodShell:
    """One SSH connection to the pod. Cheap to recreate: reconnect() after any drop."""

    def __init__(self, host: str, port: int, user: str, key_path: Path, *,
                 pinned: str | None = None, timeout: float = 15.0):
        self.host, self.port, self.user, self.key_path = host, port, user, key_path
        self._policy = _PinPolicy(pinned)
        self.timeout = timeout
        self._client: paramiko.SSHClient | None = None
        self._sftp: paramiko.SFTPClient | None = None

    @property
    def fingerprint(self) -> str | None:
        return self._policy.pinned

    def connect(self) -> PodShell:
        self.close()
        client = paramiko.SSHClient()
        client.set_missing_host_key_policy(self._policy)  # no known_hosts loaded: policy decides
        try:
            client.connect(hostname=self.host, port=self.port, username=self.user,
                           key_filename=str(self.key_path), look_for_keys=False,
                           allow_agent=False, timeout=self.timeout, banner_timeout=self.timeout,
                           auth_timeout=self.timeout, channel_timeout=self.timeout)
        except BaseException:
            client.close()
            raise
        transport = client.get_transport()
        if transport is not None:
            transport.set_keepalive(30)
        self._client = client
        return self

    def write_known_hosts(self, path: Path) -> None:
        """The pinned key in OpenSSH known_hosts form, for `ssh -o UserKnownHostsFile=…`."""
        key = self._policy.key
        if key is None:
            return
        name = self.host if self.port == 22 else f"[{self.host}]:{self.port}"
        path.write_text(f"{name} {key.get_name()} {key.get_base64()}\n", encoding="utf-8")

    @property
    def connected(self) -> bool:
        t = self._client.get_transport() if self._client else None
        return bool(t and t.is_active())

    def close(self) -> None:
        for thing in (self._sftp, self._client):
            if thing is not None:
                try:
                    thing.close()
                except Exception:  # noqa: BLE001, S110 - closing a dead connection may raise anything
                    pass
        self._sftp = self._client = None

    # ---------------------------------------------------------------- commands
    def run(self, command: str, *, timeout: float = 60.0) -> tuple[int, bytes, bytes]:
        if self._client is None:
            raise paramiko.SSHException("not connected")
        stdin, stdout, stderr = self._client.exec_command(command, timeout=timeout)
        stdin.close()
        out, err = stdout.read(), stderr.read()
        return stdout.channel.recv_exit_status(), out, err

    def check(self, command: str, *, timeout: float = 60.0) -> bytes:
        rc, out, err = self.run(command, timeout=timeout)
        if rc != 0:
            raise TransferError(f"command on the pod failed (exit {rc}): {command[:120]}: "
                                f"{err.decode(errors='replace').strip()[-500:]}")
        return out

    def sftp(self) -> paramiko.SFTPClient:
        if self._sftp is None:
            if self._client is None:
                raise paramiko.SSHException("not connected")
            self._sftp = self._client.open_sftp()
            self._sftp.get_channel().settimeout(max(self.timeout, 60.0))
        return self._sftp

    def remote_sha256(self, paths: list[str]) -> dict[str, str]:
        """{path: sha256} for the paths that exist on the pod."""
        if not paths:
            return {}
        _rc, out, _ = self.run("sha256sum -- " + " ".join(shlex.quote(p) for p in paths) + " 2>/dev/null",
                              timeout=600)
        sums = {}
        for line in out.decode(errors="replace").splitlines():
            digest, _, name = line.partition("  ")
            if len(digest) == 64 and name:
                sums[name] = digest
        return sums

    # ---------------------------------------------------------------- transfers
    def upload(self, files: list[tuple[Path, str]], progress: Progress | None = None) -> dict[str, str]:
        """Send (local, remote) pairs; files already there with the same sha256 are skipped."""
        local = {remote: sha256_file(src) for src, remote in files}
        present = self.remote_sha256([remote for _, remote in files])
        todo = [(src, remote) for src, remote in files if present.get(remote) != local[remote]]
        if not todo:
            return local
        dirs = sorted({os.path.dirname(remote) for _, remote in todo})
        self.check("mkdir -p -- " + " ".join(shlex.quote(d) for d in dirs))
        sftp = self.sftp()
        for src, remote in todo:
            name = src.name
            sftp.put(str(src), remote + ".part", confirm=True,
                     callback=(lambda done, total, n=name: progress(n, done, total)) if progress else None)
        got = self.remote_sha256([remote + ".part" for _, remote in todo])
        for src, remote in todo:
            if got.get(remote + ".part") != local[remote]:
                raise TransferError(f"upload of {src} to the pod failed its sha256 check",
                                    hint="re-run to resume; the file is sent again")
            sftp.posix_rename(remote + ".part", remote)
        return local

    def download(self, files: list[tuple[str, Path]], progress: Progress | None = None) -> dict[str, str]:
        """Fetch (remote, local) pairs to `local.part`, check sha256 against the pod, rename."""
        expected = self.remote_sha256([remote for remote, _ in files])
        done: dict[str, str] = {}
        for remote, dest in files:
            if remote not in expected:
                raise TransferError(f"{remote}: missing on the pod")
            if dest.is_file() and sha256_file(dest) == expected[remote]:
                done[str(dest)] = expected[remote]  # already fetched by an earlier attempt
                continue
            dest.parent.mkdir(parents=True, exist_ok=True)
            part = dest.with_name(dest.name + ".part")
            self.sftp().get(remote, str(part), prefetch=True, max_concurrent_prefetch_requests=64,
                            callback=(lambda d, t, n=dest.name: progress(n, d, t)) if progress else None)
            digest = sha256_file(part)
            if digest != expected[remote]:
                part.unlink(missing_ok=True)
                raise TransferError(f"download of {remote} failed its sha256 check",
                                    hint="re-run to resume the download")
            os.replace(part, dest)
            done[str(dest)] = digest
        return done

    def list_files(self, directory: str) -> list[str]:
        """Every regular file under `directory` on the pod, as paths relative to it."""
        out = self.check(f"cd {shlex.quote(directory)} && find . -type f -print0")
        return sorted(p[2:] for p in out.decode(errors="replace").split("\0") if p.startswith("./"))


# ------------------------------------------------------------------ the detached trainer
def start_command(rdir: str, python: str, hf_home: str) -> str:
    """Start `python -m trainer` detached (setsid + nohup) in `rdir`; prints its pid.

    The trainer outlives the SSH session; `train.exit` appears (atomically) when it ends.
    `python` is a command from etc/training.json (remote.python), used as written.
    """
    q = shlex.quote
    env = (f"PYTHONPATH={q(rdir + '/code')} HF_HOME={q(hf_home)} PYTHONUNBUFFERED=1 "
           "TOKENIZERS_PARALLELISM=false HF_HUB_DISABLE_PROGRESS_BARS=1")
    inner = (f"{env} {python} -m trainer --input {q(rdir + '/input')} --output {q(rdir + '/output')}; "
             "echo $? > train.exit.tmp; mv train.exit.tmp train.exit")
    cmd = (f"cd {q(rdir)} && rm -f train.exit && mkdir -p output && "
           f"S=$(command -v setsid || true); $S nohup sh -c {q(inner)} > train.log 2>&1 "
           "< /dev/null & echo $! > train.pid && cat train.pid")
    return f"sh -c {q(cmd)}"


def status_command(rdir: str, offset: int) -> str:
    """One short poll: a status line (`exit N` | `running` | `gone`), then the progress bytes
    from `offset` on. Liveness is read before train.exit, so a trainer that just ended is never
    mistaken for one that vanished."""
    return (f'cd {shlex.quote(rdir)} && a=$(kill -0 "$(cat train.pid 2>/dev/null)" 2>/dev/null && echo 1); '
            'if [ -f train.exit ]; then echo "exit $(cat train.exit)"; elif [ -n "$a" ]; then '
            f'echo running; else echo gone; fi; tail -c +{offset + 1} output/progress.ndjson 2>/dev/null '
            '| head -c 1048576')
