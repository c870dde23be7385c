"""Style-rule flags on sub-action sentences (``mmvqshape.text.style.style_flags``)."""

from __future__ import annotations

import json

import pytest

from mmvqshape.text.corpus import load_corpus
from mmvqshape.text.style import MAX_WORDS_FIELD, StyleFlag, style_flags

CLEAN = {"Arm": "Wrist swings slightly forward with low amplitude.", "Leg": "Heel contacts ground initiating slow step."}


def split_corpus(*items: dict) -> dict:
    return {"activities": [{"action_label": "walking", "sub_actions": list(items)}]}


def rules(flags: list[StyleFlag]) -> list[tuple[int, str, str]]:
    return [(f.index, f.field, f.rule) for f in flags]


def test_clean_sentences_are_not_flagged():
    plan = [
        "Arm: Wrist swings slightly forward with low amplitude. Leg: Heel contacts ground initiating slow step.",
        "Arm: Forearm passes alongside torso during forward swing. Leg: Body weight transfers to front foot.",
        "Arm: Wrist reaches furthest forward point before reversing. Leg: Rear leg begins lift-off.",
        "Arm: Wrist moves backward smoothly behind hip. Leg: Foot swings slowly forward through the air.",
        "Arm: Forearm returns to neutral beside torso. Leg: Foot approaches ground preparing for next contact.",
    ]
    assert style_flags({"Treadmill 1mph (0% grade)": plan}) == []
    assert style_flags(split_corpus(CLEAN)) == []
    assert style_flags({"driving": ["Both hands rest on the wheel and turn it slightly left."]}) == []


@pytest.mark.parametrize(
    "arm, rule, detail",
    [
        ("Wrist swings forward " + "and back " * 6 + "quickly.", "too_long", f"(at most {MAX_WORDS_FIELD})"),
        ("Wrist swings forward in order to keep pace.", "purpose_clause", "in order to"),
        ("Forearm tilts outward to maintain balance.", "purpose_clause", "to maintain"),
        ("Forearm braces against the thigh for stability.", "purpose_clause", "for stability"),
        ("Wrist moves so that the racket meets the shuttle.", "purpose_clause", "so that"),
        ("Wrist somehow rotates.", "vague", "somehow"),
        ("Wrist makes various small movements.", "vague", "various"),
        ("Hand grips, rotates, lifts, etc.", "vague", "etc"),
    ],
)
def test_each_rule_flags_a_crafted_arm(arm, rule, detail):
    flags = style_flags(split_corpus({"Arm": arm, "Leg": CLEAN["Leg"]}))
    assert rules(flags) == [(0, "arm", rule)]
    assert detail in flags[0].detail and flags[0].text == arm and flags[0].label == "walking"


def test_to_as_a_direction_is_not_a_purpose():
    flags = style_flags(split_corpus({"Arm": "Forearm returns to neutral beside torso.", "Leg": "Weight transfers to front foot."}))
    assert flags == []


@pytest.mark.parametrize(
    "item, rule",
    [
        ({"Arm": "Wrist swings forward."}, "missing_leg"),
        ({"Arm": "Wrist swings forward.", "Leg": ""}, "missing_leg"),
        ({"Arm": "N/A", "Leg": "Heel strikes."}, "missing_arm"),
        ({"Leg": "Heel strikes.", "shared": True}, "missing_arm"),
    ],
)
def test_missing_arm_or_leg(item, rule):
    assert [f.rule for f in style_flags(split_corpus(item))] == [rule]


def test_merged_sentences_missing_a_part_and_unsplit_rules():
    corpus = {
        "walking": [
            "Arm: Wrist swings forward.",  # no Leg part
            "Leg: Heel strikes the ground.",  # no Arm part
            "The whole body rises and falls " + "again " * 20 + "steadily.",  # too long (unsplit)
            "The body leans forward to propel each stride.",  # purpose
            "Some weight shifts between things.",  # vague
        ]
    }
    flags = style_flags(corpus)
    assert rules(flags) == [
        (0, "leg", "missing_leg"), (1, "arm", "missing_arm"), (2, "text", "too_long"),
        (3, "text", "purpose_clause"), (4, "text", "vague"),
    ]
    assert '"some"' in flags[-1].detail and '"things"' in flags[-1].detail


def test_unsplit_generated_objects_and_paths(tmp_path):
    path = tmp_path / "c.json"
    path.write_text(json.dumps({"activities": [{"action_label": "running", "sub_actions": [
        {"text": "Arms pump rapidly beside the torso.", "shared": False},
        {"text": "Stuff happens with the feet.", "shared": True},
    ]}]}))
    assert rules(style_flags(path)) == [(1, "text", "vague")]


def test_loaded_corpus_objects_are_read(tmp_path):
    path = tmp_path / "c.json"
    path.write_text(json.dumps(split_corpus(CLEAN, {"Arm": "Wrist moves in order to wave.", "Leg": "Legs rest."})))
    corpus = load_corpus(path, view="armleg")
    flags = style_flags(corpus)
    assert rules(flags) == [(1, "arm", "purpose_clause")]
    assert flags[0].to_dict()["label"] == "walking"


def test_observable_style_flags_sentences_that_name_no_observable(tmp_path):
    sentences = [
        "Gravity stays along the device's vertical axis while the hips bounce twice per second.",
        "Fingers curl around the handle.",  # what the hand looks like: nothing a worn sensor records
        "The signal is flat apart from gravity.",
        "Device tilts from upright to lying flat.",
    ]
    generated = {"activities": [{"action_label": "walking", "sub_actions": sentences}], "meta": {"style": "observable"}}
    assert rules(style_flags(generated)) == [(1, "text", "no_observable")]
    path = tmp_path / "c.json"
    path.write_text(json.dumps(generated))
    assert rules(style_flags(load_corpus(path))) == [(1, "text", "no_observable")]  # meta read from the loaded corpus
    assert style_flags({"walking": sentences}) == []  # no meta: the rules common to all styles
    assert rules(style_flags({"walking": sentences}, style="observable")) == [(1, "text", "no_observable")]
    assert style_flags(generated, style="unsplit") == []
