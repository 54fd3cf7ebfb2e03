"""The frame every pane shares: tabs on top, the pane body, the status bar and the footer.

Why: one place decides the chrome (so 80x24 keeps 20 rows for content) and gives panes their
services, settings, the injected clock and timers that tests can switch off.
"""

from __future__ import annotations

from datetime import datetime

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.screen import Screen

from ..widgets.footer import PaneFooter
from ..widgets.status_bar import PaneTabs, StatusBar
from .services import Services


class PaneScreen(Screen):
    PANE = ""
    TITLE = ""
    HELP = ""        # one paragraph shown in F1 help for this pane

    def compose(self) -> ComposeResult:
        yield PaneTabs(self.PANE)
        with Vertical(id="pane-body"):
            yield from self.compose_pane()
        yield StatusBar()
        yield PaneFooter()

    def compose_pane(self) -> ComposeResult:
        yield from ()

    # ------------------------------------------------------------------ helpers for panes
    @property
    def services(self) -> Services:
        return self.app.services  # type: ignore[attr-defined]

    @property
    def profile(self):
        return self.services.profile

    @property
    def settings(self):
        return self.services.settings

    def now(self) -> datetime:
        return self.app.now()  # type: ignore[attr-defined]

    def every(self, seconds: float, callback) -> None:
        """A polling timer, only when the settings allow timers (never in snapshot tests)."""
        if self.settings.poll:
            self.set_interval(seconds, callback)


def age(then: str | None, now: datetime) -> str:
    """'3m', '2h', '5d' from an ISO timestamp to the injected now ('?' if unparsable)."""
    if not then:
        return "?"
    try:
        dt = datetime.fromisoformat(str(then).replace("Z", "+00:00"))
    except ValueError:
        return "?"
    if dt.tzinfo is None:
        dt = dt.astimezone()
    seconds = int((now - dt).total_seconds())
    if seconds < 0:
        return "now"
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"
