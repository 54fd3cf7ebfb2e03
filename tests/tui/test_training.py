"""Training pane: stages, progress and loss from progress.ndjson, live tail, runs, adapters."""

from __future__ import annotations

import asyncio
import json

from textual.widgets import DataTable, Log, ProgressBar

from metahuman_tui.screens.modals import ConfirmScreen
from metahuman_tui.screens.training_adapters import AdaptersScreen
from metahuman_tui.widgets.stage_list import StageList

from .conftest import screen_text, settle, wait_for


def run(coro):
    return asyncio.run(coro)


async def open_training(pilot):
    await settle(pilot)
    await pilot.press("f7")
    await settle(pilot)
    return pilot.app.screen


def test_shows_the_newest_run_with_stages_progress_and_loss(make_app):
    async def main():
        app = make_app(start="training")
        async with app.run_test(size=(80, 24)) as pilot:
            screen = await open_training(pilot)
            stages = screen.query_one(StageList).states
            assert stages["LORA_SETUP"] == "done" and stages["TRAINING"] == "running"
            assert stages["COMPLETE"] == "pending"
            assert screen.query_one(ProgressBar).progress == 50
            assert "Run 2025-10-19 (1/2)" in screen_text(app)
            stats = str(screen.query_one("#training-stats").content)
            assert "loss 3.6402 (first 5.3121, best 3.6402)" in stats
            assert len(screen.query_one(Log).lines) == 8
    run(main())


def test_new_progress_lines_are_tailed_and_older_runs_browsed(make_app, tui_profile):
    async def main():
        app = make_app(start="training")
        async with app.run_test(size=(80, 24)) as pilot:
            screen = await open_training(pilot)
            progress = tui_profile.home.runs / "2025-10-19" / "progress.ndjson"
            with progress.open("a") as fh:      # the trainer (another process) writes on
                fh.write(json.dumps({"stage": "SAVE_ADAPTER", "pct": 86, "step": None,
                                     "loss": None, "message": "adapter saved",
                                     "ts": "2025-10-19T15:10:00+02:00",
                                     "status": "running"}) + "\n")
                fh.write('{"stage": "GGUF_MER')          # a torn line is not read yet
            screen.poll()                                # what the one-second timer calls
            await pilot.pause()
            assert screen.query_one(StageList).states["SAVE_ADAPTER"] == "running"
            assert len(screen.lines) == 9
            await pilot.press("left_square_bracket")     # the older, finished run
            await pilot.pause()
            states = screen.query_one(StageList).states
            assert set(states.values()) == {"done"}
            assert "status=success" in str(screen.query_one("#training-summary").content)
    run(main())


def test_start_goes_through_the_gates_and_explains_a_refusal(make_app):
    """The fixture's dataset is not approved: the core refuses and the pane says why."""
    async def main():
        app = make_app(start="training")
        async with app.run_test(size=(80, 24), notifications=True) as pilot:
            await open_training(pilot)
            await pilot.press("s")
            await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="confirm")
            await pilot.press("y")
            await wait_for(pilot, lambda: app._notifications, what="notification")
            await settle(pilot)
            messages = " ".join(n.message for n in app._notifications)
            assert "not started:" in messages
    run(main())


def test_adapters_modal_opens_and_closes(make_app):
    async def main():
        app = make_app(start="training")
        async with app.run_test(size=(80, 24)) as pilot:
            await open_training(pilot)
            await pilot.press("a")
            await wait_for(pilot, lambda: isinstance(app.screen, AdaptersScreen), what="modal")
            table = app.screen.query_one(DataTable)
            assert table.row_count == 1
            assert [str(c) for c in table.get_row_at(0)] == ["2025-10-12", "pending", "48", "-",
                                                              ""]
            await pilot.press("escape")
            assert not isinstance(app.screen, AdaptersScreen)
    run(main())


def _evaluated(tui_profile, *, passed: bool):
    """The fixture's older run, trained and evaluated (eval.json as the core records it)."""
    gains = [2.1, 1.8, 2.6, 2.0, 1.5, 2.4] if passed else [1.5, -1.2, 0.3, -0.8, 2.0, -1.5]
    ev = {"heldout": 6, "base_loss": 4.8, "adapter_loss": 3.5, "loss_delta": -1.3,
          "loss_ratio": 0.73, "llr_gain": sum(gains) / 6, "llr_ci": [1.7, 2.4] if passed
          else [-0.7, 0.9], "improved": 5, "passed": passed,
          "per_prompt": [{"llr": g} for g in gains],
          "verdict": "Sounds much more like you: test verdict." if passed
          else "Not clearly better than the base model: test verdict.",
          "samples": [{"prompt": f"Question {i}?", "reference": f"my answer {i}",
                       "base": f"generic answer {i}", "adapter": f"adapter answer {i}"}
                      for i in range(4)]}
    adapters = tui_profile.home.adapters / "2025-10-12"
    (adapters / "eval.json").write_text(json.dumps(ev))
    (adapters / "alex-2025-10-12.gguf").write_bytes(b"GGUF")
    return ev


def test_a_finished_run_shows_its_verdict_numbers_and_three_samples(make_app, tui_profile):
    _evaluated(tui_profile, passed=True)

    async def main():
        app = make_app(start="training")
        async with app.run_test(size=(100, 40)) as pilot:
            screen = await open_training(pilot)
            await pilot.press("left_square_bracket")     # the older, finished run
            await pilot.pause()
            text = str(screen.query_one("#training-eval").content)
            assert "verdict: Sounds much more like you" in text
            assert "held-out loss 73% of base" in text and "better on 5/6" in text
            assert "LLR gain +2.07 (95% +1.70…+2.40)" in text
            assert text.count("adapter adapter answer") == 3 and "answer 3" not in text
            await pilot.press("right_square_bracket")    # the running run: nothing evaluated
            await pilot.pause()
            assert screen.query_one("#training-eval").display is False
    run(main())


def test_activating_an_unclear_adapter_asks_again_and_forces_only_when_insisted(
        make_app, tui_profile, monkeypatch):
    _evaluated(tui_profile, passed=False)
    calls = []
    import metahuman_core.training.activate as activate_mod

    monkeypatch.setattr(activate_mod, "activate",
                        lambda profile, label, **kw: calls.append((label, kw)) or {"model": "m"})

    async def main():
        app = make_app(start="training")
        async with app.run_test(size=(100, 40), notifications=True) as pilot:
            await open_training(pilot)
            await pilot.press("a")
            await wait_for(pilot, lambda: isinstance(app.screen, AdaptersScreen), what="modal")
            row = [str(c) for c in app.screen.query_one(DataTable).get_row_at(0)]
            assert row[3].startswith("unclear")
            await pilot.press("enter")
            await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="confirm")
            assert "not clearly better" in app.screen.title_text
            assert "forced activation" in app.screen.body
            await pilot.press("n")                       # declined: nothing happens
            await settle(pilot)
            assert calls == []
            await pilot.press("enter")
            await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="confirm")
            await pilot.press("y")
            await wait_for(pilot, lambda: calls, what="activation")
            assert calls == [("2025-10-12", {"actor": "tui", "force": True})]
    run(main())
