"""The SIMULATED judge provider: an HTTP server in the OpenAI and Anthropic wire formats.

It is not a real model. It lets the real `openai` and `anthropic` SDKs talk to
something over real sockets in tests, the demo and benchmarks, with realistic
latency, rate limits (429 + `retry-after`), server errors (500/529) and, on demand,
hangs and dropped connections, while
verdicts come from the transparent rule in `judge_service.simulate.decision`.
Every response carries `x-simulated-judge: true`, every reply is labelled as
simulated ("Simulated judge (not a real model)" in prose, "simulated rule:" on
each verdict line), and the model list says so too.

Both output modes of the verdict protocol are spoken: text (verdict lines) and
structured (OpenAI `response_format` json_schema, Anthropic tool use). Reasoning models
and extended thinking are too (`judge_service.simulate.reasoning`): the parameters they
refuse get the real APIs' 400s, and their replies carry reasoning tokens.
Knobs add the failures real judges show: replies without a verdict, replies cut
off at the token limit, a judge that quotes the traces (echo) and one that obeys
instructions it finds outside the delimited sections (obedient).

Routes: `POST /v1/chat/completions` (OpenAI SDK, `base_url=<url>/v1`),
`POST /v1/messages` (Anthropic SDK, `base_url=<url>`), `GET /v1/models`,
`GET /healthz`, `GET /simulator/stats`, `GET /simulator/requests` (the latest
requests' settings), `POST /simulator/behaviour` (the judge moves under the same name:
other knobs, another version in live replies; for drift tests), and both providers' batch APIs
(`judge_service.simulate.batches`), whose requests are judged by `batch_answer`.
"""

import asyncio
import hashlib
import json
import math
import random
import time
import uuid
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, Literal

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from judge_service.judging.prompt import PromptParts, read_instructions, split_prompt
from judge_service.judging.protocol import Scale
from judge_service.judging.rubrics import OVERALL
from judge_service.simulate.batches import BatchStore, add_batch_routes
from judge_service.simulate.config import (
    MODEL_NAME,
    OVERRIDABLE_KNOBS,
    JudgeKnobs,
    ModelOverrideError,
    SimulatorConfig,
)
from judge_service.simulate.decision import (
    content_key,
    decide,
    find_instruction,
    imageless_rulings,
    obeyed_rulings,
    outside_sections,
    rule_criteria,
    scale_of,
    unit_draw,
)
from judge_service.simulate.reasoning import signature, thinking_text
from judge_service.simulate.reply import (
    Judgement,
    as_json,
    cut_before_labels,
    cut_json,
    cut_tool_input,
    followup_text,
    malformed_json,
    malformed_text,
    reply_text,
    structured_verdict,
    unparseable_reply,
)
from judge_service.simulate.wire import (
    BadRequest,
    JudgeRequest,
    estimate_tokens,
    parse_anthropic,
    parse_openai,
    schema_criteria,
)

__all__ = ["BadRequest", "TokenBucket", "create_app", "estimate_tokens", "serve"]

Route = Literal["openai", "anthropic"]
SIMULATED_HEADER = "x-simulated-judge"
MODEL_DESCRIPTION = "SIMULATED judge (judge-service simulator, not a real model)"
RECEIVED_KEPT = 100
_TEXT_FIELDS = ("messages", "system", "tools")


class Fault(StrEnum):
    """A deliberately unusable reply (see the `malformed_rate`/`truncate_rate` knobs)."""

    MALFORMED = "malformed"
    TRUNCATED = "truncated"


class SimulatedConnectionReset(ConnectionResetError):
    """Raised mid-reply so the server closes the connection, as a dropped one looks."""


class _Reset(Response):
    """Headers and the start of a body, then the connection closes."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = [(b"content-type", b"application/json"), (b"content-length", b"4096")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b'{"id": "sim', "more_body": True})
        raise SimulatedConnectionReset("simulated connection reset (judge-service simulator)")


class _Hang(Response):
    """No answer until the caller hangs up (bounded, so a server always shuts down)."""

    MAX_WAIT_S = 300.0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            async with asyncio.timeout(self.MAX_WAIT_S):
                while (await receive())["type"] != "http.disconnect":
                    pass
        except TimeoutError:
            body = b'{"error": "simulated hang outlived its bound (judge-service simulator)"}'
            await send({"type": "http.response.start", "status": 504, "headers": []})
            await send({"type": "http.response.body", "body": body})


class TokenBucket:
    """Requests-per-minute limit refilled continuously, with a small burst capacity.

    All calls happen on one event loop with no await in between, so no lock is needed.
    """

    def __init__(
        self, rpm: int, capacity: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.rpm = rpm
        self.capacity = capacity
        self.rate = rpm / 60.0  # tokens per second
        self._clock = clock
        self._tokens = float(capacity)
        self._updated = clock()

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(self.capacity, self._tokens + (now - self._updated) * self.rate)
        self._updated = now

    def try_take(self) -> bool:
        """Take one token if there is one."""
        self._refill()
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        return False

    def spend(self, tokens: int) -> None:
        """Charge what a reply cost once it is known; the bucket may go below empty."""
        self._refill()
        self._tokens -= tokens

    @property
    def remaining(self) -> int:
        self._refill()
        return math.floor(self._tokens)

    def seconds_until_token(self) -> float:
        self._refill()
        return max(0.0, (1.0 - self._tokens) / self.rate)

    @property
    def exhausted(self) -> bool:
        self._refill()
        return self._tokens < 1.0

    def seconds_until_full(self) -> float:
        self._refill()
        return max(0.0, (self.capacity - self._tokens) / self.rate)


class _SimulatedHeaderMiddleware:
    """Adds `x-simulated-judge: true` to every response, errors and 404s included."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_header(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.append((SIMULATED_HEADER.encode(), b"true"))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_header)


def _openai_duration(seconds: float) -> str:
    """OpenAI's reset format: `120ms`, `1s`, `6m0s`."""
    millis = math.ceil(seconds * 1000)
    if millis < 1000:
        return f"{millis}ms"
    minutes, secs = divmod(math.ceil(seconds), 60)
    return f"{minutes}m{secs}s" if minutes else f"{secs}s"


def _error_body(
    route: Route,
    status: int,
    error_type: str,
    message: str,
    param: str | None = None,
    code: str | None = None,
) -> dict[str, Any]:
    if route == "openai":
        code = "rate_limit_exceeded" if status == 429 else code
        return {"error": {"message": message, "type": error_type, "param": param, "code": code}}
    return {"type": "error", "error": {"type": error_type, "message": message}}


@dataclass(frozen=True)
class _Reply:
    """A judged request: the text (or JSON text) and/or tool input to send, and if cut short."""

    request: JudgeRequest
    text: str | None
    tool_input: dict[str, Any] | None
    tool_name: str | None
    truncated: bool
    # Simulated prompt cache: prompt tokens read from it, and written to it (Anthropic).
    cache_read: int = 0
    cache_write: int = 0
    # Tokens reasoned before the answer (cut at the cap like the rest), billed as output.
    thinking_tokens: int = 0

    @property
    def answer_tokens(self) -> int:
        if self.tool_input is not None:
            return estimate_tokens(json.dumps(self.tool_input))
        return estimate_tokens(self.text or "")

    @property
    def completion_tokens(self) -> int:
        return self.answer_tokens + self.thinking_tokens


def _openai_completion(result: _Reply) -> dict[str, Any]:
    """A Chat Completions response body for a judged request."""
    parsed = result.request
    return {
        "id": f"chatcmpl-sim-{uuid.uuid4().hex}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": parsed.model,
        "system_fingerprint": "simulated-judge",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": result.text or "", "refusal": None},
                "logprobs": None,
                "finish_reason": "length" if result.truncated else "stop",
            }
        ],
        "usage": {
            "prompt_tokens": parsed.prompt_tokens,
            "completion_tokens": result.completion_tokens,
            "total_tokens": parsed.prompt_tokens + result.completion_tokens,
            "prompt_tokens_details": {"cached_tokens": result.cache_read},
            # Reasoning tokens are a part of completion_tokens, as OpenAI reports them.
            "completion_tokens_details": {"reasoning_tokens": result.thinking_tokens},
        },
    }


def _anthropic_message(result: _Reply) -> dict[str, Any]:
    """A Messages response body for a judged request."""
    parsed = result.request
    content: list[dict[str, Any]]
    if result.tool_input is not None:
        tool_use = {
            "type": "tool_use",
            "id": f"toolu_sim_{uuid.uuid4().hex[:24]}",
            "name": result.tool_name,
            "input": result.tool_input,
        }
        content, stop_reason = [tool_use], "tool_use"
    else:
        content, stop_reason = [{"type": "text", "text": result.text or ""}], "end_turn"
    if result.thinking_tokens:
        # The thinking block opens the reply; cut off inside it, the reply is nothing else.
        thought = thinking_text(result.thinking_tokens)
        thinking = {"type": "thinking", "thinking": thought, "signature": signature(thought)}
        answered = result.tool_input is not None or bool(result.text)
        content = [thinking, *content] if answered else [thinking]
    if result.truncated:
        stop_reason = "max_tokens"
    return {
        "id": f"msg_sim_{uuid.uuid4().hex}",
        "type": "message",
        "role": "assistant",
        "model": parsed.model,
        "content": content,
        "stop_reason": stop_reason,
        "stop_sequence": None,
        # Anthropic counts cache reads and writes apart from (not inside) input_tokens.
        "usage": {
            "input_tokens": parsed.prompt_tokens - result.cache_read - result.cache_write,
            "output_tokens": result.completion_tokens,
            "cache_read_input_tokens": result.cache_read,
            "cache_creation_input_tokens": result.cache_write,
        },
    }


@dataclass(frozen=True)
class _Understood:
    """A prompt the simulator could read: its sections, criteria and scale."""

    parts: PromptParts
    criteria: list[str]
    scale: Scale
    prompt: str


def _understand(request: JudgeRequest) -> _Understood | None:
    """Read the prompt, criteria and labels; None when any of them is missing."""
    prompt = request.prompt
    if prompt is None:
        return None
    try:
        parts = split_prompt(prompt)
    except ValueError:
        return None
    announced = None
    if request.structured is not None and request.structured.schema is not None:
        announced = schema_criteria(request.structured.schema)
    else:
        try:
            announced = read_instructions(request.system)
        except ValueError:
            announced = None
    if announced is None:
        return None
    criteria, labels = announced
    scale = scale_of(labels)
    if scale is None or not criteria or len(set(criteria)) != len(criteria):
        return None
    return _Understood(parts, criteria, scale, prompt)


class _Simulator:
    """Per-app state: config, rate-limit bucket, error RNG, attempt counts, counters."""

    def __init__(self, config: SimulatorConfig) -> None:
        self.config = config
        capacity = config.bucket_capacity
        self.bucket = (
            TokenBucket(config.rpm_limit, capacity)
            if config.rpm_limit is not None and capacity is not None
            else None
        )
        token_capacity = config.token_capacity
        self.token_bucket = (
            TokenBucket(config.tpm_limit, token_capacity)
            if config.tpm_limit is not None and token_capacity is not None
            else None
        )
        self.error_rng = random.Random(f"errors:{config.seed}")
        self.latency_rng = random.Random(f"latency:{config.seed}")
        self.started_at = datetime.now(UTC)
        self.attempts: Counter[tuple[str, str, str]] = Counter()
        self.http_attempts: Counter[tuple[str, str, str]] = Counter()
        self.batch_attempts: Counter[tuple[str, str, str]] = Counter()
        self.batch_errors = 0
        self.http_faults: Counter[str] = Counter()
        self.requests = 0
        # Epoch seconds of the first and last judge request: a client's achieved rate.
        self.first_request_at: float | None = None
        self.last_request_at: float | None = None
        self.by_route: Counter[str] = Counter()
        self.rate_limited = 0
        self.server_errors = 0
        self.errors_by_status: Counter[str] = Counter()
        self.bad_requests = 0
        self.verdicts: Counter[str] = Counter({"A": 0, "B": 0, "C": 0, "none": 0})
        self.bias_firings = 0
        self.images_received = 0
        self.malformed_sent = 0
        self.truncated_sent = 0
        self.followups = 0
        self.obeyed_injections = 0
        self.structured_requests = 0
        # Simulated prompt cache: a system prompt seen before (per route and model) is read
        # from it, with no expiry and no minimum length, unlike the providers' (5 min, 1,024
        # tokens), so short test prompts show it.
        self.cached_prefixes: set[tuple[str, str, str]] = set()
        self.cached_prompt_tokens = 0
        # The settings of the latest requests (bodies without their texts), for tests to
        # see what a client sent.
        self.received: deque[dict[str, Any]] = deque(maxlen=RECEIVED_KEPT)
        # Set by `POST /simulator/behaviour`: the model version live replies report.
        self.version: str | None = None

    def change_behaviour(self, knobs: dict[str, Any], version: str | None) -> dict[str, Any]:
        """The judge moves under the same model name (what a drift check must catch): new
        judge-behaviour knobs for every later request, and a new version in live replies.

        Raises ValueError naming a knob that is unknown or out of its bounds.
        """
        unknown = sorted(set(knobs) - set(OVERRIDABLE_KNOBS))
        if unknown:
            raise ValueError(f"unknown knobs {unknown}; known: {', '.join(OVERRIDABLE_KNOBS)}")
        self.config = SimulatorConfig.model_validate({**self.config.model_dump(), **knobs})
        self.version = version
        return {
            "knobs": {knob: getattr(self.config, knob) for knob in OVERRIDABLE_KNOBS},
            "version": version,
        }

    def versioned(self, body: dict[str, Any]) -> dict[str, Any]:
        """A live reply as the moved judge reports it: `<model>-<version>`, and (OpenAI) a
        fingerprint naming the version; unchanged until a version is set."""
        if self.version is not None:
            body["model"] = f"{body['model']}-{self.version}"
            if "system_fingerprint" in body:
                body["system_fingerprint"] = f"simulated-judge-{self.version}"
        return body

    def stats(self) -> dict[str, Any]:
        return {
            "simulated": True,
            "started_at": self.started_at.isoformat(),
            "requests": self.requests,
            "first_request_at": self.first_request_at,
            "last_request_at": self.last_request_at,
            "cached_prompt_tokens": self.cached_prompt_tokens,
            "by_route": {route: self.by_route[route] for route in ("openai", "anthropic")},
            "rate_limited": self.rate_limited,
            "server_errors": self.server_errors,
            "errors_by_status": dict(self.errors_by_status),
            "http_faults": dict(self.http_faults),
            "bad_requests": self.bad_requests,
            "verdicts": dict(self.verdicts),
            "bias_firings": self.bias_firings,
            "structured_requests": self.structured_requests,
            "images_received": self.images_received,
            "followups": self.followups,
            "malformed_sent": self.malformed_sent,
            "truncated_sent": self.truncated_sent,
            "obeyed_injections": self.obeyed_injections,
        }

    def rate_headers(self, route: Route) -> dict[str, str]:
        """Rate-limit headers in the provider's naming, for the requests and tokens limits
        there are; none when they are switched off."""
        if not self.config.rate_headers:
            return {}
        headers: dict[str, str] = {}
        for what, bucket in (("requests", self.bucket), ("tokens", self.token_bucket)):
            if bucket is None:
                continue
            remaining = str(max(0, bucket.remaining))
            until_full = bucket.seconds_until_full()
            if route == "openai":
                headers[f"x-ratelimit-limit-{what}"] = str(bucket.rpm)
                headers[f"x-ratelimit-remaining-{what}"] = remaining
                headers[f"x-ratelimit-reset-{what}"] = _openai_duration(until_full)
                continue
            # RFC 3339 to whole seconds, rounded up so the reset is never in the past.
            reset = datetime.now(UTC) + timedelta(seconds=until_full)
            if reset.microsecond:
                reset = reset.replace(microsecond=0) + timedelta(seconds=1)
            headers[f"anthropic-ratelimit-{what}-limit"] = str(bucket.rpm)
            headers[f"anthropic-ratelimit-{what}-remaining"] = remaining
            headers[f"anthropic-ratelimit-{what}-reset"] = reset.isoformat(
                timespec="seconds"
            ).replace("+00:00", "Z")
        return headers

    def error(
        self,
        route: Route,
        status: int,
        error_type: str,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
        **headers: str,
    ) -> JSONResponse:
        if status == 400:
            self.bad_requests += 1
        elif status == 429:
            self.rate_limited += 1
        elif status >= 500:
            self.server_errors += 1
            self.errors_by_status[str(status)] += 1
        return JSONResponse(
            _error_body(route, status, error_type, message, param, code),
            status_code=status,
            headers={**self.rate_headers(route), **headers},
        )

    async def sleep(self) -> None:
        """The configured latency: mean +/- uniform jitter, clipped at 0."""
        cfg = self.config
        delay = cfg.latency_mean_s + self.latency_rng.uniform(
            -cfg.latency_jitter_s, cfg.latency_jitter_s
        )
        if delay > 0:
            await asyncio.sleep(delay)

    def injected_error(self, route: Route) -> JSONResponse | None:
        """A server error with probability `error_rate` (OpenAI 500; Anthropic 529 or 500)."""
        rate = self.config.error_rate
        if rate <= 0 or self.error_rng.random() >= rate:
            return None
        message = "Simulated server error (judge-service simulator, not a real provider)."
        if route == "openai":
            return self.error(route, 500, "server_error", message)
        if self.error_rng.random() < 0.5:
            return self.error(route, 529, "overloaded_error", "Overloaded. " + message)
        return self.error(route, 500, "api_error", message)

    def http_fault(
        self, route: Route, request: JudgeRequest, body: bytes, knobs: JudgeKnobs
    ) -> Response | None:
        """The configured transport fault, for the first `http_fault_attempts` at a pair.

        Attempts are counted per route, model and pair (the prompt's content without its
        random boundary), so a later job's call at the same pair and order counts as a
        retry; a request whose prompt cannot be read is counted by its body.
        """
        if knobs.http_fault == "none" or knobs.http_fault_attempts == 0:
            return None
        try:
            pair = content_key(split_prompt(request.prompt or ""), request.system)
        except ValueError:
            pair = hashlib.sha256(body).hexdigest()
        key = (route, request.model, pair)
        attempt = self.http_attempts[key]
        self.http_attempts[key] += 1
        if attempt >= knobs.http_fault_attempts:
            return None
        self.http_faults[knobs.http_fault] += 1
        message = "Simulated fault (judge-service simulator, not a real provider)."
        server_error = "server_error" if route == "openai" else "api_error"
        match knobs.http_fault:
            case "429":
                limited = "requests" if route == "openai" else "rate_limit_error"
                return self.error(route, 429, limited, message, **{"retry-after": "1"})
            case "429-bare":
                limited = "requests" if route == "openai" else "rate_limit_error"
                return self.error(route, 429, limited, message)
            case "500":
                return self.error(route, 500, server_error, message)
            case "529":
                return self.error(route, 529, "overloaded_error", "Overloaded. " + message)
            case "timeout":
                return _Hang()
            case _:
                return _Reset()

    def _fault(
        self, route: Route, request: JudgeRequest, key: str, knobs: JudgeKnobs
    ) -> Fault | None:
        """Malformed or truncated on the first attempt at a pair (every attempt if persistent).

        Attempts are counted per route, model name and content key, so two judges on
        one server, or one judge retrying, each see their own first attempt.
        """
        attempt = self.attempts[(route, request.model, key)]
        self.attempts[(route, request.model, key)] += 1
        if attempt > 0 and not knobs.persistent_faults:
            return None
        if (
            knobs.malformed_rate > 0
            and unit_draw("malformed", knobs.seed, key) < knobs.malformed_rate
        ):
            return Fault.MALFORMED
        if knobs.truncate_rate > 0 and unit_draw("truncate", knobs.seed, key) < knobs.truncate_rate:
            return Fault.TRUNCATED
        return None

    def _judgement(
        self, seen: _Understood, request: JudgeRequest, knobs: JudgeKnobs
    ) -> tuple[Judgement, bool]:
        """The rulings for a readable prompt, and whether obedience overrode the rule."""
        parts = seen.parts
        decision = decide(
            parts,
            position_bias=knobs.position_bias,
            tie_rate=knobs.tie_rate,
            seed=knobs.seed,
            context=request.system,
        )
        rulings = rule_criteria(
            parts, decision, seen.criteria, axis_tie_rate=knobs.axis_tie_rate, seed=knobs.seed
        )
        reason = decision.reason
        obeyed = None
        if knobs.obedient:
            outside = outside_sections(seen.prompt, parts.boundary)
            obeyed = find_instruction([request.system, outside], seen.scale)
        if obeyed is not None:
            rulings = obeyed_rulings(obeyed, seen.criteria, seen.scale)
            reason = (
                f"Obedient mode: an instruction outside the delimited sections asked for "
                f"{obeyed!r}, and this gullible judge obeyed it on every criterion. The rule "
                f"alone said: {reason}"
            )
        elif knobs.image_grounded and not request.image_count:
            rulings = imageless_rulings(rulings)
            reason += (
                " It grounds its reading in the images and was sent none, so every criterion "
                "but answer is a tie."
            )
        elif decision.bias_fired:
            self.bias_firings += 1
        if request.image_count:
            reason += f" It saw {request.image_count} image(s)" + (
                " and grounds its reading in them."
                if knobs.image_grounded
                else " but does not look at them."
            )
        echo = (parts.trace_a, parts.trace_b) if knobs.echo else None
        return Judgement(rulings, seen.scale, reason, echo), obeyed is not None

    def judge(self, route: Route, request: JudgeRequest) -> _Reply:
        """The reply to one request, with what the simulated prompt cache served of it."""
        reply = self._judge(route, request)
        if not request.cacheable_system or not request.system:
            return reply
        key = (route, request.model, request.system)
        tokens = estimate_tokens(request.system)
        if key in self.cached_prefixes:
            self.cached_prompt_tokens += tokens
            return replace(reply, cache_read=tokens)
        self.cached_prefixes.add(key)
        # OpenAI's automatic cache bills no write; Anthropic's marked prefix is written.
        return replace(reply, cache_write=tokens) if route == "anthropic" else reply

    def _judge(self, route: Route, request: JudgeRequest) -> _Reply:
        """The reply to one request (its per-model knobs were validated already)."""
        knobs = self.config.knobs_for(request.model)
        self.images_received += request.image_count
        self.followups += request.followup
        self.structured_requests += request.structured is not None
        seen = _understand(request)
        if seen is None:
            self.verdicts["none"] += 1
            return _Reply(request, unparseable_reply(), None, None, truncated=False)
        judgement, obeyed = self._judgement(seen, request, knobs)
        self.obeyed_injections += obeyed
        fault = self._fault(route, request, content_key(seen.parts, request.system), knobs)
        if fault is Fault.MALFORMED:
            self.malformed_sent += 1
        reply = self._limited(self._render(request, judgement, fault))
        overall = next(
            (ruling for ruling in judgement.rulings if ruling.name == OVERALL),
            judgement.rulings[-1],
        )
        # A reply without a readable verdict counts as "none", whatever the rule decided.
        unusable = fault is not None or reply.truncated
        self.verdicts["none" if unusable else overall.slot.value] += 1
        return reply

    @staticmethod
    def _render(request: JudgeRequest, judgement: Judgement, fault: Fault | None) -> _Reply:
        """The reply in the requested output mode, spoiled as `fault` says."""
        structured = request.structured
        truncated = fault is Fault.TRUNCATED
        if structured is None:
            text = followup_text(judgement) if request.followup else reply_text(judgement)
            if fault is Fault.MALFORMED:
                text = malformed_text(judgement)
            elif truncated:
                text = cut_before_labels(text)
            return _Reply(request, text, None, None, truncated)
        verdict = structured_verdict(judgement)
        if structured.tool_name is not None:
            tool_input = verdict
            if fault is Fault.MALFORMED:
                tool_input = {}
            elif truncated:
                tool_input = cut_tool_input(verdict)
            return _Reply(request, None, tool_input, structured.tool_name, truncated)
        text = as_json(verdict)
        if fault is Fault.MALFORMED:
            text = malformed_json(judgement)
        elif truncated:
            text = cut_json(text)
        return _Reply(request, text, None, None, truncated)

    def _limited(self, reply: _Reply) -> _Reply:
        """Cut the reply at `max_tokens`, as a real model would (which loses the verdict).

        Thinking comes first and shares the cap: what it leaves is the answer's room.
        """
        limit = reply.request.max_tokens
        thinking = reply.request.thinking_tokens
        if limit is not None:
            thinking = min(thinking, limit)
        room = None if limit is None else limit - thinking
        if not reply.truncated and room is not None and reply.answer_tokens > room:
            if reply.tool_input is not None and room > 0:
                reply = _Reply(
                    reply.request, None, cut_tool_input(reply.tool_input), reply.tool_name, True
                )
            else:
                reply = _Reply(reply.request, (reply.text or "")[: room * 4], None, None, True)
        self.truncated_sent += reply.truncated
        return replace(reply, thinking_tokens=thinking)

    async def handle(
        self, route: Route, request: Request, parse: Callable[[dict[str, Any]], JudgeRequest]
    ) -> Response | _Reply:
        """The steps shared by both judge routes: count, rate-limit, validate, fail, wait, judge.

        Returns the error response to send, or the reply to wrap in the route's format.
        """
        self.requests += 1
        self.last_request_at = time.time()
        self.first_request_at = self.first_request_at or self.last_request_at
        self.by_route[route] += 1
        # A spent token quota refuses before the request is counted against the requests'.
        limited: tuple[str, TokenBucket] | None = None
        if self.token_bucket is not None and self.token_bucket.exhausted:
            limited = ("tokens", self.token_bucket)
        elif self.bucket is not None and not self.bucket.try_take():
            limited = ("requests", self.bucket)
        if limited is not None:
            what, bucket = limited
            retry_after = max(1, math.ceil(bucket.seconds_until_token()))
            return self.error(
                route,
                429,
                what if route == "openai" else "rate_limit_error",
                f"Simulated rate limit of {bucket.rpm} {what} per minute reached "
                f"(judge-service simulator). Retry after {retry_after} s.",
                **{"retry-after": str(retry_after)},
            )
        raw = await request.body()
        try:
            try:
                body = json.loads(raw)
            except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                raise BadRequest(f"request body is not valid JSON: {exc}") from None
            parsed, knobs = self._read(body, parse)
        except (BadRequest, ModelOverrideError) as exc:
            if isinstance(exc, BadRequest):
                return self.error(
                    route, 400, "invalid_request_error", str(exc), param=exc.param, code=exc.code
                )
            return self.error(route, 400, "invalid_request_error", str(exc))
        failure = self.http_fault(route, parsed, raw, knobs) or self.injected_error(route)
        await self.sleep()
        if failure is not None:
            return failure
        reply = self.judge(route, parsed)
        if self.token_bucket is not None:
            self.token_bucket.spend(parsed.prompt_tokens + reply.completion_tokens)
        return reply

    def _read(
        self, body: Any, parse: Callable[[dict[str, Any]], JudgeRequest]
    ) -> tuple[JudgeRequest, JudgeKnobs]:
        """The request and its knobs; raises `BadRequest` / `ModelOverrideError` (a 400)."""
        if not isinstance(body, dict):
            raise BadRequest("request body must be a JSON object")
        self.received.append({k: v for k, v in body.items() if k not in _TEXT_FIELDS})
        parsed = parse(body)
        return parsed, self.config.knobs_for(parsed.model)

    def batch_answer(self, route: Route, body: Any) -> tuple[int, dict[str, Any]]:
        """One request inside a provider batch: its status and the body a live call would get.

        Judged by the same rule as the live routes; a batch has no rate limit, latency or
        transport fault, but `batch_error_rate` makes a share of its requests error.
        """
        parse = parse_openai if route == "openai" else parse_anthropic
        try:
            parsed, knobs = self._read(body, parse)
        except (BadRequest, ModelOverrideError) as exc:
            self.bad_requests += 1
            fields = {"param": exc.param, "code": exc.code} if isinstance(exc, BadRequest) else {}
            return 400, _error_body(route, 400, "invalid_request_error", str(exc), **fields)
        if self._batch_error(route, parsed, knobs):
            self.batch_errors += 1
            message = "Simulated error inside a batch (judge-service simulator, not a provider)."
            kind = "server_error" if route == "openai" else "api_error"
            return 500, _error_body(route, 500, kind, message)
        reply = self.judge(route, parsed)
        return 200, _openai_completion(reply) if route == "openai" else _anthropic_message(reply)

    def _batch_error(self, route: Route, request: JudgeRequest, knobs: JudgeKnobs) -> bool:
        """Whether this batch request errors: drawn per pair, like the reply faults.

        The first attempt at a pair (per route and model) errors with probability
        `batch_error_rate`; later ones only with `persistent_faults`.
        """
        if knobs.batch_error_rate <= 0:
            return False
        try:
            key = content_key(split_prompt(request.prompt or ""), request.system)
        except ValueError:
            return False
        attempt = self.batch_attempts[(route, request.model, key)]
        self.batch_attempts[(route, request.model, key)] += 1
        if attempt > 0 and not knobs.persistent_faults:
            return False
        return unit_draw("batch_error", knobs.seed, key) < knobs.batch_error_rate


def create_app(config: SimulatorConfig) -> FastAPI:
    """A fresh simulated provider; state (bucket, counters, RNG) lives in this app only."""
    sim = _Simulator(config)
    app = FastAPI(
        title="judge-service SIMULATED judge provider",
        description="Not a real model: verdicts follow a fixed, documented rule.",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.simulator = sim
    app.add_middleware(_SimulatedHeaderMiddleware)
    batches = BatchStore(config.batch_delay_s, sim.batch_answer)
    add_batch_routes(app, batches)

    @app.post("/v1/chat/completions")
    async def chat_completions(request: Request) -> Response:
        result = await sim.handle("openai", request, parse_openai)
        if isinstance(result, Response):
            return result
        return JSONResponse(
            sim.versioned(_openai_completion(result)), headers=sim.rate_headers("openai")
        )

    @app.post("/v1/messages")
    async def messages(request: Request) -> Response:
        result = await sim.handle("anthropic", request, parse_anthropic)
        if isinstance(result, Response):
            return result
        return JSONResponse(
            sim.versioned(_anthropic_message(result)), headers=sim.rate_headers("anthropic")
        )

    @app.get("/v1/models")
    async def models(request: Request) -> dict[str, Any]:
        """OpenAI's list format, or Anthropic's when the caller sends `anthropic-version`."""
        created = sim.started_at
        entry: dict[str, Any]
        if "anthropic-version" in request.headers:
            entry = {
                "type": "model",
                "id": MODEL_NAME,
                "display_name": MODEL_DESCRIPTION,
                "created_at": created.isoformat().replace("+00:00", "Z"),
            }
            ids = {"first_id": MODEL_NAME, "last_id": MODEL_NAME}
            return {"data": [entry], "has_more": False, **ids}
        entry = {
            "id": MODEL_NAME,
            "object": "model",
            "created": int(created.timestamp()),
            "owned_by": MODEL_DESCRIPTION,
        }
        return {"object": "list", "data": [entry]}

    @app.get("/simulator/requests")
    async def received() -> list[dict[str, Any]]:
        """The latest judge requests' settings, oldest first: bodies without their texts."""
        return list(sim.received)

    @app.post("/simulator/behaviour")
    async def behaviour(request: Request) -> Response:
        """`{"knobs": {"position_bias": 0.6}, "version": "2026-12"}`: the SIMULATED judge
        behaves and reports itself differently from now on, its model name unchanged."""
        body = await request.json()
        try:
            changed = sim.change_behaviour(body.get("knobs", {}), body.get("version"))
        except ValueError as exc:  # pydantic's ValidationError is one
            return JSONResponse({"error": str(exc)}, status_code=400)
        return JSONResponse(changed)

    @app.get("/healthz")
    async def healthz() -> dict[str, Any]:
        return {"status": "ok", "simulated": True}

    @app.get("/simulator/stats")
    async def stats() -> dict[str, Any]:
        """Counters since start; judge routes only (not health, stats or model list).

        `requests` and `by_route` count live calls; `batches` and `batch_requests` count
        provider batches created and the requests answered inside them.
        """
        return {**sim.stats(), **batches.stats(), "batch_errors": sim.batch_errors}

    return app


def serve(host: str, port: int, config: SimulatorConfig) -> None:
    """Run the simulated provider in the foreground until interrupted."""
    uvicorn.run(create_app(config), host=host, port=port, log_level="info")
