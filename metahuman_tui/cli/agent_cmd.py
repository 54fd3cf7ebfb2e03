"""`mh agent run|list|ps|stop|status|monitor|install-service` and `mh boredom`.

Agents run in the foreground (one terminal each, as in the seed) or under systemd
(`mh agent install-service NAME`): we use the real service manager, not a home-made supervisor.
"""

from __future__ import annotations

import json
import os
import signal
import time

import typer

from . import common


def _fmt_run(run: dict | None) -> str:
    if not run:
        return "never"
    counts = " ".join(f"{k}={v}" for k, v in (run.get("counts") or {}).items())
    extra = run.get("error") or run.get("reason") or ""
    return " ".join(p for p in (str(run.get("start")), run.get("status", "?"), counts, extra) if p)


def register(app: typer.Typer) -> None:
    agent = typer.Typer(help="Run and inspect background agents.", no_args_is_help=True)
    app.add_typer(agent, name="agent")

    @agent.command("run")
    def run(name: str = typer.Argument(..., help="organizer | boredom-service | sleep-service | ingestor"),
            once: bool = typer.Option(False, "--once", help="Run one cycle, then exit."),
            interval: float = typer.Option(None, "--interval", min=0.05,
                                           help="Seconds between cycles (overrides the default/config).")) -> None:
        """Run an agent in the foreground until SIGTERM/Ctrl-C (the current item is finished)."""
        from metahuman_core.agents.registry import check_name
        from metahuman_core.agents.runner import run_agent

        check_name(name)
        prof = common.profile()

        def echo(line: str) -> None:
            print(line, flush=True)

        raise typer.Exit(run_agent(prof, name, once=True if once else None, interval=interval,
                                   echo=echo))

    @agent.command("list")
    def list_(as_json: bool = typer.Option(False, "--json")) -> None:
        """The agents this version knows."""
        from metahuman_core.agents.registry import describe

        rows = describe()
        if as_json:
            return common.emit_json(rows)
        common.echo(common.table([[r["name"], r["description"]] for r in rows],
                                 ["AGENT", "DESCRIPTION"]))

    @agent.command("ps")
    def ps(as_json: bool = typer.Option(False, "--json")) -> None:
        """Which agents are running now (from their locks) and how their last cycle went."""
        from metahuman_core.agents.records import RunStore
        from metahuman_core.agents.registry import names
        from metahuman_core.agents.runner import running_pid

        prof = common.profile()
        rows = []
        for name in names():
            last = RunStore(prof.home.agents_dir, name).summary()["lastRun"]
            rows.append({"name": name, "pid": running_pid(prof, name),
                         "lastRun": last.get("start") if last else None,
                         "lastStatus": last.get("status") if last else None})
        if as_json:
            return common.emit_json(rows)
        common.echo(common.table([[r["name"], r["pid"] or "-", "running" if r["pid"] else "stopped",
                                   r["lastRun"] or "-", r["lastStatus"] or "-"] for r in rows],
                                 ["AGENT", "PID", "STATE", "LAST RUN", "LAST STATUS"]))

    @agent.command("stop")
    def stop(name: str = typer.Argument(...),
             wait: float = typer.Option(10.0, "--wait", min=0, help="Seconds to wait for it to exit.")) -> None:
        """Send SIGTERM to the running agent (it finishes its current item, then exits)."""
        from metahuman_core.agents.registry import check_name
        from metahuman_core.agents.runner import running_pid

        check_name(name)
        prof = common.profile()
        pid = running_pid(prof, name)
        if pid is None:
            common.fail(f"agent {name} is not running", 1)
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            common.fail(f"agent {name} (pid {pid}) already exited", 1)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline and running_pid(prof, name) == pid:
            time.sleep(0.1)
        if running_pid(prof, name) == pid:
            common.fail(f"agent {name} (pid {pid}) got SIGTERM but is still finishing", 1,
                        hint=f"wait, or kill -9 {pid} (its lock is released by the kernel)")
        common.echo(f"stopped {name} (pid {pid})")

    @agent.command("status")
    def status(name: str = typer.Argument(None, help="Agent name (default: all)."),
               lines: int = typer.Option(10, "--lines", "-n", min=0, help="Recent log lines."),
               as_json: bool = typer.Option(False, "--json")) -> None:
        """Total runs, successes, failures, success rate, last run and recent log entries."""
        from metahuman_core.agents.records import AgentLog, RunStore
        from metahuman_core.agents.registry import check_name, names
        from metahuman_core.agents.runner import running_pid

        prof = common.profile()
        wanted = [check_name(name)] if name else names()
        out = []
        for n in wanted:
            store = RunStore(prof.home.agents_dir, n)
            info = store.summary()
            for problem in store.problems:
                common.echo(f"warning: {problem}", err=True)
            info["pid"] = running_pid(prof, n)
            info["recentLog"] = AgentLog(prof.home.agents_dir, n).tail(lines if name else 0)
            out.append(info)
        if as_json:
            return common.emit_json(out[0] if name else out)
        for info in out:
            rate = "n/a" if info["successRate"] is None else f"{info['successRate']:.1f}%"
            state = f"running (pid {info['pid']})" if info["pid"] else "not running"
            common.echo(f"Agent: {info['agent']} ({state})")
            common.echo(f"  Total runs:   {info['total']}")
            common.echo(f"  Successful:   {info['successes']}")
            common.echo(f"  Failed:       {info['failures']}")
            common.echo(f"  Skipped:      {info['skipped']}")
            common.echo(f"  Success rate: {rate} (skipped runs not counted)")
            common.echo(f"  Last run:     {_fmt_run(info['lastRun'])}")
            if name:
                common.echo("  Recent log entries:")
                for line in info["recentLog"] or ["(none)"]:
                    common.echo(f"    {line}")

    @agent.command("monitor")
    def monitor(as_json: bool = typer.Option(False, "--json"),
                refresh: bool = typer.Option(False, "--refresh", help=(
                    "Also catch memory files edited in place (a stat per file, as `mh index "
                    "refresh`); added, deleted and replaced files are always seen."))) -> None:
        """Memories: total, processed, unprocessed (awaiting the organizer), failed.

        Counted by the search index (milliseconds at 100k memories), not by reading every file."""
        from metahuman_core.agents.organizer import memory_stats

        stats = memory_stats(common.profile(), full=refresh)
        if as_json:
            return common.emit_json(stats)
        common.echo(f"Total memories: {stats['total']}")
        common.echo(f"Processed:      {stats['processed']}")
        common.echo(f"Unprocessed:    {stats['unprocessed']}"
                    + (f" ({stats['backingOff']} backing off after errors)" if stats["backingOff"] else ""))
        common.echo(f"Failed:         {stats['failed']}")
        common.echo(f"Completion:     {stats['completion']:.1f}%")

    @agent.command("install-service")
    def install_service(name: str = typer.Argument(...),
                        print_only: bool = typer.Option(False, "--print",
                                                        help="Print the unit instead of writing it.")) -> None:
        """Write a systemd user unit (~/.config/systemd/user/metahuman-NAME.service)."""
        from metahuman_core.agents.registry import check_name
        from metahuman_core.agents.service import unit_path, unit_text, write_unit

        check_name(name)
        prof = common.profile()
        text = unit_text(prof, name)
        if print_only:
            return common.echo(text.rstrip("\n"))
        path = write_unit(unit_path(name), text)
        common.echo(f"wrote {path}")
        common.echo(f"enable it: systemctl --user daemon-reload && "
                    f"systemctl --user enable --now metahuman-{name}.service")
        common.echo(f"logs: journalctl --user -u metahuman-{name} -f   "
                    f"(or {prof.home.agents_dir / (name + '.log')})")

    _register_boredom(app)


def _register_boredom(app: typer.Typer) -> None:
    bored = typer.Typer(help="Reflection frequency (etc/boredom.json).", invoke_without_command=True)
    app.add_typer(bored, name="boredom")

    def _set(key: str, value) -> None:
        from metahuman_core.config import change

        change(common.profile(), key, value, actor=common.ACTOR)  # validated first (exit 2)
        common.echo(f"{key} = {json.dumps(value)}")

    def _show(as_json: bool) -> None:
        from metahuman_core.agents.runner import running_pid

        prof = common.profile()
        cfg = prof.config.get("boredom")
        data = {"level": cfg.level, "intervals": dict(cfg.intervals),
                "seconds": cfg.interval_seconds(), "servicePid": running_pid(prof, "boredom-service")}
        if as_json:
            return common.emit_json(data)
        secs = data["seconds"]
        common.echo(f"level: {cfg.level} ({'no reflections' if secs == -1 else f'every {secs} s'})")
        for key, value in cfg.intervals.items():
            mark = "*" if key == cfg.level else " "
            common.echo(f" {mark} {key:10} {'off' if value == -1 else f'{value} s'}")
        common.echo("boredom-service: " + (f"running (pid {data['servicePid']})"
                                           if data["servicePid"] else "not running"))

    @bored.callback()
    def main(ctx: typer.Context, as_json: bool = typer.Option(False, "--json")) -> None:
        """Show the level and intervals (default), or change them."""
        if ctx.invoked_subcommand is None:
            _show(as_json)

    @bored.command("show")
    def show(as_json: bool = typer.Option(False, "--json")) -> None:
        """Level, intervals and whether the boredom-service runs."""
        _show(as_json)

    @bored.command("level")
    def level(name: str = typer.Argument(..., help="A key of intervals (high, medium, low, custom…) or off.")) -> None:
        """Set the level; it must name an interval (or be off)."""
        _set("boredom.level", name)

    @bored.command("interval", context_settings={"ignore_unknown_options": True})  # -1 = off
    def interval(name: str = typer.Argument(..., help="Level name, e.g. custom."),
                 seconds: int = typer.Argument(..., help="Seconds between reflections; -1 = off.")) -> None:
        """Set (or add) the interval of a level, e.g. `mh boredom interval custom 120`."""
        if not name or not name.replace("-", "").replace("_", "").isalnum():
            common.fail(f"invalid level name {name!r}", 2, hint="letters, digits, - and _")
        _set(f"boredom.intervals.{name}", seconds)
