"""The REST API's bearer token: one random secret per profile in etc/secrets/api-token (0600).

Why a file and not a flag: a script on the same machine reads it with
`-H "Authorization: Bearer $(cat etc/secrets/api-token)"`, and file permissions decide who may
use the API. `ensure_token` is idempotent and race-free (the file appears complete or not at
all: written to a private temp file, then hard-linked into place, which fails if another process
won). Every token read is registered with the redactor, so it can never reach the audit log.
"""

from __future__ import annotations

import contextlib
import hmac
import os
import secrets
import stat
from pathlib import Path

from .errors import MHError
from .redact import register_secret

TOKEN_FILE = "api-token"
TOKEN_BYTES = 32          # 256 bits of entropy, ~43 url-safe characters
MIN_TOKEN_CHARS = 16      # a hand-written token shorter than this is refused


def token_path(profile) -> Path:
    return profile.home.secrets_dir / TOKEN_FILE


def _secure_dir(folder: Path) -> None:
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    mode = stat.S_IMODE(folder.stat().st_mode)
    if mode & 0o077:
        os.chmod(folder, 0o700)


def read_token(profile) -> str | None:
    """The token, or None when no file exists yet. A file others can read is tightened to 0600;
    an empty or too-short file is an error naming the file (never silently replaced)."""
    path = token_path(profile)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise MHError(f"{path}: cannot read the API token: {exc.strerror}",
                      hint="it must be a regular file (not a symlink) owned by you") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise MHError(f"{path}: the API token must be a regular file")
        if stat.S_IMODE(st.st_mode) & 0o077:
            os.fchmod(fd, 0o600)
        raw = os.read(fd, 4096)
    finally:
        os.close(fd)
    token = raw.decode("utf-8", "replace").strip()
    if len(token) < MIN_TOKEN_CHARS or any(c.isspace() for c in token):
        raise MHError(f"{path}: the API token is empty, too short or contains spaces",
                      hint="delete the file and run `mh serve` (or `mh init`) to generate one")
    register_secret(token)
    return token


def ensure_token(profile) -> str:
    """Return the profile's token, generating it (0600, in a 0700 folder) on first use."""
    existing = read_token(profile)
    if existing is not None:
        return existing
    path = token_path(profile)
    _secure_dir(path.parent)
    token = secrets.token_urlsafe(TOKEN_BYTES)
    tmp = path.parent / f".{TOKEN_FILE}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write((token + "\n").encode("ascii"))
            fh.flush()
            os.fsync(fh.fileno())
        try:
            os.link(tmp, path)  # atomic and exclusive: loses cleanly to a concurrent creator
        except FileExistsError:
            pass
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
    token_now = read_token(profile)
    if token_now is None:  # pragma: no cover - removed between link and read
        raise MHError(f"{path}: the API token vanished while it was being created")
    return token_now


def check_token(expected: str | None, presented: str | None) -> bool:
    """Constant-time comparison; False when either side is missing."""
    if not expected or not presented:
        return False
    return hmac.compare_digest(expected.encode("utf-8"), presented.encode("utf-8"))


def bearer(header_value: str | None) -> str | None:
    """The token inside an `Authorization: Bearer <token>` header value, else None."""
    if not header_value:
        return None
    scheme, _, value = header_value.strip().partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()
