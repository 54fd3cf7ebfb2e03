"""The Textual app: one screen (mode) per pane, global keys, status bar state, YOLO and trust.

Why a factory (posting's model): `create_app(profile, clock=, services=)` builds the app with
injected settings and services, so tests run it with a fixed clock, no timers and a fake LLM,
and nothing is a module-level singleton. Workers post past-tense messages; handlers here own
the state (harlequin's rule).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any, Iterable

from textual import work
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.message import Message
from textual.reactive import reactive
from textual.screen import Screen

from metahuman_core import clock as core_clock
from metahuman_core.errors import MHError
from metahuman_core.safeguards import record_yolo, set_trust

from .screens.approvals import ApprovalsScreen
from .screens.audit import AuditScreen
from .screens.chat import ChatScreen
from .screens.help import HelpScreen
from .screens.keys import (
    KeyRow,
    alt_digit,
    display_key,
    install_esc_digit_keys,
    registry,
    split_keymap,
)
from .screens.memory import MemoryScreen
from .screens.modals import ChoiceScreen, ConfirmScreen, PromptScreen, TextViewScreen
from .screens.services import Services, TuiSettings
from .screens.tasks import TasksScreen
from .screens.training import TrainingScreen
from .widgets.line_list import LineList
from .widgets.status_bar import PANES, StatusInfo, training_state

PANE_SCREENS: dict[str, type[Screen]] = {
    "chat": ChatScreen, "memory": MemoryScreen, "tasks": TasksScreen,
    "approvals": ApprovalsScreen, "audit": AuditScreen, "training": TrainingScreen,
}


class StatusCollected(Message):
    def __init__(self, data: dict[str, Any]) -> None:
        super().__init__()
        self.data = data


class LlmChecked(Message):
    def __init__(self, health: Any) -> None:   # metahuman_core.llm.health.LlmHealth
        super().__init__()
        self.health = health


class MetaHumanApp(App[None]):
    CSS_PATH = "styles/app.tcss"
    TITLE = "MetaHuman OS"
    MODES = dict(PANE_SCREENS)
    DEFAULT_MODE = "chat"
    BINDINGS = [
        Binding("f1", "help", "Help", id="help"),
        *[Binding(f"f{i + 2},{alt_digit(i + 1)}", f"pane('{mode}')", label, id=f"pane_{mode}",
                  show=False)
          for i, (mode, label) in enumerate(PANES)],
        Binding("f8", "toggle_yolo", "YOLO on/off", id="yolo", show=False),
        Binding("f9", "show_copied", "Show copied text", id="show_copied", show=False),
        Binding("f10", "set_trust", "Trust level", id="trust", show=False),
        Binding("ctrl+q", "quit", "Quit", id="quit", priority=True),
    ]

    status: reactive[StatusInfo] = reactive(StatusInfo, always_update=True)
    yolo: reactive[bool] = reactive(False)
    keymap_version: reactive[int] = reactive(0)

    def __init__(self, services: Services, start: str = "chat") -> None:
        if start not in PANE_SCREENS:
            raise ValueError(f"unknown pane {start!r}; one of {', '.join(PANE_SCREENS)}")
        self.DEFAULT_MODE = start   # read by App.__init__: the pane shown first
        super().__init__()
        install_esc_digit_keys()    # Alt+1..6 over SSH/tmux (ESC+digit) switches panes
        self.services = services
        self.last_copied = ""
        self._key_rows: list[KeyRow] | None = None
        self._told_dead: str | None = None      # the dead run already announced
        self._told_llm = ""                     # the LLM problem already announced
        self.animation_level = "none"   # smooth over SSH, deterministic in snapshots

    # ------------------------------------------------------------------ startup
    def on_mount(self) -> None:
        self.apply_tui_config()
        self.refresh_status()
        self.check_llm()
        if self.services.settings.poll:
            self.set_interval(self.services.settings.status_interval, self._tick_status)

    def _tick_status(self) -> None:
        self.refresh_status()
        self.check_llm()

    def apply_tui_config(self) -> None:
        """etc/tui.json: `keys` {binding id: key} and `theme`; bad entries warn, never crash."""
        try:
            cfg = self.services.profile.config.get("tui")
        except MHError as exc:
            self.notify(str(exc), title="etc/tui.json ignored", severity="error", timeout=10)
            return
        keymap, unknown = split_keymap(dict(cfg.keys), {r.id for r in self.key_rows()})
        if keymap:
            self.set_keymap(keymap)
            self.keymap_version += 1
        if unknown:
            self.notify("keys ignored (the default key stays):\n" + "\n".join(unknown),
                        title="etc/tui.json", severity="warning", timeout=15)
        if cfg.theme and cfg.theme != self.theme:
            if cfg.theme in self.available_themes:
                self.theme = cfg.theme
            else:
                self.notify(f"unknown theme {cfg.theme!r}", title="etc/tui.json", severity="warning")

    # ------------------------------------------------------------------ keys
    def key_rows(self) -> list[KeyRow]:
        """Every binding with an id (cached: bindings are declared on classes)."""
        if self._key_rows is None:
            self._key_rows = self._build_key_rows()
        return self._key_rows

    def _build_key_rows(self) -> list[KeyRow]:
        scopes: list[tuple[str, type]] = [("global", type(self))]
        scopes += [(mode, cls) for mode, cls in PANE_SCREENS.items()]
        scopes += [("lists", LineList)]
        scopes += [("dialogs", cls) for cls in (ConfirmScreen, PromptScreen, ChoiceScreen,
                                                TextViewScreen, HelpScreen)]
        for cls in PANE_SCREENS.values():
            scopes += [(f"{getattr(cls, 'PANE', '')}", extra)
                       for extra in getattr(cls, "EXTRA_KEY_SCOPES", ())]
        return registry(scopes)

    def key_for(self, binding_id: str, default: str | None = None, *, first: bool = False) -> str:
        """The key in force for a binding id (after etc/tui.json), for display."""
        key = self._keymap.get(binding_id) or default
        if not key:
            key = next((r.key for r in self.key_rows() if r.id == binding_id), "?")
        shown = display_key(key)
        return shown.split("/")[0] if first else shown

    # ------------------------------------------------------------------ time
    def now(self) -> datetime:
        return core_clock.now()

    # ------------------------------------------------------------------ status bar
    @work(thread=True, exclusive=True, group="status", exit_on_error=False)
    def refresh_status(self) -> None:
        self.post_message(StatusCollected(self.services.local_status()))

    @work(thread=True, exclusive=True, group="llm", exit_on_error=False)
    def check_llm(self) -> None:
        self.post_message(LlmChecked(self.services.check_llm()))

    def on_status_collected(self, message: StatusCollected) -> None:
        d = message.data
        run = training_state(d["training"])
        self.status = replace(self.status, model=d["model"], trust=d["trust"],
                              pending=d["pending"], training=run)
        if run is not None and run.dead and run.key != self._told_dead:
            self._told_dead = run.key     # once per run: the bar keeps saying it
            self.notify(run.detail, title="Training stopped", severity="error", timeout=20)

    def on_llm_checked(self, message: LlmChecked) -> None:
        h = message.health
        state = "ok" if h.ok else ("down" if not h.reachable else "no_model"
                                   if h.model_present is False else "down")
        detail = h.message + (f" · {h.hint}" if h.hint else "")
        self.status = replace(self.status, llm=state, llm_detail=detail,
                              model=h.model or self.status.model)
        if state != "ok" and detail != self._told_llm:
            self._told_llm = detail      # once per problem; short: a toast covers the prompt
            self.notify(h.message + "\n(click the status bar for what to do)",
                        title="LLM not ready", severity="warning", timeout=8)
        elif state == "ok":
            self._told_llm = ""

    def action_status_details(self) -> None:
        """Click on the status bar: the LLM check and the training run in words."""
        info = self.status
        lines = [f"LLM: {info.llm_detail or 'not checked yet'}"]
        if info.training is not None:
            lines.append(f"Training: {info.training.detail}")
        self.notify("\n".join(lines), title="Status", timeout=15)

    # ------------------------------------------------------------------ actions
    def action_pane(self, mode: str) -> None:
        if mode in PANE_SCREENS and self.current_mode != mode:
            self.switch_mode(mode)

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def copy_text(self, text: str, what: str = "text") -> None:
        """OSC 52 copy; F9 shows the same text for terminals that ignore OSC 52."""
        self.last_copied = text
        self.copy_to_clipboard(text)
        self.notify(f"Copied {what} ({len(text)} chars) via OSC 52 · F9 shows it to select by hand")

    def action_show_copied(self) -> None:
        if not self.last_copied:
            self.notify("Nothing copied yet: press y on a message, memory or entry.")
            return
        self.push_screen(TextViewScreen("Last copied text", self.last_copied))

    def action_toggle_yolo(self) -> None:
        self.request_yolo(not self.yolo)

    def request_yolo(self, on: bool) -> None:
        """Turning YOLO on always asks first; turning it off never does."""
        if not on:
            self.set_yolo(False)
            return
        body = ("The operator may run medium-risk skills without asking, repair arguments "
                "loosely and take more steps. The sandbox and the always-ask class still hold. "
                "The change is written to the audit log.")

        def answered(yes: bool | None) -> None:
            if yes:
                self.set_yolo(True)
            else:
                self.mutate_reactive(MetaHumanApp.yolo)   # tell the switch to flip back

        self.push_screen(ConfirmScreen("Turn YOLO mode on?", body, yes="YOLO on", danger=True),
                         answered)

    def set_yolo(self, on: bool) -> None:
        if on == self.yolo:
            return
        self.yolo = on
        record_yolo(self.services.profile, on, actor="tui")
        self.notify("YOLO mode ON" if on else "YOLO mode off",
                    severity="warning" if on else "information")

    def watch_yolo(self, on: bool) -> None:
        self.set_class(on, "-yolo")

    def action_set_trust(self) -> None:
        from metahuman_core.identity import TRUST_LEVELS

        current = self.services.profile.persona.trust_level()
        self.push_screen(ChoiceScreen(
            "Trust level (what skills may run without asking)",
            [(lvl, ("● " if lvl == current else "  ") + lvl) for lvl in TRUST_LEVELS], current),
            self.set_trust)

    def set_trust(self, level: str | None) -> None:
        """Raising trust asks first (Cancel is the default button); lowering never does."""
        from metahuman_core.identity import trust_rank

        profile = self.services.profile
        old = profile.persona.trust_level()
        if not level or level == old:
            return
        if trust_rank(level) > trust_rank(old):
            body = (f"Trust {old} → {level}: the operator and agents may run more skills without "
                    "asking you first. The sandbox and the always-ask class still hold. "
                    "The change is written to the audit log.")
            self.push_screen(ConfirmScreen(f"Raise trust to {level}?", body, yes="Raise trust",
                                           danger=True),
                             lambda yes: self._apply_trust(level) if yes else None)
            return
        self._apply_trust(level)

    def _apply_trust(self, level: str) -> None:
        profile = self.services.profile
        old = profile.persona.trust_level()
        if level == old:
            return
        set_trust(profile, level, actor="tui")
        self.notify(f"Trust level: {old} → {level}")
        self.refresh_status()

    # ------------------------------------------------------------------ command palette
    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        """Textual's own, the panes, the app's actions and every action of the current pane,
        each with the key that does it (so the palette teaches the keys)."""
        yield from super().get_system_commands(screen)
        key = self.key_for
        for mode, label in PANES:
            yield SystemCommand(f"Go to {label}", f"Open the {label.lower()} pane · key "
                                f"{key(f'pane_{mode}')}", lambda m=mode: self.action_pane(m))
        yield SystemCommand("YOLO mode: turn " + ("off" if self.yolo else "on"),
                            f"Relax the operator's approvals (asks first; audited) · key "
                            f"{key('yolo')}", self.action_toggle_yolo)
        yield SystemCommand("Set trust level", "observe … adaptive_auto (raising asks first; "
                            f"audited) · key {key('trust')}", self.action_set_trust)
        yield SystemCommand("Show copied text", "The copy fallback for terminals without OSC 52 "
                            f"· key {key('show_copied')}", self.action_show_copied)
        # not plain "Keys": Textual's own "Keys" command (focused widget's keys) is listed too
        yield SystemCommand("Help: every key and its id", f"key {key('help')} · remap them in "
                            "etc/tui.json", self.action_help)
        yield from self._pane_commands(screen)

    def _pane_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        """One entry per visible binding of the pane (approve, reject, start a run…)."""
        pane = getattr(screen, "PANE", "")
        if not pane:
            return
        label = dict(PANES).get(pane, pane)
        seen = set()
        for binding in Binding.make_bindings(getattr(type(screen), "BINDINGS", [])):
            if not binding.id or binding.id in seen or not binding.description:
                continue
            seen.add(binding.id)
            yield SystemCommand(f"{label}: {binding.description}", f"key {self.key_for(binding.id)}",
                                lambda s=screen, a=binding.action: s.run_action(a))

    def deliver_screenshot(self, filename: str | None = None, path: str | None = None,
                           time_format: str | None = None) -> str | None:
        """Screenshots (palette, `screenshot` action) go under the profile, out/screens/, not
        ~/Downloads (which many hosts lack: the save failed); the toast says where."""
        folder = Path(path) if path else self.services.profile.root / "out" / "screens"
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            self.notify(f"screenshot not saved: {folder}: {exc.strerror}", severity="error")
            return None
        return super().deliver_screenshot(filename, str(folder), time_format)


def create_app(profile, *, clock=None, services: Services | None = None,
               settings: TuiSettings | None = None, start: str = "chat") -> MetaHumanApp:
    """Build the app for `profile`. `clock` is installed as the core clock (tests pass a
    FixedClock); `services` replaces the default core wiring (tests: no timers); `start` is the
    pane shown first."""
    if clock is not None:
        core_clock.set_clock(clock)
    if services is None:
        services = Services(profile, settings or TuiSettings())
    elif settings is not None:
        services.settings = settings
    return MetaHumanApp(services, start=start)


def run_app(profile, start: str = "chat") -> None:
    """`mh` / `mh tui`: run full screen until the person quits."""
    create_app(profile, start=start).run()
