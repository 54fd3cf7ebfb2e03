"""Activation and instant rollback of a trained persona model (DESIGN §10.7).

activate(): refuses unless the evaluation passed (`force=True` overrides and is audited as a
warning), uploads the merged GGUF to Ollama as a blob and creates `<persona>-<DATE>` with the chat
template the model was trained with and the same persona system prompt, then writes
persona/overrides/active-adapter.json. metahuman_core.active_model reads that file at every LLM
call, so deactivate() (or a plain `rm` of the file, the seed's emergency control) falls back to
the base model at the next call. The original migrated and deleted this file, so its documented
rollback never worked (original.md §1.2 ⚠).

Activation also writes out/adapters/<DATE>/Modelfile (FROM the GGUF's absolute path, TEMPLATE,
SYSTEM, stops), so the seed's `ollama create greg-<DATE> -f out/adapters/<DATE>/Modelfile` works
by hand.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .. import clock, events
from ..errors import MHError
from ..storage import atomic_write_json, atomic_write_text, read_json_or
from . import gates, runs

CHATML_OLLAMA = """{{- if .Messages }}
{{- if .System }}<|im_start|>system
{{ .System }}<|im_end|>
{{ end }}
{{- range $i, $_ := .Messages }}
{{- $last := eq (len (slice $.Messages $i)) 1 -}}
<|im_start|>{{ .Role }}
{{ .Content }}{{ if not $last }}<|im_end|>
{{ end }}
{{- if and (ne .Role "assistant") $last }}<|im_end|>
<|im_start|>assistant
{{ end }}
{{- end }}
{{- else }}
{{- if .System }}<|im_start|>system
{{ .System }}<|im_end|>
{{ end }}{{ if .Prompt }}<|im_start|>user
{{ .Prompt }}<|im_end|>
{{ end }}<|im_start|>assistant
{{ end }}{{ .Response }}{{ if .Response }}<|im_end|>{{ end }}"""

LLAMA3_OLLAMA = """{{- if .System }}<|start_header_id|>system<|end_header_id|>

{{ .System }}<|eot_id|>
{{- end }}
{{- range .Messages }}<|start_header_id|>{{ .Role }}<|end_header_id|>

{{ .Content }}<|eot_id|>
{{- end }}<|start_header_id|>assistant<|end_header_id|>

"""

FAMILIES = {
    "chatml": (CHATML_OLLAMA, ["<|im_end|>", "<|im_start|>"]),
    "llama3": (LLAMA3_OLLAMA, ["<|eot_id|>", "<|start_header_id|>"]),
}


def template_family(gguf_path: Path) -> str:
    """Which prompt format the GGUF's embedded chat template speaks (what training used).
    Read from the header directly: activation must not need the train extra's `gguf` package."""
    from ..gguf_header import chat_template

    text = chat_template(gguf_path)
    if "<|start_header_id|>" in text:
        return "llama3"
    if "<|im_start|>" in text or not text:
        return "chatml"  # no template: the trainer fell back to ChatML
    raise MHError(f"{gguf_path}: unsupported chat template (neither ChatML nor Llama 3)",
                  hint="activate it by hand with a Modelfile TEMPLATE")


def _modelfile_string(text: str, what: str) -> str:
    """A Modelfile triple-quoted value. Ollama's parser has no escapes: a value holding three
    double quotes would end early, so it is refused instead of silently cut."""
    if '"""' in text:
        raise MHError(f'the {what} contains three double quotes ("""), which a Modelfile cannot '
                      "hold", hint="edit it out (mh persona show) and activate again")
    return f'"""{text}"""'


def modelfile_text(name: str, gguf_path: Path, template: str, system: str,
                   stops: list[str], where: Path | None = None) -> str:
    """The Modelfile equivalent of the API call, for the seed's manual recovery path:
    `ollama create <name> -f out/adapters/<DATE>/Modelfile`."""
    path = str(gguf_path.resolve())
    if '"' in path or "\n" in path:
        raise MHError(f"{path}: a Modelfile cannot name a path holding quotes or line breaks",
                      hint="rename the folder")
    lines = [f"# {name}: written by `mh adapter activate`; load it by hand with",
             f"#   ollama create {name} -f {where or '<this file>'}",
             f'FROM "{path}"' if " " in path else f"FROM {path}",
             f"TEMPLATE {_modelfile_string(template, 'chat template')}",
             f"SYSTEM {_modelfile_string(system, 'persona system prompt')}"]
    lines += [f'PARAMETER stop "{stop}"' for stop in stops]
    return "\n".join(lines) + "\n"


def read_active(profile) -> dict[str, Any] | None:
    data = read_json_or(profile.home.active_adapter, None)
    return data if isinstance(data, dict) else None


def _system_prompt(profile, label: str) -> str:
    run = runs.published_run(profile, label)
    if run is not None:
        cfg = read_json_or(run.dir / "config.json", {})
        if isinstance(cfg.get("system_prompt"), str) and cfg["system_prompt"].strip():
            return cfg["system_prompt"]
    return runs.persona_system_prompt(profile)


def activate(profile, label: str, *, force: bool = False, actor: str = "cli",
             on_progress=None) -> dict[str, Any]:
    from ..ollama_models import create_model_from_gguf

    runs.validate_label(label)
    state = gates.dataset_state(profile, label)
    if not state["gguf"]:
        raise gates.GateError(f"dataset {label} has no merged GGUF to activate",
                              hint=f"mh train local --date {label}")
    forced_over = None
    try:
        ev = gates.require_eval_passed(profile, label)
    except gates.GateError as exc:
        if not force:
            raise
        forced_over, ev = exc.message, state["eval"] or {}
        profile.audit.append(events.LORA_ACTIVATION_FORCED, level="warn", category="decision",
                             actor=actor, details={"date": label, "overridden": forced_over})
    gguf_path = Path(state["gguf"])
    family = template_family(gguf_path)
    template, stops = FAMILIES[family]
    name = runs.model_name(profile, label)
    system = _system_prompt(profile, label)
    # Written first: if Ollama refuses or is away, the seed's manual path still works.
    modelfile = profile.home.adapters / label / "Modelfile"
    atomic_write_text(modelfile, modelfile_text(name, gguf_path, template, system, stops,
                                                modelfile))
    try:
        created = create_model_from_gguf(profile, name, gguf_path, template=template,
                                         system=system, parameters={"stop": stops},
                                         on_progress=on_progress)
    except MHError as exc:  # Ollama away or refusing: the hand path is ready, say so
        manual = f"or by hand: ollama create {name} -f {modelfile}"
        exc.hint = f"{exc.hint}; {manual}" if exc.hint else manual
        raise
    run = runs.published_run(profile, label)
    record = {"model": name, "date": label, "run": run.label if run else None,
              "gguf": str(gguf_path), "modelfile": str(modelfile),
              "digest": created.get("digest"),
              "baseModel": (run.summary().get("base_model") if run else None),
              "host": created.get("host"), "template": family, "systemPrompt": system,
              "activatedAt": clock.iso(), "activatedBy": actor, "status": "loaded",
              "trainingMethod": (run.summary().get("mode") if run else None) or "local",
              "evalPassed": bool(ev.get("passed")), "forced": forced_over is not None,
              "eval": {k: ev.get(k) for k in ("base_loss", "adapter_loss", "llr_gain")}}
    atomic_write_json(profile.home.active_adapter, record)
    profile.audit.append(events.LORA_ADAPTER_ACTIVATED, level="warn" if forced_over else "info",
                         category="action", actor=actor, details={
                             "date": label, "model": name, "forced": forced_over is not None,
                             "digest": created.get("digest"), "uploaded": created.get("uploaded")})
    return record


def deactivate(profile, *, actor: str = "cli") -> dict[str, Any] | None:
    """Remove active-adapter.json; returns what was active (None if nothing was)."""
    path = profile.home.active_adapter
    previous = read_active(profile)
    try:
        path.unlink()
    except FileNotFoundError:
        return None
    base = profile.config.get("agent").model
    profile.audit.append(events.LORA_ADAPTER_DEACTIVATED, category="action", actor=actor, details={
        "model": (previous or {}).get("model"), "date": (previous or {}).get("date"),
        "fallback": base})
    return previous or {"model": None, "date": None}
