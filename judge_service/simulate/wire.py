"""Reading judge requests in the OpenAI and Anthropic wire formats (validation -> 400).

The simulator refuses what the real providers refuse (bad content parts, image
blocks of the wrong shape, a `response_format` or tool setup that is not
well-formed, parameters a reasoning model or extended thinking does not take),
so a service bug shows up as the same error it would cause in production
instead of passing silently. Images are counted, never fetched.
"""

import re
from dataclasses import dataclass
from typing import Any

from judge_service.judging.protocol import TOOL_NAME
from judge_service.simulate.reasoning import (
    DEFAULT_EFFORT,
    EFFORT_TOKENS,
    MIN_THINKING_BUDGET,
    reasoning_model,
)

BOUNDARY_PREFIX = "Boundary code:"
_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
_ANTHROPIC_MEDIA_TYPES = ("image/jpeg", "image/png", "image/gif", "image/webp")
_IGNORED_PARTS = {("openai", "refusal"), ("anthropic", "tool_use"), ("anthropic", "tool_result")}
"""Parts accepted but carrying nothing the simulator reads."""
_DATA_URL = re.compile(r"^data:image/[a-z0-9.+-]+;base64,.+", re.DOTALL)


class BadRequest(Exception):
    """A request the provider would refuse with 400; the message names the problem.

    `param` and `code` fill OpenAI's error fields where the real API sets them.
    """

    def __init__(self, message: str, param: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.param = param
        self.code = code


@dataclass(frozen=True)
class Message:
    """One conversation turn, its text parts joined by newlines."""

    role: str
    text: str


@dataclass(frozen=True)
class Structured:
    """A request for structured output: the schema to fill, and the tool to call (Anthropic)."""

    schema: dict[str, Any] | None
    tool_name: str | None = None


@dataclass(frozen=True)
class JudgeRequest:
    """The parts of a judge request the simulator uses, from either wire format."""

    model: str
    system: str
    messages: tuple[Message, ...]
    image_count: int
    prompt_tokens: int
    max_tokens: int | None
    structured: Structured | None
    # The system prompt may be served from a prompt cache: always on OpenAI (automatic),
    # on Anthropic only when a system block carries `cache_control`.
    cacheable_system: bool = False
    # Tokens the judge reasons before it answers (a reasoning model, or extended thinking),
    # billed as output, inside the same `max_tokens` cap as the answer.
    thinking_tokens: int = 0

    @property
    def prompt(self) -> str | None:
        """The first user message that starts with a boundary line: the prompt to judge."""
        for message in self.messages:
            if message.role == "user" and message.text.startswith(BOUNDARY_PREFIX):
                return message.text
        return None

    @property
    def followup(self) -> bool:
        """A later turn of a conversation (the judge already answered once)."""
        return any(message.role == "assistant" for message in self.messages)


def estimate_tokens(text: str) -> int:
    """Rough token count, ceil(chars / 4), the usual rule of thumb."""
    return -(-len(text) // 4)


def schema_criteria(schema: dict[str, Any] | None) -> tuple[list[str], list[str]] | None:
    """(criteria, labels) read from a verdict schema, or None when it is not one."""
    if schema is None:
        return None
    properties = schema.get("properties")
    if not isinstance(properties, dict) or not properties:
        return None
    labels: list[str] | None = None
    for entry in properties.values():
        verdict = entry.get("properties", {}).get("verdict") if isinstance(entry, dict) else None
        enum = verdict.get("enum") if isinstance(verdict, dict) else None
        if not isinstance(enum, list) or not all(isinstance(label, str) for label in enum):
            return None
        if labels is not None and labels != enum:
            return None
        labels = enum
    return list(properties), labels or []


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


def _text_part(part: dict[str, Any], where: str) -> str:
    if not isinstance(part.get("text"), str):
        raise BadRequest(f"{where}.text must be a string")
    return str(part["text"])


def _check_openai_image(part: dict[str, Any], where: str) -> None:
    image = part.get("image_url")
    if not isinstance(image, dict) or not isinstance(image.get("url"), str):
        raise BadRequest(f"{where}.image_url must be an object with a string 'url'")
    url = image["url"]
    if not (url.startswith(("http://", "https://")) or _DATA_URL.match(url)):
        raise BadRequest(f"{where}.image_url.url must be an http(s) URL or a base64 data URL")
    if image.get("detail", "auto") not in ("auto", "low", "high"):
        raise BadRequest(f"{where}.image_url.detail must be 'auto', 'low' or 'high'")


def _check_anthropic_image(part: dict[str, Any], where: str) -> None:
    source = part.get("source")
    if not isinstance(source, dict):
        raise BadRequest(f"{where}.source must be an object")
    if source.get("type") == "base64":
        if source.get("media_type") not in _ANTHROPIC_MEDIA_TYPES:
            raise BadRequest(
                f"{where}.source.media_type must be one of {', '.join(_ANTHROPIC_MEDIA_TYPES)}"
            )
        if not isinstance(source.get("data"), str) or not source["data"]:
            raise BadRequest(f"{where}.source.data must be a non-empty base64 string")
    elif source.get("type") == "url":
        url = source.get("url")
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise BadRequest(f"{where}.source.url must be an http(s) URL")
    else:
        raise BadRequest(f"{where}.source.type must be 'base64' or 'url'")


def _content(content: Any, where: str, route: str, role: str) -> tuple[str, int]:
    """A message's text (text parts joined by newlines) and how many images it carries."""
    if isinstance(content, str):
        return content, 0
    if content is None:
        return "", 0
    if not isinstance(content, list):
        raise BadRequest(f"{where} must be a string or a list of content parts")
    texts: list[str] = []
    images = 0
    for index, part in enumerate(content):
        at = f"{where}[{index}]"
        if not isinstance(part, dict) or not isinstance(part.get("type"), str):
            raise BadRequest(f"{at} must be an object with a 'type'")
        kind = part["type"]
        if kind == "text":
            texts.append(_text_part(part, at))
        elif route == "openai" and kind == "image_url" and role == "user":
            _check_openai_image(part, at)
            images += 1
        elif route == "anthropic" and kind == "image" and role == "user":
            _check_anthropic_image(part, at)
            images += 1
        elif (route, kind) not in _IGNORED_PARTS:
            raise BadRequest(f"{at}.type {kind!r} is not accepted in a {role} message here")
    return "\n".join(texts), images


def _check_strict(schema: Any, where: str) -> None:
    """OpenAI's strict-mode rules: every object closed and every property required."""
    if not isinstance(schema, dict):
        return
    properties = schema.get("properties")
    if schema.get("type") == "object" or isinstance(properties, dict):
        if schema.get("additionalProperties") is not False:
            raise BadRequest(f"{where}: strict schemas need 'additionalProperties': false")
        names = list(properties) if isinstance(properties, dict) else []
        required = schema.get("required", [])
        if not isinstance(required, list) or sorted(required) != sorted(names):
            raise BadRequest(f"{where}: strict schemas must list every property in 'required'")
        for name, sub in (properties if isinstance(properties, dict) else {}).items():
            _check_strict(sub, f"{where}.properties.{name}")
    _check_strict(schema.get("items"), f"{where}.items")
    for key in ("anyOf", "allOf", "oneOf"):
        subs = schema.get(key)
        for index, sub in enumerate(subs if isinstance(subs, list) else []):
            _check_strict(sub, f"{where}.{key}[{index}]")
    for key in ("$defs", "definitions"):
        defs = schema.get(key)
        for name, sub in (defs if isinstance(defs, dict) else {}).items():
            _check_strict(sub, f"{where}.{key}.{name}")


def _openai_structured(body: dict[str, Any]) -> Structured | None:
    response_format = body.get("response_format")
    if response_format is None:
        return None
    if not isinstance(response_format, dict):
        raise BadRequest("'response_format' must be an object")
    kind = response_format.get("type")
    if kind == "text":
        return None
    if kind == "json_object":
        return Structured(schema=None)
    if kind != "json_schema":
        raise BadRequest("response_format.type must be 'text', 'json_object' or 'json_schema'")
    spec = response_format.get("json_schema")
    if not isinstance(spec, dict):
        raise BadRequest("response_format.json_schema must be an object")
    if not isinstance(spec.get("name"), str) or not _NAME.match(spec["name"]):
        raise BadRequest("response_format.json_schema.name must match ^[a-zA-Z0-9_-]{1,64}$")
    schema = spec.get("schema")
    if not isinstance(schema, dict) or schema.get("type") != "object":
        raise BadRequest("response_format.json_schema.schema must be an object schema")
    strict = spec.get("strict", False)
    if not isinstance(strict, bool):
        raise BadRequest("response_format.json_schema.strict must be a boolean")
    if strict:
        _check_strict(schema, "response_format.json_schema.schema")
    return Structured(schema=schema)


def _anthropic_structured(body: dict[str, Any]) -> Structured | None:
    tools, choice = body.get("tools"), body.get("tool_choice")
    if tools is None:
        if choice is not None:
            raise BadRequest("tool_choice may only be given together with tools")
        return None
    if not isinstance(tools, list) or not tools:
        raise BadRequest("tools must be a non-empty list")
    schemas: dict[str, dict[str, Any]] = {}
    for index, tool in enumerate(tools):
        at = f"tools[{index}]"
        if not isinstance(tool, dict):
            raise BadRequest(f"{at} must be an object")
        name = tool.get("name")
        if not isinstance(name, str) or not _NAME.match(name):
            raise BadRequest(f"{at}.name must match ^[a-zA-Z0-9_-]{{1,64}}$")
        if name in schemas:
            raise BadRequest(f"{at}.name {name!r} is not unique")
        schema = tool.get("input_schema")
        if not isinstance(schema, dict) or schema.get("type") != "object":
            raise BadRequest(f"{at}.input_schema must be an object schema")
        if not isinstance(tool.get("description", ""), str):
            raise BadRequest(f"{at}.description must be a string")
        schemas[name] = schema
    if choice is None:
        choice = {"type": "auto"}
    if not isinstance(choice, dict) or choice.get("type") not in ("auto", "any", "tool", "none"):
        raise BadRequest("tool_choice.type must be 'auto', 'any', 'tool' or 'none'")
    if choice["type"] == "none":
        return None
    if choice["type"] == "tool":
        name = choice.get("name")
        if name not in schemas:
            raise BadRequest(f"tool_choice names {name!r}, which is not among the tools given")
    else:
        name = TOOL_NAME if TOOL_NAME in schemas else next(iter(schemas))
    return Structured(schema=schemas[name], tool_name=name)


def _openai_reasoning(body: dict[str, Any], model: str) -> int:
    """Tokens a reasoning model reasons; OpenAI's refusals of the parameters it does not take."""
    effort = body.get("reasoning_effort")
    if not reasoning_model(model):
        if effort is not None:
            raise BadRequest(
                "Unsupported parameter: 'reasoning_effort' is not supported with this model.",
                param="reasoning_effort",
                code="unsupported_parameter",
            )
        return 0
    if body.get("max_tokens") is not None:
        raise BadRequest(
            "Unsupported parameter: 'max_tokens' is not supported with this model. "
            "Use 'max_completion_tokens' instead.",
            param="max_tokens",
            code="unsupported_parameter",
        )
    temperature = body.get("temperature")
    if temperature is not None and temperature != 1:
        raise BadRequest(
            f"Unsupported value: 'temperature' does not support {temperature} with this "
            "model. Only the default (1) value is supported.",
            param="temperature",
            code="unsupported_value",
        )
    effort = DEFAULT_EFFORT if effort is None else effort
    if effort not in EFFORT_TOKENS:
        raise BadRequest(
            f"Invalid value: {effort!r}. Supported values are: 'minimal', 'low', 'medium', "
            "and 'high'.",
            param="reasoning_effort",
            code="invalid_value",
        )
    return EFFORT_TOKENS[effort]


def _anthropic_thinking(body: dict[str, Any], max_tokens: int | None) -> int:
    """The thinking budget (0 without thinking); Anthropic's refusals of what goes against it."""
    thinking = body.get("thinking")
    if thinking is None:
        return 0
    if not isinstance(thinking, dict) or thinking.get("type") not in ("enabled", "disabled"):
        raise BadRequest("thinking.type: Input should be 'enabled' or 'disabled'")
    if thinking["type"] == "disabled":
        return 0
    budget = thinking.get("budget_tokens")
    if isinstance(budget, bool) or not isinstance(budget, int):
        raise BadRequest("thinking.enabled.budget_tokens: Input should be a valid integer")
    if budget < MIN_THINKING_BUDGET:
        raise BadRequest(
            "thinking.enabled.budget_tokens: Input should be greater than or equal to "
            f"{MIN_THINKING_BUDGET}"
        )
    if max_tokens is not None and budget >= max_tokens:
        raise BadRequest("`max_tokens` must be greater than `thinking.budget_tokens`.")
    choice = body.get("tool_choice")
    if isinstance(choice, dict) and choice.get("type") in ("tool", "any"):
        raise BadRequest("Thinking may not be enabled when tool_choice forces tool use.")
    temperature = body.get("temperature")
    if temperature is not None and temperature != 1:
        raise BadRequest("`temperature` may only be set to 1 when thinking is enabled.")
    return budget


def parse_openai(body: dict[str, Any]) -> JudgeRequest:
    """A `POST /v1/chat/completions` body."""
    model = _require_model(body)
    messages = _check_messages(body)
    max_tokens = _optional_positive_int(body, "max_completion_tokens")
    legacy_max = _optional_positive_int(body, "max_tokens")
    max_tokens = max_tokens if max_tokens is not None else legacy_max
    _check_temperature(body, 2.0)
    reasoning = _openai_reasoning(body, model)
    structured = _openai_structured(body)
    turns: list[Message] = []
    images = 0
    for index, message in enumerate(messages):
        role = message["role"]
        if role not in ("system", "developer", "user", "assistant", "tool"):
            raise BadRequest(f"messages[{index}].role {role!r} is not a known role")
        text, count = _content(message["content"], f"messages[{index}].content", "openai", role)
        turns.append(Message(role, text))
        images += count
    system = "\n".join(turn.text for turn in turns if turn.role in ("system", "developer"))
    rest = tuple(turn for turn in turns if turn.role not in ("system", "developer"))
    tokens = estimate_tokens("".join(turn.text for turn in turns))
    return JudgeRequest(
        model, system, rest, images, tokens, max_tokens, structured, True, reasoning
    )


def parse_anthropic(body: dict[str, Any]) -> JudgeRequest:
    """A `POST /v1/messages` body."""
    model = _require_model(body)
    if body.get("max_tokens") is None:
        raise BadRequest("max_tokens: Field required")
    max_tokens = _optional_positive_int(body, "max_tokens")
    messages = _check_messages(body)
    _check_temperature(body, 1.0)
    thinking = _anthropic_thinking(body, max_tokens)
    structured = _anthropic_structured(body)
    system, _ = _content(body.get("system"), "system", "anthropic", "system")
    turns: list[Message] = []
    images = 0
    for index, message in enumerate(messages):
        role = message["role"]
        if role not in ("user", "assistant"):
            raise BadRequest(f"messages[{index}].role must be 'user' or 'assistant'")
        text, count = _content(message["content"], f"messages[{index}].content", "anthropic", role)
        turns.append(Message(role, text))
        images += count
    tokens = estimate_tokens(system + "".join(turn.text for turn in turns))
    marked = isinstance(body.get("system"), list) and any(
        isinstance(part, dict) and part.get("cache_control") == {"type": "ephemeral"}
        for part in body["system"]
    )
    return JudgeRequest(
        model, system, tuple(turns), images, tokens, max_tokens, structured, marked, thinking
    )
