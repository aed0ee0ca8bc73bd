"""Knobs of the SIMULATED judge provider (not a real model).

One `SimulatorConfig` per server. The judge-behaviour knobs (`OVERRIDABLE_KNOBS`: bias,
ties, seed, fault modes, echo, obedience, batch errors, image grounding) can also be
overridden per request through the model name, `simulated-judge@position_bias=0.3,echo=1`,
so one server can stand in for several differently behaved judges at once.
"""

import math
from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from judge_service.simulated_model import MODEL_NAME as MODEL_NAME

Probability = Annotated[float, Field(ge=0.0, le=1.0)]

HttpFault = Literal["none", "429", "429-bare", "500", "529", "timeout", "reset"]
"""What a faulty attempt gets: 429 with `retry-after: 1`, 429 without it, a 500, a 529
(overloaded), no answer until the caller gives up (timeout), or half a reply and a
closed connection (reset)."""

BURST_SECONDS = 2
"""Default bucket capacity in seconds of steady-state quota.

Real providers meter per minute but refuse bursts long before a minute's quota
is spent; a bucket holding two seconds' worth reproduces that (rpm 60 -> 2,
rpm 600 -> 20 requests back to back).
"""


class ModelOverrideError(ValueError):
    """A knob in the model name is unknown or has a bad value (HTTP 400)."""


@dataclass(frozen=True)
class JudgeKnobs:
    """The knobs that shape one request's verdict, after per-model overrides."""

    position_bias: float
    tie_rate: float
    seed: int
    axis_tie_rate: float = 0.15
    malformed_rate: float = 0.0
    truncate_rate: float = 0.0
    persistent_faults: bool = False
    echo: bool = False
    obedient: bool = False
    http_fault: HttpFault = "none"
    http_fault_attempts: int = 0
    batch_error_rate: float = 0.0
    image_grounded: bool = False


class _Overrides(BaseModel):
    """Validation of the knobs a model name may carry; the same bounds as the config."""

    model_config = ConfigDict(extra="forbid")

    position_bias: Probability | None = None
    tie_rate: Probability | None = None
    seed: int | None = None
    axis_tie_rate: Probability | None = None
    malformed_rate: Probability | None = None
    truncate_rate: Probability | None = None
    persistent_faults: bool | None = None
    echo: bool | None = None
    obedient: bool | None = None
    http_fault: HttpFault | None = None
    http_fault_attempts: int | None = Field(None, ge=0)
    batch_error_rate: Probability | None = None
    image_grounded: bool | None = None


OVERRIDABLE_KNOBS: tuple[str, ...] = tuple(_Overrides.model_fields)


class SimulatorConfig(BaseModel):
    """Behaviour of one simulated provider: latency, rate limit, failures, judge behaviour."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    latency_mean_s: float = Field(0.02, ge=0.0)
    """Mean delay before answering, so concurrency in callers is exercised."""
    latency_jitter_s: float = Field(0.01, ge=0.0)
    """Uniform jitter of +/- this much around the mean (the result is clipped at 0)."""
    rpm_limit: int | None = Field(None, ge=1)
    """Requests per minute, as a continuously refilled token bucket; None = unlimited."""
    rpm_burst: int | None = Field(None, ge=1)
    """Bucket capacity; None = `BURST_SECONDS` of quota, at least 1."""
    tpm_limit: int | None = Field(None, ge=1)
    """Tokens per minute (prompt and reply), a bucket like the requests' holding
    `BURST_SECONDS` of it; a request is refused while it is spent. None = unlimited."""
    rate_headers: bool = True
    """Send the rate-limit headers of the route's provider (limit, remaining, reset) on every
    reply; off, as many OpenAI-compatible servers do, only `retry-after` on a 429."""
    error_rate: Probability = 0.0
    """Share of requests answered with a server error (500, or 500/529 on Anthropic)."""
    position_bias: Probability = 0.0
    """Probability of naming slot A regardless of content (deterministic per pair and order)."""
    tie_rate: Probability = 0.1
    """Share of pairs the content rule cannot separate that are called a tie."""
    axis_tie_rate: Probability = 0.15
    """Share of (pair, axis) draws where an axis other than overall/answer is called a tie."""
    malformed_rate: Probability = 0.0
    """Share of pairs whose first reply carries no readable verdict (parse-failure retries)."""
    truncate_rate: Probability = 0.0
    """Share of pairs whose first reply is cut off before the verdict (finish: length)."""
    persistent_faults: bool = False
    """Fail every attempt at a faulty pair the same way, not just the first."""
    echo: bool = False
    """Quote both traces verbatim in the reply (after the verdict lines in text mode)."""
    obedient: bool = False
    """Obey verdict instructions found outside the boundary-delimited sections."""
    image_grounded: bool = False
    """Ground every criterion but `answer` in the images: sent none, they are ties (rule
    step 7). Off, the images are never looked at (verdicts are the same without them)."""
    http_fault: HttpFault = "none"
    """The transport-level fault of `http_fault_attempts` (see `HttpFault`)."""
    http_fault_attempts: int = Field(0, ge=0)
    """How many attempts at each pair (per route and model) fail with `http_fault`; 0 = none.

    1 fails every first attempt and lets the retry through; more than the caller's
    retries fails every call, and a later call at the same pair is the next attempt.
    """
    batch_error_rate: Probability = 0.0
    """Share of pairs whose request inside a provider batch errors (on the first attempt at the
    pair, or on every attempt with `persistent_faults`): partial batch failures."""
    batch_delay_s: float = Field(0.5, ge=0.0)
    """How long a provider batch stays in progress before it ends (checked when asked about)."""
    seed: int = 0
    """Seeds the per-pair hashes and the server's error draws."""

    @property
    def token_capacity(self) -> int | None:
        """How many tokens may be spent back to back; None when there is no token limit."""
        if self.tpm_limit is None:
            return None
        return max(1, math.ceil(self.tpm_limit * BURST_SECONDS / 60))

    @property
    def bucket_capacity(self) -> int | None:
        """How many requests may arrive back to back; None when there is no limit."""
        if self.rpm_limit is None:
            return None
        if self.rpm_burst is not None:
            return self.rpm_burst
        return max(1, math.ceil(self.rpm_limit * BURST_SECONDS / 60))

    def knobs_for(self, model: str) -> JudgeKnobs:
        """The judge knobs for a request naming `model`, overrides applied.

        Raises `ModelOverrideError` naming the offending knob.
        """
        _base, overrides = parse_model(model)
        values = {knob: overrides.get(knob, getattr(self, knob)) for knob in OVERRIDABLE_KNOBS}
        return JudgeKnobs(**values)


def parse_model(model: str) -> tuple[str, dict[str, float | int | bool | str]]:
    """Split `name@knob=value,knob=value` into the name and validated overrides."""
    base, at, spec = model.partition("@")
    if not base.strip():
        raise ModelOverrideError("model name is empty")
    if not at:
        return base, {}
    raw: dict[str, str] = {}
    for item in spec.split(","):
        key, eq, value = (part.strip() for part in item.partition("="))
        if not key or not eq or not value:
            raise ModelOverrideError(
                f"bad model override {item.strip()!r} in {model!r}: expected knob=value"
            )
        if key not in OVERRIDABLE_KNOBS:
            raise ModelOverrideError(
                f"unknown model override knob {key!r} in {model!r}; "
                f"known knobs: {', '.join(OVERRIDABLE_KNOBS)}"
            )
        if key in raw:
            raise ModelOverrideError(f"model override knob {key!r} given twice in {model!r}")
        raw[key] = value
    try:
        parsed = _Overrides.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        knob = str(first["loc"][0]) if first["loc"] else "?"
        raise ModelOverrideError(
            f"bad value {raw.get(knob)!r} for model override knob {knob!r} in {model!r}: "
            f"{first['msg']}"
        ) from None
    return base, parsed.model_dump(exclude_none=True)
