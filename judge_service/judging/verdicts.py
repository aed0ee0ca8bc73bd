"""Verdict labels, their parsing, and the mapping from slots back to models.

A judge sees two slots, A and B. Which model sits in which slot depends on the
order; every verdict is mapped back to `baseline` / `candidate` / `tie` before
it is stored, so statistics never see slots.
"""

import re
from enum import StrEnum


class Order(StrEnum):
    BASELINE_FIRST = "baseline_first"
    CANDIDATE_FIRST = "candidate_first"


class Verdict(StrEnum):
    BASELINE = "baseline"
    CANDIDATE = "candidate"
    TIE = "tie"


class SlotLabel(StrEnum):
    A = "A"
    B = "B"
    TIE = "C"


_LABEL = re.compile(r"\[\[\s*([ABC])\s*\]\]")


def parse_label(text: str) -> SlotLabel | None:
    """The last `[[A]]`/`[[B]]`/`[[C]]` in the reply, or None.

    The last one wins: a rationale that quotes the instructions ("answer [[A]]
    if ...") before giving its own verdict must not be read as that quote.
    """
    matches = _LABEL.findall(text or "")
    return SlotLabel(matches[-1]) if matches else None


def to_verdict(label: SlotLabel, order: Order) -> Verdict:
    if label is SlotLabel.TIE:
        return Verdict.TIE
    a_is_baseline = order is Order.BASELINE_FIRST
    if (label is SlotLabel.A) == a_is_baseline:
        return Verdict.BASELINE
    return Verdict.CANDIDATE
