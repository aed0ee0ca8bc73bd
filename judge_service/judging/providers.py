"""Judge calls through the official SDKs, async so one job can keep many in flight.

Retries live in one layer only: the SDK's (`max_retries`, with its jittered
backoff and `retry-after` handling). Nothing here retries on top of it.
"""

import time
from dataclasses import dataclass
from typing import Any, Protocol

import anthropic
import openai

from judge_service.config import JudgeConfig
from judge_service.judging.prompt import Prompt


@dataclass(frozen=True)
class JudgeReply:
    text: str
    input_tokens: int | None
    output_tokens: int | None
    latency_ms: int
    model: str


class JudgeProvider(Protocol):
    async def complete(self, prompt: Prompt) -> JudgeReply: ...

    async def aclose(self) -> None: ...


def _client_options(config: JudgeConfig) -> dict[str, Any]:
    """Connection settings, the same for either SDK."""
    return {
        "api_key": config.api_key(),
        "base_url": config.base_url,
        "timeout": config.timeout_s,
        "max_retries": config.max_retries,
    }


class OpenAIJudge:
    """OpenAI, or any OpenAI-compatible server (vLLM, Ollama) through `base_url`."""

    def __init__(self, config: JudgeConfig) -> None:
        self._config = config
        self._client = openai.AsyncOpenAI(**_client_options(config))

    async def complete(self, prompt: Prompt) -> JudgeReply:
        started = time.perf_counter()
        response = await self._client.chat.completions.create(
            model=self._config.model,
            messages=[
                {"role": "system", "content": prompt.system},
                {"role": "user", "content": prompt.user},
            ],
            temperature=self._config.temperature,
            max_tokens=self._config.max_tokens,
        )
        latency_ms = round((time.perf_counter() - started) * 1000)
        text = response.choices[0].message.content if response.choices else None
        usage = response.usage
        return JudgeReply(
            text=text or "",
            input_tokens=usage.prompt_tokens if usage else None,
            output_tokens=usage.completion_tokens if usage else None,
            latency_ms=latency_ms,
            model=response.model or self._config.model,
        )

    async def aclose(self) -> None:
        await self._client.close()


class AnthropicJudge:
    """Claude through the Messages API; current SDKs take no sampling parameters."""

    def __init__(self, config: JudgeConfig) -> None:
        self._config = config
        self._client = anthropic.AsyncAnthropic(**_client_options(config))

    async def complete(self, prompt: Prompt) -> JudgeReply:
        started = time.perf_counter()
        response = await self._client.messages.create(
            model=self._config.model,
            system=prompt.system,
            messages=[{"role": "user", "content": prompt.user}],
            max_tokens=self._config.max_tokens,
        )
        latency_ms = round((time.perf_counter() - started) * 1000)
        text = "".join(block.text for block in response.content if block.type == "text")
        return JudgeReply(
            text=text,
            input_tokens=response.usage.input_tokens,
            output_tokens=response.usage.output_tokens,
            latency_ms=latency_ms,
            model=response.model or self._config.model,
        )

    async def aclose(self) -> None:
        await self._client.close()


def make_provider(config: JudgeConfig) -> JudgeProvider:
    if config.provider == "anthropic":
        return AnthropicJudge(config)
    return OpenAIJudge(config)


def describe_error(exc: BaseException) -> tuple[str, str]:
    """(kind, message) for a failed call; the message never carries the API key."""
    if isinstance(exc, openai.APIStatusError | anthropic.APIStatusError):
        return "provider_error", f"HTTP {exc.status_code}: {type(exc).__name__}"
    if isinstance(exc, openai.APITimeoutError | anthropic.APITimeoutError):
        return "timeout", "the judge did not answer in time"
    if isinstance(exc, openai.APIConnectionError | anthropic.APIConnectionError):
        return "connection_error", "could not reach the judge endpoint"
    return "internal_error", f"{type(exc).__name__}: {exc}"
