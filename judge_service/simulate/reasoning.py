"""Reasoning judges in the SIMULATED provider: which models reason, and the thinking they do.

As on the real APIs, OpenAI's reasoning models are told apart by name (o1, o3, o4-mini,
gpt-5, gpt-5-mini, ...) and every Anthropic model takes extended thinking. The simulated
judge reasons a fixed amount, so tests can predict it: `EFFORT_TOKENS` for the request's
`reasoning_effort` (OpenAI's default effort is medium), or the whole thinking budget
(Anthropic). A cap too small for thinking and answer then cuts the reply as a real one is
cut. The thinking text is filler labelled as simulated: nothing is reasoned.
"""

import hashlib
import re

REASONING_MODEL = re.compile(r"^(o[1-9][0-9]*|gpt-5)([-.].*)?$")
EFFORT_TOKENS = {"minimal": 0, "low": 128, "medium": 384, "high": 1024}
DEFAULT_EFFORT = "medium"
MIN_THINKING_BUDGET = 1024
_THINKING = "Simulated thinking (not a real model): no reasoning happens here. "
_FILLER = "Weighing trace A against trace B, step by step. "


def reasoning_model(model: str) -> bool:
    """An OpenAI reasoning model, by the name before any `@knob=value` overrides."""
    name = model.partition("@")[0].rsplit("/", 1)[-1]
    return bool(REASONING_MODEL.match(name))


def thinking_text(tokens: int) -> str:
    """Filler of `tokens` tokens (4 characters each, the simulator's count)."""
    chars = tokens * 4
    text = _THINKING + _FILLER * (chars // len(_FILLER) + 1)
    return text[:chars]


def signature(text: str) -> str:
    """The opaque signature Anthropic puts on a thinking block, here a hash of its text."""
    return "sim-signature-" + hashlib.sha256(text.encode()).hexdigest()
