"""The approval queue: one JSON file per request in out/approval-queue/<id>.json (DESIGN §7).

Fields: id, skill, args, args_sha256, risk, requested_by, created_at, expires_at,
status (pending|approved|rejected|expired|executed|failed), decided_by, reason, result — plus
trust, yolo, origin, request_reason, decided_at, executed_at and error.

* Items are published atomically (temp file + fsync + link), so no reader sees half a file.
* Approving holds an flock on logs/run/approval-<id>.lock, re-checks the args hash and the policy
  at the current trust, then executes: two processes approving the same item execute it once;
  the second gets "not pending". A crash after "approved" leaves the item approved, never re-run.
* Waiters (an operator run, chat, the API) poll `wait(id, timeout)` until a final status.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import secrets
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import clock, events
from .errors import CorruptFile, MHError, NotFound, ValidationFailed
from .ids import stamp, validate_approval_id
from .storage import atomic_write_json, dumps, file_lock, read_json

if TYPE_CHECKING:
    from .profile import Profile

DEFAULT_TTL = timedelta(hours=24)
STATUSES = ("pending", "approved", "rejected", "expired", "executed", "failed")
FINAL = ("rejected", "expired", "executed", "failed")
STATUS_FIELDS = ("id", "skill", "status", "created_at", "decided_at", "decided_by", "reason",
                 "result", "error", "expires_at")


class ApprovalNotPending(MHError):
    """Approve/reject of an item that is already decided (or expired)."""


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def args_sha256(args: Any) -> str:
    return hashlib.sha256(canonical_json(args).encode("utf-8")).hexdigest()


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, ensure_ascii=False, default=str))


def _created_key(item: dict) -> tuple:
    try:
        return (datetime.fromisoformat(item["created_at"]).timestamp(), str(item.get("id")))
    except (KeyError, TypeError, ValueError):
        return (0.0, str(item.get("id")))


def _as_item(path: Path, data: Any) -> dict:
    """An approval file must hold a JSON object (a hand-edited array is corrupt, not a crash)."""
    if not isinstance(data, dict):
        raise CorruptFile(path, f"expected a JSON object, found a {type(data).__name__}")
    return data


class ApprovalQueue:
    def __init__(self, profile: Profile, *, ttl: timedelta = DEFAULT_TTL):
        self.profile = profile
        self.dir: Path = profile.home.approval_queue
        self.ttl = ttl
        self.corrupt: list[str] = []  # "PATH: reason" of each unreadable file seen by list()

    # ------------------------------------------------------------------ files
    def path(self, approval_id: str) -> Path:
        return self.dir / f"{validate_approval_id(approval_id)}.json"

    def _lock(self, approval_id: str):
        return file_lock(self.profile.home.lock_file(f"approval-{approval_id}"))

    def _read(self, approval_id: str) -> dict:
        """The item, or NotFound / CorruptFile naming the file (never a non-object)."""
        path = self.path(approval_id)
        try:
            return _as_item(path, read_json(path))
        except FileNotFoundError:
            raise NotFound(f"no approval {approval_id}", hint="see: mh approvals list") from None

    def _write(self, item: dict) -> None:
        atomic_write_json(self.path(item["id"]), item)

    def _audit(self, event: str, actor: str, item: dict, *, level: str = "info",
               category: str = "decision", **extra) -> None:
        details = {"approval_id": item["id"], "skill": item.get("skill"),
                   "trust": item.get("trust"), "yolo": item.get("yolo"), **extra}
        self.profile.audit.append(event, level=level, category=category, actor=actor,
                                  details=details)

    # ------------------------------------------------------------------ create
    def enqueue(self, skill, args: dict, *, requested_by: str, trust: str, yolo: bool,
                origin: dict | None = None, reason: str = "") -> dict:
        """Publish a pending item (called by the gate only) and audit APPROVAL_QUEUED."""
        now = clock.now()
        item = {
            "id": "", "skill": skill.id, "description": skill.description, "args": args,
            "args_sha256": args_sha256(args), "risk": skill.risk, "requested_by": requested_by,
            "created_at": now.isoformat(timespec="milliseconds"),
            "expires_at": (now + self.ttl).isoformat(timespec="seconds"),
            "status": "pending", "decided_by": None, "decided_at": None, "reason": None,
            "request_reason": reason, "trust": trust, "yolo": bool(yolo),
            "origin": origin or {}, "result": None, "error": None, "executed_at": None,
        }
        self.dir.mkdir(parents=True, exist_ok=True)
        while True:
            item["id"] = f"apr-{stamp(now)}-{secrets.token_hex(4)}"
            if self._publish(item):
                break
        self._audit(events.APPROVAL_QUEUED, requested_by, item, risk=skill.risk,
                    args=args, request_reason=reason)
        return item

    def _publish(self, item: dict) -> bool:
        """Create the file only if the id is free; content appears all at once."""
        fd, tmp = tempfile.mkstemp(prefix=".new.", suffix=".tmp", dir=self.dir)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(dumps(item).encode("utf-8"))
                fh.flush()
                os.fsync(fh.fileno())
            try:
                os.link(tmp, self.path(item["id"]))
            except FileExistsError:
                return False
            return True
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)

    # ------------------------------------------------------------------ read
    def get(self, approval_id: str) -> dict:
        return self._read(approval_id)

    def status_for(self, approval_id: str, requested_by: str) -> dict:
        """The compact view (STATUS_FIELDS) of an item, for the actor that requested it only:
        anyone else gets the very NotFound an unknown id gets. Expiry is applied on read;
        secret values in the view are replaced by [redacted]."""
        from .redact import register_profile_secrets, scrub_secrets, secret_values

        try:
            validate_approval_id(approval_id)
        except ValidationFailed as exc:
            raise ValidationFailed(f"invalid approval_id: {approval_id!r}", hint=exc.hint) from None
        try:
            item = self._read(approval_id)
        except NotFound:
            item = {}
        except CorruptFile:  # no path and no content: the person sees it in the listing
            raise MHError(f"approval {approval_id} cannot be read (its file is corrupt)",
                          hint="ask the person to check: mh approvals list") from None
        if not requested_by or item.get("requested_by") != requested_by:
            raise NotFound(f"no approval {approval_id} requested by {requested_by}",
                           hint="only the client that made a request can see it; the id is in "
                                "the result of the call that was queued")
        if item.get("status") == "pending" and self._due(item):
            with self._lock(approval_id):
                item = self._read(approval_id)
                if item.get("status") == "pending" and self._due(item):
                    item = self._expire_locked(item)
        register_profile_secrets(self.profile)
        return scrub_secrets({k: item.get(k) for k in STATUS_FIELDS}, secret_values())

    def list(self, status: str | None = None) -> list[dict]:
        """Items oldest first (expiring due ones first); a corrupt file is listed, not fatal."""
        if status is not None and status not in STATUSES:
            raise ValidationFailed(f"invalid status {status!r}", hint="one of: " + ", ".join(STATUSES))
        self.expire_old()
        items = []
        for path in sorted(self.dir.glob("apr-*.json")):
            try:
                item = _as_item(path, read_json(path))
            except (MHError, OSError) as exc:
                item = {"id": path.stem, "status": "corrupt", "error": str(exc)}
                self.corrupt.append(f"{path}: {exc.reason if isinstance(exc, CorruptFile) else exc}")
            if status is None or item.get("status") == status:
                items.append(item)
        items.sort(key=_created_key)
        return items

    def pending_count(self) -> int:
        return len(self.list("pending"))

    # ------------------------------------------------------------------ decide
    def _due(self, item: dict, now: datetime | None = None) -> bool:
        try:
            expires = datetime.fromisoformat(item["expires_at"])
        except (KeyError, TypeError, ValueError):
            return False
        return (now or clock.now()) >= expires

    def _expire_locked(self, item: dict) -> dict:
        item.update(status="expired", decided_by="system", decided_at=clock.iso(),
                    reason=f"expired at {item.get('expires_at')} without a decision")
        self._write(item)
        self._audit(events.APPROVAL_EXPIRED, "system", item)
        return item

    def _not_pending(self, item: dict) -> ApprovalNotPending:
        who = f" by {item['decided_by']}" if item.get("decided_by") else ""
        why = f": {item['reason']}" if item.get("reason") else ""
        hint = ("it was approved but did not finish (interrupted); it will not run again"
                if item["status"] == "approved" else None)
        return ApprovalNotPending(f"{item['id']} is already {item['status']}{who}{why}", hint=hint)

    def approve(self, approval_id: str, *, by: str = "human") -> dict:
        """Re-check, execute, store the result. Returns the final item (executed, failed, or
        rejected by policy when the current trust no longer allows the skill)."""
        from .skills.gate import invoke, prepare_approved

        with self._lock(validate_approval_id(approval_id)):
            item = self._read(approval_id)
            if item.get("status") == "pending" and self._due(item):
                self._expire_locked(item)
            if item.get("status") != "pending":
                raise self._not_pending(item)
            if args_sha256(item.get("args")) != item.get("args_sha256"):
                item.update(status="failed", decided_by=by, decided_at=clock.iso(),
                            reason="the arguments changed after the item was queued "
                                   "(args_sha256 mismatch); not executed")
                self._write(item)
                self._audit(events.APPROVAL_FAILED, by, item, level="warn", category="security",
                            reason=item["reason"])
                return item
            prepared = prepare_approved(self.profile, item)
            if not isinstance(prepared, tuple):
                item.update(status="rejected", decided_by="policy", decided_at=clock.iso(),
                            reason=prepared.reason, error=prepared.error)
                self._write(item)
                self._audit(events.APPROVAL_REJECTED, "system", item, reason=prepared.reason)
                return item
            skill, model, trust = prepared
            item.update(status="approved", decided_by=by, decided_at=clock.iso())
            self._write(item)
            self._audit(events.APPROVAL_APPROVED, by, item, approval_trust=trust)
            outcome = invoke(self.profile, skill, model, actor=str(item["requested_by"]),
                             trust=trust, yolo=bool(item.get("yolo")), decision="ask",
                             reason=item.get("request_reason") or "", approval_id=item["id"],
                             approved_by=by)
            item["executed_at"] = clock.iso()
            if outcome.ok:
                item.update(status="executed", result=_jsonable(outcome.result))
                self._write(item)
                self._audit(events.APPROVAL_EXECUTED, by, item)
            else:
                item.update(status="failed", error=outcome.error, reason=outcome.error)
                self._write(item)
                self._audit(events.APPROVAL_FAILED, by, item, level="warn", error=outcome.error)
            return item

    def reject(self, approval_id: str, *, by: str = "human", reason: str) -> dict:
        if not isinstance(reason, str) or not reason.strip():
            raise ValidationFailed("a rejection needs a reason", hint="--reason \"why not\"")
        with self._lock(validate_approval_id(approval_id)):
            item = self._read(approval_id)
            if item.get("status") == "pending" and self._due(item):
                self._expire_locked(item)
            if item.get("status") != "pending":
                raise self._not_pending(item)
            item.update(status="rejected", decided_by=by, decided_at=clock.iso(),
                        reason=reason.strip())
            self._write(item)
            self._audit(events.APPROVAL_REJECTED, by, item, reason=item["reason"])
            return item

    def expire_old(self) -> int:
        """Mark every pending item past its expires_at as expired; returns how many."""
        count = 0
        now = clock.now()
        for path in sorted(self.dir.glob("apr-*.json")):
            try:
                item = _as_item(path, read_json(path))
            except (MHError, OSError):
                continue  # list() reports it
            if item.get("status") != "pending" or not self._due(item, now):
                continue
            with self._lock(path.stem):
                try:
                    item = _as_item(path, read_json(path))
                except (MHError, OSError):
                    continue
                if item.get("status") == "pending" and self._due(item, now):
                    self._expire_locked(item)
                    count += 1
        return count

    def wait(self, approval_id: str, timeout: float, *, poll: float = 0.2) -> dict:
        """Block until the item reaches a final status (or `timeout` seconds pass); returns it.
        Real time, not the injectable clock: it waits for another process."""
        deadline = time.monotonic() + max(0.0, timeout)
        while True:
            item = self._read(approval_id)
            status = item.get("status")
            if status in FINAL:
                return item
            if status == "pending" and self._due(item):
                with self._lock(approval_id):
                    item = self._read(approval_id)
                    if item.get("status") == "pending" and self._due(item):
                        return self._expire_locked(item)
                continue
            left = deadline - time.monotonic()
            if left <= 0:
                return item
            time.sleep(min(poll, left))
