"""Calls to the simulated provider through the real SDKs, in the shapes the service uses.

Text mode sends `[system, user]` (Anthropic: `system=` and `[user]`); structured
mode adds OpenAI `response_format` json_schema or Anthropic forced tool use; a
text-mode retry appends the judge's reply and a follow-up user turn.
"""

import random
import weakref
from typing import Any

import anthropic
import httpx
import openai
from anthropic.types import Message
from openai.types.chat import ChatCompletion

from judge_service.background import BackgroundServer
from judge_service.judging.prompt import Prompt, read_instructions
from judge_service.judging.protocol import (
    SCHEMA_NAME,
    TOOL_NAME,
    ParsedVerdict,
    Scale,
    parse_structured,
    parse_text,
    verdict_schema,
)
from judge_service.judging.verdicts import SlotLabel
from judge_service.simulate.config import SimulatorConfig

MODEL = "simulated-judge"
MIRROR = {SlotLabel.A: SlotLabel.B, SlotLabel.B: SlotLabel.A, SlotLabel.TIE: SlotLabel.TIE}
MIRROR_LABEL = {
    "A": "B",
    "B": "A",
    "C": "C",
    "A>>B": "B>>A",
    "A>B": "B>A",
    "A=B": "A=B",
    "B>A": "A>B",
    "B>>A": "A>>B",
}
RIGHT = "The opacity is confined to one lobe with air bronchograms.\nFinal answer: Pneumonia."
WRONG = "The heart looks enlarged, so fluid is likely.\nFinal answer: pulmonary edema"
QUESTION = "What is the most likely diagnosis on this chest X-ray?"
FOLLOW_UP = (
    "Your reply did not end with a verdict line for every criterion. Reply with the "
    "verdict lines only, one per criterion, like: overall: [[LABEL]] reason"
)
PNG_DATA_URL = "data:image/png;base64,iVBORw0KGgo="


def fast(**knobs: Any) -> SimulatorConfig:
    return SimulatorConfig(latency_mean_s=0.0, latency_jitter_s=0.0, **knobs)


_OPENAI: "weakref.WeakKeyDictionary[BackgroundServer, openai.OpenAI]" = weakref.WeakKeyDictionary()
_ANTHROPIC: "weakref.WeakKeyDictionary[BackgroundServer, anthropic.Anthropic]" = (
    weakref.WeakKeyDictionary()
)


def oai(server: BackgroundServer) -> openai.OpenAI:
    """One client per server (building an SDK client costs ~20 ms), no SDK retries."""
    if server not in _OPENAI:
        _OPENAI[server] = openai.OpenAI(base_url=server.url + "/v1", api_key="sim", max_retries=0)
    return _OPENAI[server]


def ant(server: BackgroundServer) -> anthropic.Anthropic:
    """One client per server, no SDK retries."""
    if server not in _ANTHROPIC:
        _ANTHROPIC[server] = anthropic.Anthropic(base_url=server.url, api_key="sim", max_retries=0)
    return _ANTHROPIC[server]


def stats(server: BackgroundServer) -> dict[str, Any]:
    return httpx.get(server.url + "/simulator/stats").raise_for_status().json()


def announced(prompt: Prompt) -> tuple[list[str], Scale]:
    """The criteria and scale the prompt's system message announces."""
    criteria, labels = read_instructions(prompt.system)
    scale = Scale.FIVE if "A>>B" in labels else Scale.THREE
    return criteria, scale


def openai_chat(
    client: openai.OpenAI,
    prompt: Prompt,
    *,
    model: str = MODEL,
    structured: bool = False,
    user_content: Any = None,
    extra: list[dict[str, Any]] | None = None,
    max_tokens: int = 1024,
) -> ChatCompletion:
    """One judge call as the service makes it (`extra` = retry turns after the prompt)."""
    messages: list[Any] = [
        {"role": "system", "content": prompt.system},
        {"role": "user", "content": prompt.user if user_content is None else user_content},
        *(extra or []),
    ]
    options: dict[str, Any] = {}
    if structured:
        criteria, scale = announced(prompt)
        options["response_format"] = {
            "type": "json_schema",
            "json_schema": {
                "name": SCHEMA_NAME,
                "schema": verdict_schema(criteria, scale),
                "strict": True,
            },
        }
    return client.chat.completions.create(
        model=model, messages=messages, max_tokens=max_tokens, temperature=0.0, **options
    )


def anthropic_message(
    client: anthropic.Anthropic,
    prompt: Prompt,
    *,
    model: str = MODEL,
    structured: bool = False,
    user_content: Any = None,
    extra: list[dict[str, Any]] | None = None,
    max_tokens: int = 1024,
) -> Message:
    """One judge call as the service makes it (`extra` = retry turns after the prompt)."""
    messages: list[Any] = [
        {"role": "user", "content": prompt.user if user_content is None else user_content},
        *(extra or []),
    ]
    options: dict[str, Any] = {}
    if structured:
        criteria, scale = announced(prompt)
        options["tools"] = [
            {
                "name": TOOL_NAME,
                "description": "Record the pairwise verdict.",
                "input_schema": verdict_schema(criteria, scale),
            }
        ]
        options["tool_choice"] = {"type": "tool", "name": TOOL_NAME}
    return client.messages.create(
        model=model, system=prompt.system, messages=messages, max_tokens=max_tokens, **options
    )


def text_of(message: Message) -> str:
    return "".join(block.text for block in message.content if block.type == "text")


def tool_input(message: Message) -> Any:
    """The `record_verdict` tool call's input (what the service parses in structured mode)."""
    uses = [block for block in message.content if block.type == "tool_use"]
    assert len(uses) == 1 and uses[0].name == TOOL_NAME
    return uses[0].input


def ask_text(client: openai.OpenAI | anthropic.Anthropic, prompt: Prompt, **kw: Any) -> str:
    """The reply text of a text-mode call on either route."""
    if isinstance(client, openai.OpenAI):
        return openai_chat(client, prompt, **kw).choices[0].message.content or ""
    return text_of(anthropic_message(client, prompt, **kw))


def judged(
    client: openai.OpenAI | anthropic.Anthropic,
    prompt: Prompt,
    *,
    structured: bool = False,
    **kw: Any,
) -> ParsedVerdict:
    """A call in either mode on either route, parsed with the service's own parser."""
    criteria, scale = announced(prompt)
    if not structured:
        return parse_text(ask_text(client, prompt, **kw), criteria, scale)
    if isinstance(client, openai.OpenAI):
        content = openai_chat(client, prompt, structured=True, **kw).choices[0].message.content
        return parse_structured(content, criteria, scale)
    message = anthropic_message(client, prompt, structured=True, **kw)
    return parse_structured(tool_input(message), criteria, scale)


def labels(verdict: ParsedVerdict) -> dict[str, str]:
    return {name: ruling.label for name, ruling in verdict.rulings.items()}


def random_pairs(count: int, seed: int) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    words = ["opacity", "effusion", "lobe", "margin", "rib", "heart", "nodule", "size", "border"]

    def trace() -> str:
        return " ".join(rng.choice(words) for _ in range(rng.randint(6, 30))) + "."

    return [(trace(), trace()) for _ in range(count)]
