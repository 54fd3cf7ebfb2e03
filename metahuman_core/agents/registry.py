"""The agents `mh agent run NAME` knows. Modules are imported only when an agent is built, so
`mh agent list` and `mh --help` stay cheap."""

from __future__ import annotations

import importlib

from ..errors import ValidationFailed

# name -> (module:class, one-line description)
AGENTS: dict[str, tuple[str, str]] = {
    "organizer": ("organizer:Organizer",
                  "tags and entities for every unprocessed memory (LLM, structured output)"),
    "boredom-service": ("boredom:BoredomService",
                        "reflects every intervals[level] seconds of etc/boredom.json"),
    "sleep-service": ("sleep:SleepService",
                      "nightly dreams, overnight learnings and the LoRA pipeline (etc/sleep.json)"),
    "ingestor": ("ingestor:Ingestor",
                 "imports memory/inbox/ files (one pass; --interval S keeps watching)"),
}


def names() -> list[str]:
    return list(AGENTS)


def check_name(name: str) -> str:
    if name not in AGENTS:
        raise ValidationFailed(f"unknown agent {name!r}", hint="one of: " + ", ".join(AGENTS))
    return name


def get_agent(name: str):
    """A fresh instance of the named agent."""
    target, _ = AGENTS[check_name(name)]
    module, _, cls = target.partition(":")
    return getattr(importlib.import_module(f"{__package__}.{module}"), cls)()


def describe() -> list[dict]:
    """[{name, description}] without importing any agent module."""
    return [{"name": n, "description": d} for n, (_, d) in AGENTS.items()]
