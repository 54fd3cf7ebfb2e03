"""Import hygiene: the core never loads Textual/Rich; `mh --help` stays light."""

import subprocess
import sys

from tests.conftest import REPO

HEAVY_FOR_HELP = ("textual", "rich", "ollama", "torch", "transformers", "fastapi", "paramiko")


def _loaded_after(code: str) -> set[str]:
    out = subprocess.run([sys.executable, "-c", code + "\nimport sys\nprint(' '.join(sys.modules))"],
                         capture_output=True, text=True, cwd=REPO, check=True).stdout
    return {m.split(".")[0] for m in out.split()}


def test_core_never_imports_textual_or_rich():
    mods = _loaded_after("import metahuman_core, metahuman_core.profile, metahuman_core.audit, "
                         "metahuman_core.config, metahuman_core.status")
    assert "textual" not in mods and "rich" not in mods


def test_core_source_has_no_ui_imports():
    for path in (REPO / "metahuman_core").rglob("*.py"):
        text = path.read_text()
        for bad in ("import textual", "from textual", "import rich", "from rich"):
            assert bad not in text, f"{path} contains {bad!r}"


def test_mh_help_loads_no_heavy_modules():
    code = ("import sys\nsys.argv=['mh','--help']\nfrom metahuman_tui.cli import main\n"
            "try:\n    main.app(standalone_mode=False)\nexcept SystemExit:\n    pass\n")
    mods = _loaded_after(code)
    loaded = sorted(set(HEAVY_FOR_HELP) & mods)
    assert not loaded, f"`mh --help` imported {loaded}"


def test_mh_help_lists_command_groups():
    r = subprocess.run([sys.executable, "-m", "metahuman_tui.cli.main", "--help"],
                       capture_output=True, text=True, cwd=REPO)
    assert r.returncode == 0
    for group in ("init", "status", "config", "audit"):
        assert group in r.stdout
