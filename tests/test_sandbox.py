"""The sandbox against the known escapes and against hypothesis-generated paths: nothing outside
the allowed roots is ever read, written or deleted."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from metahuman_core.errors import MHError
from metahuman_core.sandbox import Sandbox, SandboxViolation, secret_reason
from metahuman_core.skills import execute

SECRETS = {  # home-relative path -> marker that must never come back from a read
    ".env": "ENV-SECRET", ".env.local": "ENVLOCAL-SECRET", ".git/config": "GIT-INTERNAL",
    "etc/secrets/api-token": "TOKEN-SECRET", "id_rsa": "KEY-SECRET", "certs/server.pem": "PEM-SECRET",
}
OUTSIDE_MARK = "OUTSIDE-SECRET"


@pytest.fixture
def world(home, tmp_path):
    """The home (initialised profile) plus an outside folder and every kind of trap."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text(OUTSIDE_MARK)
    evil_sibling = Path(str(home) + "-evil")  # sibling-prefix of the home itself
    evil_sibling.mkdir()
    (evil_sibling / "x.txt").write_text(OUTSIDE_MARK)
    for rel, mark in SECRETS.items():
        (home / rel).parent.mkdir(parents=True, exist_ok=True)
        (home / rel).write_text(mark)
    (home / "docs").mkdir()
    (home / "docs" / "a.md").write_text("# A")
    (home / "README.md").write_text("readme")
    (home / "out-evil").mkdir()
    (home / "out-evil" / "x.txt").write_text("sibling")
    os.symlink(outside / "secret.txt", home / "docs" / "outlink.md")
    os.symlink(evil_sibling, home / "docs" / "evil")
    os.symlink("/etc/passwd", home / "docs" / "passwd")
    os.symlink(home / ".env", home / "docs" / "env-alias")
    os.symlink(outside, home / "linkdir")
    _traps(home, outside)
    return home, outside


def _traps(home: Path, outside: Path) -> None:
    """Links inside out/ (re-created for every hypothesis example)."""
    out = home / "out"
    for name, target in (("link", outside / "secret.txt"), ("dirlink", outside),
                         ("inlink", home / "README.md")):
        if not os.path.lexists(out / name):
            os.symlink(target, out / name)
    if not os.path.lexists(out / "hl"):
        os.link(outside / "secret.txt", out / "hl")
    (out / "sub").mkdir(exist_ok=True)
    for name in ("victim.txt", "sub/v.txt"):
        if not os.path.lexists(out / name):
            (out / name).write_text("victim")


def snapshot(*roots: Path, skip: Path | None = None) -> dict:
    state = {}
    for root in roots:
        for dirpath, dirnames, filenames in os.walk(root):
            if skip is not None and Path(dirpath).is_relative_to(skip):
                continue
            for name in dirnames + filenames:
                p = Path(dirpath) / name
                if p.is_symlink():
                    state[str(p)] = ("link", os.readlink(p))
                elif p.is_file():
                    state[str(p)] = ("file", hashlib.sha256(p.read_bytes()).hexdigest())
                else:
                    state[str(p)] = ("dir",)
    return state


# ---------------------------------------------------------------------- known escapes
@pytest.mark.parametrize("path", [
    "out-evil/x.txt", "out/../out-evil/x.txt", "../home-evil/x.txt", "/etc/passwd",
    "out/a\x00b", "out/" + "a" * 256, "out/" + "a/" * 600, "out/../../x", "..", "out/a/../../persona/x",
    "~/x", "persona/core.json", "etc/agent.json", "logs/audit/x.ndjson", ".git/config",
    "out/approval-queue/apr-x.json", "out/APPROVAL-QUEUE/x", "out/link", "out/dirlink/new.txt",
    "out/hl", "out/inlink", "out", "out/", "", "C:\\x", "out/a\nb",
])
def test_write_escapes_are_refused(world, path):
    home, outside = world
    before = snapshot(home.parent, skip=home / "out")
    with pytest.raises(SandboxViolation):
        Sandbox(home).write_bytes(path, b"pwned", overwrite=True)
    assert snapshot(home.parent, skip=home / "out") == before
    assert (outside / "secret.txt").read_text() == OUTSIDE_MARK
    assert not (outside / "new.txt").exists()


@pytest.mark.parametrize("path", [
    "docs/outlink.md", "docs/evil/x.txt", "docs/passwd", "docs/env-alias", "linkdir/secret.txt",
    "/etc/passwd", "../outside/secret.txt", ".env", ".ENV", ".env.local", ".Git/config",
    ".git/config", "etc/secrets/api-token", "ETC/Secrets/api-token", "id_rsa", "certs/server.pem",
    "out/link", "out/hl", "out/dirlink/secret.txt", "out/inlink", "docs/a\x00.md",
])
def test_read_escapes_are_refused(world, path):
    home, _ = world
    with pytest.raises((SandboxViolation, MHError)) as info:
        Sandbox(home).read_bytes(path)
    assert info.type is SandboxViolation or "no such" in str(info.value)


def test_symlinked_parent_with_a_new_file(world):
    home, outside = world
    with pytest.raises(SandboxViolation):
        Sandbox(home).write_bytes("out/dirlink/new.txt", b"x")
    with pytest.raises(SandboxViolation):
        Sandbox(home).mkdir("out/dirlink/newdir")
    assert not (outside / "new.txt").exists() and not (outside / "newdir").exists()


def test_delete_of_a_symlink_removes_the_link_only(world):
    home, outside = world
    box = Sandbox(home)
    for name in ("link", "dirlink"):
        res = box.delete(f"out/{name}")
        assert res["kind"] == "symlink" and not os.path.lexists(home / "out" / name)
    assert (outside / "secret.txt").read_text() == OUTSIDE_MARK and outside.is_dir()
    res = box.delete("out/hl")  # a hard link: this name goes, the other stays
    assert "other link" in res["note"] and (outside / "secret.txt").read_text() == OUTSIDE_MARK


def test_fd_walk_catches_a_link_swapped_in_after_the_check(world, monkeypatch):
    """Defence in depth: even if resolution were fooled, O_NOFOLLOW refuses the link."""
    home, outside = world
    box = Sandbox(home)
    monkeypatch.setattr(box, "resolve_write", lambda path, **kw: ["out", "dirlink", "x.txt"])
    with pytest.raises(SandboxViolation):
        box.write_bytes("whatever", b"x")
    assert not (outside / "x.txt").exists()


def test_allowed_paths_work(world):
    home, _ = world
    box = Sandbox(home)
    assert box.write_bytes("out/sub/ünïcödé ✓.txt", "ok".encode())["path"] == "out/sub/ünïcödé ✓.txt"
    assert box.read_bytes("out/sub/ünïcödé ✓.txt")[1] == b"ok"
    assert box.write_bytes("plain.txt", b"p")["path"] == "out/plain.txt"  # relative to out/
    assert box.write_bytes("OUT/x.txt", b"c")["path"] == "out/OUT/x.txt"  # case variant stays in out/
    assert box.write_bytes("out/\u2025/．．/x", b"u")["path"] == "out/\u2025/．．/x"
    assert box.write_bytes("out/" + "n" * 255, b"long name")["size"] == 9
    assert box.read_bytes("README.md") == ("README.md", b"readme")
    assert box.read_bytes("./docs//a.md")[1] == b"# A"
    assert box.read_bytes("persona/core.json")[1].startswith(b"{")
    leftovers = [p for p in (home / "out").rglob("*") if p.name.endswith(".tmp")]
    assert leftovers == []


def test_fifo_is_not_read(world):
    home, _ = world
    os.mkfifo(home / "docs" / "pipe")
    with pytest.raises(MHError, match="not a regular file"):
        Sandbox(home).read_bytes("docs/pipe")


def test_listing_rechecks_every_result(world):
    home, _ = world
    box = Sandbox(home)
    shown = {e["path"] for e in box.list(".", ".*")["entries"]}
    assert not shown & {".env", ".env.local", ".git"}
    everything = box.list(".", "*", recursive=True, limit=10_000)
    paths = {e["path"] for e in everything["entries"]}
    assert "docs/a.md" in paths and "README.md" in paths
    assert not {"docs/outlink.md", "docs/evil", "docs/passwd", "docs/env-alias", "linkdir",
                "out/link", "out/dirlink", "id_rsa", "certs/server.pem", "etc/secrets"} & paths
    assert everything["hidden"] > 0
    assert [e["path"] for e in box.list("docs", "*.md")["entries"]] == ["docs/a.md"]
    for bad in ("../x", "/etc/*", "docs/*.md"):
        with pytest.raises(SandboxViolation):
            box.list(".", bad)


LEVELS = ["observe", "suggest", "supervised_auto", "bounded_auto", "adaptive_auto"]
PROTECTED = ["persona/core.json", "etc/agent.json", "logs/audit/x.ndjson", ".git/config",
             "out/approval-queue/apr-20250101-000000-abcdef.json", "out-evil/x.txt"]


@pytest.mark.parametrize("trust", LEVELS)
def test_protected_paths_never_writable_at_any_trust_or_yolo(world, trust):
    home, _ = world
    from metahuman_core.profile import Profile

    prof = Profile(home)
    prof.persona.set_trust_level(trust)
    before = snapshot(home, skip=home / "logs")
    for yolo in (False, True):
        for actor in ("human", "agent"):
            for path in PROTECTED:
                w = execute(prof, "fs_write", {"path": path, "content": "x", "overwrite": True},
                            actor=actor, yolo=yolo)
                d = execute(prof, "fs_delete", {"path": path}, actor=actor, yolo=yolo)
                assert w.status == "denied" and d.status == "denied", (path, actor, yolo)
    assert snapshot(home, skip=home / "logs") == before
    if trust != "observe":  # at observe the trust check refuses first
        assert prof.audit.query(event="sandbox_violation")


def test_secret_names():
    assert secret_reason([".env"]) and secret_reason(["a", ".env.prod"]) and secret_reason(["id_ed25519"])
    assert secret_reason(["etc", "secrets", "x"]) and secret_reason(["x", ".git", "HEAD"])
    assert secret_reason(["docs", "a.md"]) is None and secret_reason([".gitignore"]) is None


# ---------------------------------------------------------------------- hypothesis
COMPONENTS = ["out", "..", ".", "persona", "etc", "logs", ".git", "approval-queue", "link",
              "dirlink", "hl", "inlink", "docs", "outlink.md", "evil", "linkdir", "a.md", "x.txt",
              "out-evil", "README.md", ".env", "secrets", "api-token", "id_rsa", "\x00", "ü", "",
              "secret.txt", "OUT", "core.json", "audit"]
KNOWN = ["README.md", "docs/a.md", "persona/core.json", "out/victim.txt", "out/sub/v.txt",
         "out/link", "out/dirlink", "out/hl", "out/inlink", "docs/outlink.md", "docs/evil",
         "linkdir", ".env", "etc/secrets", "out", "docs", "victim.txt", "out/approval-queue"]
random_paths = st.builds(
    lambda lead, parts: lead + "/".join(parts),
    st.sampled_from(["", "", "", "/", "./", "~", "../"]),
    st.lists(st.sampled_from(COMPONENTS) | st.text(min_size=1, max_size=6), min_size=0, max_size=6))
paths = st.one_of(random_paths, st.sampled_from(KNOWN),
                  st.builds(lambda a, b: f"{a}/{b}", st.sampled_from(KNOWN), random_paths))
SETTINGS = settings(max_examples=200, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])


def _inside(real: str, base: Path) -> bool:
    return Path(real) == base or Path(real).is_relative_to(base)


@SETTINGS
@given(path=paths)
def test_hypothesis_writes_stay_in_out(world, path):
    home, outside = world
    _traps(home, outside)
    before = snapshot(home.parent, skip=home / "out")
    try:
        res = Sandbox(home).write_bytes(path, b"H", overwrite=True)
    except MHError as exc:
        event(f"refused: {type(exc).__name__}")
    else:
        event("written")
        real = os.path.realpath(home / res["path"])
        assert _inside(real, home / "out") and not _inside(real, home / "out" / "approval-queue")
        assert not os.path.islink(home / res["path"])
    assert snapshot(home.parent, skip=home / "out") == before


@SETTINGS
@given(path=paths)
def test_hypothesis_reads_never_leak(world, path):
    home, outside = world
    _traps(home, outside)
    try:
        shown, data = Sandbox(home).read_bytes(path)
    except MHError as exc:
        event(f"refused: {type(exc).__name__}")
        return
    event("read")
    text = data.decode("utf-8", "replace")
    assert OUTSIDE_MARK not in text
    assert not any(mark in text for mark in SECRETS.values())


@SETTINGS
@given(path=paths)
def test_hypothesis_deletes_stay_in_out(world, path):
    home, outside = world
    _traps(home, outside)
    before = snapshot(home.parent, skip=home / "out")
    try:
        res = Sandbox(home).delete(path)
    except MHError as exc:
        event(f"refused: {type(exc).__name__}")
    else:
        event(f"deleted a {res['kind']}")
        assert res["path"].startswith("out/") and not res["path"].lower().startswith(
            "out/approval-queue")
    assert snapshot(home.parent, skip=home / "out") == before
    assert (home / "out" / "approval-queue").is_dir()


@SETTINGS
@given(path=paths, pattern=st.sampled_from(["*", ".*", "**/*", "*.md", "*secret*", "id_*"]))
def test_hypothesis_listings_never_show_secrets(world, path, pattern):
    home, outside = world
    try:
        res = Sandbox(home).list(path, pattern, recursive=True)
    except MHError:
        return
    for entry in res["entries"]:
        assert secret_reason(entry["path"].split("/")) is None
        assert _inside(os.path.realpath(home / entry["path"]), home)
        assert not entry["path"].startswith("out/") or entry["type"] != "symlink"
