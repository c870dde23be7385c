"""What a corpus-generation run asks an LLM for, and how hard it tries (:class:`GenerationSettings`)."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlparse

from ..errors import UserError

STYLES = ("split", "unsplit", "observable")
"""split: Arm and Leg fields; unsplit: one sentence; observable: one sentence of what a worn accelerometer records."""
DEFAULT_API_BASE = "https://api.openai.com/v1"
DEFAULT_MODEL = "gpt-4o-mini"


@dataclass
class GenerationSettings:
    """Everything that decides what is asked and how hard to try."""

    n: int = 10  # sub-actions per label
    style: str = "split"  # "split" (Arm/Leg fields), "unsplit" (one sentence) or "observable" (one sentence, sensor-observable)
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
