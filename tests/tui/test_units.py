"""UI-free pieces: the line index, audit filters, training stage states, key names, status."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from metahuman_tui.screens.keys import display_key, split_keymap
from metahuman_tui.widgets.audit_filter import (
    AuditFilter,
    FilterError,
    parse_filter,
    parse_line,
)
from metahuman_tui.widgets.line_index import LineIndex
from metahuman_tui.widgets.stage_list import stage_states

from .conftest import REPO

LINE = st.binary(max_size=40).map(lambda b: b.replace(b"\n", b" "))


@settings(max_examples=60, deadline=None)
@given(lines=st.lists(LINE, max_size=40), tail=LINE, chunk=st.integers(1, 64))
def test_index_matches_splitlines_and_ignores_a_torn_tail(tmp_path_factory, lines, tail, chunk):
    path = tmp_path_factory.mktemp("idx") / "day.ndjson"
    path.write_bytes(b"".join(line + b"\n" for line in lines) + tail)
    index = LineIndex(path)
    for _ in index.scan(chunk=chunk):
        pass
    assert len(index) == len(lines)
    assert [index.line(i) for i in range(len(index))] == [x.rstrip(b"\r") for x in lines]
    # the torn tail becomes a line once its newline arrives
    with path.open("ab") as fh:
        fh.write(b"\n")
    assert index.refresh() == 1 and index.line(len(lines)) == tail.rstrip(b"\r")


def test_index_restarts_when_the_file_is_replaced_or_truncated(tmp_path):
    path = tmp_path / "day.ndjson"
    path.write_bytes(b"a\nb\nc\n")
    index = LineIndex(path)
    index.build()
    assert len(index) == 3
    path.write_bytes(b"x\n")                      # truncated in place
    index.build()
    assert len(index) == 1 and index.line(0) == b"x"
    replacement = tmp_path / "new.ndjson"
    replacement.write_bytes(b"1\n2\n")
    replacement.replace(path)                     # replaced (new inode)
    index.build()
    assert [index.line(i) for i in range(len(index))] == [b"1", b"2"]
    assert list(index.search(re.compile(b"2"))) == [1]
    index.close()


def test_missing_file_is_an_empty_index(tmp_path):
    index = LineIndex(tmp_path / "none.ndjson")
    assert index.build() == 0 and list(index.search(re.compile(b"x"))) == []


def test_filter_parsing_and_exact_matching():
    flt = parse_filter("level:warn cat:security event:lora_ actor:cli two words")
    assert flt == AuditFilter("warn", "security", "lora_", "cli", "two words")
    with pytest.raises(FilterError, match="level must be one of"):
        parse_filter("level:loud")
    assert parse_filter("").empty and parse_filter("   ").describe() == "no filter"
    # a details key that looks like a top-level field is not a match
    raw = json.dumps({"level": "info", "event": "x", "actor": "cli",
                      "details": {"level": "warn"}}, separators=(",", ":")).encode()
    warn = parse_filter("level:warn")
    assert warn.prefilter().search(raw) and not warn.matches(raw, parse_line(raw))
    assert parse_filter("CLI").matches(raw, parse_line(raw))
    assert not parse_filter("actor:cli").matches(b"not json", None)


@given(st.text(max_size=60))
def test_parse_filter_never_crashes_unexpectedly(text):
    try:
        flt = parse_filter(text)
    except FilterError:
        return
    assert isinstance(flt.describe(), str)
    pattern = flt.prefilter()
    assert pattern is None or isinstance(pattern, re.Pattern)


def test_stage_states():
    assert set(stage_states([]).values()) == {"pending"}
    running = stage_states([{"stage": "INIT"}, {"stage": "TRAINING", "status": "running"}])
    assert running["INIT"] == "done" and running["DATASET"] == "skipped"
    assert running["TRAINING"] == "running" and running["COMPLETE"] == "pending"
    failed = stage_states([{"stage": "INIT"}, {"stage": "GGUF_MERGE", "status": "failed"}])
    assert failed["GGUF_MERGE"] == "failed"
    done = stage_states([{"stage": "COMPLETE", "status": "done"}])
    assert done["COMPLETE"] == "done"


def test_the_faces_show_the_trainers_one_list_of_stages():
    """No second copy of the stages in the TUI: the trainer's list, re-exported by the core."""
    import trainer.progress
    from metahuman_tui.screens import services
    from metahuman_tui.widgets import stage_list

    assert stage_list.STAGES is services.STAGES is trainer.progress.STAGES
    assert list(stage_states([])) == list(trainer.progress.STAGES)


def test_run_folders_sort_by_the_cores_public_label_key():
    from metahuman_core.training import runs

    assert runs.label_key("2025-10-19-10") > runs.label_key("2025-10-19-9") > runs.label_key(
        "2025-10-19")
    assert runs._label_key is runs.label_key            # the old name still works


def test_training_state_for_the_status_bar(tmp_path):
    """The bar reads the core's RunStatus: newest run by date and number (-10 after -9), a
    run whose trainer is gone is dead, a failed one says so."""
    from metahuman_core.profile import Profile, init_profile
    from metahuman_tui.screens.services import latest_run, run_dirs
    from metahuman_tui.widgets.status_bar import training_state

    init_profile(tmp_path / "home")
    prof = Profile(tmp_path / "home")
    assert latest_run(prof) is None and training_state(None) is None
    for label in ("2025-10-19-9", "2025-10-19-10"):
        (prof.home.runs / label).mkdir(parents=True)
    newest = prof.home.runs / "2025-10-19-10"
    assert [p.name for p in run_dirs(prof.home.runs)] == ["2025-10-19-10", "2025-10-19-9"]
    (newest / "progress.ndjson").write_text(
        json.dumps({"stage": "TRAINING", "pct": 42.5, "status": "running"}) + "\n{torn")
    state = training_state(latest_run(prof))
    assert state.text == "TRAINING 42%" and not state.dead
    (newest / "run-summary.json").write_text(json.dumps({"status": "running"}))
    state = training_state(latest_run(prof))        # no trainer holds the run's lock
    assert state.dead and state.text == "✗ trainer died at TRAINING 42% (F7)"
    (newest / "run-summary.json").write_text(json.dumps({"status": "failed", "error": "OOM"}))
    state = training_state(latest_run(prof))
    assert state.failed and not state.dead and "OOM" in state.detail


def test_key_names_and_keymap_split():
    assert display_key("f2,alt+1") == "F2/Alt+1"
    assert display_key("slash") == "/" and display_key("ctrl+r") == "Ctrl+R"
    assert display_key("left_square_bracket") == "["
    assert display_key("pageup,b") == "PgUp/b" and display_key("shift+pagedown") == "Shift+PgDn"
    assert display_key("f3,alt+2,trade_mark_sign") == "F3/Alt+2"   # ESC-digit alias hidden
    good, bad = split_keymap({"help": "f12", "nope": "x", "quit": ""}, {"help", "quit"})
    assert good == {"help": "f12"}
    assert bad == ["nope: unknown id (F1 lists the ids)", "quit: an empty key"]
    known = {"a", "b", "c", "d", "e"}
    good, bad = split_keymap({"a": "ctl+x", "b": "F 12", "c": "ctrl+n,alt+3", "d": "slash",
                              "e": "pagedown"}, known)
    assert good == {"c": "ctrl+n,alt+3", "d": "slash", "e": "pagedown"}
    assert bad[0].startswith("a: 'ctl+x': unknown modifier 'ctl'")
    assert bad[1].startswith("b: 'F 12': unknown key 'F 12'")


def test_cli_and_core_do_not_import_textual():
    """`mh --help` and the core stay light: the TUI is imported only when opened."""
    code = ("import sys, metahuman_core.profile, metahuman_tui.cli.main; "
            "print(any(m == 'textual' or m.startswith('textual.') for m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=REPO, timeout=60)
    assert out.stdout.strip() == "False", out.stderr
