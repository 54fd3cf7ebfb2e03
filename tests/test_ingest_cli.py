"""The real `mh ingest` in subprocesses: a report per file, exit 1 naming each failed file,
subfolders reported or walked with --recursive, devices refused with the right words,
--format/--me (also remembered for the ingestor agent), and a progress bar on a terminal only."""

from __future__ import annotations

import json
import os
import pty
import shutil
import subprocess
from pathlib import Path

from tests.conftest import MH, REPO

FIX = Path(__file__).parent / "fixtures" / "imports"
ANDROID = FIX / "WhatsApp Chat with Ana Lima.txt"


def test_report_per_file_and_exit_1_naming_each_failure(mh, home, tmp_path):
    (tmp_path / "notes.md").write_text("First paragraph.\n\nSecond paragraph.")
    (tmp_path / "bad.bin").write_bytes(b"\x00\x01")
    (tmp_path / "cut.json").write_text('{"content": "never finished')
    r = mh("ingest", ANDROID, tmp_path / "notes.md", tmp_path / "bad.bin", tmp_path / "cut.json",
           "--now", "--me", "Alex")
    assert r.returncode == 1, r.stdout + r.stderr
    assert "Imported 2 file(s) as 5 memories; 2 failed, 0 skipped" in r.stdout
    assert (f"{ANDROID.name}: whatsapp, 13 messages read, 4 turns imported, 5 skipped "
            "(system/media), 0 duplicates") in r.stdout
    assert "notes.md: text, 1 item read, 1 memory, 0 duplicates" in r.stdout
    assert "error: bad.bin: unrecognised format (tried whatsapp, telegram, markdown, json, " \
           "jsonl, text): binary file" in r.stderr
    assert "error: cut.json: invalid JSON at line 1, column 13 (character 12): unterminated " \
           "string - the file ends there (truncated?)" in r.stderr
    assert "Traceback" not in r.stderr and "at at" not in r.stderr
    again = mh("ingest", ANDROID, "--now", "--json")
    assert again.returncode == 0
    out = json.loads(again.stdout)
    assert out["reports"] == [{"file": ANDROID.name, "status": "duplicate",
                               "reason": "already imported (same content)"}]


def test_devices_and_missing_paths(mh):
    r = mh("ingest", "/dev/null")
    assert r.returncode == 2
    assert "/dev/null: a character device, not a file or folder" in r.stderr
    assert "no such file" not in r.stderr
    r = mh("ingest", "/nonexistent/x.txt")
    assert r.returncode == 2 and "/nonexistent/x.txt: no such file or folder" in r.stderr
    r = mh("ingest", "--now", "--format", "nope")
    assert r.returncode == 2 and "--format applies to the files given" in r.stderr
    r = mh("ingest", ANDROID, "--format", "nope")
    assert r.returncode == 2 and "unknown format 'nope'" in r.stderr and "whatsapp" in r.stderr


def test_subfolders_reported_or_recursive(mh, home, tmp_path):
    src = tmp_path / "notes"
    (src / "2025" / "deep").mkdir(parents=True)
    (src / "top.txt").write_text("Top note")
    (src / "2025" / "a.txt").write_text("Note a")
    (src / "2025" / "deep" / "b.txt").write_text("Note b")
    (src / ".git").mkdir()
    (src / ".git" / "config").write_text("hidden, never taken")
    r = mh("ingest", src)
    assert r.returncode == 0
    assert "Queued 1 file(s)" in r.stdout
    assert f"Skipped 1 subfolder(s) (add --recursive to take their files): {src / '2025'}" in r.stdout
    r = mh("ingest", src, "--recursive", "--now", "--json")
    out = json.loads(r.stdout)
    assert sorted(out["queued"]) == ["memory/inbox/a.txt", "memory/inbox/b.txt",
                                     "memory/inbox/top-2.txt"]
    assert out["skippedFolders"] == [] and out["memories"] == 3   # top-2.txt: same as top.txt
    assert [r["status"] for r in out["reports"]] == ["imported", "imported", "imported",
                                                      "duplicate"]


def test_format_and_me_for_now_and_for_the_agent(mh, home, tmp_path):
    chat = tmp_path / "chat export.txt"            # no WhatsApp name: detected by content
    shutil.copyfile(ANDROID, chat)
    r = mh("ingest", chat, "--now", "--me", "Greg", "--me", "Gregory")
    assert r.returncode == 1
    assert ("none of the speakers is you (Greg, Gregory); speakers found: Alex (6), "
            "Ana Lima (5)") in r.stderr
    assert not list((home / "memory/episodic").rglob("evt-*.json"))
    # queued with --format and --me; the agent imports it later the same way
    r = mh("ingest", chat, "--format", "whatsapp", "--me", "Ana Lima")
    assert r.returncode == 0 and "Run: mh agent run ingestor" in r.stdout
    r = mh("agent", "run", "ingestor")
    assert r.returncode == 0, r.stderr
    mems = json.loads(mh("memory", "list", "--type", "conversation", "--json").stdout)
    assert sorted(m["content"] for m in mems)[0] == "Are you coming to the climbing gym tomorrow?\n" \
                                                     "Tom says he might join"
    assert all(m["metadata"]["speaker"] == "Ana Lima" for m in mems)
    assert not list((home / "memory/inbox/_ledger/hints").iterdir())


def test_obsidian_vault_is_one_import(mh, home):
    r = mh("ingest", FIX / "Garden vault", "--now")
    assert r.returncode == 0, r.stderr
    assert "Queued 1 file(s)" in r.stdout and "Skipped" not in r.stdout
    assert "Garden vault.zip: markdown, 3 items read, 3 memories, 1 skipped, 0 duplicates" in r.stdout


def test_progress_bar_on_a_terminal_only(home, tmp_path):
    big = tmp_path / "book.txt"
    big.write_text("\n\n".join(f"Chapter {i}. " + "The sea was calm that night. " * 50
                               for i in range(400)))
    env = {**os.environ, "MH_HOME": str(home), "PYTHONPATH": str(REPO), "TERM": "xterm",
           "COLUMNS": "100"}
    env.pop("NO_COLOR", None)
    master, slave = pty.openpty()
    proc = subprocess.Popen([*MH, "ingest", str(big), "--now"], stdin=slave, stdout=slave,
                            stderr=slave, env=env, cwd=REPO)
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    assert proc.wait(120) == 0
    os.close(master)
    shown = b"".join(chunks).decode("utf-8", "replace")
    assert "importing book.txt" in shown and "/400" in shown
    assert "book.txt: text, 400 items read, 400 memories" in shown
    piped = subprocess.run([*MH, "ingest", str(big), "--now"], capture_output=True, text=True,
                           env=env, cwd=REPO, timeout=120)
    assert "importing" not in piped.stderr and "\r" not in piped.stderr
