"""Validated configuration: reading, checking and writing `etc/<name>.json` (DESIGN §4). The
schemas live in config_models.py and are re-exported here (`from metahuman_core.config import
AgentConfig` keeps working).

* Comments (`//`, `/* */`) are accepted when reading, and kept by `set_value`/`update`: they
  edit the file's text in place (jsonc.rewrite), so comments, order and indentation survive.
* Unknown keys are kept (extra="allow") and survive `set_value`, which refuses to create one.
* Files are re-read when their mtime or size changes: no restart needed.
* Errors name the file and the field: "etc/boredom.json: field 'intervals.custom': ...".
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any, get_args, get_origin

from pydantic import BaseModel, ValidationError

from . import jsonc
from .config_models import (  # noqa: F401 (re-exported: the faces import them from here)
    DEFAULT_INTERVALS, MAX_INTERVAL, MODELS, AgentConfig, ApiConfig, AutoApprovalConfig,
    AutoApprovalThresholds, BoredomConfig, DatasetOptions, EvaluationOptions, McpClientConfig,
    McpConfig, NetworkConfig, OperatorConfig, OrganizerOptions, RemoteConfig, SleepAdapters,
    SleepConfig, SleepWindow, TrainingConfig, TuiConfig, _Model, validate_model_name,
)
from .errors import ConfigError, CorruptFile, ValidationFailed
from .storage import atomic_write_text, dumps, file_lock

if TYPE_CHECKING:
    from .audit import AuditLog
    from .profile import Profile



def _known(name: str) -> type[_Model]:
    try:
        return MODELS[name]
    except KeyError:
        raise ValidationFailed(f"unknown config {name!r}",
                               hint="one of: " + ", ".join(MODELS)) from None


def format_validation_error(path: Path, exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err.get("loc", ())) or "(root)"
        parts.append(f"{path}: field '{loc}': {err.get('msg')}")
    return "\n".join(parts)


def read_raw(path: Path) -> dict[str, Any]:
    """The file's JSON object (comments allowed); {} if the file is missing."""
    return _read(path)[1]


def _read(path: Path) -> tuple[str, dict[str, Any]]:
    """The file's text ("" if missing) and its JSON object."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return "", {}
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not valid UTF-8 (byte {exc.start}): {exc.reason}",
                          hint="re-save the file as UTF-8 text") from None
    try:
        data = jsonc.loads(text) if text.strip() else {}
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path}: {jsonc.describe_error(exc)}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a JSON object at the top level")
    return text, data


def validate_raw(name: str, path: Path, raw: dict[str, Any]) -> _Model:
    model = _known(name)
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(path, exc)) from None


class ConfigStore:
    """Per-home config access with mtime-based reloads."""

    def __init__(self, etc_dir: Path, lock_dir: Path | None = None):
        self.etc = Path(etc_dir)
        # locks live with the profile's other locks (logs/run/), not among the config files
        self.lock_dir = Path(lock_dir) if lock_dir else self.etc.parent / "logs" / "run"
        self._cache: dict[str, tuple[tuple[int, int], _Model]] = {}

    def lock(self, name: str) -> contextlib.AbstractContextManager[int]:
        """The write lock of etc/<name>.json, held across a whole read-modify-write so two
        writers (two `mh config set`, an agent and the TUI) never lose each other's change."""
        _known(name)
        return file_lock(self.lock_dir / f"config-{name}.lock")

    def path(self, name: str) -> Path:
        _known(name)
        return self.etc / f"{name}.json"

    def get(self, name: str) -> Any:
        path = self.path(name)
        try:
            st = path.stat()
            key = (st.st_mtime_ns, st.st_size)
        except FileNotFoundError:
            key = (0, -1)
        cached = self._cache.get(name)
        if cached and cached[0] == key:
            return cached[1]
        model = validate_raw(name, path, read_raw(path))
        self._cache[name] = (key, model)
        return model

    def raw(self, name: str) -> dict[str, Any]:
        return read_raw(self.path(name))

    def get_value(self, dotted: str) -> Any:
        name, keys = split_key(dotted)
        value: Any = self.get(name).model_dump(mode="json")
        walked = [name]
        for key in keys:
            walked.append(key)
            if not isinstance(value, dict) or key not in value:
                raise ValidationFailed(f"no such config key: {'.'.join(walked)}",
                                       hint=f"see: mh config show {name}")
            value = value[key]
        return value

    def set_value(self, dotted: str, value: Any, *, audit: AuditLog | None = None,
                  actor: str = "system") -> _Model:
        """Set one key, validate the whole file, then write atomically (or change nothing).
        With `audit`, the change is recorded (config_changed: key, old, new) under the lock."""
        name, keys = split_key(dotted)
        if not keys:
            fields = list(_known(name).model_fields)
            raise ValidationFailed(f"config key needs a field: {dotted!r}",
                                   hint=f"e.g. mh config set {name}.{fields[0]} VALUE; "
                                        f"keys of {name}: {', '.join(fields)}")
        path = self.path(name)
        with self.lock(name):
            text, raw = _read(path)
            check_known_key(_known(name), keys, raw, path)
            node = raw
            for key in keys[:-1]:
                child = node.get(key)
                if child is None:
                    child = node[key] = {}
                if not isinstance(child, dict):
                    raise ValidationFailed(f"{path}: field '{key}' is not an object")
                node = child
            old = _effective(name, raw, keys) if audit is not None else None
            node[keys[-1]] = value
            model = self._write(name, path, text, raw)
            if audit is not None:
                from . import events

                audit.append(events.CONFIG_CHANGED, actor=actor,
                             details={"key": dotted, "old": old, "new": value})
            return model

    def update(self, name: str, changes: dict[str, Any]) -> _Model:
        """Merge top-level `changes` into the file, validate, write atomically."""
        path = self.path(name)
        with self.lock(name):
            text, raw = _read(path)
            raw.update(changes)
            return self._write(name, path, text, raw)

    def _write(self, name: str, path: Path, text: str, raw: dict[str, Any]) -> _Model:
        """Validate the whole new document, then write it atomically (or change nothing). The text
        is edited in place (jsonc.rewrite), keeping comments, order, indentation; a file with no
        usable structure (missing, blank; or an edit jsonc cannot express) is written whole."""
        try:
            model = _known(name).model_validate(raw)
        except ValidationError as exc:
            raise ValidationFailed(format_validation_error(path, exc)) from None
        try:
            new_text = jsonc.rewrite(text, raw) if text.strip() else dumps(raw)
        except ValueError:
            new_text = dumps(raw)
        atomic_write_text(path, new_text)
        self._cache.pop(name, None)
        return model

    def validate_all(self) -> list[str]:
        """Every problem in every config file (for `mh config check` and `mh status`)."""
        problems = []
        for name in MODELS:
            try:
                self.get(name)
            except (ConfigError, CorruptFile) as exc:
                problems.append(str(exc))
        return problems


def _effective(name: str, raw: dict[str, Any], keys: list[str]) -> Any:
    """The effective value (file + defaults) at `keys` in a raw document; None if unknown."""
    try:
        value: Any = _known(name).model_validate(raw).model_dump(mode="json")
    except ValidationError:
        return None
    for key in keys:
        if not isinstance(value, dict) or key not in value:
            return None
        value = value[key]
    return value


def change(profile: Profile, dotted: str, value: Any, *, actor: str) -> _Model:
    """The one way a face changes a config value: validated, locked and audited in the core."""
    return profile.config.set_value(dotted, value, audit=profile.audit, actor=actor)


def _model_of(annotation: Any) -> type[BaseModel] | None:
    """The pydantic model a field holds (unwrapping `X | None`), else None (free-form, and maps:
    see `_holds`)."""
    for t in (annotation, *get_args(annotation)):
        if isinstance(t, type) and get_origin(t) is None and issubclass(t, BaseModel):
            return t
    return None


def _holds(annotation: Any) -> tuple[type[BaseModel] | None, bool]:
    """(model, is_map): a field holding `dict[str, Model]` (`mcp.clients`) is a map whose keys
    are names the person picks; the value under each name is a `Model`."""
    for t in (annotation, *get_args(annotation)):
        if get_origin(t) is dict:
            args = get_args(t)
            value = _model_of(args[1]) if len(args) == 2 else None
            return value, value is not None
    return _model_of(annotation), False


def check_known_key(model: type[BaseModel], keys: list[str], raw: Any, path: Path) -> None:
    """Refuse to *create* a key the schema does not know (`boredom.levle` would be kept and
    ignored forever). Keys already in the file and free-form maps (`boredom.intervals`,
    `tui.keys`, `training.trainer`) are fine; in a map of models (`mcp.clients.NAME.trustCap`)
    the name is free and the model's fields are checked below it."""
    node: type[BaseModel] | None = model
    is_map = False
    for depth, key in enumerate(keys):
        raw = raw.get(key) if isinstance(raw, dict) else None
        if is_map:  # `key` names an entry: descend into the entry's model
            is_map = False
            continue
        if node is None:
            continue
        field = next((f for n, f in node.model_fields.items() if key in (n, f.alias)), None)
        if field is None and raw is None:
            raise ValidationFailed(f"{path}: unknown field '{'.'.join(keys[:depth + 1])}'",
                                   hint="known here: " + ", ".join(node.model_fields))
        node, is_map = _holds(field.annotation) if field is not None else (None, False)


def split_key(dotted: str) -> tuple[str, list[str]]:
    if not dotted or dotted.startswith(".") or ".." in dotted:
        raise ValidationFailed(f"invalid config key: {dotted!r}", hint="NAME.key, e.g. boredom.level")
    # config names may contain '-' (auto-approval); keys are dot-separated after the name
    name, _, rest = dotted.partition(".")
    _known(name)
    return name, [k for k in rest.split(".") if k] if rest else []


def parse_cli_value(text: str) -> Any:
    """`mh config set` values: JSON when it parses (numbers, true, lists), else the plain string."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text
