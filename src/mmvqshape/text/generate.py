"""Sub-action corpora written by an LLM through any OpenAI-compatible chat endpoint.

One chat request per label. The reply must be one JSON object of the shape the prompt asks
for; it is checked against a JSON schema built for that label (the exact label, exactly ``n``
sub-actions, exactly ``shared`` of them marked shared). An invalid reply is asked again with
the validation error fed back, a bounded number of times; timeouts, connection errors, rate
limits and 5xx answers are retried with exponential back-off. Every raw reply is kept on disk
in ``<out>.raw/`` (valid ones are reused by a later run with the same request), and the corpus
file is rewritten atomically after every label, so an interrupted run loses nothing and the
next run only asks for the labels still missing.

What is written (``<out>``, the LLM reply shape of design.md)::

    split style:    {"activities": [{"action_label": L,
                                     "sub_actions": [{"Arm": "...", "Leg": "..."}, ...]}, ...]}
    unsplit style:  {"activities": [{"action_label": L, "sub_actions": ["sentence", ...]}, ...]}

With ``shared > 0`` every sub-action is an object carrying ``"shared": true|false`` (unsplit
sentences become ``{"text": "...", "shared": ...}``). A top-level ``"meta"`` object records the
settings of the latest run (model, api_base, style, n, shared, temperature, seed, prompt).
:func:`mmvqshape.text.corpus.load_corpus` reads all of these (``shared`` lands in
``SubAction.extra``, ``meta`` in ``Corpus.meta``).

Prompt templates are text files (``mmvqshape/prompts/subactions_<style>.txt`` by default).
An optional first block ending with a line ``---`` is the system message; the rest is the user
message. ``$name`` placeholders are filled by :func:`build_messages` (``$$`` is a literal
dollar): ``$label``, ``$n``, ``$n_shared``, ``$n_unique``, ``$max_words``, ``$description``
(a "Dataset: ..." line or nothing), ``$other_labels``, ``$shared_rule`` (the shared/unique
instruction or nothing) and ``$format`` (the exact JSON shape expected).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import string
import time
from dataclasses import asdict, dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Callable, Sequence
from urllib.parse import urlparse

import jsonschema
import openai
from openai import OpenAI
from tqdm.auto import tqdm

from ..atomic import write_json
from ..errors import UserError
from ..labels import normalize_label
from .style import MAX_WORDS_FIELD, MAX_WORDS_SENTENCE

STYLES = ("split", "unsplit")
DEFAULT_API_BASE = "https://api.openai.com/v1"
DEFAULT_MODEL = "gpt-4o-mini"
LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1", "0.0.0.0"}
PLACEHOLDERS = (
    "label", "n", "n_shared", "n_unique", "max_words", "description", "other_labels", "shared_rule", "format",
)


@dataclass
class GenerationSettings:
    """Everything that decides what is asked and how hard to try."""

    n: int = 10  # sub-actions per label
    style: str = "split"  # "split" (Arm/Leg fields) or "unsplit" (one sentence)
    shared: int = 0  # how many of the n are shared with other labels (0: not asked)
    api_base: str = DEFAULT_API_BASE
    model: str = DEFAULT_MODEL
    temperature: float = 0.5
    seed: int | None = None
    description: str | None = None  # dataset: device, placement, sampling rate
    max_retries: int = 3  # re-asks after an invalid reply, and retries per request after a network error
    timeout: float = 120.0  # seconds per request
    backoff: float = 2.0  # first wait after a network error, doubling each time
    max_backoff: float = 60.0
    json_mode: bool = True  # ask for response_format={"type": "json_object"}
    holdout_labels: tuple[str, ...] = ()  # a zero-shot fold's unseen labels: never named in another label's prompt

    def check(self) -> None:
        """Raise :class:`UserError` for settings that cannot work."""
        if self.style not in STYLES:
            raise UserError("--style", f"must be one of {', '.join(STYLES)}, got {self.style!r}")
        if not 1 <= self.n <= 50:
            raise UserError("--n", f"must be between 1 and 50, got {self.n}")
        if not 0 <= self.shared < self.n:
            raise UserError("--shared", f"must be between 0 and n-1 = {self.n - 1}, got {self.shared}")
        if self.max_retries < 0:
            raise UserError("--max-retries", "must be 0 or more")
        if self.timeout <= 0:
            raise UserError("--timeout", "must be positive")
        if not 0 <= self.temperature <= 2:
            raise UserError("--temperature", f"must be between 0 and 2, got {self.temperature}")
        parsed = urlparse(self.api_base)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise UserError("--api-base", f"not an http(s) URL: {self.api_base!r}")


@dataclass
class GenerationResult:
    """What a run did."""

    out: Path
    labels: list[str]  # every label now in the corpus file, in file order
    generated: list[str]  # labels generated by this run
    skipped: list[str]  # labels already in the file, not asked again
    requests: int = 0  # chat requests sent to the server
    cached: int = 0  # labels taken from the raw-reply cache without a request
    invalid_replies: int = 0  # replies that failed validation (and were asked again)
    network_retries: int = 0  # requests repeated after a timeout / connection error / 5xx


# ------------------------------------------------------------------------------------ prompt


def default_prompt_path(style: str) -> Path:
    """The packaged template for ``style`` (``split`` or ``unsplit``)."""
    return Path(str(resources.files("mmvqshape").joinpath("prompts", f"subactions_{style}.txt")))


def load_template(path: str | Path | None, style: str) -> str:
    """Read a prompt template (the packaged default when ``path`` is None) and check its placeholders."""
    path = Path(path) if path is not None else default_prompt_path(style)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise UserError(path, f"cannot read the prompt template ({err.strerror or err})") from None
    if not text.strip():
        raise UserError(path, "the prompt template is empty")
    template = string.Template(text)
    if not template.is_valid():
        raise UserError(path, "invalid '$' in the prompt template (write '$$' for a literal dollar)")
    unknown = sorted(set(template.get_identifiers()) - set(PLACEHOLDERS))
    if unknown:
        raise UserError(path, f"unknown placeholder ${unknown[0]} (known: {', '.join('$' + p for p in PLACEHOLDERS)})")
    if "label" not in template.get_identifiers():
        raise UserError(path, "the prompt template never uses $label")
    return text


def reply_format(label: str, settings: GenerationSettings) -> str:
    """The JSON shape the reply must have, as shown to the model."""
    shared = settings.shared > 0
    if settings.style == "split":
        item: Any = {"Arm": "<wrist and forearm motion>", "Leg": "<leg and foot motion>"}
    elif shared:
        item = {"text": "<one sentence>"}
    else:
        item = "<one sentence>"
    if shared:
        item = {**item, "shared": "<true or false>"}
    example = {"activities": [{"action_label": label, "sub_actions": [item, "..."]}]}
    text = json.dumps(example, ensure_ascii=False)
    text = text.replace('"<true or false>"', "true|false")
    return f"{text}\nwith exactly {settings.n} items in \"sub_actions\" and \"action_label\" exactly \"{label}\"."


def build_messages(label: str, all_labels: Sequence[str], settings: GenerationSettings, template: str) -> list[dict[str, str]]:
    """Chat messages for one label: an optional system message, then the user message."""
    held = {normalize_label(x) for x in settings.holdout_labels}
    others = [x for x in all_labels if x != label and normalize_label(x) not in held]  # a zero-shot fold's unseen labels stay unnamed
    if settings.shared:
        shared_rule = (
            f"- Exactly {settings.shared} of the {settings.n} sub-actions are shared: movements that also "
            f'occur in other activities of this dataset; mark them "shared": true. The other '
            f'{settings.n - settings.shared} are unique to "{label}"; mark them "shared": false.'
        )
    else:
        shared_rule = ""
    values = {
        "label": label,
        "n": str(settings.n),
        "n_shared": str(settings.shared),
        "n_unique": str(settings.n - settings.shared),
        "max_words": str(MAX_WORDS_FIELD if settings.style == "split" else MAX_WORDS_SENTENCE),
        "description": f"Dataset: {settings.description.strip()}" if settings.description else "",
        "other_labels": "; ".join(f'"{x}"' for x in others) if others else "(none)",
        "shared_rule": shared_rule,
        "format": reply_format(label, settings),
    }
    empty = [name for name, value in values.items() if not value]
    if empty:  # a line holding only an empty placeholder disappears with it
        alone = re.compile(r"^[ \t]*\$\{?(?:" + "|".join(empty) + r")\}?[ \t]*\n", re.MULTILINE)
        template = alone.sub("", template)
    text = string.Template(template).substitute(values)
    text = re.sub(r"\n{3,}", "\n\n", text)
    system, sep, user = text.partition("\n---\n")
    if not sep:
        return [{"role": "user", "content": text.strip()}]
    return [{"role": "system", "content": system.strip()}, {"role": "user", "content": user.strip()}]


def feedback_message(problem: str, label: str, settings: GenerationSettings) -> dict[str, str]:
    """The follow-up that feeds a validation error back to the model."""
    return {
        "role": "user",
        "content": (
            f"Your reply was not valid: {problem}\n"
            f"Reply again with only the JSON object: action_label exactly \"{label}\" and exactly "
            f"{settings.n} sub-actions, no other text."
        ),
    }


# -------------------------------------------------------------------------------- validation


class ReplyError(ValueError):
    """A reply that is not the JSON the prompt asked for; the message says why, for the model."""


def reply_schema(label: str, settings: GenerationSettings) -> dict[str, Any]:
    """JSON schema of a valid reply for ``label`` (extra keys are allowed and dropped later)."""
    sentence = {"type": "string", "pattern": r"\S"}
    if settings.style == "split":
        item: dict[str, Any] = {
            "type": "object",
            "properties": {"Arm": sentence, "Leg": sentence},
            "required": ["Arm", "Leg"],
        }
    elif settings.shared:
        item = {"type": "object", "properties": {"text": sentence}, "required": ["text"]}
    else:
        item = sentence
    sub_actions: dict[str, Any] = {"type": "array", "items": item, "minItems": settings.n, "maxItems": settings.n}
    if settings.shared:
        item["properties"]["shared"] = {"type": "boolean"}
        item["required"].append("shared")
        sub_actions["contains"] = {"type": "object", "properties": {"shared": {"const": True}}}
        sub_actions["minContains"] = settings.shared
        sub_actions["maxContains"] = settings.shared
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "required": ["activities"],
        "properties": {
            "activities": {
                "type": "array",
                "minItems": 1,
                "maxItems": 1,
                "items": {
                    "type": "object",
                    "required": ["action_label", "sub_actions"],
                    "properties": {"action_label": {"const": label}, "sub_actions": sub_actions},
                },
            }
        },
    }


def parse_reply(text: str | None) -> Any:
    """JSON from a reply, tolerating code fences and prose around one object."""
    if text is None or not text.strip():
        raise ReplyError("the reply was empty")
    body = re.sub(r"<think>.*?</think>", "", text, flags=re.DOTALL | re.IGNORECASE).strip()  # reasoning models
    fenced = re.search(r"```(?:json)?\s*(.*?)```", body, re.DOTALL | re.IGNORECASE)
    if fenced:
        body = fenced.group(1).strip()
    try:
        return json.loads(body)
    except json.JSONDecodeError as first:
        start, end = body.find("{"), body.rfind("}")
        if 0 <= start < end:
            try:
                return json.loads(body[start : end + 1])
            except json.JSONDecodeError:
                pass
        raise ReplyError(f"the reply is not JSON ({first.msg} at line {first.lineno} column {first.colno})") from None


def validate_reply(obj: Any, label: str, settings: GenerationSettings) -> dict[str, Any]:
    """Check a parsed reply; return the activity entry to store (extra keys dropped)."""
    validator = jsonschema.Draft202012Validator(reply_schema(label, settings))
    errors = sorted(validator.iter_errors(obj), key=lambda e: (len(e.absolute_path), list(e.absolute_path)))
    if errors:
        raise ReplyError(_describe(errors[0], label, settings))
    return normalize_activity(obj["activities"][0], settings)


def normalize_activity(activity: dict[str, Any], settings: GenerationSettings) -> dict[str, Any]:
    """Keep only the fields of the corpus format, whitespace trimmed."""
    items = []
    for raw in activity["sub_actions"]:
        if settings.style == "split":
            item: Any = {"Arm": raw["Arm"].strip(), "Leg": raw["Leg"].strip()}
        elif settings.shared:
            item = {"text": raw["text"].strip()}
        else:
            item = raw.strip()
        if settings.shared:
            item["shared"] = bool(raw["shared"])
        items.append(item)
    return {"action_label": activity["action_label"], "sub_actions": items}


def _describe(error: Any, label: str, settings: GenerationSettings) -> str:
    where = "/".join(str(p) for p in error.absolute_path) or "the top level"
    keyword = error.validator
    if keyword == "const" and list(error.absolute_path)[-1:] == ["action_label"]:
        return f'action_label is {json.dumps(error.instance, ensure_ascii=False)}, it must be exactly "{label}"'
    if keyword in ("minItems", "maxItems") and list(error.absolute_path)[-1:] == ["sub_actions"]:
        return f"sub_actions has {len(error.instance)} items, it must have exactly {settings.n}"
    if keyword in ("minContains", "maxContains", "contains"):
        count = sum(1 for x in error.instance if isinstance(x, dict) and x.get("shared") is True)
        return f'{count} sub-actions are marked "shared": true, exactly {settings.shared} must be'
    if keyword == "pattern":
        return f"{where} is an empty string"
    return f"at {where}: {error.message}"


# ------------------------------------------------------------------------------ client, cache


class ServerError(RuntimeError):
    """The endpoint could not give an answer (after retries, or a request it refuses)."""


class ChatClient:
    """Chat completions through the official ``openai`` client, with our own retries."""

    def __init__(self, settings: GenerationSettings, api_key: str, *, sleep: Callable[[float], None] = time.sleep):
        self.settings = settings
        self.sleep = sleep
        self.requests = 0
        self.network_retries = 0
        self._client = OpenAI(base_url=settings.api_base, api_key=api_key, timeout=settings.timeout, max_retries=0)

    def request_body(self, messages: list[dict[str, str]]) -> dict[str, Any]:
        """Everything sent for ``messages`` (also the cache key)."""
        body: dict[str, Any] = {"model": self.settings.model, "messages": messages, "temperature": self.settings.temperature}
        if self.settings.seed is not None:
            body["seed"] = self.settings.seed
        if self.settings.json_mode:
            body["response_format"] = {"type": "json_object"}
        return body

    def complete(self, body: dict[str, Any]) -> str:
        """Send one request; retry network trouble with back-off; return the reply text."""
        retryable = (openai.APIConnectionError, openai.RateLimitError, openai.InternalServerError)
        wait = self.settings.backoff
        for attempt in range(self.settings.max_retries + 1):
            self.requests += 1
            try:
                response = self._client.chat.completions.create(**body)
            except retryable as err:
                if attempt == self.settings.max_retries:
                    raise ServerError(f"{_network_problem(err)} ({attempt + 1} tries)") from None
                self.network_retries += 1
                self.sleep(min(max(wait, _retry_after(err)), self.settings.max_backoff))
                wait *= 2
                continue
            except openai.APIStatusError as err:  # 4xx: asking again will not help
                raise ServerError(_status_problem(err, self.settings)) from None
            choices = getattr(response, "choices", None) or []
            if not choices or choices[0].message is None:
                return ""
            return choices[0].message.content or ""
        raise AssertionError("unreachable")


def _retry_after(err: Exception) -> float:
    """Seconds a 429/503 answer asks us to wait (its Retry-After header), else 0."""
    response = getattr(err, "response", None)
    try:
        return max(0.0, float(response.headers.get("retry-after", 0))) if response is not None else 0.0
    except (TypeError, ValueError):
        return 0.0


def _network_problem(err: Exception) -> str:
    if isinstance(err, openai.APITimeoutError):
        return "the server did not answer in time"
    if isinstance(err, openai.APIConnectionError):
        return f"cannot connect to the server ({err.__cause__ or err})"
    if isinstance(err, openai.APIStatusError):
        return f"the server answered HTTP {err.status_code}"
    return str(err)


def _status_problem(err: Any, settings: GenerationSettings) -> str:
    status = err.status_code
    if status == 401:
        return f"the server at {settings.api_base} refused the API key (HTTP 401); check OPENAI_API_KEY"
    if status == 404:
        return f"HTTP 404 from {settings.api_base}: unknown model {settings.model!r} or wrong --api-base"
    hint = "; try --no-json-mode" if status == 400 and settings.json_mode else ""
    return f"the server refused the request (HTTP {status}: {_short(str(err.message))}){hint}"


def _short(text: str, limit: int = 160) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


class ReplyCache:
    """Raw replies on disk, one JSON file per reply, keyed by the request that produced it."""

    def __init__(self, folder: Path, *, read: bool = True):
        self.folder = folder
        self.read = read

    @staticmethod
    def key(api_base: str, body: dict[str, Any]) -> str:
        blob = json.dumps({"api_base": api_base, "body": body}, sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:20]

    def lookup(self, key: str) -> str | None:
        """A cached reply that was valid for this exact request, or None."""
        if not self.read:
            return None
        for path in sorted(self.folder.glob(f"*-{key}.json")):
            try:
                record = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, json.JSONDecodeError):
                continue
            if record.get("valid") and isinstance(record.get("reply"), str):
                return record["reply"]
        return None

    def store(self, key: str, label: str, body: dict[str, Any], reply: str, problem: str | None) -> None:
        """Keep one raw reply (valid or not) with its request."""
        record = {
            "label": label,
            "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "valid": problem is None,
            "problem": problem,
            "request": body,
            "reply": reply,
        }
        name = f"{_slug(label)}-{'ok' if problem is None else 'bad-' + str(time.time_ns())}-{key}.json"
        write_json(self.folder / name, record)


def _slug(label: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", label).strip("_")[:40] or "label"


def raw_folder(out: Path) -> Path:
    """Where the raw replies of ``out`` are kept."""
    return out.with_name(out.name + ".raw")


# ---------------------------------------------------------------------------------- the run


def api_key_for(api_base: str, environ: dict[str, str] | None = None) -> str:
    """The key from ``OPENAI_API_KEY``; a local server gets a dummy key when none is set."""
    environ = os.environ if environ is None else environ
    key = environ.get("OPENAI_API_KEY", "").strip()
    if key:
        return key
    if (urlparse(api_base).hostname or "") in LOCAL_HOSTS:
        return "sk-local-no-key"
    raise UserError("OPENAI_API_KEY", f"not set; {api_base} needs an API key (servers on localhost need none)")


def read_existing(out: Path, labels: Sequence[str], settings: GenerationSettings) -> dict[str, dict[str, Any]]:
    """Activities already in ``out`` (a previous, interrupted run), checked against the settings."""
    if not out.exists():
        return {}
    try:
        data = json.loads(out.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise UserError(out, f"exists and is not a corpus this command can continue ({err}); choose another --out or --overwrite") from None
    activities = data.get("activities") if isinstance(data, dict) else None
    if not isinstance(activities, list):
        raise UserError(out, 'exists and is not a generated corpus (no "activities" list); choose another --out or --overwrite')
    done: dict[str, dict[str, Any]] = {}
    for activity in activities:
        label = activity.get("action_label") if isinstance(activity, dict) else None
        if not isinstance(label, str):
            raise UserError(out, "exists and has an activity without action_label; choose another --out or --overwrite")
        if label in done:
            raise UserError(out, f'label "{label}" appears twice; fix the file or use --overwrite')
        if label in labels:
            try:
                validate_reply({"activities": [activity]}, label, settings)
            except ReplyError as err:
                raise UserError(
                    out, f'label "{label}" already there does not match this run ({err}); use another --out or --overwrite'
                ) from None
        done[label] = activity
    return done


def generate_corpus(
    labels: Sequence[str],
    out: str | Path,
    settings: GenerationSettings,
    *,
    prompt: str | Path | None = None,
    api_key: str | None = None,
    overwrite: bool = False,
    use_cache: bool = True,
    progress: bool = False,
    on_label_done: Callable[[str], None] | None = None,
) -> GenerationResult:
    """Ask the endpoint for the sub-actions of every label not yet in ``out``; write ``out``.

    ``out`` is rewritten (atomically) after each label, so an interrupted run keeps all
    finished labels, and running again asks only for the missing ones. Raises
    :class:`UserError` naming the label when a label gets no valid reply within
    ``settings.max_retries`` re-asks, or when the server cannot be reached.
    """
    out = Path(out)
    settings.check()
    labels = list(labels)
    if not labels:
        raise UserError("--labels", "no labels to generate")
    dupes = sorted({x for x in labels if labels.count(x) > 1})
    if dupes:
        raise UserError("--labels", f'label "{dupes[0]}" is listed twice')
    template = load_template(prompt, settings.style)
    key = api_key if api_key is not None else api_key_for(settings.api_base)
    if out.exists() and out.is_dir():
        raise UserError(out, "is a folder; --out must be a .json file")

    existing = {} if overwrite else read_existing(out, labels, settings)
    skipped = [x for x in labels if x in existing]
    todo = [x for x in labels if x not in existing]
    extra = [x for x in existing if x not in labels]  # kept as they were, after the requested labels
    result = GenerationResult(out=out, labels=[], generated=[], skipped=skipped)
    done = dict(existing)

    def write() -> None:
        order = [x for x in labels if x in done] + extra
        write_json(out, {"activities": [done[x] for x in order], "meta": run_meta(settings, prompt)})
        result.labels = order

    if not todo:  # everything asked for is already in the file
        result.labels = [x for x in labels if x in done] + extra
        return result

    client = ChatClient(settings, key)
    cache = ReplyCache(raw_folder(out), read=use_cache)
    bar = _progress(todo, progress)
    try:
        for label in bar:
            activity, from_cache = _generate_label(label, labels, settings, template, client, cache, result, out)
            done[label] = activity
            result.generated.append(label)
            result.cached += int(from_cache)
            write()
            if on_label_done is not None:
                on_label_done(label)
    finally:
        result.requests = client.requests
        result.network_retries = client.network_retries
        if hasattr(bar, "close"):
            bar.close()
    return result


def _generate_label(
    label: str,
    all_labels: Sequence[str],
    settings: GenerationSettings,
    template: str,
    client: ChatClient,
    cache: ReplyCache,
    result: GenerationResult,
    out: Path,
) -> tuple[dict[str, Any], bool]:
    base = build_messages(label, all_labels, settings, template)
    messages = list(base)
    problem = ""
    for attempt in range(settings.max_retries + 1):
        body = client.request_body(messages)
        cache_key = ReplyCache.key(settings.api_base, body)
        cached = cache.lookup(cache_key)
        if cached is not None:
            try:
                return validate_reply(parse_reply(cached), label, settings), True
            except ReplyError:
                pass  # a cache written under other rules: ask again
        try:
            reply = client.complete(body)
        except ServerError as err:
            raise UserError(out, f'label "{label}": {err}; {_kept(result)}') from None
        try:
            activity = validate_reply(parse_reply(reply), label, settings)
        except ReplyError as err:
            problem = str(err)
            cache.store(cache_key, label, body, reply, problem)
            result.invalid_replies += 1
            messages = base + [{"role": "assistant", "content": _short(reply, 4000)}, feedback_message(problem, label, settings)]
            continue
        cache.store(cache_key, label, body, reply, None)
        return activity, False
    raise UserError(
        out,
        f'label "{label}": no valid reply in {settings.max_retries + 1} tries (last: {_short(problem)}); '
        f"raw replies in {cache.folder}; {_kept(result)}",
    )


def run_meta(settings: GenerationSettings, prompt: str | Path | None) -> dict[str, Any]:
    """How the corpus was generated (the ``meta`` block of the file; the latest run's settings)."""
    return {
        "generator": "mmvq corpus generate",
        "style": settings.style,
        "n": settings.n,
        "shared": settings.shared,
        "api_base": settings.api_base,
        "model": settings.model,
        "temperature": settings.temperature,
        "seed": settings.seed,
        "description": settings.description,
        **({"holdout_labels": list(settings.holdout_labels)} if settings.holdout_labels else {}),
        "prompt": str(prompt) if prompt is not None else default_prompt_path(settings.style).name,
    }


def _kept(result: GenerationResult) -> str:
    n = len(result.skipped) + len(result.generated)
    if not n:
        return "nothing written"
    return f"{n} finished label{'s are' if n != 1 else ' is'} kept, run again to continue"


def _progress(items: list[str], enabled: bool) -> Any:
    if not enabled:
        return items
    return tqdm(items, desc="labels", unit="label")


def settings_dict(settings: GenerationSettings) -> dict[str, Any]:
    """The settings as a plain dict (for printing / notebooks)."""
    return asdict(settings)


__all__ = [
    "GenerationResult",
    "GenerationSettings",
    "ReplyError",
    "api_key_for",
    "build_messages",
    "default_prompt_path",
    "generate_corpus",
    "load_template",
    "parse_reply",
    "raw_folder",
    "reply_schema",
    "validate_reply",
]
