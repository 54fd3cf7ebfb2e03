"""The seed's directory contract for datasets and training runs (DESIGN §10.2).

    out/adapters/<LABEL>/<LABEL>.jsonl        the dataset (all pairs, with meta.split)
                        metadata.json          counts; approved.json / rejected.json; eval.json
                        adapter/ <name>-<LABEL>.gguf   published from the run that trained it
    metahuman-runs/<RUN>/unsloth_dataset.jsonl  {instruction,input,output}, training split
                        eval_dataset.jsonl     the held-out split
                        config.json            the trainer's config (seed keys + ours)
                        run-summary.json       what happened, rewritten atomically
                        progress.ndjson        the trainer's stage lines

LABEL and RUN are YYYY-MM-DD, or YYYY-MM-DD-N for the N-th of that day: a directory is claimed
with an exclusive mkdir and never overwritten (the original rewrote the day's files ⚠).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import clock
from ..errors import NotFound, ValidationFailed
from ..ids import slugify, validate_date
from ..storage import atomic_write_json, read_json_or

# The one list of training stages (the trainer writes them; every face shows them from here).
from trainer.progress import STAGES as STAGES  # noqa: E402 - trainer/ cannot import the core

if TYPE_CHECKING:
    from ..profile import Profile

LABEL_RE = re.compile(r"^(\d{4}-\d{2}-\d{2})(-(\d{1,3}))?$")
SEED_KEYS = ("base_model", "lora_rank", "num_train_epochs", "learning_rate",
             "per_device_train_batch_size", "gradient_accumulation_steps", "max_seq_length")
DATASET_FILE = "unsloth_dataset.jsonl"
EVAL_FILE = "eval_dataset.jsonl"


def validate_label(label: str) -> str:
    """A dataset/run label: YYYY-MM-DD or YYYY-MM-DD-N. Anything else (paths!) is refused."""
    m = LABEL_RE.match(label or "") if isinstance(label, str) else None
    if not m:
        raise ValidationFailed(f"invalid dataset/run label {label!r}",
                               hint="YYYY-MM-DD or YYYY-MM-DD-N, e.g. 2025-10-24 or 2025-10-24-2")
    validate_date(m.group(1))
    return label


def claim_dir(parent: Path, base: str) -> tuple[str, Path]:
    """mkdir parent/base, else base-2, base-3…: the first free name, claimed atomically."""
    validate_label(base)
    parent.mkdir(parents=True, exist_ok=True)
    for n in range(1, 1000):
        label = base if n == 1 else f"{base}-{n}"
        try:
            (parent / label).mkdir()
        except FileExistsError:
            continue
        return label, parent / label
    raise ValidationFailed(f"{parent}: no free run name for {base} (999 used)")


def dataset_dir(profile: Profile, label: str) -> Path:
    path = profile.home.adapters / validate_label(label)
    if not (path / f"{label}.jsonl").is_file():
        raise NotFound(f"no dataset {label} ({path / (label + '.jsonl')} missing)",
                       hint="mh adapter list, or build one: mh adapter build")
    return path


def dataset_labels(profile: Profile) -> list[str]:
    root = profile.home.adapters
    if not root.is_dir():
        return []
    return sorted((p.name for p in root.iterdir() if p.is_dir() and LABEL_RE.match(p.name)
                   and (p / f"{p.name}.jsonl").is_file()), key=_label_key)


def label_key(label: str) -> tuple[str, int]:
    """Sort key of a LABEL/RUN name: by date, then the N-th of that day (…-10 after …-9)."""
    m = LABEL_RE.match(label)
    return (m.group(1), int(m.group(3) or 1)) if m else (label, 0)


_label_key = label_key   # the old private name, kept for existing callers


def read_pairs(path: Path) -> list[dict[str, Any]]:
    rows = []
    for no, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if line.strip():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise ValidationFailed(f"{path}:{no}: invalid JSON: {exc.msg}") from None
    return rows


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> None:
    from ..storage import atomic_write_text

    atomic_write_text(path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))


# ------------------------------------------------------------------------------ persona naming
def persona_name(profile: Profile) -> str:
    """The person's own name, or "persona" while core.json still holds the shipped template's
    (an untouched template must not name files and models "alex-…": issue 21)."""
    from .persona_template import person_name

    return person_name(profile) or "persona"


def persona_slug(profile: Profile) -> str:
    return slugify(persona_name(profile), 24)


def model_name(profile: Profile, label: str) -> str:
    """The Ollama name of an activated adapter: <persona>-<label>, e.g. greg-2025-10-24."""
    return f"{persona_slug(profile)}-{validate_label(label)}"


def persona_system_prompt(profile: Profile) -> str:
    """The system prompt used in training and set on the Ollama model: they must be the same, so
    both come from persona_template (only what the person wrote, never the template's name)."""
    from .persona_template import training_system_prompt

    return training_system_prompt(profile)


# ----------------------------------------------------------------------------------------- runs
@dataclass(frozen=True)
class Run:
    label: str
    dir: Path

    @property
    def summary_path(self) -> Path:
        return self.dir / "run-summary.json"

    @property
    def progress_path(self) -> Path:
        return self.dir / "progress.ndjson"

    @property
    def log_path(self) -> Path:
        return self.dir / "trainer.log"

    @property
    def lock_path(self) -> Path:
        return self.dir / "run.lock"

    def summary(self) -> dict[str, Any]:
        return read_json_or(self.summary_path, {})

    def update(self, **fields: Any) -> dict[str, Any]:
        """Merge fields into run-summary.json (atomic; only the run's supervisor writes it)."""
        data = self.summary()
        data.update(fields)
        atomic_write_json(self.summary_path, data)
        return data

    @property
    def dataset(self) -> str:
        return self.summary().get("date") or self.label

    def gguf(self) -> Path | None:
        found = sorted(self.dir.glob("*.gguf"))
        return found[0] if found else None


def open_run(profile: Profile, label: str) -> Run:
    path = profile.home.runs / validate_label(label)
    if not path.is_dir():
        raise NotFound(f"no training run {label} ({path} missing)", hint="mh train status")
    return Run(label, path)


def list_runs(profile: Profile, dataset: str | None = None) -> list[Run]:
    """Every run folder, ordered by date then run number (…-9 before …-10)."""
    root = profile.home.runs
    if not root.is_dir():
        return []
    runs = [Run(p.name, p) for p in root.iterdir() if p.is_dir() and LABEL_RE.match(p.name)]
    runs.sort(key=lambda r: _label_key(r.label))
    return [r for r in runs if dataset is None or r.dataset == dataset]


# ----------------------------------------------------------------------------------- run status
START_GRACE_S = 60.0  # a spawned supervisor may take this long to take its lock
PROGRESS_TAIL = 65536  # bytes of progress.ndjson read for the status (the file can be large)


@dataclass(frozen=True)
class RunStatus:
    """What every face shows for one run (CLI `mh train status`, the TUI, the reaper).

    `status` is the summary's, except that a run recorded as starting/running whose supervisor
    holds no lock is "lost" (kill -9, reboot), and an unreadable summary is "corrupt"."""
    run: str
    dir: Path
    date: str | None
    mode: str
    status: str
    alive: bool
    stage: str | None = None
    pct: float | None = None
    loss: float | None = None
    message: str | None = None
    error: str | None = None
    summary: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def order(self) -> tuple[str, int]:
        return _label_key(self.run)

    def stage_text(self) -> str | None:
        """'TRAINING 45%', 'COMPLETE', 'GGUF_MERGE failed' (the TUI status bar), None if none."""
        if not self.stage:
            return None
        if self.status in ("failed", "lost", "corrupt"):
            return f"{self.stage} {self.status}"
        if isinstance(self.pct, (int, float)) and self.stage != "COMPLETE":
            return f"{self.stage} {int(self.pct)}%"
        return self.stage

    def to_dict(self) -> dict[str, Any]:
        """The `mh train status --json` row: the summary plus the derived fields."""
        return {**self.summary, "run": self.run, "status": self.status, "alive": self.alive,
                "stage": self.stage, "pct": self.pct, "loss": self.loss, "message": self.message,
                "dir": str(self.dir), **({"error": self.error} if self.error else {})}


def progress_tail(path: Path, tail_bytes: int = PROGRESS_TAIL) -> list[dict[str, Any]]:
    """The complete progress lines in the last `tail_bytes` of progress.ndjson (torn lines and
    junk skipped, as trainer.progress.read_progress does for the whole file)."""
    try:
        with path.open("rb") as fh:
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            fh.seek(max(0, size - tail_bytes))
            data = fh.read()
    except OSError:
        return []
    lines = data.splitlines()
    if size > tail_bytes and lines:
        lines = lines[1:]  # the first line is probably cut
    out = []
    for line in lines:
        try:
            item = json.loads(line)
        except ValueError:
            continue
        if isinstance(item, dict) and "stage" in item:
            out.append(item)
    return out


def run_status(run: Run, *, child_alive: bool | None = None) -> RunStatus:
    """The status of one run. `child_alive`: the caller's own knowledge of the supervisor
    process it spawned (a fresh one may not hold its lock yet)."""
    from ..errors import CorruptFile
    from ..storage import holder_pid

    try:
        summary = run.summary()
        corrupt = None
    except CorruptFile as exc:
        summary, corrupt = {}, exc.reason
    if not isinstance(summary, dict):
        summary, corrupt = {}, "run-summary.json is not a JSON object"
    lines = progress_tail(run.progress_path)
    alive = holder_pid(run.lock_path) is not None
    status = str(summary.get("status") or "unknown")
    if not alive and status == "starting":  # spawned, lock not taken yet
        if child_alive is not None:
            alive = child_alive
        else:
            try:
                alive = time.time() - run.summary_path.stat().st_mtime < START_GRACE_S
            except FileNotFoundError:
                alive = False
    if status in ("starting", "running") and not alive:
        status = "lost"
    if corrupt:
        status = "corrupt"
    last = lines[-1] if lines else {}
    loss = next((ln.get("loss") for ln in reversed(lines) if ln.get("loss") is not None), None)
    date = summary.get("date") if isinstance(summary.get("date"), str) else None
    return RunStatus(run=run.label, dir=run.dir, date=date,
                     mode=str(summary.get("mode") or "local"), status=status, alive=alive,
                     stage=last.get("stage"), pct=last.get("pct"), loss=loss,
                     message=last.get("message"),
                     error=corrupt and f"{run.summary_path}: corrupt JSON: {corrupt}"
                     or (summary.get("error") if isinstance(summary.get("error"), str) else None),
                     summary=summary)


def run_statuses(profile: Profile, dataset: str | None = None, *,
                 newest_first: bool = False) -> list[RunStatus]:
    """Every run's status, ordered by date then run number (…-9 before …-10)."""
    rows = [run_status(r) for r in list_runs(profile, dataset)]
    return rows[::-1] if newest_first else rows


def latest_run_status(profile: Profile) -> RunStatus | None:
    """The newest run (by date and number), or None when there is none."""
    found = list_runs(profile)
    return run_status(found[-1]) if found else None


def trainer_config(profile: Profile, dataset_label: str, base_model: str | None = None,
                   mode: str = "local") -> dict[str, Any]:
    """config.json for the trainer: the seed's keys from etc/training.json, plus ours."""
    training = profile.config.get("training")
    raw = training.model_dump(mode="json")
    cfg = {k: raw[k] for k in SEED_KEYS}
    extra = raw.get("trainer") if isinstance(raw.get("trainer"), dict) else {}
    cfg.update(extra)  # any TrainerConfig key, e.g. lora_alpha, max_steps, eval thresholds
    if base_model:
        cfg["base_model"] = base_model
    local = Path(str(cfg["base_model"])).expanduser()
    if not local.is_absolute() and (profile.root / local).exists():
        cfg["base_model"] = str((profile.root / local).resolve())  # the trainer runs elsewhere
    cfg.update({"gguf_name": persona_slug(profile), "date": dataset_label, "mode": mode,
                "system_prompt": persona_system_prompt(profile)})
    return cfg


def create_run(profile: Profile, dataset_label: str, *, base_model: str | None = None,
               mode: str = "local") -> Run:
    """Claim metahuman-runs/<LABEL>[-N]/ and write its inputs; never touches an existing run."""
    src = dataset_dir(profile, dataset_label)
    pairs = read_pairs(src / f"{dataset_label}.jsonl")
    cleaned = [(_clean(p), (p.get("meta") or {}).get("split") == "heldout") for p in pairs]
    train: list[dict[str, Any]] = [p for p, heldout in cleaned if p and not heldout]
    held: list[dict[str, Any]] = [p for p, heldout in cleaned if p and heldout]
    if not train:
        raise ValidationFailed(f"{src}: dataset {dataset_label} has no training pairs")
    label, path = claim_dir(profile.home.runs, dataset_label)
    run = Run(label, path)
    try:
        write_jsonl(path / DATASET_FILE, train)
        if held:
            write_jsonl(path / EVAL_FILE, held)
        cfg = trainer_config(profile, dataset_label, base_model, mode)
        atomic_write_json(path / "config.json", cfg)
        run.update(date=dataset_label, run=label, mode=mode, status="created",
                   samples_used=len(train), heldout=sum(1 for _, h in cleaned if h), base_model=cfg["base_model"],
                   created_at=clock.iso(), training_success=None)
    except BaseException:
        shutil.rmtree(path, ignore_errors=True)
        raise
    return run


def _clean(pair: dict[str, Any]) -> dict[str, str] | None:
    """The seed's jq step: keep {instruction, input, output}, drop lines without them."""
    if not pair.get("instruction") or not pair.get("output"):
        return None
    return {"instruction": pair["instruction"], "input": pair.get("input") or "",
            "output": pair["output"]}


def _link_or_copy(src: Path, dst: Path) -> None:
    if dst.exists():
        raise ValidationFailed(f"{dst} already exists; published artifacts are never overwritten")
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def publish(profile: Profile, run: Run) -> dict[str, str]:
    """Hard-link the run's adapter, GGUF and eval.json into out/adapters/<LABEL>/."""
    dest = dataset_dir(profile, run.dataset)
    out: dict[str, str] = {}
    adapter = run.dir / "adapter"
    if (adapter / "adapter_model.safetensors").is_file():
        (dest / "adapter").mkdir(exist_ok=True)
        for name in ("adapter_model.safetensors", "adapter_config.json"):
            if (adapter / name).is_file():
                _link_or_copy(adapter / name, dest / "adapter" / name)
        out["adapter"] = str(dest / "adapter")
    gguf = run.gguf()
    if gguf:
        _link_or_copy(gguf, dest / gguf.name)
        out["gguf"] = str(dest / gguf.name)
    atomic_write_json(dest / "run.json", {"run": run.label, "publishedAt": clock.iso(), **out})
    return out


def published_run(profile: Profile, label: str) -> Run | None:
    """The run whose artifacts sit in out/adapters/<label>/, if any."""
    info = read_json_or(dataset_dir(profile, label) / "run.json", {})
    run = info.get("run")
    if isinstance(run, str) and LABEL_RE.match(run) and (profile.home.runs / run).is_dir():
        return Run(run, profile.home.runs / run)
    return None


def published_gguf(profile: Profile, label: str) -> Path | None:
    found = sorted(dataset_dir(profile, label).glob("*.gguf"))
    return found[0] if found else None
