"""Activation without the train extra (issue 17): the GGUF header is read without the `gguf`
package, and out/adapters/<DATE>/Modelfile is written so the seed's manual
`ollama create greg-$DATE -f out/adapters/$DATE/Modelfile` works by hand.
"""

from __future__ import annotations

import json
import struct
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from metahuman_core.errors import ValidationFailed
from metahuman_core.gguf_header import chat_template, read_metadata
from metahuman_core.memory import MemoryStore
from metahuman_core.training.activate import CHATML_OLLAMA, modelfile_text
from tests.fakes.fake_ollama import FakeOllama
from tests.test_install import run_blocked

DATE = "2025-10-19"
CHATML = ("{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n"
          "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")
TRAIN_EXTRA = ["gguf", "torch", "transformers", "peft", "safetensors", "accelerate"]


# ---------------------------------------------------------------- a GGUF written by hand
def _s(text: str, order="<") -> bytes:
    raw = text.encode()
    return struct.pack(order + "Q", len(raw)) + raw


def write_gguf(path: Path, kv: list[tuple[str, int, object]], order="<", version=3) -> Path:
    """GGUF header with key/values (type codes as in the spec) and no tensors."""
    codes = {0: "B", 4: "I", 5: "i", 6: "f", 7: "?", 10: "Q", 11: "q", 12: "d"}
    out = b"GGUF" + struct.pack(order + "IQQ", version, 0, len(kv))
    for key, vtype, value in kv:
        out += _s(key, order) + struct.pack(order + "I", vtype)
        if vtype == 8:
            out += _s(value, order)
        elif vtype == 9:
            itype, items = value
            out += struct.pack(order + "IQ", itype, len(items))
            for item in items:
                out += _s(item, order) if itype == 8 else struct.pack(order + codes[itype], item)
        else:
            out += struct.pack(order + codes[vtype], value)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(out)
    return path


KV = [("general.architecture", 8, "llama"), ("general.alignment", 4, 32),
      ("llama.rope.freq_base", 6, 10000.0), ("general.flag", 7, True),
      ("general.big", 10, 1 << 40), ("general.neg", 11, -5), ("general.ratio", 12, 0.25),
      ("tokenizer.ggml.tokens", 9, (8, ["<|im_start|>", "<|im_end|>", "hé", ""])),
      ("tokenizer.ggml.scores", 9, (6, [0.0, -1.0, -2.0, -3.0])),
      ("tokenizer.chat_template", 8, CHATML)]


def test_header_reader_reads_every_value_type(tmp_path):
    for order in ("<", ">"):
        path = write_gguf(tmp_path / f"m{order == '>'}.gguf", KV, order=order)
        meta = read_metadata(path)
        assert meta["general.architecture"] == "llama" and meta["general.alignment"] == 32
        assert meta["general.flag"] is True and meta["general.big"] == 1 << 40
        assert meta["general.neg"] == -5 and meta["general.ratio"] == 0.25
        assert meta["tokenizer.ggml.tokens"] == ["<|im_start|>", "<|im_end|>", "hé", ""]
        assert meta["tokenizer.ggml.scores"] == [0.0, -1.0, -2.0, -3.0]
        assert chat_template(path) == CHATML
    # asking for one key skips the arrays before it without keeping them
    assert read_metadata(path, {"general.ratio"}) == {"general.ratio": 0.25}
    assert chat_template(write_gguf(tmp_path / "none.gguf", KV[:3])) == ""


def test_header_reader_agrees_with_the_gguf_package(tmp_path):
    gguf = pytest.importorskip("gguf")
    path = tmp_path / "w.gguf"
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_uint32("general.alignment", 32)
    writer.add_float32("llama.rope.freq_base", 10000.0)
    writer.add_token_list(["<|im_start|>", "<|im_end|>", "a", "b"])
    writer.add_chat_template(CHATML)
    writer.add_tensor("t", __import__("numpy").zeros((2, 2), dtype="float32"))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    reader = gguf.GGUFReader(str(path))
    ours = read_metadata(path)
    for name, field in reader.fields.items():
        if name.startswith("GGUF."):
            continue
        theirs = field.contents()
        assert ours[name] == (pytest.approx(theirs) if isinstance(theirs, float) else theirs), name
    assert chat_template(path) == CHATML


def test_damaged_headers_are_clear_errors(tmp_path):
    good = write_gguf(tmp_path / "g.gguf", KV).read_bytes()
    (tmp_path / "t.gguf").write_bytes(good[:len(good) // 2])
    with pytest.raises(ValidationFailed, match="t.gguf: not a valid GGUF header"):
        read_metadata(tmp_path / "t.gguf")
    (tmp_path / "x.gguf").write_bytes(b"GGML" + good[4:])
    with pytest.raises(ValidationFailed, match="no GGUF magic"):
        read_metadata(tmp_path / "x.gguf")
    with pytest.raises(ValidationFailed, match="version 1"):
        read_metadata(write_gguf(tmp_path / "v1.gguf", KV, version=1))


# ---------------------------------------------------------------- Ollama's Modelfile grammar
def parse_modelfile(text: str) -> list[tuple[str, str]]:
    """Ollama's Modelfile rules (its parser/parser.go), in Python: a line starting with '#' is a
    comment; COMMAND, one space, then a value that ends at the first line break where the text so
    far (trimmed) is complete: bare, "quoted" or triple-quoted. No escapes; unprintable
    characters are dropped."""
    def unquote(s):
        if s.startswith('"""'):
            return (s[3:-3], True) if len(s) >= 6 and s.endswith('"""') else ("", False)
        if s.startswith('"'):
            return (s[1:-1], True) if len(s) >= 2 and s.endswith('"') else ("", False)
        return s, True

    out, i, n = [], 0, len(text)
    while i < n:
        if text[i] in " \t\r\n":
            i += 1
            continue
        if text[i] == "#":
            i = text.find("\n", i) + 1 or n
            continue
        j = i
        while j < n and text[j].isalpha():
            j += 1
        assert j < n and text[j] in " \t", f"bad command at {i}"
        name, i = text[i:j].lower(), j + 1
        if name == "parameter":
            j = i
            while text[j].isalnum() or text[j] == "_":
                j += 1
            name, i = text[i:j], j + 1
        buf = ""
        while i < n:
            ch = text[i]
            if ch in "\r\n" and unquote(buf.strip())[1]:
                break
            if ch.isprintable() or ch in " \t\r\n":
                buf += ch
            i += 1
        value, ok = unquote(buf.strip())
        assert ok, f"unterminated value for {name}"
        out.append((name, value))
    return out


def test_modelfile_round_trips_through_ollamas_grammar(tmp_path):
    gguf_path = tmp_path / "my adapters" / "greg.gguf"
    system = 'You are Greg. Say "hi" first.\n  Keep it short.  '
    text = modelfile_text("greg-2025-10-19", gguf_path, CHATML_OLLAMA, system,
                          ["<|im_end|>", "<|im_start|>"])
    cmds = parse_modelfile(text)
    assert cmds == [("from", str(gguf_path.resolve())), ("template", CHATML_OLLAMA),
                    ("system", system), ("stop", "<|im_end|>"), ("stop", "<|im_start|>")]
    with pytest.raises(Exception, match="three double quotes"):
        modelfile_text("g-2025-10-19", gguf_path, CHATML_OLLAMA, 'say """ no', [])


# ---------------------------------------------------------------- activation, train extra absent
T0 = datetime(2025, 10, 1, 8, 0, tzinfo=timezone(timedelta(hours=2)))


def test_activation_works_without_the_train_extra_and_writes_a_modelfile(home, profile, mh):
    profile.persona.set_field("identity.name", "Greg")  # the template persona names nothing
    store = MemoryStore(profile)
    for i in range(12):
        rec = store.prepare(f"Spent the morning on the bench again, part {i}; Biscuit slept.",
                            type="observation", timestamp=T0 + timedelta(hours=i))
        store.write_new(rec, durable=False)
    assert mh("adapter", "build", DATE).returncode == 0
    assert mh("adapter", "approve", DATE).returncode == 0
    out_dir = home / "out" / "adapters" / DATE
    gguf_path = write_gguf(out_dir / f"greg-{DATE}.gguf", KV)
    (out_dir / "eval.json").write_text(json.dumps({"passed": True, "base_loss": 3.0,
                                                   "adapter_loss": 2.0, "llr_gain": 1.0}))
    with FakeOllama() as fake:
        profile.config.set_value("agent.host", fake.url)
        # --force: this test is about the train extra, not the evaluation gate (tested elsewhere)
        r = run_blocked(TRAIN_EXTRA, "adapter", "activate", DATE, "--force", "--json",
                        home=home)
        assert r.returncode == 0, r.stderr
        created = fake.created[-1]
    record = json.loads(r.stdout)
    modelfile = out_dir / "Modelfile"
    assert record["modelfile"] == str(modelfile)
    cmds = dict(parse_modelfile(modelfile.read_text()))
    assert cmds["from"] == str(gguf_path.resolve())
    assert cmds["template"] == created["template"] and "<|im_start|>" in cmds["template"]
    assert cmds["system"] == created["system"] and "Greg" in cmds["system"]
    stops = [v for k, v in parse_modelfile(modelfile.read_text()) if k == "stop"]
    assert stops == created["parameters"]["stop"]
    assert f"ollama create greg-{DATE} -f" in modelfile.read_text()


def test_when_ollama_is_away_the_error_points_at_the_modelfile(home, profile, mh):
    profile.persona.set_field("identity.name", "Greg")  # the template persona names nothing
    store = MemoryStore(profile)
    for i in range(12):
        store.write_new(store.prepare(f"Oiled the plane blade today, step {i}.", type="observation",
                                      timestamp=T0 + timedelta(hours=i)), durable=False)
    assert mh("adapter", "build", DATE).returncode == 0
    assert mh("adapter", "approve", DATE).returncode == 0
    out_dir = home / "out" / "adapters" / DATE
    write_gguf(out_dir / f"greg-{DATE}.gguf", KV)
    with FakeOllama() as fake:
        url = fake.url
    profile.config.set_value("agent.host", url)  # nothing listens there any more
    r = mh("adapter", "activate", DATE, "--force")
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert f"or by hand: ollama create greg-{DATE} -f {out_dir / 'Modelfile'}" in r.stderr
    assert (out_dir / "Modelfile").is_file() and not profile.home.active_adapter.exists()
