"""The operator: a ReAct loop on native tool calls, every step through the skill gate (DESIGN §8).

    model → tool call → skills.execute(actor="operator") → observation → model → … → answer

Budgets come from etc/operator.json (maxSteps, yoloMaxSteps, maxSeconds); a step is one tool call.
The same call (tool + arguments) a second time is not run again: the model is told to use the
result it has; a third time stops the run (loop). Models without tool support get a JSON-in-text
protocol instead (operator_protocol). A call the gate queues pauses the run: it waits up to
`approvalWaitSeconds` (the TUI passes its own wait), and otherwise ends "waiting for approval <id>"
with a run record in logs/operator/<run-id>.json; `mh op --resume RUN` (or re-running the same
goal) continues from the decision. A rejection's reason becomes the planner's observation.
Every start, step, pause and finish is audited; what a run writes down (record file, audit log,
the face's events) goes through operator_record.py.

maxSeconds bounds the operator's own time: model calls, and skills, which get the time left as a
deadline (skills/deadline.py: network and subprocess waits are cut to it, writes never are).
Waiting for the person is not the operator's time: it is bounded by approval_wait (`--wait`, the
TUI's wait), the budget's clock stops meanwhile, and a cancel ends it within POLL s.

Real models are slow and imperfect (issue 18): every model call is bounded (llm/bounded.py) by
the run's time budget, `callTimeoutSeconds` and the cancel event (Esc, Ctrl-C, SIGTERM), and
reports "thinking" progress; `maxTokensPerStep` caps each reply; the JSON protocol is constrained
by a schema (a grammar on llama.cpp). A goal that needs a tool but gets a tool-less answer is
nudged once, then ends "unverified". Run records never hold a configured secret.
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any, Callable

from . import activity, clock, events
from .errors import MHError, NotFound, ValidationFailed
from .llm.base import (LLMError, LLMUnavailable, Message, ModelMissing, ToolCall,
                       ToolsUnsupported)
from .llm.bounded import Interrupted, Progress
from .llm.factory import LLM
from .operator_protocol import (NUDGE, action_schema, approval_observation, as_text,
                                canonical_name, carries_memory_text, fuzzy_task_id, needs_tool,
                                outcome_observation, parse_text_action, repair_args, skill_risk,
                                strip_think, system_prompt)
from .operator_record import RunRecorder
from .operator_runs import (FINISHED, UNVERIFIED, OperatorEvent, OperatorResult, final_status,
                            find_paused, load_run, process_identity, runs_dir, validate_run_id)
from .redact import register_profile_secrets

SCHEMA_BACKENDS = ("llamacpp", "ollama")  # take a JSON schema that constrains the reply
POLL = 0.1  # seconds between looks at a pending approval (and at most to notice a cancel)

__all__ = ["Operator", "OperatorEvent", "OperatorResult", "find_paused", "load_run",
           "resume_operator", "run_operator", "runs_dir", "validate_run_id"]


class Operator(RunRecorder):
    def __init__(self, profile, *, llm: LLM | None = None, yolo: bool = False,
                 requested_by: str = "cli", on_event: Callable[[OperatorEvent], None] | None = None,
                 approval_wait: float | None = None, cancel: threading.Event | None = None):
        self.profile = profile
        self.llm = llm or LLM(profile)
        self.yolo = bool(yolo)
        self.requested_by = requested_by
        self.on_event = on_event
        self.cancel = cancel or threading.Event()
        cfg = profile.config.get("operator")
        self.max_steps = cfg.yoloMaxSteps if self.yolo else cfg.maxSteps
        self.max_seconds = cfg.maxSeconds
        self.call_timeout = getattr(cfg, "callTimeoutSeconds", 0.0) or None
        self.max_tokens = getattr(cfg, "maxTokensPerStep", 512)
        self.approval_wait = cfg.approvalWaitSeconds if approval_wait is None else approval_wait
        self.rec: dict[str, Any] = {}
        register_profile_secrets(profile)

    # ------------------------------------------------------------------ entry points
    def run(self, goal: str) -> OperatorResult:
        goal = (goal or "").strip()
        if not goal:
            raise ValidationFailed("the operator needs a goal", hint='mh op "List all markdown files in docs/"')
        self._reconcile()
        self._create_record(goal, "json" if self._text_only() else "tools")
        activity.touch(self.profile, "operator")
        self._audit(events.OPERATOR_STARTED, {"run_id": self.rec["id"], "goal": goal,
                                              "yolo": self.yolo, "trust": self.profile.trust(),
                                              "max_steps": self.max_steps,
                                              "requested_by": self.requested_by})
        self._emit("started", {"run_id": self.rec["id"], "goal": goal})
        return self._guarded()

    def resume(self, run_id: str) -> OperatorResult:
        self._reconcile()
        self.rec = load_run(self.profile, run_id)
        if self.rec.get("status") in FINISHED:
            return self._result()
        if self.rec.get("status") != "waiting_approval":
            raise ValidationFailed(f"run {self.rec['id']} is {self.rec.get('status')}; only a "
                                   "run waiting for approval can be resumed")
        self.yolo = bool(self.rec.get("yolo"))
        cfg = self.profile.config.get("operator")
        self.max_steps = cfg.yoloMaxSteps if self.yolo else cfg.maxSteps
        self.rec.update(process_identity())
        self._emit("resumed", {"run_id": self.rec["id"]})
        return self._guarded()

    def _guarded(self) -> OperatorResult:
        """The loop; an exception that ends the process (Ctrl-C, a signal turned into
        KeyboardInterrupt/SystemExit) still leaves the record "interrupted", never "running"."""
        try:
            return self._loop()
        except (KeyboardInterrupt, SystemExit):
            if self.rec.get("status") in ("running", "waiting_approval") and self.rec.get("id"):
                self._finish("interrupted", error="stopped on request")
            raise

    def _text_only(self) -> bool:
        """Backends known to lack native tools start with the JSON protocol (no wasted call)."""
        return getattr(self.llm.backend, "name", "") == "llamacpp"

    # ------------------------------------------------------------------ the loop
    def _loop(self) -> OperatorResult:
        skills, known = self._skills()
        ticker = clock.get_clock()  # injectable: tests move time instead of sleeping
        self._t0 = (ticker, ticker.monotonic(), time.monotonic())
        self._waited = 0.0  # seconds spent waiting for a person's decision
        self.rec["status"] = "running"
        while True:
            if self.rec.get("pending"):
                if not self._settle_pending():
                    return self._pause()
                if self.rec["status"] in FINISHED:
                    return self._finish()
                continue
            if self.cancel.is_set():
                return self._finish("interrupted", error="stopped on request")
            if len(self.rec["steps"]) >= self.max_steps:
                return self._finish("step_budget", error=f"used all {self.max_steps} steps")
            if self._time_left() <= 0:
                return self._finish("time_budget", error=f"over {self.max_seconds:g} s")
            try:
                reply = self._ask(skills, time.monotonic() + self._time_left())
            except Interrupted as exc:
                if exc.reason == "cancelled":
                    return self._finish("interrupted", error="stopped on request")
                return self._finish("time_budget", error=f"{exc.message} (budget "
                                    f"{self.max_seconds:g} s, {exc.tokens} tokens so far)")
            except ToolsUnsupported as exc:
                if self.rec.get("protocol") == "json":
                    return self._finish("failed", error=exc.message)
                self.rec["protocol"] = "json"  # models without tools: JSON in text from now on
                continue
            except LLMError as exc:
                self.rec["error_kind"] = ("unavailable" if isinstance(exc, LLMUnavailable) else
                                          "model_missing" if isinstance(exc, ModelMissing) else "llm")
                return self._finish("failed", error=exc.message, hint=exc.hint)
            calls = reply.tool_calls
            answer = None
            if not calls:
                calls, answer = parse_text_action(reply.content, known)
            if not calls:
                self.rec["messages"].append(Message("assistant", reply.content).to_dict())
                text = answer if answer is not None else strip_think(reply.content)
                if not self.rec["steps"] and needs_tool(self.rec["goal"]):
                    if not self.rec.get("nudged"):  # once: "call a tool or say you cannot"
                        self.rec["nudged"] = True
                        self.rec["messages"].append(Message("user", NUDGE).to_dict())
                        self._emit("nudge", {"text": NUDGE, "answer": text[:300]})
                        self._save()
                        continue
                    self.rec.update(answer=text, warning=UNVERIFIED)
                    self._emit("answer", {"text": text, "warning": UNVERIFIED})
                    return self._finish("unverified", error=UNVERIFIED)
                self.rec["answer"] = text
                self._emit("answer", {"text": text})
                status, error = final_status(self.rec["steps"])
                return self._finish(status, error=error)
            self.rec["messages"].append(Message("assistant", reply.content, calls).to_dict())
            queue = list(calls)
            while queue:
                call = queue.pop(0)
                if not self._step(call, known, rest=queue):
                    return self._pause()
                if self.rec["status"] in FINISHED:
                    return self._finish()

    def _time_left(self) -> float:
        """What is left of maxSeconds, by the injectable clock or real time, whichever ran more."""
        ticker, started, real_start = self._t0
        elapsed = max(ticker.monotonic() - started, time.monotonic() - real_start)
        return self.max_seconds - elapsed + self._waited  # waits for the person do not count

    def _skills(self) -> tuple[list, set[str]]:
        from .policy import decide
        from .skills import list_skills

        trust = self.profile.trust()
        usable, self._unavailable = [], []
        for skill in list_skills():
            verdict = decide(skill, trust, actor="operator", yolo=self.yolo)
            if verdict.decision == "deny":
                self._unavailable.append(f"{skill.id} (needs {skill.min_trust})")
            else:
                usable.append(skill)
        return usable, {s.id for s in usable}

    def _ask(self, skills, deadline: float):
        protocol = self.rec.get("protocol", "tools")
        name = self.profile.persona.summary().get("name") or "the person"
        sys_text = system_prompt(name, self.profile.trust(), self.yolo,
                                 clock.now().strftime("%Y-%m-%d"), skills, self._unavailable,
                                 protocol)
        history = [Message.from_dict(m) for m in self.rec["messages"]]
        if protocol == "json":
            history = [as_text(m) for m in history]
        tools = [s.tool_spec() for s in skills] if protocol == "tools" and skills else None
        fmt = None
        if protocol == "json" and getattr(self.llm.backend, "name", "") in SCHEMA_BACKENDS:
            fmt = action_schema(sorted(s.id for s in skills))
        step = len(self.rec["steps"]) + 1
        self._emit("thinking", {"elapsed": 0.0, "tokens": 0}, step)

        def tick(progress: Progress) -> None:
            self._emit("thinking", {"elapsed": round(progress.elapsed, 1),
                                    "tokens": progress.tokens}, step)

        reply = self.llm.chat([Message("system", sys_text), *history], tools=tools, format=fmt,
                              options={"num_predict": self.max_tokens}, deadline=deadline,
                              call_timeout=self.call_timeout, cancel=self.cancel, on_tick=tick)
        self.rec["model"] = self.llm.last_model
        return reply

    def _step(self, call: ToolCall, known: set[str], rest: list[ToolCall]) -> bool:
        """Run one call. False = paused on an approval (state saved in rec['pending'])."""
        n = len(self.rec["steps"]) + 1
        name = canonical_name(call.name, known)
        args, notes = repair_args(name, call.arguments, yolo=self.yolo,
                                  task_lookup=self._task_lookup)
        sig = json.dumps([name, args], sort_keys=True, ensure_ascii=False)
        seen = self.rec["seen"].get(sig)
        step = {"step": n, "skill": name, "args": args, "status": "", "decision": "",
                "approval_id": None, "notes": notes, "duration_ms": 0}
        self._emit("tool_call", {"skill": name, "args": args, "notes": notes}, n)
        if seen:
            seen["count"] += 1
            if seen["count"] >= 3:
                step.update(status="loop", observation="stopped: repeated call")
                self._record(step, call, "stopped: the same call was made a third time")
                self.rec["status"] = "loop_detected"
                self.rec["error"] = f"{name} called three times with the same arguments"
                return True
            step["status"] = "repeated"
            obs = (f"You already called {name} with these arguments at step {seen['step']}; its "
                   "result is above. Do not repeat the same call: use that result, try something "
                   "different, or give your final answer.")
            self._record(step, call, obs)
            return True
        self.rec["seen"][sig] = {"count": 1, "step": n}
        from .skills import execute
        from .skills.deadline import Deadline

        t0 = time.perf_counter()
        deadline = Deadline.after(self._time_left(), f"the operator's time budget ({self.max_seconds:g} s)",
                                  hint="for more time: mh config set operator.maxSeconds SECONDS")
        outcome = execute(self.profile, name, args, actor="operator", yolo=self.yolo,
                          origin=self._origin(name, args), deadline=deadline)
        step.update(status=outcome.status, decision=outcome.decision,
                    approval_id=outcome.approval_id,
                    duration_ms=round((time.perf_counter() - t0) * 1000, 1))
        for key in ("denied_by", "hint"):  # from the gate, where it says (issue 17/18)
            if getattr(outcome, key, None):
                step[key] = getattr(outcome, key)
        if outcome.status == "queued":
            self.rec["pending"] = {"approval_id": outcome.approval_id, "step": step,
                                   "call": call.to_dict(), "rest": [c.to_dict() for c in rest]}
            rest.clear()
            self._emit("approval_pending", {"approval_id": outcome.approval_id, "skill": name,
                                            "args": args, "reason": outcome.reason,
                                            "risk": skill_risk(name)}, n)
            return self._settle_pending()
        if name == "memory_search" and outcome.status == "ok":
            self.rec.setdefault("memory_text", []).append(
                json.dumps(outcome.result, ensure_ascii=False)[:20000])
        self._record(step, call, outcome_observation(outcome))
        return True

    def _settle_pending(self) -> bool:
        """Wait for the pending approval: up to approval_wait (not counted in maxSeconds), POLL s
        after a cancel at most. True: decided, or the run's budget was already spent before the
        wait began (the item stays queued for the person either way)."""
        from .approvals import FINAL, ApprovalQueue

        pending = self.rec["pending"]
        aid, queue = pending["approval_id"], ApprovalQueue(self.profile)
        began, spent = time.monotonic(), self._time_left() <= 0
        wait_end = began + max(0.0, self.approval_wait)
        try:
            while True:
                try:
                    item = queue.wait(aid, timeout=0)  # one look (an item past its expiry expires)
                except NotFound:
                    item = {"id": aid, "skill": pending["step"]["skill"], "status": "expired"}
                if item.get("status") in FINAL:
                    break
                wait_left = wait_end - time.monotonic()
                if self.cancel.is_set() or wait_left <= 0:
                    return False
                if spent:  # the model used the budget up: no time left to go on after a yes
                    state = ("approved and still running" if item.get("status") == "approved" else
                             f"still pending (mh approvals approve {aid} runs it)")
                    self.rec.update(status="time_budget", error=f"over {self.max_seconds:g} s "
                                    f"before approval {aid} ({pending['step']['skill']}) was asked "
                                    f"for; it is {state}, this run has ended")
                    return True
                self.cancel.wait(min(POLL, wait_left))
        finally:
            self._waited += time.monotonic() - began
        step = dict(pending["step"])
        step["status"] = {"executed": "ok", "failed": "error"}.get(item["status"], item["status"])
        self._emit("approval_decided", {"approval_id": item["id"], "status": item["status"],
                                        "reason": item.get("reason")}, step["step"])
        self.rec["pending"] = None
        self._record(step, ToolCall.from_dict(pending["call"]), approval_observation(item))
        rest = [ToolCall.from_dict(c) for c in pending.get("rest") or []]
        _, known = self._skills()
        while rest and self.rec["status"] not in FINISHED:
            call = rest.pop(0)
            if not self._step(call, known, rest=rest):
                return False
        return True

    # ------------------------------------------------------------------ helpers
    def _origin(self, name: str, args: dict) -> dict:
        origin = {"run_id": self.rec["id"], "requested_by": self.requested_by}
        if name == "web_search" and carries_memory_text(args, self.rec.get("memory_text") or []):
            origin["carries_memory_text"] = True
        return origin

    def _task_lookup(self, wanted: str) -> str | None:
        try:
            from .tasks import TaskStore

            store = TaskStore(self.profile)
            tasks = [t.to_dict() if hasattr(t, "to_dict") else dict(t)
                     for t in [*store.list_active(), *store.list_completed()]]
        except (ImportError, MHError, OSError):
            return None
        return fuzzy_task_id(tasks, wanted)


def run_operator(profile, goal: str, **kw) -> OperatorResult:
    return Operator(profile, **kw).run(goal)


def resume_operator(profile, run_id: str, **kw) -> OperatorResult:
    return Operator(profile, **kw).resume(run_id)
