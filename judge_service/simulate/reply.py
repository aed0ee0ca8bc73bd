"""What the SIMULATED judge writes back: honest replies, follow-ups and deliberate faults.

Text replies are a paragraph labelled as simulated, then one verdict line per
criterion (`name: [[LABEL]] simulated rule: reason`), which is the text
protocol of `judge_service.judging.protocol`. Structured replies are the same
rulings as `{criterion: {"rationale", "verdict"}}`. The fault helpers produce
the failures a real judge produces (no verdict lines, invalid JSON, a reply cut
off at the token limit) so the service's parse-failure handling can be tested.
"""

import json
from dataclasses import dataclass
from typing import Any

from judge_service.judging.prompt import neutralise
from judge_service.judging.protocol import Scale
from judge_service.judging.rubrics import OVERALL
from judge_service.simulate.decision import CriterionRuling

PREAMBLE = (
    "Simulated judge (not a real model): this verdict comes from a fixed, documented "
    "rule, not from understanding the traces."
)


@dataclass(frozen=True)
class Judgement:
    """Everything a reply is rendered from: per-criterion rulings and the explanation."""

    rulings: list[CriterionRuling]
    scale: Scale
    reason: str
    echo: tuple[str, str] | None = None
    """Trace A and trace B as the judge saw them, when echo mode quotes them."""

    @property
    def labels(self) -> dict[str, str]:
        return {ruling.name: ruling.label(self.scale) for ruling in self.rulings}


def verdict_lines(judgement: Judgement) -> str:
    """One `name: [[LABEL]] simulated rule: reason` line per criterion, in order."""
    return "\n".join(
        f"{ruling.name}: [[{ruling.label(judgement.scale)}]] simulated rule: {ruling.reason}"
        for ruling in judgement.rulings
    )


def _paragraph(judgement: Judgement) -> str:
    return f"{PREAMBLE} {neutralise(judgement.reason)}"


def _echo_block(judgement: Judgement) -> str:
    assert judgement.echo is not None
    trace_a, trace_b = judgement.echo
    return (
        "Simulated echo mode: the traces as I read them, quoted verbatim.\n"
        f"--- trace A ---\n{trace_a}\n--- trace B ---\n{trace_b}"
    )


def reply_text(judgement: Judgement) -> str:
    """Text mode: the labelled paragraph, the verdict lines, then (echo mode) the quotes.

    Quotes come after the verdict lines on purpose: a parser that trusted the last
    label-looking line anywhere would be fooled unless the traces were neutralised.
    """
    text = f"{_paragraph(judgement)}\n\n{verdict_lines(judgement)}"
    if judgement.echo is not None:
        text += "\n\n" + _echo_block(judgement)
    return text


def followup_text(judgement: Judgement) -> str:
    """The answer to a follow-up turn asking for the verdict lines only."""
    return verdict_lines(judgement)


def structured_verdict(judgement: Judgement) -> dict[str, dict[str, str]]:
    """Structured mode: `{criterion: {"rationale", "verdict"}}` in the schema's order."""
    verdict = {}
    for ruling in judgement.rulings:
        rationale = f"Simulated rule: {ruling.reason}"
        if ruling.name == OVERALL:
            rationale = _paragraph(judgement)
            if judgement.echo is not None:
                trace_a, trace_b = judgement.echo
                rationale += f" Trace A, verbatim: «{trace_a}» Trace B, verbatim: «{trace_b}»"
        verdict[ruling.name] = {"rationale": rationale, "verdict": ruling.label(judgement.scale)}
    return verdict


def malformed_text(judgement: Judgement) -> str:
    """Prose that never commits to a verdict line: what a rambling judge sends."""
    return (
        f"{_paragraph(judgement)}\n\nSimulated malformed reply: both traces have merits and "
        "I will not write the verdict lines this time."
    )


def malformed_json(judgement: Judgement) -> str:
    """Not JSON at all: a Python-style dict wrapped in prose (single quotes, no braces match)."""
    return f"Simulated malformed reply (not JSON): {structured_verdict(judgement)!r}"


def cut_before_labels(text: str) -> str:
    """`text` cut off just before its first verdict label, as a token limit would."""
    position = text.find("[[")
    return text if position < 0 else text[:position]


def cut_json(text: str) -> str:
    """A JSON document cut off half-way: never valid JSON."""
    return text[: max(1, len(text) // 2)]


def cut_tool_input(verdict: dict[str, Any]) -> dict[str, Any]:
    """The first half of the criteria only (nothing when there is one), as if cut off."""
    names = list(verdict)
    return {name: verdict[name] for name in names[: len(names) // 2]}


def unparseable_reply() -> str:
    """The reply to a prompt that is not the pairwise template: deliberately no verdict label."""
    return (
        "Simulated judge (not a real model): the prompt does not follow the pairwise "
        "reasoning-trace template (a boundary code, delimited question and traces A and B, "
        "and the criteria and labels to use), so the rule has nothing to compare and no "
        "verdict is given."
    )


def as_json(verdict: dict[str, Any]) -> str:
    """The structured verdict as OpenAI puts it in `message.content`."""
    return json.dumps(verdict, ensure_ascii=False)
