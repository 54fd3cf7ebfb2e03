"""Validated configuration: one pydantic model per `etc/<name>.json` (DESIGN §4).

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
from typing import TYPE_CHECKING, Any, Literal, get_args, get_origin

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from . import jsonc
from .errors import ConfigError, CorruptFile, ValidationFailed
from .storage import atomic_write_text, dumps, file_lock

if TYPE_CHECKING:
    from .audit import AuditLog
    from .profile import Profile


class _Model(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True, validate_assignment=True)


class OrganizerOptions(BaseModel):
    """`organizer` key of etc/agent.json (read by the organizer agent)."""
    model_config = ConfigDict(extra="allow")
    maxAttempts: int = Field(default=5, ge=1)
    backoffSeconds: int = Field(default=60, ge=1)
    maxBackoffSeconds: int = Field(default=3600, ge=1)
    batchSize: int = Field(default=50, ge=1)
    maxTags: int = Field(default=8, ge=1)
    maxEntities: int = Field(default=8, ge=1)
    maxConsecutiveErrors: int = Field(default=3, ge=1)


class AgentConfig(_Model):
    backend: Literal["ollama", "openai", "llamacpp"] = "ollama"
    host: str = "http://127.0.0.1:11434"
    model: str = "qwen3:1.7b"
    baseModel: str = "qwen3:1.7b"
    openaiBaseUrl: str = "http://127.0.0.1:8080/v1"
    ggufPath: str | None = None
    timeoutSeconds: float = Field(default=120.0, gt=0)
    organizer: OrganizerOptions = Field(default_factory=OrganizerOptions)

    @field_validator("model", "baseModel")
    @classmethod
    def _model_name(cls, value: str) -> str:
        if not value or any(c.isspace() for c in value) or not value.isprintable():
            raise ValueError(f"invalid model name {value!r}: one word such as qwen3:1.7b")
        return value


def validate_model_name(name: str) -> str:
    """A model name (`qwen3:1.7b`, `library/x:tag`): one non-empty word, no spaces."""
    try:
        return AgentConfig._model_name(name)
    except ValueError as exc:
        raise ValidationFailed(str(exc), hint="see: mh model list") from None


DEFAULT_INTERVALS = {"high": 60, "medium": 300, "low": 900, "off": -1}
MAX_INTERVAL = 366 * 24 * 3600  # a year: beyond that (or time.sleep's range) it is a typo


class BoredomConfig(_Model):
    level: str = "medium"
    intervals: dict[str, int] = Field(default_factory=lambda: dict(DEFAULT_INTERVALS))

    @field_validator("intervals", mode="before")
    @classmethod
    def _with_defaults(cls, value: Any) -> Any:
        # The seed's example lists only "custom": the built-in levels stay available beside it.
        return {**DEFAULT_INTERVALS, **value} if isinstance(value, dict) else value

    @field_validator("intervals")
    @classmethod
    def _intervals(cls, value: dict[str, int]) -> dict[str, int]:
        for key, seconds in value.items():
            if seconds != -1 and not 1 <= seconds <= MAX_INTERVAL:
                raise ValueError(f"interval {key!r} must be >= 1 second and <= {MAX_INTERVAL} "
                                 f"(a year), or -1 (off), got {seconds}")
        return value

    @model_validator(mode="after")
    def _level_known(self) -> "BoredomConfig":
        if self.level != "off" and self.level not in self.intervals:
            known = ", ".join(sorted(set(self.intervals) | {"off"}))
            raise ValueError(f"level {self.level!r} has no interval; known levels: {known}")
        return self

    def interval_seconds(self) -> int:
        """Seconds between reflections at the current level; -1 means off."""
        if self.level == "off":
            return -1
        return self.intervals.get(self.level, -1)


_HHMM = r"^([01]\d|2[0-3]):[0-5]\d$"


class SleepWindow(_Model):
    start: str = Field(default="23:00", pattern=_HHMM)
    end: str = Field(default="06:00", pattern=_HHMM)


class SleepAdapters(_Model):
    prompt: bool = True
    lora: bool = False


class SleepConfig(_Model):
    enabled: bool = True
    window: SleepWindow = Field(default_factory=SleepWindow)
    minIdleMins: int = Field(default=15, ge=0)
    maxDreamsPerNight: int = Field(default=3, ge=0)
    adapters: SleepAdapters = Field(default_factory=SleepAdapters)


class AutoApprovalThresholds(_Model):
    minPairs: int = Field(default=30, ge=1)
    minHighConfidence: float = Field(default=0.6, ge=0, le=1)
    minReplyLength: int = Field(default=20, ge=0)
    maxLowConfidence: float = Field(default=0.2, ge=0, le=1)


class AutoApprovalConfig(_Model):
    enabled: bool = False
    dryRun: bool = True
    thresholds: AutoApprovalThresholds = Field(default_factory=AutoApprovalThresholds)
    autoTrain: bool = False
    autoEval: bool = True
    autoActivate: bool = False


class RemoteConfig(_Model):
    gpuTypes: list[str] = Field(default_factory=lambda: ["NVIDIA GeForce RTX 4090"])
    cloudType: Literal["SECURE", "COMMUNITY", "ALL"] = "ALL"
    templateId: str | None = None
    imageName: str = "runpod/pytorch:2.4.0-py3.11-cuda12.4.1-devel-ubuntu22.04"
    volumeInGb: int = Field(default=0, ge=0)
    containerDiskInGb: int = Field(default=40, ge=1)
    sshUser: str = "root"
    workdir: str = "/workspace"
    python: str = "python3"
    maxHours: float = Field(default=3.0, gt=0)
    maxUsd: float = Field(default=5.0, gt=0)
    pollSeconds: float = Field(default=10.0, gt=0)


class DatasetOptions(BaseModel):
    """`dataset` key of etc/training.json (read by the dataset builder); every field optional."""
    model_config = ConfigDict(extra="forbid")
    modelGenerated: Literal["exclude", "downweight"] = "exclude"
    modelGeneratedMaxShare: float = Field(default=0.1, ge=0, lt=1)
    heldOutFraction: float = Field(default=0.15, ge=0, lt=0.5)
    heldOutMin: int = Field(default=12, ge=0)  # held out: max(heldOutMin, fraction), ≤ half
    heldOutMax: int = Field(default=200, ge=0)
    maxPairs: int = Field(default=5000, ge=1)
    minChars: int = Field(default=12, ge=1)
    maxOutputWords: int = Field(default=300, ge=10)
    conversationGapMinutes: float = Field(default=30, gt=0)
    anchors: bool = True
    piiScrub: bool | None = None  # None: on for remote runs, off for local ones
    days: int | None = Field(default=None, ge=1)  # only memories this recent


class EvaluationOptions(BaseModel):
    """`evaluation` key of etc/training.json: what an adapter must achieve to be activated."""
    model_config = ConfigDict(extra="allow")
    maxLossDelta: float = 0.0
    minLlrGain: float = 0.0


class TrainingConfig(_Model):
    base_model: str = "HuggingFaceTB/SmolLM2-135M-Instruct"
    lora_rank: int = Field(default=8, ge=1, le=512)
    # null (the default): the trainer's recipe chooses from the data and the model (issue 21);
    # a value set here is used exactly
    num_train_epochs: float | None = Field(default=None, gt=0)
    learning_rate: float | None = Field(default=None, gt=0, lt=1)
    per_device_train_batch_size: int | None = Field(default=None, ge=1)
    gradient_accumulation_steps: int | None = Field(default=None, ge=1)
    max_seq_length: int = Field(default=2048, ge=16)
    mode: Literal["local", "remote"] = "local"
    remote: RemoteConfig = Field(default_factory=RemoteConfig)
    dataset: DatasetOptions = Field(default_factory=DatasetOptions)
    evaluation: EvaluationOptions = Field(default_factory=EvaluationOptions)
    trainer: dict[str, Any] = Field(default_factory=dict)  # passed through to trainer/config.json
    localPython: str | None = None  # interpreter for local training ($MH_TRAIN_PYTHON wins)


class OperatorConfig(_Model):
    maxSteps: int = Field(default=8, ge=1, le=100)
    maxSeconds: float = Field(default=120.0, gt=0)
    yoloMaxSteps: int = Field(default=16, ge=1, le=200)
    approvalWaitSeconds: float = Field(default=0.0, ge=0)
    callTimeoutSeconds: float = Field(default=0.0, ge=0)  # one model call; 0 = only maxSeconds
    maxTokensPerStep: int = Field(default=512, ge=16, le=32768)


class NetworkConfig(_Model):
    provider: Literal["searxng", "duckduckgo", "none"] = "duckduckgo"
    searxngUrl: str = "http://127.0.0.1:8888"
    timeoutSeconds: float = Field(default=15.0, gt=0)


class ApiConfig(_Model):
    host: str = "127.0.0.1"
    port: int = Field(default=4321, ge=1, le=65535)
    maxBodyBytes: int = Field(default=1_048_576, ge=1024)
    tokenForReads: bool = False


class TuiConfig(_Model):
    keys: dict[str, str] = Field(default_factory=dict)
    theme: str = "textual-dark"


def _check_trust_cap(value: str | None) -> str | None:
    from .identity import TRUST_LEVELS

    if value is not None and value not in TRUST_LEVELS:
        raise ValueError(f"unknown trust level {value!r}; one of: {', '.join(TRUST_LEVELS)}")
    return value


def _check_tools(value: list[str] | None) -> list[str] | None:
    from .skills.registry import list_skills  # lazy: only when an mcp.json is validated

    known = [s.id for s in list_skills()]
    bad = [t for t in value or [] if t != "*" and t not in known]
    if bad:
        raise ValueError(f"unknown skill {bad[0]!r}; use \"*\" (every skill) or: {', '.join(known)}")
    return value


class McpClientConfig(BaseModel):
    """`clients.<name>` of etc/mcp.json: narrower settings for one MCP client (actor mcp:<name>)."""
    model_config = ConfigDict(extra="forbid")
    trustCap: str | None = None
    allowedTools: list[str] | None = None

    @field_validator("trustCap")
    @classmethod
    def _trust(cls, value: str | None) -> str | None:
        return _check_trust_cap(value)

    @field_validator("allowedTools")
    @classmethod
    def _tools(cls, value: list[str] | None) -> list[str] | None:
        return _check_tools(value)


class McpConfig(_Model):
    """etc/mcp.json (`mh mcp`): the caps only ever lower what the profile's trust allows."""
    enabled: bool = True
    allowedTools: list[str] = Field(default_factory=lambda: ["*"])  # "*": every skill
    trustCap: str | None = None  # None: the profile's trust level
    clients: dict[str, McpClientConfig] = Field(default_factory=dict)

    @field_validator("trustCap")
    @classmethod
    def _trust(cls, value: str | None) -> str | None:
        return _check_trust_cap(value)

    @field_validator("allowedTools")
    @classmethod
    def _tools(cls, value: list[str]) -> list[str]:
        return _check_tools(value) or []


MODELS: dict[str, type[_Model]] = {
    "agent": AgentConfig,
    "boredom": BoredomConfig,
    "sleep": SleepConfig,
    "auto-approval": AutoApprovalConfig,
    "training": TrainingConfig,
    "operator": OperatorConfig,
    "network": NetworkConfig,
    "api": ApiConfig,
    "tui": TuiConfig,
    "mcp": McpConfig,
}


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
