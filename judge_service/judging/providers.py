"""Judge calls through the official SDKs, async so one job can keep many in flight.

A live client makes one attempt per call (the SDK's `max_retries=0`): retries live in
one layer only, `judging/retries.py`, driven by `judging/paced.py` so each attempt waits
for the judge's shared rate budget. The one extra call the job may make is a follow-up
when a reply has no verdict.

Calls go through the SDKs' documented `client.post(path, cast_to=..., body=...)`: the
same retries and errors as `create(...)`, without re-walking a body we already built to the
API's shape (that walk was a quarter of a call's CPU), and with the reply as decoded JSON,
read by `judging/replies.py`.

Request bodies (`openai_body`, `anthropic_body`) and the reading of replies
(`openai_reply`, `anthropic_reply`) are separate from the calls, so batch mode
(`judging/batches.py`) sends the very same requests and reads them the same way.
"""

import asyncio
import functools
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import anthropic
import anyio
import httpx
import openai

from judge_service.config import JudgeConfig, JudgeEndpoint
from judge_service.judging.images import anthropic_image_block
from judge_service.judging.prompt import Prompt
from judge_service.judging.protocol import SCHEMA_NAME, TOOL_NAME
from judge_service.judging.rate_headers import ResponseHook
from judge_service.judging.replies import JudgeReply, MalformedReply, anthropic_reply, openai_reply

FOLLOW_UP = (
    "Your reply could not be read: it lacks the verdict lines. Reply again with the verdict "
    "lines only, one per criterion, in the required format."
)


@dataclass(frozen=True)
class JudgeCall:
    prompt: Prompt
    images: tuple[str, ...] = ()
    schema: dict[str, Any] | None = None  # set: structured output
    previous_reply: str | None = None  # set: a follow-up turn asking for the verdict only


class JudgeProvider(Protocol):
    async def complete(self, call: JudgeCall) -> JudgeReply: ...

    async def aclose(self) -> None: ...


@functools.cache
def verifying_context() -> ssl.SSLContext:
    """The process's one TLS context (httpx's default: the CA bundle, `SSL_CERT_FILE`).

    Loading the CA bundle costs about 17 ms of CPU, and every client made its own: every
    job's clients, in every work horse. Made before the fork (`load_sdks`), horses share it.
    """
    return httpx.create_ssl_context()


def client_options(
    config: JudgeConfig,
    http_client: Callable[..., Any] | None = None,
    on_response: ResponseHook | None = None,
    endpoint: JudgeEndpoint | None = None,
) -> dict[str, Any]:
    """Connection settings, the same for either SDK, for one of the judge's endpoints (the
    first when not given: batch mode sends its batches there).

    `http_client` is the SDK's own client class (its connection limits and redirects
    kept): live calls use its aiohttp one, which the SDKs offer for many calls at once. With
    hundreds in flight, httpx's pool checked every idle connection on each request and
    response, a third of a work horse's CPU. `on_response` sees every response. Live clients
    pass both and make one attempt per call (our retry layer makes the others). Batch clients
    pass neither and keep the SDK's retries: their few calls are not the rate-limited traffic.
    """
    endpoint = endpoint or config.replicas[0]
    options: dict[str, Any] = {
        "api_key": endpoint.api_key(),
        "base_url": endpoint.base_url,
        "timeout": config.timeout_s,
        "max_retries": config.max_retries if on_response is None else 0,
    }
    if http_client is not None and on_response is not None:
        options["http_client"] = http_client(
            verify=verifying_context(), event_hooks={"response": [on_response]}
        )
    return options


def openai_body(config: JudgeConfig, call: JudgeCall) -> dict[str, Any]:
    """The Chat Completions request for one call (live, or one line of a batch file)."""
    user: str | list[dict[str, Any]] = call.prompt.user
    if call.images:
        user = [{"type": "text", "text": call.prompt.user}] + [
            {"type": "image_url", "image_url": {"url": url}} for url in call.images
        ]
    messages = [
        {"role": "system", "content": call.prompt.system},
        {"role": "user", "content": user},
    ]
    if call.previous_reply is not None:
        messages.append({"role": "assistant", "content": call.previous_reply})
        messages.append({"role": "user", "content": FOLLOW_UP})
    body: dict[str, Any] = {"model": config.model, "messages": messages}
    # Reasoning models refuse `max_tokens` and any temperature but their default.
    if config.temperature is not None:
        body["temperature"] = config.temperature
    cap = "max_completion_tokens" if config.reasoning_model else "max_tokens"
    body[cap] = config.max_tokens
    if config.reasoning_effort is not None:
        body["reasoning_effort"] = config.reasoning_effort
    if call.schema is not None:
        body["response_format"] = {
            "type": "json_schema",
            "json_schema": {"name": SCHEMA_NAME, "schema": call.schema, "strict": True},
        }
    if config.seed is not None:
        body["seed"] = config.seed
    return body


def anthropic_body(config: JudgeConfig, call: JudgeCall) -> dict[str, Any]:
    """The Messages request for one call; current SDKs take no sampling parameters.

    A thinking budget turns on extended thinking; `max_tokens` caps thinking and answer.
    """
    user: str | list[dict[str, Any]] = call.prompt.user
    if call.images:
        user = [anthropic_image_block(url) for url in call.images]
        user.append({"type": "text", "text": call.prompt.user})
    messages = [{"role": "user", "content": user}]
    if call.previous_reply is not None:
        messages.append({"role": "assistant", "content": call.previous_reply or "(empty)"})
        messages.append({"role": "user", "content": FOLLOW_UP})
    # The system prompt depends only on rubric, scale and output mode: the stable prefix,
    # marked for Anthropic's prompt cache (OpenAI caches a repeated prefix by itself).
    system = {"type": "text", "text": call.prompt.system, "cache_control": {"type": "ephemeral"}}
    body: dict[str, Any] = {
        "model": config.model,
        "system": [system],
        "messages": messages,
        "max_tokens": config.max_tokens,
    }
    if config.thinking_budget_tokens is not None:
        body["thinking"] = {"type": "enabled", "budget_tokens": config.thinking_budget_tokens}
    if call.schema is not None:
        body["tools"] = [
            {
                "name": TOOL_NAME,
                "description": "Record the verdict on every criterion.",
                "input_schema": call.schema,
            }
        ]
        # Thinking may not be combined with forced tool use: the judge is offered the tool
        # (the prompt asks for it), and a verdict in text instead is parsed as strict JSON.
        forced = {"type": "tool", "name": TOOL_NAME}
        body["tool_choice"] = forced if config.thinking_budget_tokens is None else {"type": "auto"}
    return body


def _elapsed_ms(started: float) -> int:
    return round((time.perf_counter() - started) * 1000)


class OpenAIJudge:
    """OpenAI, or any OpenAI-compatible server (vLLM, Ollama) through `base_url`."""

    def __init__(
        self, config: JudgeConfig, on_response: ResponseHook, endpoint: JudgeEndpoint | None
    ) -> None:
        self._config = config
        options = client_options(config, openai.DefaultAioHttpClient, on_response, endpoint)
        self._client = openai.AsyncOpenAI(**options)

    async def complete(self, call: JudgeCall) -> JudgeReply:
        started = time.perf_counter()
        response = await self._client.post(
            "/chat/completions", cast_to=object, body=openai_body(self._config, call)
        )
        return openai_reply(response, self._config, call.schema is not None, _elapsed_ms(started))

    async def aclose(self) -> None:
        await self._client.close()


class AnthropicJudge:
    """Claude through the Messages API."""

    def __init__(
        self, config: JudgeConfig, on_response: ResponseHook, endpoint: JudgeEndpoint | None
    ) -> None:
        self._config = config
        options = client_options(config, anthropic.DefaultAioHttpClient, on_response, endpoint)
        self._client = anthropic.AsyncAnthropic(**options)

    async def complete(self, call: JudgeCall) -> JudgeReply:
        started = time.perf_counter()
        response = await self._client.post(
            "/v1/messages", cast_to=object, body=anthropic_body(self._config, call)
        )
        return anthropic_reply(
            response, self._config, call.schema is not None, _elapsed_ms(started)
        )

    async def aclose(self) -> None:
        await self._client.close()


def load_sdks() -> None:
    """Import now what the SDKs import on their first call, so forked work horses inherit it.

    RQ forks a fresh work horse for every job, and whatever a job imports dies with it. Both
    SDKs import their API resources and HTTP transports on first use, and anyio its event
    loop backend: in a horse that is every job, at more CPU than a chunk's simulated calls.
    """

    async def touch() -> None:
        await anyio.sleep(0)
        http = openai.DefaultAioHttpClient(verify=verifying_context())
        async with openai.AsyncOpenAI(
            api_key="unused", base_url="http://127.0.0.1/v1", http_client=http
        ) as oai:
            _ = oai.chat.completions
        http = anthropic.DefaultAioHttpClient(verify=verifying_context())
        async with anthropic.AsyncAnthropic(
            api_key="unused", base_url="http://127.0.0.1", http_client=http
        ) as ant:
            _ = ant.messages

    asyncio.run(touch())


def make_provider(
    config: JudgeConfig, on_response: ResponseHook, endpoint: JudgeEndpoint | None = None
) -> JudgeProvider:
    """The judge's client for one of its endpoints (the first when not given);
    `on_response` is called with each HTTP response it receives."""
    if config.provider == "anthropic":
        return AnthropicJudge(config, on_response, endpoint)
    return OpenAIJudge(config, on_response, endpoint)


def status_kind(status: int) -> str:
    """The failure kind of an HTTP status, so a run's failures say what to do about them."""
    if status == 429:
        return "rate_limited"
    if status == 529:
        return "overloaded"
    if status >= 500:
        return "server_error"
    return "provider_error"


def endpoint_down(exc: BaseException) -> bool:
    """The endpoint itself failed (refused the connection, timed out, a 5xx other than 529):
    its replicas may well answer. A 429 or 529 is the provider's "not now", paced by the
    endpoint's budget; any other status would come back the same from every replica."""
    if isinstance(exc, openai.APIStatusError | anthropic.APIStatusError):
        return exc.status_code >= 500 and exc.status_code != 529
    return isinstance(exc, openai.APIConnectionError | anthropic.APIConnectionError)


def describe_error(exc: BaseException) -> tuple[str, str]:
    """(kind, message) for a failed call; the message never carries the API key."""
    if isinstance(exc, openai.APIStatusError | anthropic.APIStatusError):
        return status_kind(exc.status_code), f"HTTP {exc.status_code}: {type(exc).__name__}"
    if isinstance(exc, openai.APITimeoutError | anthropic.APITimeoutError):
        return "timeout", "the judge did not answer in time"
    if isinstance(exc, openai.APIConnectionError | anthropic.APIConnectionError):
        return "connection_error", "could not reach the judge endpoint"
    if isinstance(exc, MalformedReply):
        return "provider_error", f"HTTP 200 with a body that is no reply ({exc})"
    return "internal_error", f"{type(exc).__name__}: {exc}"
