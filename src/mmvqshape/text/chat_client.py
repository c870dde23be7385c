"""The chat endpoint of a corpus-generation run: requests with retries, and raw replies kept on disk.

:class:`ChatClient` sends chat completions through the official ``openai`` client and retries
timeouts, connection errors, rate limits and 5xx answers with exponential back-off;
:class:`ReplyCache` keeps every raw reply in ``<out>.raw/`` keyed by its request.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from pathlib import Path
from typing import Any, Callable

import openai
from openai import OpenAI

from ..atomic import write_json
from .generation_settings import GenerationSettings


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
    return f"the server refused the request (HTTP {status}: {short_text(str(err.message))}){hint}"


def short_text(text: str, limit: int = 160) -> str:
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
