"""The layering is guarded by tools, so ./bin/test (and CI) fail when it breaks (issue 15):
ruff (pyproject [tool.ruff]), import-linter contracts (the core never imports a face or a UI
toolkit; the trainer never imports the core; the faces import each other only through declared
entry points) and mypy over metahuman_core ([tool.mypy]). The dev extra installs all three."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO


def _tool(name: str) -> str:
    """The tool next to this interpreter (the venv), else on PATH; skipped without the dev extra."""
    here = Path(sys.executable).parent / name
    found = str(here) if here.exists() else shutil.which(name)
    if not found:
        pytest.skip(f"{name} is not installed (pip install -e '.[dev]')")
    return found


def _run(*cmd: str) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=600)


def test_ruff_passes():
    r = _run(_tool("ruff"), "check", "--output-format", "concise", ".")
    assert r.returncode == 0, r.stdout + r.stderr


def test_import_contracts_hold():
    r = _run(_tool("lint-imports"))
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr
    assert "0 broken" in r.stdout


def test_mypy_passes_on_the_core():
    r = _run(_tool("mypy"))
    assert r.returncode == 0, r.stdout[-6000:] + r.stderr


def test_the_contracts_can_fail(tmp_path):
    """A core module importing the TUI breaks the first contract (the check is real)."""
    import tomllib

    cfg = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["importlinter"]
    contract = cfg["contracts"][0]
    assert contract["type"] == "forbidden" and "metahuman_tui" in contract["forbidden_modules"]
    pkg = tmp_path / "metahuman_core"
    shutil.copytree(REPO / "metahuman_core", pkg, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(REPO / "metahuman_tui", tmp_path / "metahuman_tui",
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(REPO / "trainer", tmp_path / "trainer", ignore=shutil.ignore_patterns("__pycache__"))
    (pkg / "bad_layering.py").write_text("from metahuman_tui.widgets import status_bar  # noqa\n")
    shutil.copy(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    r = subprocess.run([_tool("lint-imports"), "--no-cache"], cwd=tmp_path, capture_output=True,
                       text=True, timeout=600, env={"PYTHONPATH": str(tmp_path), "PATH": ""})
    assert r.returncode != 0 and "metahuman_core.bad_layering" in r.stdout, r.stdout[-3000:]
