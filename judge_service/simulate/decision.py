"""The SIMULATED judge's transparent decision rule (pure functions, no I/O).

The simulator is not a model and does not read the traces for meaning. It
applies this fixed rule, so every verdict it gives can be predicted and checked:

1. Final answers. Each trace's final answer is the text after the last line that
   starts with ``Final answer:`` (case-insensitive; leading whitespace and
   markdown markers such as ``**`` or ``>`` are tolerated). When that line has
   nothing after the colon, the following non-empty lines are used. The answer is
   normalised: lowercased, whitespace collapsed, wrapping quotes/markdown and
   trailing punctuation (``.,;:!?``) removed. No such line -> no final answer.
2. Reference. When a reference answer is given and exactly one trace's final
   answer matches it, that trace wins. "Matches" means the normalised answer
   equals the normalised reference, or contains it as a whole word sequence
   (so reference ``pneumonia`` matches ``lobar pneumonia`` but not
   ``bronchopneumonia``).
3. Hash. Otherwise an order-independent hash decides: a hash of the seed and the
   two traces *sorted* gives a number in [0, 1); below ``tie_rate`` it is a tie
   ([[C]]). Else the trace whose own seeded sha256 is larger wins; identical
   traces tie. Nothing here depends on which slot a trace sits in, so without
   position bias swapping A and B swaps the verdict (perfect position
   consistency).
4. Position bias. Independently, a hash of the seed and the prompt key (a sha256
   of the exact messages) gives a number in [0, 1); below ``position_bias`` the
   judge names slot A regardless of steps 1-3. The draw is deterministic, so the
   same prompt always gets the same verdict.
"""

import hashlib
import re
from dataclasses import dataclass
from enum import StrEnum

from judge_service.judging.prompt import PromptParts
from judge_service.judging.verdicts import SlotLabel

_FINAL_ANSWER_LINE = re.compile(r"^[\s*_#>]*final answer[*_\s]*:(.*)$", re.IGNORECASE)
_WRAPPING = " \t*_`\"'"
_TRAILING_PUNCTUATION = ".,;:!?"
_LABEL_LIKE = re.compile(r"\[\[")


class Rule(StrEnum):
    """Which step of the rule produced the verdict."""

    REFERENCE = "reference"
    HASH_TIE = "hash_tie"
    HASH_WINNER = "hash_winner"
    POSITION_BIAS = "position_bias"


@dataclass(frozen=True)
class Decision:
    """A verdict, the rule behind it, and what the content rule alone would have said."""

    label: SlotLabel
    rule: Rule
    bias_fired: bool
    truthful_label: SlotLabel
    reason: str


def normalise_answer(text: str) -> str:
    """Lowercase, collapse whitespace, drop wrapping markdown/quotes and trailing punctuation."""
    value = " ".join(text.lower().split())
    previous = None
    while value != previous:
        previous = value
        value = value.strip(_WRAPPING).rstrip(_TRAILING_PUNCTUATION)
    return value


def final_answer(trace: str) -> str | None:
    """The normalised final answer of a trace, or None when it states none."""
    lines = trace.splitlines()
    for index in range(len(lines) - 1, -1, -1):
        match = _FINAL_ANSWER_LINE.match(lines[index])
        if match is None:
            continue
        text = match.group(1)
        if not normalise_answer(text):
            text = " ".join(lines[index + 1 :])
        answer = normalise_answer(text)
        return answer or None
    return None


def answer_matches(answer: str | None, reference: str) -> bool:
    """Normalised equality, or the reference appearing in the answer as whole words."""
    if answer is None or not reference:
        return False
    if answer == reference:
        return True
    return re.search(rf"(?<!\w){re.escape(reference)}(?!\w)", answer) is not None


def _digest(*parts: str | int) -> bytes:
    """sha256 over unambiguously separated parts (so ('ab','c') != ('a','bc'))."""
    h = hashlib.sha256()
    for part in parts:
        data = str(part).encode()
        h.update(len(data).to_bytes(8, "big"))
        h.update(data)
    return h.digest()


def unit_draw(*parts: str | int) -> float:
    """A deterministic number in [0, 1) from the hash of `parts`."""
    return int.from_bytes(_digest(*parts)[:8], "big") / 2**64


def _reference_winner(parts: PromptParts) -> tuple[SlotLabel | None, str]:
    """Step 2: the slot whose answer alone matches the reference, and why (or why not)."""
    reference = normalise_answer(parts.reference_answer or "")
    if not reference:
        return None, "No reference answer was given."
    a_ok = answer_matches(final_answer(parts.trace_a), reference)
    b_ok = answer_matches(final_answer(parts.trace_b), reference)
    if a_ok and not b_ok:
        return SlotLabel.A, (
            "Trace A's final answer matches the reference answer and trace B's does not, "
            "so trace A is better."
        )
    if b_ok and not a_ok:
        return SlotLabel.B, (
            "Trace B's final answer matches the reference answer and trace A's does not, "
            "so trace B is better."
        )
    both = "Both final answers match" if a_ok else "Neither final answer matches"
    return None, f"{both} the reference answer, so the reference does not separate them."


def _hash_decision(parts: PromptParts, *, tie_rate: float, seed: int) -> tuple[SlotLabel, Rule]:
    """Step 3: the order-independent hash rule."""
    first, second = sorted((parts.trace_a, parts.trace_b))
    if parts.trace_a == parts.trace_b or unit_draw("tie", seed, first, second) < tie_rate:
        return SlotLabel.TIE, Rule.HASH_TIE
    a_hash = _digest("trace", seed, parts.trace_a)
    b_hash = _digest("trace", seed, parts.trace_b)
    return (SlotLabel.A if a_hash > b_hash else SlotLabel.B), Rule.HASH_WINNER


def decide(
    parts: PromptParts, *, position_bias: float, tie_rate: float, seed: int, prompt_key: str
) -> Decision:
    """Apply the rule in the module docstring to one rendered prompt.

    `prompt_key` identifies the exact messages (the simulator passes the sha256
    of system + user text); it only feeds the position-bias draw.
    """
    truthful, reason = _reference_winner(parts)
    rule = Rule.REFERENCE
    if truthful is None:
        truthful, rule = _hash_decision(parts, tie_rate=tie_rate, seed=seed)
        if rule is Rule.HASH_TIE:
            why = (
                "the traces are identical"
                if parts.trace_a == parts.trace_b
                else "the pair's order-independent hash fell in the tie band "
                f"(tie_rate={tie_rate:g})"
            )
            reason += f" Then {why}, so the traces are called equally good."
        else:
            reason += (
                " Then the pair's order-independent hash fell outside the tie band "
                f"(tie_rate={tie_rate:g}), and trace {truthful.value} has the larger seeded "
                f"hash, so trace {truthful.value} is called better."
            )
    bias_fired = position_bias > 0 and unit_draw("bias", seed, prompt_key) < position_bias
    if bias_fired:
        truthful_text = "a tie" if truthful is SlotLabel.TIE else f"trace {truthful.value}"
        reason = (
            f"Position bias fired (position_bias={position_bias:g}, drawn from a hash of this "
            f"prompt): slot A is named regardless of content. The content rule alone would "
            f"have chosen {truthful_text}: {reason}"
        )
        return Decision(SlotLabel.A, Rule.POSITION_BIAS, True, truthful, reason)
    return Decision(truthful, rule, False, truthful, reason)


def reply_text(decision: Decision) -> str:
    """The judge's reply: a labelled-as-simulated rationale, the verdict on the last line."""
    reason = _LABEL_LIKE.sub("[ [", decision.reason)
    return (
        "Simulated judge (not a real model): this verdict comes from a fixed, documented "
        "rule, not from understanding the traces. "
        f"{reason}\n\n[[{decision.label.value}]]"
    )


def unparseable_reply() -> str:
    """The reply to a prompt that is not the pairwise template: deliberately no verdict label."""
    return (
        "Simulated judge (not a real model): the prompt does not follow the pairwise "
        "reasoning-trace template (question, optional reference, traces A and B), so the "
        "rule has nothing to compare and no verdict is given."
    )
