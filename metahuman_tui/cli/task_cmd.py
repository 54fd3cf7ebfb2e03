"""`mh task`: list (no subcommand = active tasks, P0..P3), add, show, find, start, block, done,
cancel, reopen, edit. Every change is audited by the core."""

from __future__ import annotations

from typing import List, Optional

import typer

from . import common


def _rows(tasks: list[dict]) -> str:
    return common.table([[t["id"], t.get("priority", ""), t.get("status", ""), t.get("due", ""),
                          t.get("title", "")] for t in tasks],
                        ["ID", "PRI", "STATUS", "DUE", "TITLE"])


def _print_list(tasks: list[dict], json_out: bool, empty: str, store=None) -> None:
    for problem in store.problems() if store is not None else ():
        common.echo(f"warning: {problem}", err=True)  # named, and the rest still shown
    if json_out:
        common.emit_json(tasks)
    elif not tasks:
        common.echo(empty)
    else:
        common.echo(_rows(tasks))


def _print_task(task: dict, json_out: bool, verb: str | None = None) -> None:
    if json_out:
        common.emit_json(task)
        return
    if verb:
        common.echo(f"{verb} {task['id']}: [{task.get('priority')}] {task.get('title')} "
                    f"({task.get('status')})")
        return
    for key in ("id", "title", "status", "priority", "due", "tags", "dependencies", "created",
                "updated", "completed"):
        if task.get(key) not in (None, "", []):
            value = task[key]
            common.echo(f"{key + ':':13} {', '.join(value) if isinstance(value, list) else value}")
    if task.get("description"):
        common.echo("\n" + str(task["description"]))


def _store():
    from metahuman_core.tasks import TaskStore

    return TaskStore(common.profile())


def register(app: typer.Typer) -> None:
    task = typer.Typer(help="Tasks in memory/tasks/ (no subcommand: list active tasks).",
                       invoke_without_command=True)
    app.add_typer(task, name="task")

    @task.callback()
    def default(ctx: typer.Context,
                json_out: bool = typer.Option(False, "--json", help="As a JSON array.")) -> None:
        """Active tasks, most urgent first."""
        if ctx.invoked_subcommand is None:
            store = _store()
            _print_list(store.list_active(), json_out, "no active tasks", store)

    @task.command("list")
    def list_(all_: bool = typer.Option(False, "--all", "-a", help="Active and completed."),
              completed: bool = typer.Option(False, "--completed", "-c", help="Only done/cancelled."),
              json_out: bool = typer.Option(False, "--json", help="As a JSON array.")) -> None:
        """List tasks (default: active)."""
        store = _store()
        tasks = store.list_completed() if completed else store.list_active()
        if all_ and not completed:
            tasks += store.list_completed()
        _print_list(tasks, json_out, "no tasks", store)

    @task.command("add")
    def add(title: List[str] = typer.Argument(..., help="What needs doing."),
            priority: str = typer.Option("P2", "--priority", "-p", help="P0 (urgent) … P3."),
            due: str = typer.Option(None, "--due", "-d", help="YYYY-MM-DD"),
            tag: Optional[List[str]] = typer.Option(None, "--tag", "-t", help="Tag (repeatable)."),
            description: str = typer.Option("", "--description", help="Longer text."),
            json_out: bool = typer.Option(False, "--json", help="The new task as JSON.")) -> None:
        """Create a task (memory/tasks/active/task-YYYYMMDD-HHMMSS.json)."""
        t = _store().create(" ".join(title), description=description, priority=priority, due=due,
                            tags=tag or (), actor=common.ACTOR)
        _print_task(t, json_out, "Created")

    @task.command("show")
    def show(task_id: str = typer.Argument(..., help="task-YYYYMMDD-HHMMSS"),
             json_out: bool = typer.Option(False, "--json", help="As JSON.")) -> None:
        """Print one task."""
        _print_task(_store().get(task_id), json_out)

    @task.command("find")
    def find(query: List[str] = typer.Argument(..., help="Words in the title, description or tags."),
             json_out: bool = typer.Option(False, "--json", help="As a JSON array.")) -> None:
        """Find tasks (active first) holding every word."""
        store = _store()
        _print_list(store.find(" ".join(query)), json_out, "nothing found", store)

    def _status_command(name: str, status: str, verb: str, doc: str) -> None:
        @task.command(name, help=doc)
        def _cmd(task_id: str = typer.Argument(..., help="task-YYYYMMDD-HHMMSS"),
                 json_out: bool = typer.Option(False, "--json", help="The task as JSON.")) -> None:
            store = _store()
            before = store.get(task_id)
            after = store.set_status(task_id, status, actor=common.ACTOR)
            if before.get("status") == status and after.get("updated") == before.get("updated"):
                if json_out:  # nothing changed: the task as it is, exit 0
                    return common.emit_json(after)
                common.echo(f"already {status}: {task_id} [{after.get('priority')}] "
                            f"{after.get('title')}")
                return
            _print_task(after, json_out, verb)

    _status_command("start", "in_progress", "Started", "Mark a task in progress.")
    _status_command("block", "blocked", "Blocked", "Mark a task blocked.")
    _status_command("done", "done", "Done", "Complete a task (moves it to completed/).")
    _status_command("cancel", "cancelled", "Cancelled", "Cancel a task (moves it to completed/).")
    _status_command("reopen", "todo", "Reopened", "Re-open a task (back to active/, status todo).")

    @task.command("edit")
    def edit(task_id: str = typer.Argument(..., help="task-YYYYMMDD-HHMMSS"),
             title: str = typer.Option(None, "--title", help="New title."),
             priority: str = typer.Option(None, "--priority", "-p", help="P0 … P3."),
             due: str = typer.Option(None, "--due", "-d", help='YYYY-MM-DD ("" clears it).'),
             tag: Optional[List[str]] = typer.Option(None, "--tag", "-t", help="Replace the tags."),
             description: str = typer.Option(None, "--description", help="New description."),
             json_out: bool = typer.Option(False, "--json", help="The task as JSON.")) -> None:
        """Change a task's fields."""
        changes = {k: v for k, v in (("title", title), ("priority", priority),
                                     ("description", description), ("tags", tag)) if v is not None}
        if due is not None:
            changes["due"] = due or None
        if not changes:
            common.fail("nothing to change", 2, hint="e.g. mh task edit ID --priority P1")
        _print_task(_store().update(task_id, changes, actor=common.ACTOR), json_out, "Updated")
