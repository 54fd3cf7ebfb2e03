"""Progress as JSON lines: one object per event on stdout and appended to progress.ndjson.

The watcher (the `mh train` CLI, the TUI, the RunPod poller over SSH) only reads these lines, so
they are the whole contract: {stage, pct, step, loss, message, ts} plus `status` ("running",
"done", "failed") and optional `data`. `pct` is overall progress 0..100. Each line is flushed at
once (and fsynced on stage changes) so a watcher never sees half a line for long.
"""

from __future__ import annotations

import json
import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

STAGES = ("INIT", "DATASET", "MODEL_DOWNLOAD", "PREPROCESSING", "LORA_SETUP", "TRAINING",
          "SAVE_ADAPTER", "GGUF_MERGE", "COMPLETE")
# overall pct at which each stage starts; TRAINING spans 15..85
STAGE_PCT = {"INIT": 0, "DATASET": 2, "MODEL_DOWNLOAD": 5, "PREPROCESSING": 10, "LORA_SETUP": 12,
             "TRAINING": 15, "SAVE_ADAPTER": 86, "GGUF_MERGE": 92, "COMPLETE": 100}
PROGRESS_FILE = "progress.ndjson"


def _now_iso() -> str:
    return datetime.now(UTC).astimezone().isoformat(timespec="seconds")


class Progress:
    def __init__(self, output_dir: str | Path | None, stream: TextIO | None = None):
        self.path = Path(output_dir) / PROGRESS_FILE if output_dir else None
        self.stream = stream if stream is not None else sys.stdout
        self.current = "INIT"
        self.started = time.monotonic()
        self.stage_times: dict[str, float] = {}
        self._stage_start = self.started
        if self.path:
            self.path.parent.mkdir(parents=True, exist_ok=True)

    def emit(self, stage: str, *, pct: float | None = None, step: int | None = None,
             loss: float | None = None, message: str = "", status: str = "running",
             data: dict[str, Any] | None = None) -> dict[str, Any]:
        if stage not in STAGES:
            raise ValueError(f"unknown stage {stage!r}; one of {', '.join(STAGES)}")
        changed = stage != self.current
        if changed:
            now = time.monotonic()
            self.stage_times[self.current] = round(now - self._stage_start, 3)
            self._stage_start = now
            self.current = stage
        line: dict[str, Any] = {
            "stage": stage, "pct": round(float(pct if pct is not None else STAGE_PCT[stage]), 1),
            "step": step, "loss": None if loss is None else round(float(loss), 5),
            "message": message, "ts": _now_iso(), "status": status}
        if data:
            line["data"] = data
        text = json.dumps(line, ensure_ascii=False)
        print(text, file=self.stream, flush=True)
        if self.path:
            with open(self.path, "a", encoding="utf-8") as fh:
                fh.write(text + "\n")
                fh.flush()
                if changed or status != "running":
                    os.fsync(fh.fileno())
        return line

    def stage(self, stage: str, message: str = "", **kw) -> dict[str, Any]:
        return self.emit(stage, message=message, **kw)

    def training(self, step: int, total: int, loss: float | None, message: str = "",
                 data: dict[str, Any] | None = None) -> dict[str, Any]:
        span = STAGE_PCT["SAVE_ADAPTER"] - STAGE_PCT["TRAINING"]
        pct = STAGE_PCT["TRAINING"] + span * min(step, total) / max(total, 1)
        return self.emit("TRAINING", pct=pct, step=step, loss=loss, message=message, data=data)

    def done(self, message: str, data: dict[str, Any] | None = None) -> dict[str, Any]:
        self.stage_times[self.current] = round(time.monotonic() - self._stage_start, 3)
        payload = {"stage_seconds": self.stage_times, **(data or {})}
        return self.emit("COMPLETE", message=message, status="done", data=payload)

    def failed(self, message: str) -> dict[str, Any]:
        """Report failure in the stage that failed (the stage list has no FAILED stage)."""
        return self.emit(self.current, pct=STAGE_PCT[self.current], message=message,
                         status="failed")


def read_progress(path: str | Path) -> list[dict[str, Any]]:
    """Every complete line of a progress file; a torn last line is skipped, never fatal."""
    out = []
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        return out
    for line in text.splitlines():
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(item, dict) and "stage" in item:
            out.append(item)
    return out
