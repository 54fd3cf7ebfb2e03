"""Dataset builder, PII scrub, runs directory contract and the approval gates (no torch)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from metahuman_core import events
from metahuman_core.errors import ValidationFailed
from metahuman_core.memory import MemoryStore
from metahuman_core.training import dataset, gates, pii, runs

T0 = datetime(2025, 10, 1, 9, 0, tzinfo=timezone(timedelta(hours=2)))
DATE = "2025-10-19"


def add(profile, content, *, type="observation", hours=0, **kw):
    store = MemoryStore(profile)
    rec = store.prepare(content, type=type, timestamp=T0 + timedelta(hours=hours), **kw)
    return store.write_new(rec, durable=False)[0]


def persona_memories(profile, n=40):
    topics = ["rain", "coffee", "the shop", "music", "my sister", "the garden", "books", "walking",
              "sleep", "cooking", "the harbour", "old tools", "winter", "pine", "varnish", "radio"]
    for i in range(n):
        t = topics[i % len(topics)]
        add(profile, f"Note {i}: spent time on {t}. Biscuit slept by the heater, as usual.",
            hours=i, tags=[t])


def make_personal(profile, name="Greg"):
    """The person edits their persona: a name, a role, one value and one boundary of their own."""
    with profile.persona.editing("core") as core:
        core["identity"].update(name=name, humanName=name, role="Furniture maker")
        core["values"]["core"].append({"value": "patience", "description": "Let the glue set.",
                                       "priority": 4})
        core["values"]["boundaries"] = ["Never sell a chair I would not sit in."]


def build(profile, **kw):
    return dataset.build_dataset(profile, DATE, **kw)


def pairs_of(res):
    return [json.loads(line) for line in open(res.path, encoding="utf-8")]


def audit_events(profile):
    out = []
    for f in sorted(profile.home.audit_dir.glob("*.ndjson")):
        out += [json.loads(line)["event"] for line in f.read_text().splitlines() if line]
    return out


# ------------------------------------------------------------------------------ builder
def test_outputs_are_the_persons_words_and_model_text_is_excluded(profile, fixed_clock):
    make_personal(profile)
    persona_memories(profile, 12)
    add(profile, "A deep machine-written reflection about meaning and time.", type="reflection")
    add(profile, "I dreamt of an endless workshop full of clocks.", type="dream")
    add(profile, "Private: the test results from the clinic came back.",
        metadata={"trainingConsent": False})
    add(profile, 'Me: "Can you remind me to oil the saw tomorrow?"', type="conversation",
        hours=100, response="Sure, I will remind you.")
    add(profile, "Thanks. And the chisels too, they are getting dull.", type="conversation",
        hours=100.1)
    res = build(profile)
    rows = pairs_of(res)
    outputs = [r["output"] for r in rows]
    assert not any("reflection" in o or "dreamt" in o or "clinic" in o for o in outputs)
    assert "Can you remind me to oil the saw tomorrow?" in outputs  # Me: "…" wrapper removed
    follow = next(r for r in rows if r["output"].startswith("Thanks."))
    assert follow["instruction"] == "Sure, I will remind you."  # the twin's reply is the prompt
    assert all(r["output"] != "Sure, I will remind you." for r in rows)  # never the twin's words
    meta = res.metadata
    assert meta["skipped"] == {"model-generated (reflection)": 1, "model-generated (dream)": 1,
                               "no consent": 1}
    assert meta["byKind"]["anchor"] >= 3 and "generated" not in meta["byKind"]
    assert "lora_dataset_built" in audit_events(profile)


def _chat_reply(profile, reply, asked, *, hours, me="Dana", other="Sam"):
    """A reply imported from a chat export (issue 20's importers write exactly this shape)."""
    return add(profile, reply, type="conversation", hours=hours, source="whatsapp:Chat with Sam",
               metadata={"speaker": me, "replyTo": {"speaker": other, "text": asked}})


def test_imported_chat_replies_are_paired_with_the_message_they_answered(profile, fixed_clock):
    _chat_reply(profile, "Honestly chaos, three ambulances at once and cold noodles at 4am.",
                "How was your shift?", hours=1)
    _chat_reply(profile, "Can't, I'm on nights till Sunday. Save me a seat next week though.",
                "Are you coming to the pub on Friday?", hours=2)
    _chat_reply(profile, "Mail me at dana@example.org or ring +44 20 7946 0958 after nine.",
                "What's your email, mine is sam@example.com?", hours=3)
    res = build(profile, remote=False)
    rows = {r["output"]: r for r in pairs_of(res)}
    shift = rows["Honestly chaos, three ambulances at once and cold noodles at 4am."]
    assert shift["instruction"] == "How was your shift?"  # their message → my reply
    assert shift["meta"]["speaker"] == "Dana" and shift["meta"]["prompt"] == "replyTo"
    assert "Sam" not in json.dumps(shift["meta"])  # the other person's name is not kept
    outputs = [r["output"] for r in pairs_of(res)]
    assert not any(o.startswith(("How was your shift", "Are you coming")) for o in outputs)
    assert res.metadata["speaker"] == "Dana" and res.metadata["repliesWithPrompt"] == 3
    # remote runs scrub PII on both sides of the pair
    scrubbed = build(profile, remote=True, force=True)
    text = json.dumps(pairs_of(scrubbed))
    assert "sam@example.com" not in text and "dana@example.org" not in text
    assert "7946" not in text and text.count("[email]") == 2


def test_the_speaker_name_of_imported_chats_names_an_untouched_persona(profile, fixed_clock):
    from metahuman_core.training.run_inputs import prepare

    for i in range(14):
        _chat_reply(profile, f"Reply number {i}: honestly it was a lovely evening, thanks!",
                    f"How was the evening, part {i}?", hours=i)
    res = build(profile)
    gates.approve(profile, res.label)
    cfg = prepare(profile, runs.create_run(profile, res.label))
    assert cfg["system_prompt"].startswith("You are Dana. Speak as Dana")
    make_personal(profile, name="Dana Whitfield")  # a name the person wrote wins
    cfg = prepare(profile, runs.create_run(profile, res.label))
    assert cfg["system_prompt"].startswith("You are Dana Whitfield, Furniture maker.")


def test_downweight_caps_model_generated_share(profile, fixed_clock):
    persona_memories(profile, 20)
    for i in range(20):
        add(profile, f"Reflection {i}: machine thoughts about patience and wood.", type="reflection",
            hours=200 + i)
    profile.config.update("training", {"dataset": {"modelGenerated": "downweight",
                                                   "modelGeneratedMaxShare": 0.2, "anchors": False}})
    res = build(profile)
    kinds = res.metadata["byKind"]
    assert kinds["own"] == 20 and kinds["generated"] == 5  # 5 / 25 = 20 %
    assert res.metadata["generatedCapped"] == 15
    assert all(r["meta"]["split"] == "train" for r in pairs_of(res) if r["meta"]["kind"] == "generated")


def test_dedupe_identity_pairs_and_short_texts(profile, fixed_clock):
    add(profile, "The varnish needs another coat before Friday.", hours=1)
    add(profile, "the varnish needs another coat, before Friday!", hours=2)
    add(profile, "ok", hours=3)
    profile.config.update("training", {"dataset": {"anchors": False}})
    res = build(profile)
    assert res.pairs == 1 and res.metadata["duplicates"] == 1
    assert res.metadata["skipped"] == {"too short": 1}
    assert pairs_of(res)[0]["output"] == "the varnish needs another coat, before Friday!"  # newest kept


def test_heldout_split_is_stable_own_words_only(profile, fixed_clock):
    persona_memories(profile, 40)
    a, b = build(profile), build(profile, force=True)
    assert (a.label, b.label) == (DATE, f"{DATE}-2")  # never overwritten: a suffix
    held_a = [r["output"] for r in pairs_of(a) if r["meta"]["split"] == "heldout"]
    held_b = [r["output"] for r in pairs_of(b) if r["meta"]["split"] == "heldout"]
    assert held_a == held_b and len(held_a) == 12  # max(12, 15% of 40)
    assert all(r["meta"]["kind"] == "own" for r in pairs_of(a) if r["meta"]["split"] == "heldout")
    assert a.heldout + a.train == a.pairs


@pytest.mark.parametrize("own,expected", [(6, 3), (10, 5), (24, 12), (60, 12), (200, 30),
                                          (2000, 200)])
def test_heldout_size_is_at_least_twelve_or_fifteen_percent(own, expected):
    from metahuman_core.config import DatasetOptions

    assert dataset.heldout_size(own, DatasetOptions()) == expected
    assert dataset.heldout_size(own, DatasetOptions(heldOutFraction=0, heldOutMin=0)) == 0


def test_heldout_never_takes_anchors_and_survives_new_memories(profile, fixed_clock):
    make_personal(profile)
    persona_memories(profile, 60)
    first = build(profile)
    rows = pairs_of(first)
    held = {r["meta"]["memoryId"] for r in rows if r["meta"]["split"] == "heldout"}
    assert len(held) == 12 and first.heldout == 12
    assert all(r["meta"]["split"] == "train" for r in rows if r["meta"]["kind"] == "anchor")
    assert sum(r["meta"]["kind"] == "anchor" for r in rows) >= 3
    rebuilt = build(profile, force=True)  # same memories, another build: the same slice
    assert {r["meta"]["memoryId"] for r in pairs_of(rebuilt) if r["meta"]["split"] == "heldout"} \
        == held


def test_an_identical_rebuild_writes_nothing_unless_forced(profile, fixed_clock):
    """QA regression: a second build with no new memories made an identical DATE-2."""
    persona_memories(profile, 12)
    first = build(profile)
    same = build(profile)
    assert same.unchanged and same.label == DATE and same.pairs == first.pairs
    assert sorted(p.name for p in profile.home.adapters.iterdir()) == [DATE]
    assert audit_events(profile).count(events.LORA_DATASET_BUILT) == 1
    assert first.metadata["sha256"] and not first.unchanged
    forced = build(profile, force=True)
    assert forced.label == f"{DATE}-2" and not forced.unchanged
    assert build(profile).label == f"{DATE}-2"  # compared with the newest of the day
    gates.reject(profile, f"{DATE}-2", reason="not me")
    assert build(profile).unchanged  # the older DATE is the newest not rejected: identical
    gates.reject(profile, DATE, reason="not me either")
    assert build(profile).label == f"{DATE}-3"  # all rejected: a fresh one to review
    add(profile, "Something new happened at the harbour this morning, worth a note.", hours=99)
    assert build(profile).label == f"{DATE}-4"  # new memory: new data, new dataset
    other_day = dataset.build_dataset(profile, "2025-10-20")
    assert other_day.label == "2025-10-20" and not other_day.unchanged  # by hand: per date


def test_nightly_pipeline_skips_an_unchanged_dataset(profile, fixed_clock):
    from metahuman_core.training import pipeline

    persona_memories(profile, 40)
    profile.config.update("sleep", {"adapters": {"prompt": True, "lora": True}})
    _enable_auto(profile, autoTrain=False)
    night1 = pipeline.run_pipeline(profile)
    assert night1["ran"] and night1["approval"]["decision"] == "approved"
    fixed_clock.advance(86400)  # the next night, nothing new remembered
    night2 = pipeline.run_pipeline(profile)
    assert night2["ran"] is False and night2["unchanged"] and night2["date"] == night1["date"]
    assert "unchanged since 2025-10-19 (approved)" in night2["reason"]
    assert [p.name for p in profile.home.adapters.iterdir()] == [night1["date"]]
    evs = audit_events(profile)
    assert evs.count(events.LORA_DATASET_BUILT) == 1
    assert evs.count(events.LORA_DATASET_AUTO_APPROVED) == 1
    skipped = [e for d in profile.audit.dates() for e in profile.audit.entries(d)
               if e["event"] == events.LORA_PIPELINE_SKIPPED]
    assert len(skipped) == 1 and skipped[0]["details"]["reason"] == night2["reason"]
    add(profile, "A new thing to remember about the harbour and the boats.", hours=200)
    night3 = pipeline.run_pipeline(profile)
    assert night3["ran"] and night3["date"] == "2025-10-20" and "unchanged" not in night3


def test_pii_scrub_default_on_for_remote_only(profile, fixed_clock):
    add(profile, "Mail greg@example.com or call +1 555 123 4567 on 2025-10-19 at 10:30.", hours=1)
    add(profile, "My deploy key is sk-abcdefghijklmnop1234 and I keep losing it.", hours=2)
    local = build(profile, remote=False)
    assert "greg@example.com" in json.dumps(pairs_of(local))
    remote = build(profile, remote=True)
    text = json.dumps(pairs_of(remote))
    assert "greg@example.com" not in text and "555 123 4567" not in text and "sk-abc" not in text
    assert "[email]" in text and "[phone]" in text and "[secret]" in text
    assert "2025-10-19 at 10:30" in text  # dates and times are left alone
    assert remote.metadata["piiReplacements"] == {"email": 1, "phone": 1, "secret": 1}
    forced = build(profile, remote=False, pii_scrub=True)
    assert forced.metadata["piiScrubbed"] is True


def test_bad_dataset_options_name_the_field(profile):
    # refused when written (mh config set / update) ...
    with pytest.raises(Exception) as err:
        profile.config.update("training", {"dataset": {"heldOutFraction": 3}})
    assert "dataset.heldOutFraction" in str(err.value) and "training.json" in str(err.value)
    # ... and reported by name when a hand edit puts it there
    import json
    path = profile.config.path("training")
    raw = json.loads(path.read_text())
    raw["dataset"] = {"heldOutFraction": 3}
    path.write_text(json.dumps(raw))
    with pytest.raises(Exception) as err:
        dataset.load_options(profile)
    assert "dataset.heldOutFraction" in str(err.value) and "training.json" in str(err.value)


def test_anchor_pairs_come_from_what_the_person_wrote_in_core_json(profile):
    from metahuman_core.training.anchors import anchor_pairs

    make_personal(profile)
    qa = {p["instruction"]: p["output"] for p in anchor_pairs(profile)}
    assert qa["Who are you?"] == "I'm Greg, furniture maker."
    assert qa["What matters most to you?"] == "Patience: let the glue set."  # not the template's
    assert qa["What won't you do?"] == "Never sell a chair I would not sit in."
    assert "Alex" not in json.dumps(qa) and "Honesty" not in json.dumps(qa)


def test_the_untouched_template_persona_leaks_nothing(profile, fixed_clock):
    """issue 21: "Alex, Software engineer" as shipped gave every run its anchors and name."""
    from metahuman_core.training.anchors import anchor_pairs
    from metahuman_core.training.persona_template import training_system_prompt
    from metahuman_core.training.run_inputs import prepare

    assert profile.persona.core()["identity"]["name"] == "Alex"  # the shipped template
    assert anchor_pairs(profile) == []
    prompt = training_system_prompt(profile)
    assert "Alex" not in prompt and "Software" not in prompt and "warm" not in prompt
    persona_memories(profile, 20)
    res = build(profile)
    assert "anchor" not in res.metadata["byKind"]
    assert "Alex" not in json.dumps(pairs_of(res))
    gates.approve(profile, res.label)
    run = runs.create_run(profile, res.label)
    cfg = prepare(profile, run)
    assert "Alex" not in cfg["system_prompt"]
    assert json.loads((run.dir / "config.json").read_text())["system_prompt"] == prompt
    # the person's own name, once they write it, is used
    make_personal(profile)
    assert training_system_prompt(profile).startswith("You are Greg, Furniture maker.")


# ------------------------------------------------------------------------------ PII properties
@settings(max_examples=150, deadline=None)
@given(user=st.from_regex(r"[a-z][a-z0-9._]{0,10}", fullmatch=True),
       domain=st.from_regex(r"[a-z]{2,8}\.(com|org|co\.uk|de)", fullmatch=True),
       before=st.text(alphabet="abc xyz,.", max_size=20), after=st.text(alphabet="abc xyz,.", max_size=20))
def test_scrub_removes_every_email_and_is_idempotent(user, domain, before, after):
    text = f"{before} {user}@{domain} {after}"
    once = pii.scrub(text)
    assert f"{user}@{domain}" not in once and "[email]" in once
    assert pii.scrub(once) == once


@settings(max_examples=150, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_categories=("Nd",), blacklist_characters="@"),
               max_size=80))
def test_scrub_leaves_digit_free_prose_alone(text):
    if any(len(w) >= 40 for w in text.split()):
        return
    assert pii.scrub(text) == text


@given(st.dates(min_value=datetime(1990, 1, 1).date(), max_value=datetime(2090, 1, 1).date()),
       st.integers(0, 23), st.integers(0, 59))
def test_scrub_keeps_dates_and_times(day, hour, minute):
    text = f"On {day.isoformat()} at {hour:02d}:{minute:02d} I fixed the door."
    assert pii.scrub(text) == text


@given(st.text(max_size=30))
def test_labels_refuse_anything_but_dates(label):
    if runs.LABEL_RE.match(label):
        return
    with pytest.raises(ValidationFailed):
        runs.validate_label(label)


def test_label_rejects_paths_and_bad_dates():
    for bad in ("../2025-10-19", "2025-10-19/..", "2025-13-01", "2025-10-19-x", ""):
        with pytest.raises(ValidationFailed):
            runs.validate_label(bad)
    assert runs.validate_label("2025-10-19-12") == "2025-10-19-12"


# ------------------------------------------------------------------------------ runs
def test_create_run_writes_the_seed_contract(profile, fixed_clock):
    persona_memories(profile, 30)
    res = build(profile)
    gates.approve(profile, res.label)
    run = runs.create_run(profile, res.label, base_model="/models/tiny")
    again = runs.create_run(profile, res.label)
    assert (run.label, again.label) == (DATE, f"{DATE}-2")
    train = [json.loads(x) for x in (run.dir / runs.DATASET_FILE).read_text().splitlines()]
    held = [json.loads(x) for x in (run.dir / runs.EVAL_FILE).read_text().splitlines()]
    assert all(set(r) == {"instruction", "input", "output"} for r in train + held)
    assert len(train) == res.train and len(held) == res.heldout
    cfg = json.loads((run.dir / "config.json").read_text())
    assert set(runs.SEED_KEYS) <= set(cfg) and cfg["base_model"] == "/models/tiny"
    # an untouched template persona names nothing (issue 21)
    assert cfg["date"] == DATE and cfg["gguf_name"] == "persona" and "Alex" not in cfg["system_prompt"]
    summary = run.summary()
    assert summary["samples_used"] == res.train and summary["status"] == "created"


# ------------------------------------------------------------------------------ gates
def test_manual_approve_and_reject(profile, fixed_clock):
    persona_memories(profile, 10)
    res = build(profile)
    with pytest.raises(gates.GateError):
        gates.require_approved(profile, res.label)
    gates.approve(profile, res.label, notes="looks like me")
    assert gates.dataset_state(profile, res.label)["status"] == "approved"
    gates.reject(profile, res.label, reason="too many notes about the dog")
    state = gates.dataset_state(profile, res.label)
    assert state["status"] == "rejected" and not state["approved"]
    with pytest.raises(gates.GateError):
        gates.approve(profile, res.label)
    with pytest.raises(gates.GateError):
        gates.require_approved(profile, res.label)
    with pytest.raises(ValidationFailed, match="needs a reason"):   # exit 2: bad input
        gates.reject(profile, res.label, reason="  ")
    evs = audit_events(profile)
    assert "lora_dataset_approved" in evs and "lora_dataset_rejected" in evs


def _enable_auto(profile, **kw):
    profile.config.update("auto-approval", {"enabled": True, "dryRun": False, **kw})


def test_auto_approval_hard_minimums_beat_the_score(profile, fixed_clock):
    _enable_auto(profile)
    profile.config.update("training", {"dataset": {"anchors": False}})
    empty = build(profile)
    res = gates.auto_approve(profile, empty.label)
    assert res["decision"] == "rejected" and "dataset has 0 pairs" in res["reasons"]
    persona_memories(profile, 12)  # all own words, long replies: a perfect score, but too few
    few = build(profile)
    res = gates.auto_approve(profile, few.label)
    assert res["score"] == 100 and res["decision"] == "rejected"
    assert any("below the minimum of 30" in r for r in res["reasons"])
    assert (runs.dataset_dir(profile, few.label) / "auto-rejected.json").is_file()
    assert audit_events(profile).count(events.LORA_DATASET_AUTO_REJECTED) == 2


def test_auto_approval_approves_and_dry_run_writes_nothing(profile, fixed_clock):
    persona_memories(profile, 40)
    _enable_auto(profile, dryRun=True)
    res = build(profile)
    dry = gates.auto_approve(profile, res.label)
    assert dry["decision"] == "approved" and dry["dryRun"] is True
    assert gates.dataset_state(profile, res.label)["status"] == "pending"
    _enable_auto(profile)
    live = gates.auto_approve(profile, res.label)
    assert live["decision"] == "approved"
    approved = json.loads((runs.dataset_dir(profile, res.label) / "approved.json").read_text())
    assert approved["autoApproved"] is True and approved["qualityScore"] == 100
    assert gates.auto_approve(profile, res.label)["decision"] == "already"
    assert audit_events(profile).count(events.LORA_DATASET_AUTO_APPROVED) == 2


# ------------------------------------------------------------------------------ CLI
def test_cli_build_review_approve_list(mh, profile, fixed_clock):
    persona_memories(profile, 20)
    out = mh("adapter", "build", DATE, "--json")
    assert out.returncode == 0, out.stderr
    label = json.loads(out.stdout)["label"]
    review = mh("adapter", "review", label, "--samples", "2")
    assert review.returncode == 0 and "byKind" in review.stdout and "→" in review.stdout
    assert mh("adapter", "approve", label, "--notes", "ok").returncode == 0
    rows = json.loads(mh("adapter", "list", "--json").stdout)
    assert rows[0]["date"] == label and rows[0]["status"] == "approved"
    bad = mh("adapter", "review", "../etc")
    assert bad.returncode == 2 and "invalid dataset/run label" in bad.stderr
    missing = mh("adapter", "approve", "2024-01-01")
    assert missing.returncode == 1 and "no dataset 2024-01-01" in missing.stderr
    assert mh("adapter", "reject", label).returncode == 2  # --reason is required
    assert "No training runs yet." in mh("train", "status").stdout
    assert json.loads(mh("train", "status", "--json").stdout) == []
    assert mh("train", "stop", DATE).returncode == 1  # no such run


def test_cli_build_twice_says_unchanged_and_force_builds(mh, profile, fixed_clock):
    persona_memories(profile, 8)
    assert mh("adapter", "build", DATE).returncode == 0
    again = mh("adapter", "build", DATE)
    assert again.returncode == 0, again.stderr
    assert (f"dataset unchanged since {DATE}: nothing new to build; "
            f"see mh adapter review {DATE}") in again.stdout
    assert json.loads(mh("adapter", "build", DATE, "--json").stdout)["unchanged"] is True
    assert not (profile.home.adapters / f"{DATE}-2").exists()
    forced = mh("adapter", "build", DATE, "--force")
    assert forced.returncode == 0 and f"dataset {DATE}-2:" in forced.stdout


def test_a_corrupt_gate_file_is_reported_never_fatal(profile, fixed_clock):
    persona_memories(profile, 6)
    res = build(profile)
    (runs.dataset_dir(profile, res.label) / "approved.json").write_text("{torn")
    state = gates.list_datasets(profile)[0]
    assert state["status"] == "pending" and "approved.json" in state["problems"][0]
    with pytest.raises(gates.GateError):
        gates.require_approved(profile, res.label)  # a torn approval never opens the gate


def test_untouched_template_persona_names_no_file_or_model_and_no_prompt(profile):
    """runs.persona_slug / persona_system_prompt feed gguf names, Ollama model names and the
    activation fallback: an untouched template must not make them "alex-…" / "You are Alex"."""
    assert runs.persona_slug(profile) == "persona"
    assert runs.model_name(profile, "2025-10-19") == "persona-2025-10-19"
    assert "Alex" not in runs.persona_system_prompt(profile)
    profile.persona.set_field("identity.name", "Greg")
    assert runs.persona_slug(profile) == "greg"
    assert runs.persona_system_prompt(profile).startswith("You are Greg")
