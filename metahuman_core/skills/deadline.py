"""A skill call's deadline: what is left of the caller's time budget (the operator's maxSeconds).

    execute(profile, "web_search", args, actor="operator", deadline=Deadline.after(12.5, label))

The gate makes the deadline current while the skill runs. A skill that waits (network, a
subprocess) asks `timeout(own, what)` for min(its own timeout, the time left), and does not start
the wait at all when nothing is left. Writing skills never ask: a write is never abandoned midway.
A skill that fails once the deadline has passed is reported by the gate as stopped by the budget
(error_type "deadline"), naming the skill and the budget. Without a deadline nothing changes.
"""

from __future__ import annotations

import contextlib
import time
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Callable, Iterator, TypeVar

from ..errors import MHError, ValidationFailed
from ..sandbox import SandboxViolation

T = TypeVar("T")
SLACK = 0.05  # a wait cut at the deadline ends this close to it (timers are not exact)


class DeadlineExceeded(MHError):
    """A skill's wait did not start, or was cut short, because the caller's budget ran out."""


@dataclass(frozen=True)
class Deadline:
    at: float  # time.monotonic() when the budget ends
    budget: str  # what ends then, for messages: "the operator's time budget (120 s)"
    hint: str | None = None  # how to get more time, shown with a skill the budget stopped

    @classmethod
    def after(cls, seconds: float, budget: str, hint: str | None = None) -> Deadline:
        return cls(time.monotonic() + max(0.0, seconds), budget, hint)

    def left(self) -> float:
        return max(0.0, self.at - time.monotonic())

    def passed(self) -> bool:
        return self.at - time.monotonic() <= SLACK


_CURRENT: ContextVar[Deadline | None] = ContextVar("skill_deadline", default=None)
# set by timeout(): the running skill waited on the deadline, so a late failure is the budget's
_ASKED: ContextVar[list[bool] | None] = ContextVar("skill_deadline_asked", default=None)


def current() -> Deadline | None:
    return _CURRENT.get()


@contextlib.contextmanager
def running_under(deadline: Deadline | None) -> Iterator[None]:
    token = _CURRENT.set(deadline)
    try:
        yield
    finally:
        _CURRENT.reset(token)


def timeout(own: float, what: str) -> float:
    """The timeout for one wait: min(own, time left); DeadlineExceeded when nothing is left."""
    deadline = current()
    if deadline is None:
        return own
    asked = _ASKED.get()
    if asked is not None:
        asked.append(True)
    if deadline.passed():
        raise DeadlineExceeded(f"no time was left to start {what}")
    return min(own, deadline.left())


def call_under(deadline: Deadline | None, skill_id: str, fn: Callable[[], T]) -> T:
    """Run fn with `deadline` current. A failure once it has passed, of a skill that waited on
    it (asked `timeout()`), becomes DeadlineExceeded naming the skill and the budget (the
    skill's own error in brackets); a skill that never asked (a write) keeps its own error."""
    if deadline is None:
        return fn()
    started = time.monotonic()
    asked: list[bool] = []
    token = _ASKED.set(asked)
    try:
        with running_under(deadline):
            return fn()
    except Exception as exc:
        if not isinstance(exc, DeadlineExceeded) and (
                not asked or not deadline.passed()
                or isinstance(exc, (SandboxViolation, ValidationFailed))):
            raise  # not the budget's doing (a refusal or bad input stays what it is)
        own = exc.message if isinstance(exc, MHError) else f"{type(exc).__name__}: {exc}"
        raise DeadlineExceeded(f"{skill_id} was stopped by {deadline.budget} after "
                               f"{time.monotonic() - started:.1f} s ({own})",
                               hint=deadline.hint) from exc
    finally:
        _ASKED.reset(token)
