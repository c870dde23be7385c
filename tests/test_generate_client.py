"""``mmvq corpus generate`` against a scripted OpenAI-compatible stub server on 127.0.0.1.

Each test starts its own stub (ephemeral port, ``/v1/chat/completions``) and scripts what it
answers per label and per request. Nothing here leaves the machine.
"""

from __future__ import annotations

import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable

import pytest

from mmvqshape.cli import main
from mmvqshape.errors import UserError
from mmvqshape.signals.loaders import GENEACTIV_LABELS
from mmvqshape.text.corpus import load_corpus
from mmvqshape.text.generate import (
    GenerationSettings,
    ReplyError,
    parse_reply,
    raw_folder,
    validate_reply,
)

GENEACTIV14 = GENEACTIV_LABELS  # the plan's 14 activities, as the signal layer names them

# ------------------------------------------------------------------------------ the stub


def valid_reply(label: str, n: int, style: str = "split", shared: int = 0) -> str:
    """A reply that passes validation for ``label``."""
    items: list[Any] = []
    for i in range(n):
        if style == "split":
            item: Any = {"Arm": f"Wrist swings forward, phase {i}.", "Leg": f"Heel strikes ground, phase {i}."}
        elif shared:
            item = {"text": f"Body shifts weight forward, phase {i}."}
        else:
            item = f"Body shifts weight forward, phase {i}."
        if shared:
            item["shared"] = i < shared
        items.append(item)
    return json.dumps({"activities": [{"action_label": label, "sub_actions": items}]})


class Stub:
    """Scripted chat server. ``script(label, k, body)`` answers the k-th request (0-based) for a label.

    It returns ``str`` (reply content), ``int`` (an HTTP status with an error body) or
    ``("sleep", seconds, content)``.
    """

    def __init__(self, script: Callable[[str, int, dict], Any]):
        self.script = script
        self.requests: list[tuple[str, dict]] = []
        self.lock = threading.Lock()
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # keep test output clean
                pass

            def do_POST(self) -> None:  # noqa: N802 (http.server API)
                try:
                    length = int(self.headers.get("Content-Length", 0))
                    body = json.loads(self.rfile.read(length))
                    if self.path != "/v1/chat/completions":
                        return self._send(404, {"error": {"message": "not found"}})
                    user = next(m["content"] for m in body["messages"] if m["role"] == "user")
                    label = re.search(r'Activity label: "(.*?)"\n', user).group(1)
                    with stub.lock:
                        k = sum(1 for x, _ in stub.requests if x == label)
                        stub.requests.append((label, body))
                    action = stub.script(label, k, body)
                    if isinstance(action, tuple) and action[0] == "sleep":
                        time.sleep(action[1])
                        action = action[2]
                    if isinstance(action, int):
                        return self._send(action, {"error": {"message": f"scripted {action}", "type": "server_error"}})
                    self._send(200, {
                        "id": "chatcmpl-stub", "object": "chat.completion", "created": 0, "model": body["model"],
                        "choices": [{"index": 0, "finish_reason": "stop",
                                     "message": {"role": "assistant", "content": action}}],
                        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
                    })
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout test)

            def _send(self, status: int, payload: dict) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.server.block_on_close = False
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def count(self, label: str) -> int:
        return sum(1 for x, _ in self.requests if x == label)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def make_stub(monkeypatch):
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY",
                 "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    stubs: list[Stub] = []

    def make(script: Callable[[str, int, dict], Any]) -> Stub:
        stub = Stub(script)
        stubs.append(stub)
        return stub

    yield make
    for stub in stubs:
        stub.close()


def always_valid(n: int, style: str = "split", shared: int = 0) -> Callable[[str, int, dict], str]:
    return lambda label, k, body: valid_reply(label, n, style, shared)


def label_file(tmp_path: Path, labels: list[str]) -> Path:
    path = tmp_path / "labels.txt"
    path.write_text("# activities\n" + "\n".join(labels) + "\n\n")
    return path


def run(stub: Stub, tmp_path: Path, labels: list[str], *extra: str, out: str = "c.json") -> int:
    return main([
        "corpus", "generate", "--labels", str(label_file(tmp_path, labels)), "--out", str(tmp_path / out),
        "--api-base", stub.url, "--model", "stub", "--timeout", "5", "--backoff", "0.01", *extra,
    ])


def one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert err[0].startswith("error: ")
    return err[0]


# ---------------------------------------------------------------------------------- tests


def test_valid_replies_write_the_llm_reply_shape(make_stub, tmp_path, capsys):
    stub = make_stub(always_valid(5))
    code = run(stub, tmp_path, ["standing", "walking", "running"], "--n", "5", "--seed", "7",
               "--description", "Smartwatch on the left wrist, 10 Hz")
    assert code == 0
    data = json.loads((tmp_path / "c.json").read_text())
    assert [a["action_label"] for a in data["activities"]] == ["standing", "walking", "running"]
    assert all(len(a["sub_actions"]) == 5 for a in data["activities"])
    assert set(data["activities"][0]["sub_actions"][0]) == {"Arm", "Leg"}
    assert [stub.count(x) for x in ("standing", "walking", "running")] == [1, 1, 1]
    body = stub.requests[0][1]
    assert body["model"] == "stub" and body["seed"] == 7 and body["response_format"] == {"type": "json_object"}
    assert body["messages"][0]["role"] == "system" and "wearable" in body["messages"][0]["content"]
    user = body["messages"][1]["content"]
    assert "Dataset: Smartwatch on the left wrist, 10 Hz" in user
    assert '"Arm"' in user and '"Leg"' in user and "exactly 5" in user
    assert '"walking"' in user  # the other labels are named
    assert len(list(raw_folder(tmp_path / "c.json").glob("*.json"))) == 3
    assert "wrote" in capsys.readouterr().out


def test_unsplit_with_shared_records_shared_per_sentence(make_stub, tmp_path):
    stub = make_stub(always_valid(5, "unsplit", shared=2))
    assert run(stub, tmp_path, ["standing", "walking"], "--n", "5", "--style", "unsplit", "--shared", "2") == 0
    data = json.loads((tmp_path / "c.json").read_text())
    items = data["activities"][1]["sub_actions"]
    assert [x["shared"] for x in items] == [True, True, False, False, False]
    assert all(set(x) == {"text", "shared"} for x in items)
    user = stub.requests[0][1]["messages"][-1]["content"]
    assert "Exactly 2 of the 5 sub-actions are shared" in user and "Arm" not in user


def test_unsplit_without_shared_writes_plain_sentences(make_stub, tmp_path):
    stub = make_stub(always_valid(5, "unsplit"))
    assert run(stub, tmp_path, ["standing"], "--n", "5", "--style", "unsplit") == 0
    items = json.loads((tmp_path / "c.json").read_text())["activities"][0]["sub_actions"]
    assert all(isinstance(x, str) for x in items) and len(items) == 5


def test_invalid_then_valid_feeds_the_error_back(make_stub, tmp_path):
    def script(label, k, body):
        if label == "walking" and k == 0:
            return "```json\n" + valid_reply(label, 4) + "\n```"  # one sub-action short
        return valid_reply(label, 5)

    stub = make_stub(script)
    assert run(stub, tmp_path, ["standing", "walking"], "--n", "5") == 0
    assert stub.count("walking") == 2
    second = stub.requests[-1][1]["messages"]
    assert second[-2]["role"] == "assistant" and "phase 3" in second[-2]["content"]
    assert second[-1]["role"] == "user"
    assert "sub_actions has 4 items, it must have exactly 5" in second[-1]["content"]
    assert len(json.loads((tmp_path / "c.json").read_text())["activities"]) == 2
    bad = list(raw_folder(tmp_path / "c.json").glob("walking-bad-*.json"))
    assert len(bad) == 1 and json.loads(bad[0].read_text())["valid"] is False


def test_wrong_label_and_shared_count_are_explained():
    settings = GenerationSettings(n=3, shared=1)
    with pytest.raises(ReplyError, match='must be exactly "walking"'):
        validate_reply(json.loads(valid_reply("Walking", 3, shared=1)), "walking", settings)
    with pytest.raises(ReplyError, match='2 sub-actions are marked "shared": true, exactly 1'):
        validate_reply(json.loads(valid_reply("walking", 3, shared=2)), "walking", settings)
    with pytest.raises(ReplyError, match="Leg"):
        validate_reply({"activities": [{"action_label": "walking", "sub_actions": [{"Arm": "a"}] * 3}]}, "walking",
                       GenerationSettings(n=3))
    with pytest.raises(ReplyError, match="not JSON"):
        parse_reply("Sure! Here are the sub-actions: none")
    assert parse_reply('Here you go:\n{"a": 1}\nEnjoy.') == {"a": 1}
    assert parse_reply('<think>use {braces} freely</think>\n{"a": 2}') == {"a": 2}


def test_garbage_every_time_exits_2_naming_the_label_and_keeps_done_labels(make_stub, tmp_path, capsys):
    def script(label, k, body):
        return "I cannot help with that." if label == "walking" else valid_reply(label, 5)

    stub = make_stub(script)
    code = run(stub, tmp_path, ["standing", "walking", "running"], "--n", "5", "--max-retries", "2")
    assert code == 2
    line = one_error_line(capsys)
    assert 'label "walking"' in line and "3 tries" in line and str(tmp_path / "c.json") in line
    assert stub.count("walking") == 3 and stub.count("running") == 0
    data = json.loads((tmp_path / "c.json").read_text())
    assert [a["action_label"] for a in data["activities"]] == ["standing"]


def test_timeout_is_retried(make_stub, tmp_path):
    def script(label, k, body):
        return ("sleep", 1.5, valid_reply(label, 5)) if k == 0 else valid_reply(label, 5)

    stub = make_stub(script)
    code = main(["corpus", "generate", "--labels", str(label_file(tmp_path, ["standing"])),
                 "--out", str(tmp_path / "c.json"), "--api-base", stub.url, "--n", "5",
                 "--timeout", "0.4", "--backoff", "0.01"])
    assert code == 0
    assert stub.count("standing") == 2
    assert json.loads((tmp_path / "c.json").read_text())["activities"][0]["action_label"] == "standing"


def test_http_500_then_success(make_stub, tmp_path, capsys):
    stub = make_stub(lambda label, k, body: 500 if k == 0 else valid_reply(label, 5))
    assert run(stub, tmp_path, ["standing", "walking"], "--n", "5") == 0
    assert stub.count("standing") == 2 and stub.count("walking") == 2
    out = capsys.readouterr().out
    assert "4 requests" in out and "2 network retries" in out


def test_rate_limit_is_retried(make_stub, tmp_path):
    stub = make_stub(lambda label, k, body: 429 if k < 2 else valid_reply(label, 5))
    assert run(stub, tmp_path, ["standing"], "--n", "5") == 0
    assert stub.count("standing") == 3


def test_http_401_is_not_retried(make_stub, tmp_path, capsys):
    stub = make_stub(lambda label, k, body: 401)
    assert run(stub, tmp_path, ["standing"], "--n", "5") == 2
    line = one_error_line(capsys)
    assert "OPENAI_API_KEY" in line and 'label "standing"' in line
    assert stub.count("standing") == 1
    assert not (tmp_path / "c.json").exists()


def test_server_down_after_retries_is_one_line(make_stub, tmp_path, capsys):
    stub = make_stub(lambda label, k, body: 503)
    assert run(stub, tmp_path, ["standing"], "--n", "5", "--max-retries", "1") == 2
    assert "HTTP 503" in one_error_line(capsys)
    assert stub.count("standing") == 2


def test_fourteen_geneactiv_labels_give_a_loadable_corpus(make_stub, tmp_path):
    stub = make_stub(always_valid(10))
    assert run(stub, tmp_path, GENEACTIV14, "--n", "10") == 0
    path = tmp_path / "c.json"
    data = json.loads(path.read_text())
    assert [a["action_label"] for a in data["activities"]] == GENEACTIV14
    assert all(len(a["sub_actions"]) == 10 and all(set(s) == {"Arm", "Leg"} for s in a["sub_actions"])
               for a in data["activities"])
    assert len(stub.requests) == 14
    corpus = load_corpus(path, view="armleg")
    assert list(corpus.labels) == GENEACTIV14


def test_failed_run_continues_with_only_the_missing_labels(make_stub, tmp_path, capsys):
    labels = GENEACTIV14[:5]
    broken = make_stub(lambda label, k, body: 500 if label == labels[2] else valid_reply(label, 5))
    assert run(broken, tmp_path, labels, "--n", "5", "--max-retries", "1") == 2
    assert labels[2] in one_error_line(capsys)
    kept = json.loads((tmp_path / "c.json").read_text())
    assert [a["action_label"] for a in kept["activities"]] == labels[:2]

    healthy = make_stub(always_valid(5))
    assert run(healthy, tmp_path, labels, "--n", "5") == 0
    assert [healthy.count(x) for x in labels] == [0, 0, 1, 1, 1]
    data = json.loads((tmp_path / "c.json").read_text())
    assert [a["action_label"] for a in data["activities"]] == labels
    assert "2 already there" in capsys.readouterr().out


def test_ctrl_c_keeps_finished_labels(make_stub, tmp_path, monkeypatch):
    from mmvqshape.pipelines.generate import generate

    labels = ["standing", "walking", "running", "badminton"]
    stub = make_stub(always_valid(5))

    def interrupt(label: str) -> None:
        if label == "walking":
            raise KeyboardInterrupt

    out = tmp_path / "c.json"
    with pytest.raises(KeyboardInterrupt):
        generate(out, labels=labels, n=5, api_base=stub.url, backoff=0.01, on_label_done=interrupt)
    assert [a["action_label"] for a in json.loads(out.read_text())["activities"]] == ["standing", "walking"]
    result = generate(out, labels=labels, n=5, api_base=stub.url, backoff=0.01, use_cache=False)
    assert [stub.count(x) for x in labels] == [1, 1, 1, 1]
    assert result.generated == ["running", "badminton"] and result.skipped == ["standing", "walking"]
    assert not [p for p in tmp_path.iterdir() if ".tmp-" in p.name]  # nothing partial left


def test_cached_replies_are_reused(make_stub, tmp_path, capsys):
    stub = make_stub(always_valid(5))
    assert run(stub, tmp_path, ["standing", "walking"], "--n", "5", "--seed", "1") == 0
    first = (tmp_path / "c.json").read_text()
    (tmp_path / "c.json").unlink()
    assert run(stub, tmp_path, ["standing", "walking"], "--n", "5", "--seed", "1") == 0
    assert len(stub.requests) == 2  # nothing asked again
    assert (tmp_path / "c.json").read_text() == first
    assert "2 from cache" in capsys.readouterr().out
    assert run(stub, tmp_path, ["standing", "walking"], "--n", "5", "--seed", "1", "--overwrite", "--no-cache") == 0
    assert len(stub.requests) == 4


def test_existing_output_with_other_settings_is_refused(make_stub, tmp_path, capsys):
    stub = make_stub(always_valid(5))
    assert run(stub, tmp_path, ["standing"], "--n", "5") == 0
    capsys.readouterr()
    assert run(stub, tmp_path, ["standing", "walking"], "--n", "10") == 2
    assert "--overwrite" in one_error_line(capsys)
    assert len(stub.requests) == 1


def test_missing_key_for_a_remote_server(monkeypatch, tmp_path, capsys):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    code = main(["corpus", "generate", "--labels", str(label_file(tmp_path, ["standing"])),
                 "--out", str(tmp_path / "c.json"), "--api-base", "https://llm.example.org/v1"])
    assert code == 2
    assert one_error_line(capsys).startswith("error: OPENAI_API_KEY: not set")
    assert not (tmp_path / "c.json").exists()


@pytest.mark.parametrize(
    "content, problem",
    [("", "no labels"), ("walking\nwalking\n", "listed twice"), ('["walking", 3]', "non-empty string")],
)
def test_bad_label_files(tmp_path, capsys, content, problem):
    path = tmp_path / "labels.txt"
    path.write_text(content)
    code = main(["corpus", "generate", "--labels", str(path), "--out", str(tmp_path / "c.json"),
                 "--api-base", "http://127.0.0.1:9/v1"])
    assert code == 2
    line = one_error_line(capsys)
    assert str(path) in line and problem in line


def test_bad_arguments(tmp_path, capsys):
    labels = str(label_file(tmp_path, ["standing"]))
    base = ["corpus", "generate", "--out", str(tmp_path / "c.json"), "--api-base", "http://127.0.0.1:9/v1"]
    assert main([*base, "--labels", labels, "--n", "5", "--shared", "5"]) == 2
    assert "--shared" in one_error_line(capsys)
    assert main([*base, "--labels", labels, "--style", "merged"]) == 2
    assert "--style" in one_error_line(capsys)
    assert main([*base]) == 2
    assert "--labels" in one_error_line(capsys)


def test_custom_prompt_is_used_and_checked(make_stub, tmp_path, capsys):
    stub = make_stub(always_valid(5))
    prompt = tmp_path / "p.txt"
    prompt.write_text('Activity label: "$label"\nWrite $n phases for $$0 as JSON:\n$format\n')
    assert run(stub, tmp_path, ["standing"], "--n", "5", "--prompt", str(prompt)) == 0
    messages = stub.requests[0][1]["messages"]
    assert len(messages) == 1 and "Write 5 phases for $0 as JSON" in messages[0]["content"]
    prompt.write_text("Describe $label with $colour\n")
    assert run(stub, tmp_path, ["standing"], "--n", "5", "--prompt", str(prompt), "--overwrite") == 2
    line = one_error_line(capsys)
    assert str(prompt) in line and "$colour" in line


def test_labels_from_data_basicmotions(make_stub, tmp_path):
    stub = make_stub(always_valid(5))
    code = main(["corpus", "generate", "--data", "basicmotions", "--n", "5", "--out", str(tmp_path / "c.json"),
                 "--api-base", stub.url, "--backoff", "0.01"])
    assert code == 0
    labels = [a["action_label"] for a in json.loads((tmp_path / "c.json").read_text())["activities"]]
    assert sorted(labels) == ["badminton", "running", "standing", "walking"]
    assert "10 Hz" in stub.requests[0][1]["messages"][-1]["content"]


def test_user_error_type_for_notebooks(tmp_path):
    from mmvqshape.pipelines.generate import generate

    with pytest.raises(UserError, match="exactly one of"):
        generate(tmp_path / "c.json", labels=["a"], data="basicmotions")


def _tiny_bert_folder(folder: Path) -> Path:
    """A 1-layer BERT with a word-level vocabulary, built locally (no download)."""
    from transformers import BertConfig, BertModel, BertTokenizer

    words = "arm leg wrist swings forward heel strikes ground phase body shifts weight".split()
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", ".", ",", ":", *words, *map(str, range(10))]
    folder.mkdir()
    (folder / "vocab.txt").write_text("\n".join(vocab) + "\n")
    BertTokenizer(str(folder / "vocab.txt")).save_pretrained(folder)
    config = BertConfig(vocab_size=len(vocab), hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=32, max_position_embeddings=64)
    BertModel(config).save_pretrained(folder)
    return folder


@pytest.mark.slow
@pytest.mark.parametrize("style, view", [("split", "armleg"), ("unsplit", "text"), ("observable", "text")])
def test_generated_corpus_is_accepted_by_mmvq_embed(make_stub, tmp_path, style, view):
    stub = make_stub(always_valid(10, style, shared=3))
    assert run(stub, tmp_path, GENEACTIV14, "--n", "10", "--style", style, "--shared", "3") == 0
    encoder = _tiny_bert_folder(tmp_path / "tiny-bert")
    emb = tmp_path / "emb"
    code = main(["embed", str(tmp_path / "c.json"), "--encoder", str(encoder), "--view", view,
                 "--device", "cpu", "--no-cache", "--out", str(emb)])
    assert code == 0
    index = json.loads((emb / "index.json").read_text())
    assert index["labels"] == GENEACTIV14 and len(index["sentences"]) == 140 and index["dim"] == 16
    assert index["view"] == view


def test_observable_prompt_asks_for_what_a_worn_accelerometer_records():
    from mmvqshape.text.generate import build_messages, load_template
    from mmvqshape.text.style import MAX_WORDS_SENTENCE

    template = load_template(None, "observable")
    settings = GenerationSettings(n=6, style="observable", description="A smartphone on a belt at the waist, 50 Hz")
    system, user = build_messages("sitting", ["walking", "sitting", "lying"], settings, template)
    assert system["role"] == "system" and "accelerometer" in system["content"]
    text = user["content"]
    for observable in ("orientation of the device to gravity", "rhythm and cadence", "vertical motion", "intensity",
                       "stillness", "transitions"):
        assert observable in text
    assert f"at most {MAX_WORDS_SENTENCE} words" in text and "exactly 6 sub-actions" in text
    assert "Dataset: A smartphone on a belt at the waist, 50 Hz" in text and '"walking"; "lying"' in text
    assert '"Arm"' not in text and '["<one sentence>", "..."]' in text  # plain sentences, as unsplit


def test_observable_template_itself_names_no_shipped_activity():
    """A fold's unseen label must not reach a seen label's prompt through the template's own examples."""
    from mmvqshape.text.corpus import SHIPPED
    from mmvqshape.text.generate import default_prompt_path

    template = default_prompt_path("observable").read_text().lower()
    words = {w for name in SHIPPED for label in load_corpus(name).labels for w in re.findall(r"[a-z]+", label.lower())}
    assert sorted(w for w in words - {"to", "with"} if re.search(rf"\b{w}\b", template)) == []


def test_observable_run_writes_a_corpus_that_loads_and_keeps_holdout_labels_unnamed(make_stub, tmp_path):
    from mmvqshape.text.style import style_flags

    labels = ["walking", "walking upstairs", "sitting", "lying"]
    stub = make_stub(always_valid(5, "observable"))
    assert run(stub, tmp_path, labels, "--n", "5", "--style", "observable", "--holdout-labels", "lying,Walking upstairs") == 0
    data = json.loads((tmp_path / "c.json").read_text())
    assert data["meta"]["style"] == "observable" and data["meta"]["prompt"] == "subactions_observable.txt"
    assert data["meta"]["holdout_labels"] == ["lying", "Walking upstairs"]
    corpus = load_corpus(tmp_path / "c.json")
    assert corpus.labels == labels and corpus.view == "text" and corpus.counts() == dict.fromkeys(labels, 5)
    assert corpus.sentences("sitting")[0] == "Body shifts weight forward, phase 0."
    assert corpus.meta["style"] == "observable" and style_flags(corpus) == []  # "shifts": a transition cue
    prompts = {label: " ".join(m["content"] for m in body["messages"]).lower() for label, body in stub.requests}
    assert set(prompts) == set(labels)  # the held-out labels still get their own sentences
    for seen in ("walking", "sitting"):
        assert "lying" not in prompts[seen] and "upstairs" not in prompts[seen]
    assert '"sitting"' in prompts["lying"] and "gravity" in prompts["lying"]


def test_nothing_to_do_sends_nothing(make_stub, tmp_path, capsys):
    stub = make_stub(always_valid(5))
    assert run(stub, tmp_path, ["standing", "walking"], "--n", "5") == 0
    before = (tmp_path / "c.json").read_text()
    assert run(stub, tmp_path, ["walking", "standing"], "--n", "5") == 0
    assert len(stub.requests) == 2 and (tmp_path / "c.json").read_text() == before
    assert "0 generated, 2 already there" in capsys.readouterr().out
