"""Own words from real conversations: chat exports and notes through the inbox, with the memory
format the dataset builder pairs from (DESIGN §6): each of the person's turns is one
`conversation` memory of their own text, the other person's preceding turn in metadata.replyTo;
idempotent per message; nothing written for a bad file or an unknown speaker."""

from __future__ import annotations

import json
import shutil
import zipfile
from datetime import datetime, timezone
from pathlib import Path

import pytest

from metahuman_core.memory import MemoryStore
from metahuman_core.memory import inbox as inbox_mod
from metahuman_core.memory.inbox import Skipped, ingest_paths
from metahuman_core.memory.inbox_ledger import write_hints

FIX = Path(__file__).parent / "fixtures" / "imports"
ANDROID = "WhatsApp Chat with Ana Lima.txt"


def run(profile, **kw):
    kw.setdefault("settle_s", 0)
    return inbox_mod.process_inbox(profile, **kw)


def drop(profile, name, data=None, src=None):
    target = profile.home.inbox / name
    if src is not None:
        shutil.copyfile(src, target)
    else:
        target.write_bytes(data if isinstance(data, bytes) else data.encode("utf-8"))
    return target


def memories(profile):
    return sorted(MemoryStore(profile).iter_all(), key=lambda r: (r["timestamp"], r["id"]))


def local(*args) -> str:
    return datetime(*args).astimezone().isoformat()


def test_whatsapp_android_turns_with_reply_prompts(profile, fixed_clock):
    drop(profile, ANDROID, src=FIX / ANDROID)
    result = run(profile, me=["alex"])          # names match case-insensitively
    (report,) = result["reports"]
    assert report == {"file": ANDROID, "format": "whatsapp", "status": "imported", "messages": 13,
                      "turns": 4, "skipped": 5, "duplicates": 0, "memories": 4}
    mems = memories(profile)
    assert [m["content"] for m in mems] == [
        "Yes! I'll be there around 7\nbut I have to leave by 9, early start on Friday",
        "Ha, that photo is from last year",
        "Morning. Running 10 minutes late",
        "Look at this route: graded 6b but felt like 7a"]
    first = mems[0]
    assert first["type"] == "conversation" and first["timestamp"] == local(2026, 3, 12, 19, 6)
    assert first["source"] == f"whatsapp:{ANDROID}"
    assert first["entities"] == ["Ana Lima"] and "whatsapp" in first["tags"]
    meta = first["metadata"]
    assert meta["speaker"] == "Alex" and meta["chat"] == "Ana Lima"
    assert meta["replyTo"]["speaker"] == "Ana Lima"
    assert meta["replyTo"]["text"] == ("Are you coming to the climbing gym tomorrow?\n"
                                       "Tom says he might join")
    assert meta["replyTo"]["timestamp"] == local(2026, 3, 12, 19, 4)
    assert meta["importKey"].startswith("whatsapp:Ana Lima:12/03/2026 19:06:Alex:")
    assert "replyTo" not in mems[1]["metadata"]      # Ana's turn before it was a photo only
    assert "replyTo" not in mems[2]["metadata"]      # next morning: a new turn of the person's own
    assert mems[3]["metadata"]["replyTo"]["text"] == "No worries, I saved you the good wall"
    others = {"Are you coming to the climbing gym tomorrow?", "Tom says he might join",
              "No worries, I saved you the good wall", "Sandbagged for sure 😂"}
    assert not any(o in m["content"] for m in mems for o in others)   # never their words as mine


def test_reimport_adds_nothing_and_a_longer_export_adds_only_new_messages(profile, fixed_clock):
    lines = (FIX / ANDROID).read_text().splitlines(keepends=True)
    drop(profile, ANDROID, "".join(lines[:8]))            # exported on the 13th at 08:15
    first = run(profile, me=["Alex"])["reports"][0]
    assert (first["turns"], first["duplicates"]) == (3, 0)
    drop(profile, ANDROID, "".join(lines[:8]))            # the same file again
    again = run(profile, me=["Alex"])["reports"][0]
    assert again["status"] == "duplicate" and len(memories(profile)) == 3
    drop(profile, ANDROID, "".join(lines[:9]))            # one more message: a turn grew
    grown = run(profile, me=["Alex"])["reports"][0]
    assert (grown["turns"], grown["duplicates"]) == (0, 3)   # a photo only: nothing new to say
    drop(profile, ANDROID, src=FIX / ANDROID)             # the full, later export
    later = run(profile, me=["Alex"])["reports"][0]
    assert (later["turns"], later["duplicates"], later["memories"]) == (1, 3, 1)
    mems = memories(profile)
    assert len(mems) == 4 and mems[-1]["content"] == "Look at this route: graded 6b but felt like 7a"
    assert len({m["metadata"]["importKey"] for m in mems}) == 4


def test_a_turn_that_grew_in_the_later_export_adds_its_new_part(profile, fixed_clock):
    chat = ["14/03/2026, 10:00 - Ana: Coffee later?", "14/03/2026, 10:01 - Alex: Sure",
            "14/03/2026, 10:02 - Alex: 3 pm at the usual place?", "14/03/2026, 10:05 - Ana: Deal"]
    drop(profile, "WhatsApp Chat with Ana.txt", "\n".join(chat[:2]) + "\n")
    assert run(profile, me=["Alex"])["memories"] == 1
    drop(profile, "WhatsApp Chat with Ana.txt", "\n".join(chat) + "\n")
    assert run(profile, me=["Alex"])["memories"] == 1
    mems = memories(profile)
    assert [m["content"] for m in mems] == ["Sure", "3 pm at the usual place?"]
    assert mems[1]["metadata"]["replyTo"]["text"] == "Coffee later?"


def test_ios_zip_export_and_persona_aliases(profile, fixed_clock, tmp_path):
    core = profile.persona.core()
    core["identity"]["name"] = "Alexandra"
    core["identity"]["humanName"] = "Alexandra"
    core["identity"]["aliases"] = ["Alex"]
    profile.persona.save("core", core)
    zpath = tmp_path / "WhatsApp Chat - Ana Lima.zip"
    with zipfile.ZipFile(zpath, "w") as zf:
        zf.write(FIX / "_chat.txt", "_chat.txt")
        zf.writestr("00000012-PHOTO-2026-03-12-19-09-01.jpg", b"\xff\xd8\xff\x00" * 64)
    (queued,) = ingest_paths(profile, [zpath])
    result = run(profile)
    (report,) = result["reports"]
    assert report["format"] == "whatsapp" and report["memories"] == 3, report
    mems = memories(profile)
    assert [m["content"] for m in mems] == ["Saturday works. Should I bring dessert?",
                                            "Chocolate it is", "Sorry, was asleep. What's up?"]
    assert mems[1]["metadata"]["replyTo"] == {"speaker": "Ana Lima",
                                              "text": "Yes please!\nThe kids want chocolate",
                                              "timestamp": local(2026, 3, 12, 19, 6, 30)}
    assert mems[0]["source"] == "whatsapp:WhatsApp Chat - Ana Lima.zip"
    assert mems[0]["timestamp"] == local(2026, 3, 12, 19, 5, 40)
    assert "replyTo" not in mems[2]["metadata"]    # Ana's missed call is no prompt


def test_group_chat_reply_is_the_turn_just_before(profile, fixed_clock):
    name = "WhatsApp Chat with Climbing crew.txt"
    drop(profile, name, src=FIX / name)
    (report,) = run(profile, me=["Alex"])["reports"]
    assert (report["messages"], report["skipped"], report["turns"]) == (10, 5, 2)
    mems = memories(profile)
    assert [(m["content"], m["metadata"]["replyTo"]["speaker"], m["metadata"]["replyTo"]["text"])
            for m in mems] == [("Count me in", "Carol", "Me!"),
                               ("Can't next week, sorry", "Bob", "Same time next week?")]
    assert mems[0]["entities"] == ["Climbing crew", "Carol"]


def test_unknown_speaker_stops_and_lists_the_speakers(profile, fixed_clock):
    drop(profile, ANDROID, src=FIX / ANDROID)
    result = run(profile, me=["Greg"])
    (report,) = result["reports"]
    assert report["status"] == "failed" and result["failed"] == 1
    assert "none of the speakers is you (Greg)" in report["reason"]
    assert "speakers found: Alex (6), Ana Lima (5)" in report["reason"]
    assert "--me NAME" in report["reason"]
    assert memories(profile) == []
    assert (profile.home.inbox / "_failed" / ANDROID).is_file()


def test_telegram_single_chat(profile, fixed_clock):
    drop(profile, "result.json", src=FIX / "result.json")
    (report,) = run(profile, me=["Alex"])["reports"]
    assert report == {"file": "result.json", "format": "telegram", "status": "imported",
                      "messages": 9, "turns": 2, "skipped": 4, "duplicates": 0, "memories": 2}
    mems = memories(profile)
    assert [m["content"] for m in mems] == [
        "Yes, what a finish\nhttps://example.org/highlights has the highlights",
        "Unreal atmosphere"]
    assert mems[0]["metadata"]["replyTo"]["text"] == "Did you see the match?"
    assert mems[1]["metadata"]["replyTo"]["text"] == "Look at this crowd"    # a photo's caption
    assert mems[0]["source"] == "telegram:Ana Lima" and mems[0]["metadata"]["importKey"] == \
        "telegram:4242:3"
    unix = datetime(2026, 3, 12, 19, 1, tzinfo=timezone.utc)
    assert mems[0]["timestamp"] == unix.astimezone().isoformat()
    assert not any("BREAKING" in m["content"] for m in mems)          # forwarded: not theirs
    drop(profile, "result-again.json", (FIX / "result.json").read_text() + "\n")
    (again,) = run(profile, me=["Alex"])["reports"]
    assert (again["turns"], again["duplicates"]) == (0, 3) and len(memories(profile)) == 2


def test_telegram_account_export_and_saved_messages(profile, fixed_clock):
    drop(profile, "result.json", src=FIX / "telegram-account-result.json")
    (report,) = run(profile, me=["Alex"])["reports"]
    assert report["format"] == "telegram" and report["turns"] == 2
    by_chat = {m["metadata"]["chat"]: m for m in memories(profile)}
    assert by_chat["Ben"]["metadata"]["replyTo"]["text"] == "Lunch on Monday?"
    assert by_chat["Ben"]["source"] == "telegram:Ben"
    saved = by_chat["Saved Messages"]
    assert saved["content"].startswith("Idea: a bouldering log") and "replyTo" not in saved["metadata"]


def test_truncated_telegram_export_names_the_position(profile, fixed_clock):
    text = (FIX / "result.json").read_text()
    drop(profile, "result.json", text[: len(text) // 2])
    (report,) = run(profile, me=["Alex"])["reports"]
    assert report["status"] == "failed" and memories(profile) == []
    assert report["reason"].startswith("invalid JSON at line ")
    assert "(character " in report["reason"] and "truncated" in report["reason"]
    error = (profile.home.inbox / "_failed" / "result.json.error.txt").read_text()
    assert error.startswith("result.json: invalid JSON at line ")


def test_unrecognised_and_forced_formats(profile, fixed_clock, tmp_path):
    zpath = tmp_path / "photos.zip"
    with zipfile.ZipFile(zpath, "w") as zf:
        zf.writestr("a.jpg", b"\xff\xd8\xff\x00")
    drop(profile, "photos.zip", src=zpath)
    drop(profile, "notes.txt", "Just a note about the garden.")
    write_hints(profile.home.inbox, "notes.txt", {"format": "whatsapp"})
    reports = {r["file"]: r for r in run(profile)["reports"]}
    assert reports["photos.zip"]["reason"].startswith(
        "unrecognised format (tried whatsapp, telegram, markdown, json, jsonl, text)")
    assert "no WhatsApp message lines" in reports["notes.txt"]["reason"]
    assert memories(profile) == []


def test_markdown_vault_folder(profile, fixed_clock):
    vault = FIX / "Garden vault"
    skipped = Skipped()
    (queued,) = ingest_paths(profile, [vault], skipped=skipped)
    assert queued.name == "Garden vault.zip"
    with zipfile.ZipFile(queued) as zf:
        assert sorted(zf.namelist()) == ["Garden vault/Compost.md", "Garden vault/Daily/2026-03-14.md",
                                         "Garden vault/Empty.md", "Garden vault/Projects/Raised beds.md"]
    (report,) = run(profile)["reports"]
    assert (report["format"], report["memories"], report["skipped"]) == ("markdown", 3, 1)
    by_title = {m["metadata"]["title"]: m for m in memories(profile)}
    assert set(by_title) == {"Compost", "2026-03-14", "Raised beds"}
    daily = by_title["2026-03-14"]
    assert daily["type"] == "journal" and daily["timestamp"] == local(2026, 3, 14)
    assert daily["links"][0] == {"type": "wikilink", "target": "Ana Lima"}
    beds = by_title["Raised beds"]
    assert beds["type"] == "observation" and beds["timestamp"] == local(2026, 3, 1, 18, 30)
    assert beds["tags"] == ["garden", "diy", "markdown", "ingested"]
    assert beds["content"].startswith("# Raised beds\n\nCedar boards from [[Hardware store|the")
    assert [ln["target"] for ln in beds["links"] if ln["type"] == "wikilink"] == [
        "Hardware store", "Compost", "bed-plan.png"]
    assert beds["metadata"]["frontmatter"] == {"created": "2026-03-01 18:30", "aliases": ["beds"],
                                               "status": "doing"}
    assert beds["source"] == "markdown:Garden vault"
    assert beds["metadata"]["path"] == "Projects/Raised beds.md"
    assert by_title["Compost"]["tags"] == ["garden", "soil", "markdown", "ingested"]
    ingest_paths(profile, [vault])                       # the same vault again: nothing new
    (again,) = run(profile)["reports"]
    assert again["status"] == "duplicate" or again["memories"] == 0
    assert len(memories(profile)) == 3


def test_a_long_note_becomes_sections_and_an_edit_adds_its_new_version(profile, fixed_clock):
    body = "\n\n".join(f"## Part {i}\n\n" + "Words about the orchard. " * 60 for i in range(4))
    drop(profile, "orchard.md", "---\ntags: orchard\n---\n" + body)
    (report,) = run(profile)["reports"]
    assert report["format"] == "markdown" and report["memories"] == 4
    assert [m["metadata"]["section"] for m in memories(profile)] == [
        {"part": i, "of": 4} for i in range(1, 5)]
    drop(profile, "orchard.md", "---\ntags: orchard\n---\n" + body + "\n\nOne more line.")
    (edited,) = run(profile)["reports"]
    assert (edited["memories"], edited["duplicates"]) == (1, 4)     # the new line: its own section


def test_crash_mid_chat_then_a_longer_export_never_duplicates(profile, fixed_clock, monkeypatch):
    lines = (FIX / ANDROID).read_text().splitlines(keepends=True)
    drop(profile, ANDROID, "".join(lines[:8]))
    store = MemoryStore
    real_write = store.write_new
    written: list = []

    def dying_write(self, record, **kw):
        if len(written) == 2:
            out = real_write(self, record, **kw)     # on disk, but the journal never hears of it
            raise KeyboardInterrupt("power cut")
        out = real_write(self, record, **kw)
        written.append(out)
        return out

    monkeypatch.setattr(store, "write_new", dying_write)
    with pytest.raises(KeyboardInterrupt):
        run(profile, me=["Alex"])
    monkeypatch.setattr(store, "write_new", real_write)
    assert len(memories(profile)) == 3
    (profile.home.inbox / ANDROID).unlink()              # the person re-exports instead
    drop(profile, "WhatsApp Chat with Ana Lima (2).txt", src=FIX / ANDROID)
    (report,) = run(profile, me=["Alex"])["reports"]
    assert report["memories"] == 2, report               # the pending one found, one new written
    assert [m["content"] for m in memories(profile)][-1].startswith("Look at this route")
    assert len(memories(profile)) == 4
    assert json.loads((profile.home.inbox / "_ledger/keys.ndjson").read_text().splitlines()[0])


def test_json_items_still_work_with_keys_ignored(profile, fixed_clock):
    drop(profile, "a.json", json.dumps({"content": "plain item"}))
    assert run(profile)["reports"][0]["format"] == "json"


def test_a_chat_zip_in_a_folder_is_taken_other_binaries_left(profile, fixed_clock, tmp_path):
    src = tmp_path / "Downloads"
    src.mkdir()
    with zipfile.ZipFile(src / "WhatsApp Chat - Ana Lima.zip", "w") as zf:
        zf.write(FIX / "_chat.txt", "_chat.txt")
    with zipfile.ZipFile(src / "photos.zip", "w") as zf:
        zf.writestr("a.jpg", b"\xff\xd8\xff\x00")
    (src / "photo.jpg").write_bytes(b"\xff\xd8\xff\x00")
    skipped = Skipped()
    queued = ingest_paths(profile, [src], skipped=skipped)
    assert [p.name for p in queued] == ["WhatsApp Chat - Ana Lima.zip"]
    assert sorted(p.name for p in skipped.binary) == ["photo.jpg", "photos.zip"]
    assert run(profile, me=["Alex"])["memories"] == 3
