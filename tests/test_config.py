"""Config: comments accepted, unknown keys kept, errors name file and field, reload on change."""

import json
import os
import time

import pytest
from hypothesis import given, strategies as st

from metahuman_core import jsonc
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


def test_cli_set_descends_into_named_maps_of_models(mh, home):
    """`mcp.clients` is a map of client name -> settings: the name is a key, not a field, and
    the settings' own fields are still checked (issue 22's per-client trustCap)."""
    path = home / "etc" / "mcp.json"
    r = mh("config", "set", "mcp.clients.cursor.trustCap", "observe")
    assert r.returncode == 0, r.stderr
    assert mh("config", "get", "mcp.clients.cursor.trustCap").stdout.strip() == "observe"
    r = mh("config", "set", "mcp.clients.zed.allowedTools", '["memory_search"]')
    assert r.returncode == 0, r.stderr
    shown = json.loads(mh("config", "show", "mcp", "--json").stdout)["clients"]
    assert shown["cursor"]["trustCap"] == "observe"
    assert shown["zed"]["allowedTools"] == ["memory_search"]
    before = path.read_bytes()
    for key, value, needle in (
            ("mcp.clients.cursor.trustcap", "observe", "unknown field 'clients.cursor.trustcap'"),
            ("mcp.clients.cursor.trustCap", "bogus", "unknown trust level 'bogus'"),
            ("mcp.clients.new.allowedTools", '["nope"]', "unknown skill 'nope'")):
        r = mh("config", "set", key, value)
        assert r.returncode == 2 and needle in r.stderr and "Traceback" not in r.stderr, (
            key, r.stderr)
    assert "trustCap" in mh("config", "set", "mcp.clients.cursor.trustcap", "x").stderr  # hint
    assert path.read_bytes() == before


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


# ------------------------------------------------------------------ edits keep the file's text
def test_cli_set_keeps_the_seed_comment(mh, home):
    path = home / "etc" / "boredom.json"
    path.write_text(SEED_BOREDOM.replace('"custom"', '"high"', 1))
    r = mh("config", "set", "boredom.level", "custom")
    assert r.returncode == 0, r.stderr
    assert path.read_text() == SEED_BOREDOM
    r = mh("boredom", "interval", "custom", "90")
    assert r.returncode == 0, r.stderr
    assert path.read_text() == SEED_BOREDOM.replace("120", "90")
    r = mh("boredom", "interval", "fast", "30")                       # a new level: a new member
    assert r.returncode == 0, r.stderr
    assert path.read_text() == SEED_BOREDOM.replace(
        "120  // Reflect every 2 minutes",
        '90,  // Reflect every 2 minutes\n    "fast": 30')
    assert json.loads(mh("boredom", "--json").stdout)["intervals"]["fast"] == 30


def test_template_comment_survives_set_and_update(profile):
    path = profile.home.config_file("boredom")
    before = path.read_text()
    assert "//" in before
    profile.config.set_value("boredom.level", "high")
    assert path.read_text() == before.replace('"level": "off"', '"level": "high"')
    profile.config.update("boredom", {"level": "low"})
    assert path.read_text() == before.replace('"level": "off"', '"level": "low"')


def test_new_nested_key_is_inserted_readably(profile):
    path = profile.home.config_file("training")
    path.write_text('{\n    "lora_rank": 8,  // small\n    "trainer": {},\n}\n')
    profile.config.set_value("training.trainer.threads", 2)
    profile.config.set_value("training.remote.sshUser", "me")        # "remote" is not there yet
    assert path.read_text() == ('{\n    "lora_rank": 8,  // small\n'
                                '    "trainer": {\n        "threads": 2\n    },\n'
                                '    "remote": {\n        "sshUser": "me"\n    },\n}\n')
    assert profile.config.get("training").remote.sshUser == "me"


def test_values_with_comment_markers_quotes_and_unicode(profile):
    path = profile.home.config_file("agent")
    path.write_text('{\n  // the host\n  "host": "http://a//b/*c*/\\"q\\"",  /* keep, me */\n'
                    '  "model": "qwen3:1.7b"\n}\n')
    profile.config.set_value("agent.host", 'http://ü//x*/"y"')
    text = path.read_text()
    assert '"host": "http://ü//x*/\\"y\\"",  /* keep, me */' in text and "// the host" in text
    assert profile.config.get("agent").host == 'http://ü//x*/"y"'
    assert profile.config.get("agent").model == "qwen3:1.7b"


def test_refused_edit_leaves_commented_file_identical(profile):
    path = profile.home.config_file("boredom")
    path.write_text(SEED_BOREDOM)
    before = path.read_bytes()
    with pytest.raises(ValidationFailed):
        profile.config.set_value("boredom.intervals.custom", 0)
    assert path.read_bytes() == before


def test_file_without_structure_is_written_whole(profile):
    path = profile.home.config_file("sleep")
    path.write_text("  \n")
    profile.config.set_value("sleep.minIdleMins", 5)
    assert json.loads(path.read_text()) == {"minIdleMins": 5}


def test_one_line_file_stays_one_line():
    assert jsonc.rewrite('{"a": {}, "b": 1,}', {"a": {"x": [1]}, "b": 1, "c": None}) == \
        '{"a": {"x": [1]}, "b": 1, "c": null,}'


# hypothesis: random objects, random indentation, comments between every token
_KEYS = st.text(alphabet=st.sampled_from('ab"\\/*é😀 ,:{}\n'), max_size=6)
_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6),
                     st.floats(allow_nan=False, allow_infinity=False), _KEYS)
_OBJECTS = st.recursive(st.dictionaries(_KEYS, _SCALARS, max_size=4),
                        lambda inner: st.dictionaries(_KEYS, st.one_of(_SCALARS, inner,
                                                                       st.lists(_SCALARS, max_size=3)),
                                                      max_size=4), max_leaves=12)


def _render(value, rnd, indent, depth, comments):
    def gap():
        if rnd.random() < 0.3:
            n = len(comments)
            c = rnd.choice([f'// c{n} "odd {{ quote, */\n', f'/* c{n} // x, "y" */ '])
            comments.append(c.strip())
            return " " + c + ((indent or "") * (depth + 1) if c.endswith("\n") else "")
        return ""
    nl = "\n" if indent is not None else ""
    pad = lambda d: (indent or "") * d                                # noqa: E731
    if isinstance(value, dict):
        parts = [f"{nl}{pad(depth + 1)}{gap()}{json.dumps(k)}{gap()}:{gap()} "
                 f"{_render(v, rnd, indent, depth + 1, comments)}{gap()}" for k, v in value.items()]
        tail = "," if parts and rnd.random() < 0.3 else ""
        return "{" + gap() + ",".join(parts) + tail + (nl + pad(depth) if parts else "") + "}"
    return json.dumps(value, ensure_ascii=rnd.random() < 0.5)


def _scalar_paths(value, path=()):
    for key, child in value.items():
        if isinstance(child, dict):
            yield from _scalar_paths(child, (*path, key))
        elif not isinstance(child, list):
            yield (*path, key)


def _object_paths(value, path=()):
    yield path
    for key, child in value.items():
        if isinstance(child, dict):
            yield from _object_paths(child, (*path, key))


def _at(value, path):
    for key in path:
        value = value[key]
    return value


_STYLE = st.sampled_from([None, "", " ", "  ", "    ", "\t"])


@given(_OBJECTS, _STYLE, st.randoms(use_true_random=False), st.data())
def test_property_set_existing_scalar_keeps_everything_else(data, indent, rnd, draw):
    comments: list[str] = []
    text = _render(data, rnd, indent, 0, comments)
    assert jsonc.same(jsonc.loads(text), data)
    paths = list(_scalar_paths(data))
    if not paths:
        return
    path = draw.draw(st.sampled_from(paths))
    new = draw.draw(_SCALARS)
    start, end = jsonc.find_value_span(text, path)
    assert jsonc.same(json.loads(text[start:end]), _at(data, path))
    expected = json.loads(json.dumps(data))
    _at(expected, path[:-1])[path[-1]] = new
    out = jsonc.rewrite(text, expected)
    assert jsonc.same(jsonc.loads(out), expected)
    assert all(c in out for c in comments)
    if not jsonc.same(_at(data, path), new):
        assert out == text[:start] + json.dumps(new, ensure_ascii=False) + text[end:]


@given(_OBJECTS, _STYLE, st.randoms(use_true_random=False), st.data())
def test_property_insert_member_keeps_everything_else(data, indent, rnd, draw):
    comments: list[str] = []
    text = _render(data, rnd, indent, 0, comments)
    where = draw.draw(st.sampled_from(list(_object_paths(data))))
    key = draw.draw(_KEYS.filter(lambda k: k not in _at(data, where)))
    new = draw.draw(st.one_of(_SCALARS, st.dictionaries(_KEYS, _SCALARS, max_size=2)))
    expected = json.loads(json.dumps(data))
    _at(expected, where)[key] = new
    out = jsonc.rewrite(text, expected)
    assert jsonc.same(jsonc.loads(out), expected)
    assert all(c in out for c in comments)


def test_allowed_tools_may_name_the_servers_own_approval_status_tool(mh, home):
    """`mh mcp` always offers approval_status; a person who lists it beside skills is not wrong,
    so the check accepts it (it stays offered whether listed or not)."""
    r = mh("config", "set", "mcp.clients.zed.allowedTools", '["memory_search", "approval_status"]')
    assert r.returncode == 0, r.stderr
    shown = json.loads(mh("config", "show", "mcp", "--json").stdout)["clients"]
    assert shown["zed"]["allowedTools"] == ["memory_search", "approval_status"]
    r = mh("config", "set", "mcp.allowedTools", '["approval_stats"]')
    assert r.returncode == 2 and "unknown skill 'approval_stats'" in r.stderr
    assert "approval_status" in r.stderr  # the valid names include it
