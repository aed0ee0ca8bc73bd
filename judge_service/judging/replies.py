"""Reading a judge's reply: the decoded JSON of a Chat Completions or Messages response.

Live calls ask the SDK for the JSON as it came (`cast_to=object`) instead of its typed reply:
building that model, of which we read a few fields, was 0.2-0.4 ms of a 1.3-1.7 ms call.
The fields read are checked here instead, by pydantic against the shapes below (extra fields
ignored), so a 200 whose body is no reply (a broken proxy or OpenAI-compatible server) fails
as `MalformedReply`, naming the field. Batch answers are read by the same functions.
"""

import json
from dataclasses import dataclass, field
from typing import Any, NotRequired, TypeVar

from pydantic import TypeAdapter, ValidationError
from typing_extensions import TypedDict  # pydantic's own dependency; it asks for it before 3.12

from judge_service.config import JudgeConfig

T = TypeVar("T")


@dataclass(frozen=True)
class JudgeReply:
    text: str
    input_tokens: int | None
    output_tokens: int | None
    latency_ms: int | None  # None: answered inside a provider batch, no per-call latency
    model: str
    structured: Any = None
    truncated: bool = False
    extra: dict[str, Any] = field(default_factory=dict)
    # Of input_tokens (every prompt token), those read from the provider's prompt cache.
    cached_input_tokens: int | None = None
    # Of output_tokens (both providers bill thinking as output), those spent reasoning, where
    # the provider reports them (OpenAI); Anthropic folds them into output_tokens unreported.
    reasoning_tokens: int | None = None
    # OpenAI's `system_fingerprint`: the backend configuration that served the call.
    system_fingerprint: str | None = None
    # The thinking text (Anthropic thinking blocks), only when the judge keeps it.
    thinking: str | None = None


class MalformedReply(ValueError):
    """A 200 whose body is not the API's reply; asking again would most likely get the same."""


class _PromptDetails(TypedDict):
    cached_tokens: NotRequired[int | None]


class _CompletionDetails(TypedDict):
    reasoning_tokens: NotRequired[int | None]


class _OpenAIUsage(TypedDict):
    prompt_tokens: NotRequired[int | None]
    completion_tokens: NotRequired[int | None]
    prompt_tokens_details: NotRequired[_PromptDetails | None]
    completion_tokens_details: NotRequired[_CompletionDetails | None]


class _OpenAIMessage(TypedDict):
    content: NotRequired[str | None]


class _OpenAIChoice(TypedDict):
    message: _OpenAIMessage
    finish_reason: NotRequired[str | None]


class _ChatCompletion(TypedDict):
    choices: list[_OpenAIChoice]
    model: NotRequired[str | None]
    system_fingerprint: NotRequired[str | None]
    usage: NotRequired[_OpenAIUsage | None]


class _ContentBlock(TypedDict):
    type: str
    text: NotRequired[str]
    input: NotRequired[dict[str, Any]]
    thinking: NotRequired[str]


class _AnthropicUsage(TypedDict):
    input_tokens: int
    output_tokens: int
    cache_read_input_tokens: NotRequired[int | None]
    cache_creation_input_tokens: NotRequired[int | None]


class _Message(TypedDict):
    content: list[_ContentBlock]
    usage: _AnthropicUsage
    model: NotRequired[str | None]
    stop_reason: NotRequired[str | None]


_CHAT_COMPLETION = TypeAdapter(_ChatCompletion)
_MESSAGE = TypeAdapter(_Message)


def _checked(adapter: TypeAdapter[T], data: Any, what: str) -> T:
    try:
        return adapter.validate_python(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "the body"
        raise MalformedReply(f"not a {what}: {where}: {first['msg']}") from None


def openai_reply(
    response: Any, config: JudgeConfig, structured: bool, latency_ms: int | None
) -> JudgeReply:
    reply = _checked(_CHAT_COMPLETION, response, "chat completion")
    choice = reply["choices"][0] if reply["choices"] else None
    text = (choice["message"].get("content") if choice else None) or ""
    usage = reply.get("usage") or {}
    details = usage.get("prompt_tokens_details") or {}
    completion = usage.get("completion_tokens_details") or {}
    return JudgeReply(
        text=text,
        input_tokens=usage.get("prompt_tokens"),
        output_tokens=usage.get("completion_tokens"),
        latency_ms=latency_ms,
        model=reply.get("model") or config.model,
        structured=text if structured else None,
        truncated=bool(choice and choice.get("finish_reason") == "length"),
        cached_input_tokens=details.get("cached_tokens"),
        # Already inside completion_tokens: a part of output_tokens, never added to it.
        reasoning_tokens=completion.get("reasoning_tokens"),
        system_fingerprint=reply.get("system_fingerprint"),
    )


def anthropic_reply(
    response: Any, config: JudgeConfig, structured: bool, latency_ms: int | None
) -> JudgeReply:
    reply = _checked(_MESSAGE, response, "message")
    blocks = reply["content"]
    text = "".join(block.get("text", "") for block in blocks if block["type"] == "text")
    tool_input = None
    if structured:
        tool_inputs = [block.get("input") for block in blocks if block["type"] == "tool_use"]
        tool_input = tool_inputs[0] if tool_inputs else None
        text = json.dumps(tool_input) if tool_input is not None else text
    usage = reply["usage"]
    cache_read = usage.get("cache_read_input_tokens") or 0
    cache_write = usage.get("cache_creation_input_tokens") or 0
    return JudgeReply(
        text=text,
        # Anthropic counts cache reads and writes apart from input_tokens: the sum is the
        # prompt, as OpenAI's prompt_tokens is.
        input_tokens=usage["input_tokens"] + cache_read + cache_write,
        output_tokens=usage["output_tokens"],
        latency_ms=latency_ms,
        model=reply.get("model") or config.model,
        structured=tool_input,
        truncated=reply.get("stop_reason") == "max_tokens",
        cached_input_tokens=cache_read,
        thinking=_thinking(blocks) if config.keep_thinking else None,
    )


def _thinking(blocks: list[_ContentBlock]) -> str | None:
    """The text of the reply's thinking blocks (redacted ones carry none); None without."""
    texts = [block.get("thinking", "") for block in blocks if block["type"] == "thinking"]
    return "\n\n".join(texts) if texts else None
