"""ingestor: one pass over memory/inbox/ through the memory package's process_inbox().

The seed runs `mh agent run ingestor` as a batch import that returns to the prompt, so one pass
is the default; `--interval S` keeps watching the inbox. All the file rules (formats and chat
exports, _failed/, idempotence by content hash and message identity, never-overwriting archive
names, the `--format`/`--me` hints `mh ingest` left) live in memory.inbox.
"""

from __future__ import annotations

from .runner import Agent, Context, CycleResult


class Ingestor(Agent):
    name = "ingestor"
    description = "imports memory/inbox/ files"
    default_interval = 30.0
    one_shot = True

    def cycle(self, ctx: Context) -> CycleResult:
        from ..memory.inbox import SETTLE_S, error_report, process_inbox

        # A single batch pass takes every file now (the person just put them there); a watching
        # ingestor leaves files younger than the settle time for the next cycle (still copying).
        settle = 0.0 if ctx.once else SETTLE_S
        report = process_inbox(ctx.profile, actor=self.name, stop=ctx.stopping, settle_s=settle)
        counts = {k: report[k] for k in ("files", "memories", "failed", "skipped")}
        for line in error_report(report["reports"]):
            ctx.log.warn(f"failed: {line}")
        if counts["failed"]:
            ctx.log.warn(f"{counts['failed']} inbox file(s) moved to memory/inbox/_failed/ (see "
                         "the .error.txt beside each)")
        return CycleResult("ok", counts)
