"""Corpus loader: the three JSON shapes, four views, label text, shipped corpora, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mmvqshape.cli import main
from mmvqshape.errors import UserError
from mmvqshape.signals import HAPT_LABELS, HAPT_TRANSITIONS
from mmvqshape.signals.shoulder_watch import LABELS as SHOULDER_WATCH_LABELS
from mmvqshape.text.corpus import SHIPPED, armleg_text, load_corpus, shipped_corpus_path

# The plan's five merged sentences for "Treadmill 1mph (0% grade)" (seed-english.md).
PLAN_TREADMILL_1MPH = [
    "Arm: Wrist swings slightly forward with low amplitude. Leg: Heel contacts ground initiating slow step.",
    "Arm: Forearm passes alongside torso during forward swing. Leg: Body weight transfers to front foot.",
    "Arm: Wrist reaches furthest forward point before reversing. Leg: Rear leg begins lift-off.",
    "Arm: Wrist moves backward smoothly behind hip. Leg: Foot swings slowly forward through the air.",
    "Arm: Forearm returns to neutral beside torso. Leg: Foot approaches ground preparing for next contact.",
]
GENEACTIV14 = [
    "Treadmill 1mph (0% grade)", "Treadmill 3mph (0% grade)", "Treadmill 3mph (5% grade)",
    "Treadmill 4mph (0% grade)", "Treadmill 6mph (0% grade)", "Treadmill 6mph (5% grade)",
    "Seated-fold/stack laundry", "Stand-fidget with hands", "1 min brush teeth/hair", "Drive car",
    "Hard surface walk", "Carpet with high heels/dress shoes", "Walk up-stairs 5 floors", "Walk down-stairs 5 floors",
]


def write(tmp_path: Path, obj, name: str = "corpus.json") -> Path:
    path = tmp_path / name
    path.write_text(obj if isinstance(obj, str) else json.dumps(obj))
    return path


SHAPE1 = {"walk": ["Wrist swings.", "Heel strikes."], "sit": ["Hands rest on the lap."]}
SHAPE2 = {
    "walk": [{"arm": "Wrist swings forward.", "leg": "Heel strikes."}, {"Arm": "Forearm passes hip", "Leg": "Toes push off"}],
    "sit": [{"ARM": "Hands rest.", "leg": "Feet flat.", "shared": True}],
}
SHAPE3 = {
    "activities": [
        {"action_label": "walk", "label_text": "walking at a normal pace",
         "sub_actions": [{"Arm": "Wrist swings forward.", "Leg": "Heel strikes."}]},
        {"action_label": "sit", "sub_actions": [{"Arm": "Hands rest.", "Leg": "Feet flat."}, {"Arm": "Hand lifts.", "Leg": "Knees still."}]},
    ],
    "meta": {"model": "stub"},
}


def test_armleg_reproduces_the_plan_sentences_exactly():
    parts = [s.removeprefix("Arm: ").split(" Leg: ") for s in PLAN_TREADMILL_1MPH]
    assert [armleg_text(arm, leg) for arm, leg in parts] == PLAN_TREADMILL_1MPH
    assert armleg_text("Wrist swings", "Heel strikes") == "Arm: Wrist swings. Leg: Heel strikes."


def test_shape1_plain_sentences(tmp_path):
    corpus = load_corpus(write(tmp_path, SHAPE1))
    assert corpus.shape == 1 and corpus.view == "text"
    assert corpus.labels == ["walk", "sit"]
    assert corpus.sentences("walk") == ["Wrist swings.", "Heel strikes."]
    assert corpus.counts() == {"walk": 2, "sit": 1}
    assert corpus.available_views() == ["text"]
    assert corpus.label_text("walk") == "walk"


def test_shape2_all_four_views_and_extra_keys(tmp_path):
    corpus = load_corpus(write(tmp_path, SHAPE2), view="armleg")
    assert corpus.shape == 2
    assert corpus.sentences("walk") == [
        "Arm: Wrist swings forward. Leg: Heel strikes.",
        "Arm: Forearm passes hip. Leg: Toes push off.",
    ]
    assert corpus.sentences("walk", "arm") == ["Wrist swings forward.", "Forearm passes hip"]
    assert corpus.sentences("sit", "leg") == ["Feet flat."]
    assert corpus.sentences("walk", "text") == corpus.sentences("walk", "armleg")
    assert corpus.sub_actions("sit")[0].extra == {"shared": True}
    for view in ("armleg", "arm", "leg", "text"):
        assert len(load_corpus(write(tmp_path, SHAPE2), view=view).flat()[0]) == 3


def test_shape3_llm_reply_with_label_text_and_meta(tmp_path):
    corpus = load_corpus(write(tmp_path, SHAPE3))
    assert corpus.shape == 3 and corpus.view == "armleg"
    assert corpus.labels == ["walk", "sit"]
    assert corpus.label_text("walk") == "walking at a normal pace"
    assert corpus.label_text("sit") == "sit"
    assert corpus.meta == {"model": "stub"}
    sentences, owner = corpus.flat()
    assert owner == [0, 1, 1] and sentences[0] == "Arm: Wrist swings forward. Leg: Heel strikes."


def test_label_text_top_level_map_and_label_object(tmp_path):
    data = {"label_text": {"walk": "a person walking"}, "walk": ["Wrist swings."],
            "sit": {"label_text": "a person sitting", "sub_actions": ["Hands rest."]}}
    corpus = load_corpus(write(tmp_path, data))
    assert corpus.labels == ["walk", "sit"]
    assert corpus.label_text("walk") == "a person walking"
    assert corpus.label_text("sit") == "a person sitting"


def test_generator_unsplit_shape_with_shared_flags(tmp_path):
    data = {"activities": [{"action_label": "walk", "sub_actions": [{"text": "Wrist swings.", "shared": True}, "Heel strikes."]}]}
    corpus = load_corpus(write(tmp_path, data))
    assert corpus.view == "text"
    assert corpus.sentences("walk") == ["Wrist swings.", "Heel strikes."]
    assert corpus.sub_actions("walk")[0].extra["shared"] is True


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_corpora(name):
    corpus = load_corpus(name)
    assert corpus.path == shipped_corpus_path(name)
    expected = {
        "basicmotions": ["standing", "walking", "running", "badminton"],
        "geneactiv14": GENEACTIV14,
        "hapt": HAPT_LABELS + HAPT_TRANSITIONS,
        "hapt_observable": HAPT_LABELS + HAPT_TRANSITIONS,
        "shoulder-watch": SHOULDER_WATCH_LABELS,
    }[name.removesuffix("_unsplit")]
    assert corpus.labels == expected
    assert all(n == 10 for n in corpus.counts().values())
    if name in ("shoulder-watch", "hapt_observable"):  # hand-written plain sentences, the activity never named
        assert corpus.shape == 1 and corpus.view == "text" and "by hand" in corpus.meta["source"]
        for label in corpus.labels:
            assert not any(label.lower() in s.lower() for s in corpus.sentences(label))
    elif name.endswith("_unsplit"):
        assert corpus.shape == 1 and corpus.view == "text"
    else:
        assert corpus.view == "armleg" and corpus.available_views() == ["armleg", "arm", "leg", "text"]


def test_shipped_geneactiv_starts_with_the_plan_sentences():
    corpus = load_corpus("geneactiv14", view="armleg")
    assert corpus.sentences("Treadmill 1mph (0% grade)")[:5] == PLAN_TREADMILL_1MPH
    assert (Path(__file__).parent.parent / "data" / "corpora" / "geneactiv14.json").is_file()


BAD_INPUTS = {
    "not_json": ("{not json", "not valid JSON"),
    "list_top": (json.dumps([["a"]]), "unknown corpus shape"),
    "scalar_label": (json.dumps({"walk": "Wrist swings."}), "unknown corpus shape"),
    "no_labels": (json.dumps({}), "has no labels"),
    "empty_label": (json.dumps({"walk": []}), "has no sub-actions"),
    "empty_sentence": (json.dumps({"walk": ["ok", "  "]}), "is empty"),
    "non_string": (json.dumps({"walk": ["ok", 5]}), "is not a string"),
    "duplicate_label": ('{"walk": ["a"], "walk": ["b"]}', "duplicate key 'walk'"),
    "duplicate_activity": (json.dumps({"activities": [{"action_label": "w", "sub_actions": ["a"]},
                                                      {"action_label": "w", "sub_actions": ["b"]}]}), "duplicate label 'w'"),
    "activity_without_label": (json.dumps({"activities": [{"sub_actions": ["a"]}]}), "action_label"),
    "missing_leg": (json.dumps({"walk": [{"arm": "Wrist swings."}]}), "lacks Arm and Leg"),
    "plain_for_armleg": (json.dumps({"walk": ["Wrist swings."]}), "lacks Arm and Leg"),
    "unknown_label_text": (json.dumps({"label_text": {"run": "x"}, "walk": ["a"]}), "not in the corpus"),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input_raises_user_error(tmp_path, case):
    text, message = BAD_INPUTS[case]
    view = "armleg" if case in ("missing_leg", "plain_for_armleg") else "auto"
    with pytest.raises(UserError) as err:
        load_corpus(write(tmp_path, text), view=view)
    assert message in str(err.value)
    assert str(tmp_path / "corpus.json") in str(err.value)


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input_cli_exit_2_one_line_nothing_written(tmp_path, capsys, case):
    text, message = BAD_INPUTS[case]
    path = write(tmp_path, text)
    out = tmp_path / "emb"
    view = ["--view", "armleg"] if case in ("missing_leg", "plain_for_armleg") else []
    assert main(["embed", str(path), "--encoder", "minilm", "--out", str(out), *view]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and "corpus.json" in err[0] and message in err[0]
    assert not out.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["corpus.json"]
    assert main(["corpus", "check", str(path), *view]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


def test_missing_file_and_unknown_view(tmp_path, capsys):
    assert main(["corpus", "check", str(tmp_path / "nope.json")]) == 2
    assert "no such corpus file" in capsys.readouterr().err
    assert main(["corpus", "check", "basicmotions", "--view", "elbow"]) == 2
    assert "unknown view 'elbow'" in capsys.readouterr().err


def test_corpus_check_without_encoder_prints_counts(capsys):
    assert main(["corpus", "check", "geneactiv14"]) == 0
    out = capsys.readouterr().out
    assert "14 labels, 140 sub-actions" in out
    assert "armleg 140/140" in out
    assert "Walk up-stairs 5 floors, Walk down-stairs 5 floors" in out  # the one shared (exact duplicate) sub-action
