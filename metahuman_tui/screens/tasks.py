"""Task board: a column per status on wide terminals, one grouped list under 100 columns.

Why: at 80x24 four columns leave 18 characters per title, so the narrow layout is one list with
status headings. Both layouts are built from the same loaded tasks; keys act on the highlighted
task wherever it is. Moves and edits go through the core's TaskStore (it validates and audits).
"""

from __future__ import annotations

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import Label, OptionList, Static
from textual.widgets.option_list import Option

from ..widgets.line_list import KeyedOptionList
from .base import PaneScreen
from .services import Unavailable, error_text
from .task_modals import PRIORITIES, TaskFormScreen

COLUMNS = ("todo", "in_progress", "blocked", "done")
TITLES = {"todo": "To do", "in_progress": "In progress", "blocked": "Blocked", "done": "Done"}
PRIORITY_STYLE = {"P0": "bold white on red", "P1": "bold yellow", "P2": "", "P3": "dim"}


def column_of(task: dict) -> str:
    status = task.get("status", "todo")
    return "done" if status in ("done", "cancelled") else status if status in COLUMNS else "todo"


def task_label(task: dict, *, with_status: bool = False) -> Text:
    pri = str(task.get("priority") or "P2")
    text = Text(no_wrap=True, overflow="ellipsis")
    text.append(f"{pri}", PRIORITY_STYLE.get(pri, ""))
    text.append(" ")
    if task.get("status") == "cancelled":
        text.append(str(task.get("title", "")), "strike dim")
    else:
        text.append(str(task.get("title", "")))
    if task.get("due"):
        text.append(f"  due {task['due']}", "cyan")
    if with_status and task.get("status") == "blocked":
        text.append("  blocked", "bold red")
    return text


class TasksLoaded(Message):
    def __init__(self, tasks: list[dict] | None, error: str | None = None) -> None:
        super().__init__()
        self.tasks, self.error = tasks, error


class TaskWritten(Message):
    def __init__(self, task_id: str | None, error: str | None = None) -> None:
        super().__init__()
        self.task_id, self.error = task_id, error


class TasksScreen(PaneScreen):
    PANE = "tasks"
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (100, "-wide")]
    BINDINGS = [
        Binding("n", "new", "New", id="tasks.new"),
        Binding("e", "edit", "Edit", id="tasks.edit"),
        Binding("left_square_bracket", "move(-1)", "◀ Move", id="tasks.back"),
        Binding("right_square_bracket", "move(1)", "Move ▶", id="tasks.forward"),
        Binding("s", "status('in_progress')", "Start", id="tasks.start", show=False),
        Binding("b", "status('blocked')", "Block", id="tasks.block", show=False),
        Binding("d", "status('done')", "Done", id="tasks.done"),
        Binding("x", "status('cancelled')", "Cancel task", id="tasks.cancel", show=False),
        Binding("o", "status('todo')", "Reopen", id="tasks.reopen", show=False),
        Binding("p", "priority", "Priority", id="tasks.priority"),
        Binding("left,h", "column(-1)", "Column left", id="tasks.left", show=False),
        Binding("right,l", "column(1)", "Column right", id="tasks.right", show=False),
    ]
    EXTRA_KEY_SCOPES = (TaskFormScreen,)

    def __init__(self) -> None:
        super().__init__()
        self.tasks: dict[str, dict] = {}
        self._stamp: tuple = ()
        self._focus_next: str | None = None

    def compose_pane(self) -> ComposeResult:
        yield Static("loading…", id="tasks-info", classes="info-line")
        with Horizontal(id="board"):
            for col in COLUMNS:
                with Vertical(classes="task-column", id=f"col-{col}"):
                    yield Label(TITLES[col], classes="column-title")
                    yield KeyedOptionList(id=f"list-{col}", classes="task-list")
        yield KeyedOptionList(id="task-list-narrow", classes="task-list")

    def on_mount(self) -> None:
        self.load()
        self.every(2.0, self._poll)

    # ------------------------------------------------------------------ loading
    def _dirs_stamp(self) -> tuple:
        h = self.profile.home
        out = []
        for d in (h.tasks_active, h.tasks_completed):
            try:
                out.append(d.stat().st_mtime_ns)
            except OSError:
                out.append(0)
        return tuple(out)

    def _poll(self) -> None:
        if self._dirs_stamp() != self._stamp:
            self.load()

    @work(thread=True, exclusive=True, group="tasks-load", exit_on_error=False)
    def load(self) -> None:
        self._stamp = self._dirs_stamp()
        try:
            store = self.services.tasks()
            tasks = list(store.list_active())
            done = sorted(store.list_completed(),
                          key=lambda t: str(t.get("completed_at") or t.get("updated_at")
                                            or t.get("created_at") or ""), reverse=True)
            tasks += done[: self.settings.completed_tasks]
        except Unavailable as exc:
            self.post_message(TasksLoaded(None, str(exc)))
            return
        except Exception as exc:  # noqa: BLE001
            self.post_message(TasksLoaded(None, error_text(exc, one_line=True)))
            return
        self.post_message(TasksLoaded(tasks))

    def on_tasks_loaded(self, message: TasksLoaded) -> None:
        info = self.query_one("#tasks-info", Static)
        if message.tasks is None:
            info.update(f"⚠ {message.error}")
            return
        keep = self._focus_next or self.current_id()
        self._focus_next = None
        self.tasks = {t["id"]: t for t in message.tasks}
        order = sorted(message.tasks, key=lambda t: (str(t.get("priority") or "P2"),
                                                     str(t.get("due") or "9999"),
                                                     str(t.get("created_at") or t["id"])))
        narrow = self.query_one("#task-list-narrow", OptionList)
        narrow.clear_options()
        counts = {}
        for col in COLUMNS:
            items = [t for t in order if column_of(t) == col]
            counts[col] = len(items)
            lst = self.query_one(f"#list-{col}", OptionList)
            lst.clear_options()
            lst.add_options([Option(task_label(t), id=t["id"]) for t in items])
            self.query_one(f"#col-{col} .column-title", Label).update(f"{TITLES[col]} ({len(items)})")
            if items:
                narrow.add_option(Option(Text(f"── {TITLES[col]} ({len(items)})", "bold"),
                                         id=f"heading-{col}", disabled=True))
                narrow.add_options([Option(task_label(t, with_status=True), id=t["id"])
                                    for t in items])
        active = sum(counts[c] for c in COLUMNS if c != "done")
        key = lambda binding: self.app.key_for(binding, first=True)  # type: ignore[attr-defined]  # noqa: E731
        if not message.tasks:
            info.update(f"No tasks yet: press {key('tasks.new')} to create one (or mh task add)")
        else:
            info.update(f"{active} open · {counts['done']} recently done · "
                        f"{key('tasks.back')} {key('tasks.forward')} move · {key('tasks.new')} new · "
                        f"{key('tasks.edit')} edit · {key('tasks.priority')} priority · "
                        f"{key('tasks.done')} done")
        self._focus_task(keep)

    # ------------------------------------------------------------------ selection
    def _visible_lists(self) -> list[OptionList]:
        if self.has_class("-wide"):
            return [self.query_one(f"#list-{c}", OptionList) for c in COLUMNS]
        return [self.query_one("#task-list-narrow", OptionList)]

    def _focused_list(self) -> OptionList:
        lists = self._visible_lists()
        return self.focused if self.focused in lists else lists[0]  # type: ignore[return-value]

    def current_id(self) -> str | None:
        if not self.tasks:
            return None
        lst = self._focused_list()
        if lst.highlighted is None:
            return None
        option_id = lst.get_option_at_index(lst.highlighted).id
        return option_id if option_id in self.tasks else None

    def _focus_task(self, task_id: str | None) -> None:
        lists = self._visible_lists()
        for lst in lists:
            if task_id is None:
                break
            try:
                index = lst.get_option_index(task_id)
            except Exception:  # noqa: BLE001 - not in this list
                continue
            lst.highlighted = index
            lst.focus()
            return
        target = next((lst for lst in lists if lst.option_count), lists[0])
        if target.highlighted is None and target.option_count:
            target.action_first()
        target.focus()

    def on_resize(self) -> None:
        self.call_after_refresh(self._focus_task, self.current_id())

    @on(OptionList.OptionSelected, ".task-list")
    def _selected(self) -> None:
        self.action_edit()

    # ------------------------------------------------------------------ actions
    def action_column(self, delta: int) -> None:
        lists = self._visible_lists()
        if len(lists) == 1:
            return
        i = lists.index(self._focused_list())
        target = lists[(i + delta) % len(lists)]
        if target.highlighted is None and target.option_count:
            target.highlighted = 0
        target.focus()

    def _change(self, fn, what: str, task_id: str | None = None) -> None:
        task_id = task_id or self.current_id()
        if task_id is None:
            self.notify("No task selected.")
            return
        self.write(fn, task_id, what)

    @work(thread=True, group="tasks-write", exit_on_error=False)
    def write(self, fn, task_id: str | None, what: str) -> None:
        """One change through the core (it validates, writes atomically and audits)."""
        try:
            result = fn(self.services.tasks(), task_id)
        except Exception as exc:  # noqa: BLE001
            self.post_message(TaskWritten(None, f"{what}: {exc}"))
            return
        self.post_message(TaskWritten(result.get("id") if isinstance(result, dict) else task_id))

    def on_task_written(self, message: TaskWritten) -> None:
        if message.error:
            self.notify(message.error, severity="error")
            return
        self._focus_next = message.task_id
        self.load()

    def action_status(self, status: str) -> None:
        self._change(lambda store, tid: store.set_status(tid, status, actor="tui"),
                     f"cannot set {status}")

    def action_move(self, delta: int) -> None:
        task_id = self.current_id()
        if task_id is None:
            return
        col = COLUMNS.index(column_of(self.tasks[task_id]))
        target = COLUMNS[max(0, min(len(COLUMNS) - 1, col + delta))]
        if target != column_of(self.tasks[task_id]):
            self.action_status(target)

    def action_priority(self) -> None:
        task_id = self.current_id()
        if task_id is None:
            return
        pri = str(self.tasks[task_id].get("priority") or "P2")
        nxt = PRIORITIES[(PRIORITIES.index(pri) + 1) % len(PRIORITIES)] if pri in PRIORITIES else "P2"
        self._change(lambda store, tid: store.update(tid, {"priority": nxt}, actor="tui"),
                     "cannot change priority")

    def action_new(self) -> None:
        def created(form: dict | None) -> None:
            if form:
                title = form.pop("title")
                self.write(lambda store, _: store.create(title, actor="tui", **form), None,
                           "task not created")

        self.app.push_screen(TaskFormScreen(), created)

    def action_edit(self) -> None:
        task_id = self.current_id()
        if task_id is None:
            return
        self.app.push_screen(
            TaskFormScreen(self.tasks[task_id]),
            lambda form: self._change(lambda store, tid: store.update(tid, form, actor="tui"),
                                      "not saved", task_id) if form else None)
