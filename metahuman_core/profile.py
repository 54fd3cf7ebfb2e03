"""A Profile bundles one home's services (paths, config, persona, audit). Every face builds one
and passes it down: nothing in the core reaches for globals except the clock."""

from __future__ import annotations

import os
import shutil
from functools import cached_property
from pathlib import Path

from . import events
from typing import TYPE_CHECKING

from .audit import AuditLog
from .paths import Home

if TYPE_CHECKING:  # imported lazily below: pydantic models cost ~100 ms at start-up
    from .config import ConfigStore
    from .identity import PersonaStore

TEMPLATE_ROOT = Path(__file__).resolve().parent.parent  # the repo checkout holds etc/ persona/


class Profile:
    def __init__(self, home: Home | Path | str):
        self.home = home if isinstance(home, Home) else Home(Path(home).expanduser().resolve())

    @classmethod
    def open(cls, explicit=None, *, require: bool = True) -> "Profile":
        prof = cls(Home.resolve(explicit))
        if require:
            prof.home.require()
        return prof

    @property
    def root(self) -> Path:
        return self.home.root

    @cached_property
    def config(self) -> "ConfigStore":
        from .config import ConfigStore

        return ConfigStore(self.home.etc)

    @cached_property
    def persona(self) -> "PersonaStore":
        from .identity import PersonaStore

        return PersonaStore(self.home.persona)

    @cached_property
    def audit(self) -> AuditLog:
        return AuditLog(self.home.logs)

    def trust(self) -> str:
        return self.persona.trust_level()


def template_files() -> list[tuple[Path, Path]]:
    """(source, relative target) for every template shipped in the package's etc/ and persona/."""
    pairs = []
    for folder in ("etc", "persona"):
        base = TEMPLATE_ROOT / folder
        if not base.is_dir():
            continue
        for src in sorted(base.rglob("*.json")):
            rel = src.relative_to(TEMPLATE_ROOT)
            if "secrets" in rel.parts:
                continue
            pairs.append((src, rel))
    return pairs


def init_profile(path: Path | str) -> tuple[Profile, list[str]]:
    """Create the tree and copy templates; never overwrite an existing file. Returns created paths."""
    prof = Profile(path)
    created: list[str] = []
    for d in prof.home.data_dirs():
        if not d.exists():
            d.mkdir(parents=True, exist_ok=True)
            created.append(str(d.relative_to(prof.root)) + "/")
    for src, rel in template_files():
        target = prof.root / rel
        if target.resolve() == src.resolve() or target.exists():
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(target, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            continue
        with os.fdopen(fd, "wb") as out, src.open("rb") as inp:
            shutil.copyfileobj(inp, out)
        created.append(str(rel))
    secrets = prof.home.secrets_dir
    if not secrets.exists():
        secrets.mkdir(mode=0o700, parents=True)
        created.append(str(secrets.relative_to(prof.root)) + "/")
    for keep in ("memory", "logs", "out"):
        gk = prof.root / keep / ".gitkeep"
        if not gk.exists():
            gk.touch()
    from .api_token import ensure_token, token_path

    if not token_path(prof).exists():
        ensure_token(prof)
        created.append(str(token_path(prof).relative_to(prof.root)))
    prof.audit.append(events.SYSTEM_INIT, actor="cli", details={"created": len(created)})
    return prof, created
