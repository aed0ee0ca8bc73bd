"""The SIMULATED judge provider: an HTTP server in the OpenAI and Anthropic wire formats.

It is not a real model. It lets the real `openai` and `anthropic` SDKs talk to
something over real sockets in tests, the demo and benchmarks, with realistic
latency, rate limits (429 + `retry-after`) and server errors (500/529), while
verdicts come from the transparent rule in `judge_service.simulate.decision`.
Every response carries `x-simulated-judge: true`, every reply starts with
"Simulated judge (not a real model)", and the model list says so too.

Routes: `POST /v1/chat/completions` (OpenAI SDK, `base_url=<url>/v1`),
`POST /v1/messages` (Anthropic SDK, `base_url=<url>`), `GET /v1/models`,
`GET /healthz`, `GET /simulator/stats`.
"""

import asyncio
import json
import math
import random
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from judge_service.judging.prompt import Prompt, split_prompt
from judge_service.simulate.config import MODEL_NAME, ModelOverrideError, SimulatorConfig
from judge_service.simulate.decision import decide, reply_text, unparseable_reply

Route = Literal["openai", "anthropic"]
SIMULATED_HEADER = "x-simulated-judge"
MODEL_DESCRIPTION = "SIMULATED judge (judge-service simulator, not a real model)"


class BadRequest(Exception):
    """A request the provider would refuse with 400; the message names the problem."""


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

    @property
    def remaining(self) -> int:
        self._refill()
        return math.floor(self._tokens)

    def seconds_until_token(self) -> float:
        self._refill()
        return max(0.0, (1.0 - self._tokens) / self.rate)

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


def estimate_tokens(text: str) -> int:
    """Rough token count, ceil(chars / 4), the usual rule of thumb."""
    return math.ceil(len(text) / 4)


def _openai_duration(seconds: float) -> str:
    """OpenAI's reset format: `120ms`, `1s`, `6m0s`."""
    millis = math.ceil(seconds * 1000)
    if millis < 1000:
        return f"{millis}ms"
    minutes, secs = divmod(math.ceil(seconds), 60)
    return f"{minutes}m{secs}s" if minutes else f"{secs}s"


def _error_body(route: Route, status: int, error_type: str, message: str) -> dict[str, Any]:
    if route == "openai":
        code = "rate_limit_exceeded" if status == 429 else None
        return {"error": {"message": message, "type": error_type, "param": None, "code": code}}
    return {"type": "error", "error": {"type": error_type, "message": message}}


def _text_of(content: Any, where: str) -> str:
    """A message's text: a string, or the text parts of a content list joined by newlines."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts: list[str] = []
        for index, part in enumerate(content):
            if not isinstance(part, dict) or not isinstance(part.get("type"), str):
                raise BadRequest(f"{where}[{index}] must be an object with a 'type'")
            if part["type"] == "text":
                if not isinstance(part.get("text"), str):
                    raise BadRequest(f"{where}[{index}].text must be a string")
                texts.append(part["text"])
        return "\n".join(texts)
    if content is None:
        return ""
    raise BadRequest(f"{where} must be a string or a list of content parts")


@dataclass(frozen=True)
class _Parsed:
    """The parts of a judge request the simulator uses, from either wire format."""

    model: str
    system: str
    user: str
    prompt_tokens: int
    max_tokens: int | None


@dataclass(frozen=True)
class _Reply:
    """A judged request: what was asked, the reply text, and whether it was cut short."""

    request: _Parsed
    text: str
    truncated: bool

    @property
    def completion_tokens(self) -> int:
        return estimate_tokens(self.text)


class _Simulator:
    """Per-app state: config, rate-limit bucket, error RNG, counters."""

    def __init__(self, config: SimulatorConfig) -> None:
        self.config = config
        capacity = config.bucket_capacity
        self.bucket = (
            TokenBucket(config.rpm_limit, capacity)
            if config.rpm_limit is not None and capacity is not None
            else None
        )
        self.error_rng = random.Random(f"errors:{config.seed}")
        self.latency_rng = random.Random(f"latency:{config.seed}")
        self.started_at = datetime.now(UTC)
        self.requests = 0
        self.by_route: Counter[str] = Counter()
        self.rate_limited = 0
        self.server_errors = 0
        self.errors_by_status: Counter[str] = Counter()
        self.bad_requests = 0
        self.verdicts: Counter[str] = Counter({"A": 0, "B": 0, "C": 0, "none": 0})
        self.bias_firings = 0

    def stats(self) -> dict[str, Any]:
        return {
            "simulated": True,
            "started_at": self.started_at.isoformat(),
            "requests": self.requests,
            "by_route": {route: self.by_route[route] for route in ("openai", "anthropic")},
            "rate_limited": self.rate_limited,
            "server_errors": self.server_errors,
            "errors_by_status": dict(self.errors_by_status),
            "bad_requests": self.bad_requests,
            "verdicts": dict(self.verdicts),
            "bias_firings": self.bias_firings,
        }

    def rate_headers(self, route: Route) -> dict[str, str]:
        """Rate-limit headers in the provider's naming; none when there is no limit."""
        if self.bucket is None:
            return {}
        remaining = str(self.bucket.remaining)
        until_full = self.bucket.seconds_until_full()
        if route == "openai":
            return {
                "x-ratelimit-limit-requests": str(self.bucket.rpm),
                "x-ratelimit-remaining-requests": remaining,
                "x-ratelimit-reset-requests": _openai_duration(until_full),
            }
        # RFC 3339 to whole seconds, rounded up so the reset is never in the past.
        reset = datetime.now(UTC) + timedelta(seconds=until_full)
        if reset.microsecond:
            reset = reset.replace(microsecond=0) + timedelta(seconds=1)
        return {
            "anthropic-ratelimit-requests-limit": str(self.bucket.rpm),
            "anthropic-ratelimit-requests-remaining": remaining,
            "anthropic-ratelimit-requests-reset": reset.isoformat(timespec="seconds").replace(
                "+00:00", "Z"
            ),
        }

    def error(
        self, route: Route, status: int, error_type: str, message: str, **headers: str
    ) -> JSONResponse:
        if status == 400:
            self.bad_requests += 1
        elif status == 429:
            self.rate_limited += 1
        elif status >= 500:
            self.server_errors += 1
            self.errors_by_status[str(status)] += 1
        return JSONResponse(
            _error_body(route, status, error_type, message),
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

    def judge(self, model: str, system: str, user: str) -> str:
        """The reply text for one prompt (the per-model knobs were validated already)."""
        knobs = self.config.knobs_for(model)
        try:
            parts = split_prompt(user)
        except ValueError:
            self.verdicts["none"] += 1
            return unparseable_reply()
        decision = decide(
            parts,
            position_bias=knobs.position_bias,
            tie_rate=knobs.tie_rate,
            seed=knobs.seed,
            prompt_key=Prompt(system, user).sha256,
        )
        self.verdicts[decision.label.value] += 1
        self.bias_firings += decision.bias_fired
        return reply_text(decision)

    async def handle(
        self, route: Route, request: Request, parse: Callable[[dict[str, Any]], _Parsed]
    ) -> JSONResponse | _Reply:
        """The steps shared by both judge routes: count, rate-limit, validate, fail, wait, judge.

        Returns the error response to send, or the reply to wrap in the route's format.
        """
        self.requests += 1
        self.by_route[route] += 1
        if self.bucket is not None and not self.bucket.try_take():
            retry_after = max(1, math.ceil(self.bucket.seconds_until_token()))
            return self.error(
                route,
                429,
                "requests" if route == "openai" else "rate_limit_error",
                f"Simulated rate limit of {self.bucket.rpm} requests per minute reached "
                f"(judge-service simulator). Retry after {retry_after} s.",
                **{"retry-after": str(retry_after)},
            )
        try:
            try:
                body = json.loads(await request.body())
            except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                raise BadRequest(f"request body is not valid JSON: {exc}") from None
            if not isinstance(body, dict):
                raise BadRequest("request body must be a JSON object")
            parsed = parse(body)
            self.config.knobs_for(parsed.model)
        except (BadRequest, ModelOverrideError) as exc:
            return self.error(route, 400, "invalid_request_error", str(exc))
        failure = self.injected_error(route)
        await self.sleep()
        if failure is not None:
            return failure
        text = self.judge(parsed.model, parsed.system, parsed.user)
        if parsed.max_tokens is not None and estimate_tokens(text) > parsed.max_tokens:
            # As a real model would: cut off at max_tokens, which loses the label.
            return _Reply(parsed, text[: parsed.max_tokens * 4], truncated=True)
        return _Reply(parsed, text, truncated=False)


def _require_model(body: dict[str, Any]) -> str:
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise BadRequest("'model' is required and must be a non-empty string")
    return model


def _optional_positive_int(body: dict[str, Any], field: str) -> int | None:
    value = body.get(field)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise BadRequest(f"'{field}' must be a positive integer")
    return value


def _check_temperature(body: dict[str, Any], upper: float) -> None:
    value = body.get("temperature")
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= upper:
        raise BadRequest(f"'temperature' must be a number between 0 and {upper:g}")


def _check_messages(body: dict[str, Any]) -> list[dict[str, Any]]:
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise BadRequest("'messages' is required and must be a non-empty list")
    for index, message in enumerate(messages):
        if not isinstance(message, dict) or not isinstance(message.get("role"), str):
            raise BadRequest(f"messages[{index}] must be an object with a 'role'")
        if "content" not in message:
            raise BadRequest(f"messages[{index}].content is required")
    if body.get("stream"):
        raise BadRequest("streaming is not supported by the simulated judge provider")
    return messages


def _last_user_text(messages: list[dict[str, Any]]) -> str:
    for index in range(len(messages) - 1, -1, -1):
        if messages[index]["role"] == "user":
            return _text_of(messages[index]["content"], f"messages[{index}].content")
    raise BadRequest("'messages' must contain a user message")


def _parse_openai(body: dict[str, Any]) -> _Parsed:
    model = _require_model(body)
    messages = _check_messages(body)
    max_tokens = _optional_positive_int(body, "max_completion_tokens")
    legacy_max = _optional_positive_int(body, "max_tokens")
    max_tokens = max_tokens if max_tokens is not None else legacy_max
    _check_temperature(body, 2.0)
    texts = [
        _text_of(message["content"], f"messages[{index}].content")
        for index, message in enumerate(messages)
    ]
    system = "\n".join(
        text
        for message, text in zip(messages, texts, strict=True)
        if message["role"] in ("system", "developer")
    )
    user = _last_user_text(messages)
    return _Parsed(model, system, user, estimate_tokens("".join(texts)), max_tokens)


def _parse_anthropic(body: dict[str, Any]) -> _Parsed:
    model = _require_model(body)
    if body.get("max_tokens") is None:
        raise BadRequest("max_tokens: Field required")
    max_tokens = _optional_positive_int(body, "max_tokens")
    messages = _check_messages(body)
    for index, message in enumerate(messages):
        if message["role"] not in ("user", "assistant"):
            raise BadRequest(f"messages[{index}].role must be 'user' or 'assistant'")
    _check_temperature(body, 1.0)
    system = _text_of(body.get("system"), "system")
    texts = [
        _text_of(message["content"], f"messages[{index}].content")
        for index, message in enumerate(messages)
    ]
    user = _last_user_text(messages)
    return _Parsed(model, system, user, estimate_tokens(system + "".join(texts)), max_tokens)


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

    @app.post("/v1/chat/completions")
    async def chat_completions(request: Request) -> JSONResponse:
        result = await sim.handle("openai", request, _parse_openai)
        if isinstance(result, JSONResponse):
            return result
        parsed = result.request
        body = {
            "id": f"chatcmpl-sim-{uuid.uuid4().hex}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": parsed.model,
            "system_fingerprint": "simulated-judge",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": result.text, "refusal": None},
                    "logprobs": None,
                    "finish_reason": "length" if result.truncated else "stop",
                }
            ],
            "usage": {
                "prompt_tokens": parsed.prompt_tokens,
                "completion_tokens": result.completion_tokens,
                "total_tokens": parsed.prompt_tokens + result.completion_tokens,
            },
        }
        return JSONResponse(body, headers=sim.rate_headers("openai"))

    @app.post("/v1/messages")
    async def messages(request: Request) -> JSONResponse:
        result = await sim.handle("anthropic", request, _parse_anthropic)
        if isinstance(result, JSONResponse):
            return result
        parsed = result.request
        body = {
            "id": f"msg_sim_{uuid.uuid4().hex}",
            "type": "message",
            "role": "assistant",
            "model": parsed.model,
            "content": [{"type": "text", "text": result.text}],
            "stop_reason": "max_tokens" if result.truncated else "end_turn",
            "stop_sequence": None,
            "usage": {
                "input_tokens": parsed.prompt_tokens,
                "output_tokens": result.completion_tokens,
            },
        }
        return JSONResponse(body, headers=sim.rate_headers("anthropic"))

    @app.get("/v1/models")
    async def models(request: Request) -> dict[str, Any]:
        """OpenAI's list format, or Anthropic's when the caller sends `anthropic-version`."""
        created = sim.started_at
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

    @app.get("/healthz")
    async def healthz() -> dict[str, Any]:
        return {"status": "ok", "simulated": True}

    @app.get("/simulator/stats")
    async def stats() -> dict[str, Any]:
        """Counters since start; judge routes only (not health, stats or model list)."""
        return sim.stats()

    return app


def serve(host: str, port: int, config: SimulatorConfig) -> None:
    """Run the simulated provider in the foreground until interrupted."""
    uvicorn.run(create_app(config), host=host, port=port, log_level="info")
