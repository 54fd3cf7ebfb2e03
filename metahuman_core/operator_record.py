"""What an operator run writes down as it goes: its record file, the audit log, the face's events.

Why a module of its own: operator.py decides what to do next (ask the model, run a call, wait for
the person); everything a run leaves behind goes through the writer here, in one fixed order, so
that nothing is half-written: an observation is scrubbed, added to the record, shown to the face,
audited and saved; a pause or a finish is saved durably before it is audited and announced. The
record file is the one operator_runs.py reads back for `mh op --resume RUN`; it never holds a
configured secret (scrub_secrets on every write and on every result handed out).

`RunRecorder` is a mixin for `Operator`: it needs only `profile`, `rec`, `yolo`, `requested_by`
and `on_event`, and calls nothing else of the operator's.
"""

from __future__ import annotations

from typing import Any, Callable

from . import clock, events
from .llm.base import Message, ToolCall
from .operator_runs import OperatorEvent, OperatorResult, process_identity, reconcile_stale, runs_dir
from .redact import scrub_secrets
from .storage import atomic_write_json, exclusive_create_json


class RunRecorder:
    profile: Any
    rec: dict[str, Any]
    yolo: bool
    requested_by: str
    on_event: Callable[[OperatorEvent], None] | None

    def _create_record(self, goal: str, protocol: str) -> None:
        """A new run: its record file is made (exclusively, under a fresh id) before any step."""
        now = clock.now()
        self.rec = {"id": "", "status": "running", "goal": goal, "yolo": self.yolo,
                    "requested_by": self.requested_by, "created_at": now.isoformat(timespec="seconds"),
                    "updated_at": None, **process_identity(), "model": None,
                    "protocol": protocol,
                    "steps": [], "messages": [], "seen": {}, "pending": None, "answer": "",
                    "error": None, "nudged": False, "warning": None}
        path = exclusive_create_json(runs_dir(self.profile), f"op-{now:%Y%m%d-%H%M%S}",
                                     scrub_secrets(self.rec))
        self.rec["id"] = path.stem
        self.rec["messages"] = [Message("user", goal).to_dict()]

    def _reconcile(self) -> None:
        def audit(run_id: str, error: str) -> None:
            self._audit(events.OPERATOR_FINISHED, {"run_id": run_id, "status": "interrupted",
                                                   "error": error}, level="warn")
        reconcile_stale(self.profile, audit=audit)

    def _record(self, step: dict, call: ToolCall, observation: str) -> None:
        step["observation"] = observation[:500]
        self.rec["steps"].append(step)
        if self.rec.get("protocol") == "json":
            msg = Message("user", f"Observation from {step['skill']}:\n{observation}")
        else:
            msg = Message("tool", observation, tool_name=call.name, tool_call_id=call.id)
        self.rec["messages"].append(msg.to_dict())
        self._emit("observation", {"skill": step["skill"], "status": step["status"],
                                   "text": scrub_secrets(observation),
                                   "hint": step.get("hint")}, step["step"])
        self._audit(events.OPERATOR_STEP, {
            "run_id": self.rec["id"], "step": step["step"], "skill": step["skill"],
            "status": step["status"], "decision": step["decision"],
            "approval_id": step["approval_id"], "arg_names": sorted(step["args"]),
            "yolo": self.yolo, "duration_ms": step["duration_ms"]})
        self._save()

    def _emit(self, kind: str, data: dict, step: int | None = None) -> None:
        if self.on_event is not None:
            self.on_event(OperatorEvent(kind, len(self.rec.get("steps", [])) if step is None
                                        else step, data))

    def _audit(self, event: str, details: dict, level: str = "info") -> None:
        self.profile.audit.append(event, level=level, category="action", actor="operator",
                                  details=details)

    def _save(self, durable: bool = False) -> None:
        self.rec["updated_at"] = clock.iso()
        atomic_write_json(runs_dir(self.profile) / f"{self.rec['id']}.json",
                          scrub_secrets(self.rec), durable=durable)

    def _pause(self) -> OperatorResult:
        self.rec["status"] = "waiting_approval"
        self._save(durable=True)
        pending = self.rec["pending"]
        self._audit(events.OPERATOR_PAUSED, {"run_id": self.rec["id"],
                                             "approval_id": pending["approval_id"],
                                             "skill": pending["step"]["skill"]})
        return self._result()

    def _finish(self, status: str | None = None, *, error: str | None = None,
                hint: str | None = None) -> OperatorResult:
        if status:
            self.rec["status"] = status
        if error:
            self.rec["error"] = error
        self.rec["hint"] = hint
        self._save(durable=True)
        self._audit(events.OPERATOR_FINISHED, {
            "run_id": self.rec["id"], "status": self.rec["status"],
            "steps": len(self.rec["steps"]), "error": self.rec.get("error")},
            level="info" if self.rec["status"] == "done" else "warn")
        self._emit("finished", {"status": self.rec["status"], "answer": self.rec["answer"],
                                "error": self.rec.get("error")})
        return self._result()

    def _result(self) -> OperatorResult:
        rec = scrub_secrets(self.rec)  # answers and errors go to terminals and files
        pending = rec.get("pending") or {}
        steps = [*rec["steps"], *([pending["step"]] if pending else [])]
        return OperatorResult(run_id=rec["id"], goal=rec["goal"], status=rec["status"],
                              answer=rec.get("answer", ""), steps=steps, model=rec.get("model"),
                              yolo=bool(rec.get("yolo")), approval_id=pending.get("approval_id"),
                              error=rec.get("error"), hint=rec.get("hint"),
                              error_kind=rec.get("error_kind"), warning=rec.get("warning"))
