"""The schemas of `etc/<name>.json`: one pydantic model per file (DESIGN §4), and MODELS, the
table of them. Reading, locking and writing the files is config.py's job; the faces import these
names from `metahuman_core.config`, which re-exports them."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from .errors import ValidationFailed


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


# tools `mh mcp` offers itself, whatever allowedTools says; naming them there is accepted
MCP_SERVER_TOOLS = ("approval_status",)


def _check_tools(value: list[str] | None) -> list[str] | None:
    from .skills.registry import list_skills  # lazy: only when an mcp.json is validated

    known = [s.id for s in list_skills()] + list(MCP_SERVER_TOOLS)
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
