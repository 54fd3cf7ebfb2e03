"""Config: comments accepted, unknown keys kept, errors name file and field, reload on change."""

import json
import os
import time

import pytest
from hypothesis import given, strategies as st

from metahuman_core import jsonc
from metahuman_core.config import ConfigStore
from metahuman_core.errors import ConfigError, ValidationFailed

SEED_BOREDOM = """{
  "level": "custom",
  "intervals": {
    "custom": 120  // Reflect every 2 minutes
  }
}"""


def test_seed_example_with_comment_is_accepted(profile):
    profile.home.config_file("boredom").write_text(SEED_BOREDOM)
    cfg = profile.config.get("boredom")
    assert cfg.level == "custom" and cfg.interval_seconds() == 120


def test_comment_markers_inside_strings_survive():
    assert jsonc.loads('{"url": "http://x//y", /* c */ "a": "/*no*/"}') == \
        {"url": "http://x//y", "a": "/*no*/"}


@given(st.dictionaries(st.text(max_size=10), st.one_of(st.text(max_size=20), st.integers(), st.booleans())))
def test_jsonc_roundtrips_plain_json(data):
    assert jsonc.loads(json.dumps(data)) == data


def test_unknown_keys_survive_set(profile):
    path = profile.home.config_file("sleep")
    raw = json.loads(path.read_text())
    raw["myOwnKey"] = {"keep": True}
    path.write_text(json.dumps(raw))
    profile.config.set_value("sleep.minIdleMins", 30)
    after = json.loads(path.read_text())
    assert after["myOwnKey"] == {"keep": True} and after["minIdleMins"] == 30


def test_invalid_value_names_file_and_field_and_changes_nothing(profile):
    path = profile.home.config_file("sleep")
    before = path.read_bytes()
    with pytest.raises(ValidationFailed) as exc:
        profile.config.set_value("sleep.window.start", "25:99")
    assert "sleep.json" in str(exc.value) and "window.start" in str(exc.value)
    assert path.read_bytes() == before


def test_invalid_file_reports_line(profile):
    profile.home.config_file("agent").write_text('{"backend": "ollama",\n "model": }')
    with pytest.raises(ConfigError, match=r"agent.json: invalid JSON at line 2"):
        profile.config.get("agent")


def test_reload_on_change(profile):
    assert profile.config.get("boredom").level == "off"
    path = profile.home.config_file("boredom")
    text = path.read_text().replace('"level": "off"', '"level": "high"')
    path.write_text(text)
    os.utime(path, ns=(time.time_ns(), time.time_ns() + 10_000_000))
    assert profile.config.get("boredom").level == "high"
    assert profile.config.get("boredom").interval_seconds() == 60


def test_unknown_config_name(profile):
    with pytest.raises(ValidationFailed, match="unknown config"):
        profile.config.get_value("nope.x")


def test_cli_config_set_invalid_exit_2_file_identical(mh, home):
    path = home / "etc" / "boredom.json"
    before = path.read_bytes()
    r = mh("config", "set", "boredom.intervals.custom", "0")
    assert r.returncode == 2, r.stderr
    assert "boredom.json" in r.stderr and "intervals" in r.stderr
    assert path.read_bytes() == before
    r = mh("config", "set", "boredom.level", "custom")
    assert r.returncode == 0, r.stderr
    assert mh("config", "get", "boredom.level").stdout.strip() == "custom"
    assert "config_changed" in mh("audit", "--event", "config_changed").stdout


def test_set_refuses_unknown_keys_but_not_free_form_maps(profile):
    path = profile.home.config_file("boredom")
    before = path.read_bytes()
    with pytest.raises(ValidationFailed, match=r"boredom.json: unknown field 'levle'"):
        profile.config.set_value("boredom.levle", "high")
    with pytest.raises(ValidationFailed, match=r"unknown field 'remote.gpuType'"):
        profile.config.set_value("training.remote.gpuType", "A40")
    assert path.read_bytes() == before
    profile.config.set_value("boredom.intervals.mine", 30)         # intervals: any level name
    profile.config.set_value("training.trainer.threads", 2)        # passed through to the trainer
    raw = json.loads(profile.home.config_file("sleep").read_text())
    raw["myOwnKey"] = 1
    profile.home.config_file("sleep").write_text(json.dumps(raw))
    profile.config.set_value("sleep.myOwnKey", 2)                   # already in the file: yours


def test_seed_example_keeps_the_builtin_levels(profile):
    profile.home.config_file("boredom").write_text(SEED_BOREDOM)
    cfg = profile.config.get("boredom")
    assert cfg.intervals["custom"] == 120 and cfg.intervals["high"] == 60
    profile.config.set_value("boredom.level", "high")
    assert profile.config.get("boredom").interval_seconds() == 60


def test_cli_config_qa_values(mh, home):
    r = mh("config", "set", "boredom.intervals.custom", "-1")       # -1 = off, not an option
    assert r.returncode == 0, r.stderr
    assert json.loads(mh("config", "show", "boredom", "--json").stdout)["intervals"]["custom"] == -1
    before = {p.name: p.read_bytes() for p in (home / "etc").glob("*.json")}
    for key, value in (("boredom.intervals.high", "99999999999999999999999"),
                       ("agent.model", ""), ("agent.model", "two words"), ("boredom.nope", "3")):
        r = mh("config", "set", key, value)
        assert r.returncode == 2 and "Traceback" not in r.stderr, (key, r.stderr)
    assert mh("model", "use", "").returncode == 2
    assert {p.name: p.read_bytes() for p in (home / "etc").glob("*.json")} == before
