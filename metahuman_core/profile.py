"""A Profile bundles one home's services (paths, config, persona, audit). Every face builds one
and passes it down: nothing in the core reaches for globals except the clock."""

from __future__ import annotations

import os
from functools import cached_property
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from . import events
from .audit import AuditLog
from .errors import MHError
from .paths import Home

if TYPE_CHECKING:  # imported lazily below: pydantic models cost ~100 ms at start-up
    from .config import ConfigStore
    from .identity import PersonaStore

# Package data (metahuman_core/templates/{etc,persona}), so `pip install`/`pipx install` ship them.
# The checkout's own etc/ and persona/ are a profile made from these (tests/test_install.py checks
# that they do not drift apart).
TEMPLATE_ROOT: Traversable = resources.files("metahuman_core") / "templates"
TEMPLATE_FOLDERS = ("etc", "persona")


class Profile:
    def __init__(self, home: Home | Path | str):
        self.home = home if isinstance(home, Home) else Home(Path(home).expanduser().resolve())

    @classmethod
    def open(cls, explicit=None, *, require: bool = True) -> Profile:
        prof = cls(Home.resolve(explicit))
        if require:
            prof.home.require()
        return prof

    @property
    def root(self) -> Path:
        return self.home.root

    @cached_property
    def config(self) -> ConfigStore:
        from .config import ConfigStore

        return ConfigStore(self.home.etc)

    @cached_property
    def persona(self) -> PersonaStore:
        from .identity import PersonaStore

        return PersonaStore(self.home.persona)

    @cached_property
    def audit(self) -> AuditLog:
        return AuditLog(self.home.logs)

    def trust(self) -> str:
        return self.persona.trust_level()


def template_files() -> list[tuple[Traversable, PurePosixPath]]:
    """(source, relative target) for every JSON template shipped in the package."""
    pairs: list[tuple[Traversable, PurePosixPath]] = []

    def walk(node: Traversable, rel: PurePosixPath) -> None:
        for child in sorted(node.iterdir(), key=lambda c: c.name):
            if child.is_dir():
                if child.name != "secrets":
                    walk(child, rel / child.name)
            elif child.name.endswith(".json"):
                pairs.append((child, rel / child.name))

    for folder in TEMPLATE_FOLDERS:
        base = TEMPLATE_ROOT / folder
        if base.is_dir():
            walk(base, PurePosixPath(folder))
    if not pairs:  # a broken install; never report "profile ready" over empty folders
        raise MHError(f"no profile templates found in {TEMPLATE_ROOT}",
                      hint="reinstall metahuman-os (its package data is missing)")
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
        target = prof.root.joinpath(*rel.parts)
        if target.exists():
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(target, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            continue
        with os.fdopen(fd, "wb") as out:
            out.write(src.read_bytes())
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
