"""Where everything lives. One `Home` object per profile root; no other module builds paths by hand.

Resolution order (DESIGN §3): --home PATH, else $MH_HOME, else the nearest ancestor of the current
directory holding both `etc/` and `persona/`, else ~/.local/share/metahuman.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from .errors import NotInitialised

DEFAULT_HOME = Path("~/.local/share/metahuman")


def find_profile_root(start: Path) -> Path | None:
    start = start.resolve()
    for candidate in (start, *start.parents):
        if (candidate / "etc").is_dir() and (candidate / "persona").is_dir():
            return candidate
    return None


def resolve_home(explicit: str | os.PathLike | None = None, cwd: Path | None = None) -> Path:
    if explicit:
        return Path(explicit).expanduser().resolve()
    env = os.environ.get("MH_HOME")
    if env:
        return Path(env).expanduser().resolve()
    found = find_profile_root(cwd or Path.cwd())
    if found:
        return found
    return DEFAULT_HOME.expanduser().resolve()


@dataclass(frozen=True)
class Home:
    root: Path

    @classmethod
    def resolve(cls, explicit=None) -> "Home":
        return cls(resolve_home(explicit))

    # --- top level -------------------------------------------------------------------------
    @property
    def etc(self) -> Path:
        return self.root / "etc"

    @property
    def persona(self) -> Path:
        return self.root / "persona"

    @property
    def memory(self) -> Path:
        return self.root / "memory"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def out(self) -> Path:
        return self.root / "out"

    # --- persona ---------------------------------------------------------------------------
    def persona_file(self, name: str) -> Path:
        return self.persona / f"{name}.json"

    @property
    def overrides(self) -> Path:
        return self.persona / "overrides"

    @property
    def active_adapter(self) -> Path:
        return self.overrides / "active-adapter.json"

    # --- config ----------------------------------------------------------------------------
    def config_file(self, name: str) -> Path:
        return self.etc / f"{name}.json"

    # --- memory ----------------------------------------------------------------------------
    @property
    def episodic(self) -> Path:
        return self.memory / "episodic"

    @property
    def tasks_active(self) -> Path:
        return self.memory / "tasks" / "active"

    @property
    def tasks_completed(self) -> Path:
        return self.memory / "tasks" / "completed"

    @property
    def inbox(self) -> Path:
        return self.memory / "inbox"

    @property
    def inbox_archive(self) -> Path:
        return self.inbox / "_archive"

    @property
    def inbox_failed(self) -> Path:
        return self.inbox / "_failed"

    @property
    def index_dir(self) -> Path:
        return self.memory / "index"

    # --- logs ------------------------------------------------------------------------------
    @property
    def audit_dir(self) -> Path:
        return self.logs / "audit"

    @property
    def audit_head(self) -> Path:
        """Head record of the audit chain; outside logs/audit/ so truncation is detectable."""
        return self.logs / "audit-head.json"

    @property
    def agents_dir(self) -> Path:
        return self.logs / "agents"

    @property
    def run_dir(self) -> Path:
        return self.logs / "run"

    def lock_file(self, name: str) -> Path:
        return self.run_dir / f"{name}.lock"

    # --- out -------------------------------------------------------------------------------
    @property
    def approval_queue(self) -> Path:
        return self.out / "approval-queue"

    @property
    def adapters(self) -> Path:
        return self.out / "adapters"

    @property
    def runs(self) -> Path:
        return self.root / "metahuman-runs"

    @property
    def secrets_dir(self) -> Path:
        """0700 folder for the API token and similar; never readable by skills."""
        return self.etc / "secrets"

    # --- state -----------------------------------------------------------------------------
    def is_initialised(self) -> bool:
        return (self.etc.is_dir() and self.persona.is_dir()
                and self.persona_file("core").is_file())

    def require(self) -> "Home":
        if not self.is_initialised():
            raise NotInitialised(self.root)
        return self

    def data_dirs(self) -> list[Path]:
        """Every folder `mh init` creates."""
        return [
            self.etc, self.persona, self.overrides, self.episodic, self.tasks_active,
            self.tasks_completed, self.inbox, self.inbox_archive, self.inbox_failed,
            self.index_dir, self.audit_dir, self.agents_dir, self.run_dir, self.out,
            self.approval_queue, self.adapters,
        ]
