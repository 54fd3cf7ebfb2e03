"""Hand-edited persona and memory files with a value of the wrong JSON type (a string where a
list belongs, a number in a list of words, metadata that is not an object) give a dataset built
from what is usable, never a traceback; a bad label is refused by name."""

from __future__ import annotations

import json

import pytest

from metahuman_core.config import DatasetOptions
from metahuman_core.errors import ValidationFailed
from metahuman_core.memory import MemoryStore
from metahuman_core.training import dataset
from metahuman_core.training.anchors import anchor_pairs

TEXT = "Sanded the oak table top again this morning, by hand."


def qa(profile) -> dict[str, str]:
    return {p["instruction"]: p["output"] for p in anchor_pairs(profile)}


def test_a_number_among_the_tone_words_is_skipped(profile):
    with profile.persona.editing("core") as core:
        core["personality"]["communicationStyle"]["tone"] = ["patient", 3, "plain"]
    assert qa(profile)["How would you describe the way you talk?"] == "Patient and plain."


def test_a_single_goal_written_as_a_string_is_one_goal_not_letters(profile):
    with profile.persona.editing("core") as core:
        core["goals"]["shortTerm"] = "finish the walnut chair"
    assert qa(profile)["What are you working on right now?"] == "Finish the walnut chair."


def test_numbers_where_lists_belong_give_no_anchor_and_no_crash(profile):
    with profile.persona.editing("core") as core:
        core["values"]["core"] = 5
        core["values"]["boundaries"] = 2
        core["goals"]["shortTerm"] = 3
        core["context"]["currentFocus"] = 4
    assert qa(profile) == {}


def test_a_name_that_is_not_text_is_no_name(profile):
    with profile.persona.editing("core") as core:
        core["identity"].update(name=["Greg"], humanName=7, role="Furniture maker")
    assert "Who are you?" not in qa(profile) and "What's your name?" not in qa(profile)


def mem(**kw):
    return {"id": "evt-1", "type": "observation", "timestamp": "2025-10-01T09:00:00+02:00",
            "content": TEXT, **kw}


def test_metadata_that_is_not_an_object_is_ignored():
    pairs, _ = dataset.memory_pairs([mem(metadata="imported by hand")], DatasetOptions())
    assert [p["output"] for p in pairs] == [TEXT]


def test_a_single_tag_written_as_a_string_is_the_topic_not_its_first_letter():
    pairs, _ = dataset.memory_pairs([mem(tags="workshop")], DatasetOptions())
    assert "workshop" in pairs[0]["instruction"]


def test_tags_that_are_a_number_are_ignored():
    pairs, _ = dataset.memory_pairs([mem(tags=5, entities=7)], DatasetOptions())
    assert [p["output"] for p in pairs] == [TEXT]


def test_a_hand_edited_memory_file_still_builds(profile, fixed_clock):
    root = MemoryStore(profile).root / "2025"
    root.mkdir(parents=True, exist_ok=True)
    (root / "evt-20251001090000-oak.json").write_text(json.dumps(
        {"type": "conversation", "timestamp": "2025-10-01T09:00:00+02:00", "content": TEXT,
         "tags": "oak", "metadata": ["not", "an", "object"]}), encoding="utf-8")
    res = dataset.build_dataset(profile, "2025-10-19")
    assert res.pairs == 1


def test_previous_dataset_refuses_a_bad_label_by_name(profile):
    with pytest.raises(ValidationFailed, match="not-a-date"):
        dataset.previous_dataset(profile, "not-a-date")


def test_a_single_value_written_as_an_object_is_one_value(profile):
    with profile.persona.editing("core") as core:
        core["values"]["core"] = {"value": "patience", "description": "Let the glue set."}
    assert qa(profile)["What matters most to you?"] == "Patience: let the glue set."


def test_an_unchanged_rebuild_counts_the_pairs_not_a_hand_edited_metadata_file(profile,
                                                                                fixed_clock):
    """metadata.json is a report a person may edit; the pairs file is the truth, byte-equal."""
    MemoryStore(profile).capture(TEXT)
    first = dataset.build_dataset(profile, "2025-10-19")
    meta_path = profile.home.adapters / first.label / "metadata.json"
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    meta.update(pairCount="lots", trainCount=None, heldOutCount=[1])
    meta_path.write_text(json.dumps(meta), encoding="utf-8")
    again = dataset.build_dataset(profile, "2025-10-19")
    assert again.unchanged and again.label == first.label
    assert (again.pairs, again.train, again.heldout) == (first.pairs, first.train, first.heldout)
