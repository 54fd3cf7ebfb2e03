"""The persona trainer: runs on a GPU pod or locally, alone (it never imports metahuman_core).

`python -m trainer --input DIR --output DIR` reads `config.json` + `unsloth_dataset.jsonl`
(+ optional `eval_dataset.jsonl`), trains a LoRA adapter, evaluates it on held-out pairs, merges it
and writes `<name>-<DATE>.gguf` with our own converter. Importing this package is cheap: torch and
transformers are imported only by the modules that need them.
"""

__version__ = "0.1.0"
