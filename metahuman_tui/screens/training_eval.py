"""What the training pane shows about a finished run's evaluation: the verdict in plain words, the
held-out loss ratio, the LLR gain with its interval, the share of prompts improved and three
side-by-side samples (yours / base / adapter). Pure text from the files, so it is cheap to poll.

Why here and not in the core: this is presentation only; the numbers and the verdict are the
core's (out/adapters/<DATE>/eval.json, verified when the run finished), read as they are.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def _read(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def load_eval(adapters_dir: Path, run_dir: Path, summary: dict[str, Any]) -> dict[str, Any] | None:
    """The verified eval.json of the run's dataset, else the trainer's own eval.json."""
    dataset = summary.get("date") or run_dir.name
    return _read(adapters_dir / str(dataset) / "eval.json") or _read(run_dir / "eval.json")


def _short(text: Any, width: int) -> str:
    text = " ".join(str(text or "").split())
    return text if len(text) <= width else text[:max(1, width - 1)] + "…"


def eval_text(ev: dict[str, Any] | None, width: int = 78) -> str:
    """A few lines for the pane; "" when there is nothing evaluated yet."""
    if not ev:
        return ""
    lines = [_short(f"verdict: {ev.get('verdict') or ('passed' if ev.get('passed') else 'failed')}",
                    width * 2)]
    ratio, gain, ci = ev.get("loss_ratio"), ev.get("llr_gain"), ev.get("llr_ci")
    nums = []
    if isinstance(ratio, (int, float)):
        nums.append(f"held-out loss {ratio:.0%} of base")
    if ev.get("improved") is not None:
        nums.append(f"better on {ev['improved']}/{ev.get('heldout')}")
    if isinstance(gain, (int, float)):
        nums.append(f"LLR gain {gain:+.2f}" + (f" (95% {ci[0]:+.2f}…{ci[1]:+.2f})"
                                               if isinstance(ci, list) and len(ci) == 2 else ""))
    if nums:
        lines.append(" · ".join(nums))
    for s in (ev.get("samples") or [])[:3]:
        if not isinstance(s, dict):
            continue
        lines.append(_short(f"Q {s.get('prompt')}", width))
        lines.append(_short(f"  yours   {s.get('reference')}", width))
        lines.append(_short(f"  base    {s.get('base')}", width))
        lines.append(_short(f"  adapter {s.get('adapter')}", width))
    return "\n".join(lines)
