"""The verdict protocol: labels per scale, the structured schema, and both parsers.

Structured judges fill a strict JSON schema (OpenAI `response_format`,
Anthropic forced tool use). Text judges end with one line per criterion,
`perception: [[A>B]]`, and the LAST such line for a criterion counts, so a
rationale that quotes labels before the verdict is not misread.
"""

import json
import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from judge_service.judging.rubrics import OVERALL
from judge_service.judging.verdicts import SlotLabel

TOOL_NAME = "record_verdict"
SCHEMA_NAME = "pairwise_verdict"


class Scale(StrEnum):
    THREE = "3-way"
    FIVE = "5-level"


LABELS: dict[Scale, tuple[str, ...]] = {
    Scale.THREE: ("A", "C", "B"),
    Scale.FIVE: ("A>>B", "A>B", "A=B", "B>A", "B>>A"),
}

LABEL_MEANINGS: dict[str, str] = {
    "A": "A is better",
    "B": "B is better",
    "C": "equally good or equally bad",
    "A>>B": "A is much better",
    "A>B": "A is better",
    "A=B": "equally good or equally bad",
    "B>A": "B is better",
    "B>>A": "B is much better",
}

_SLOT = {"A": SlotLabel.A, "B": SlotLabel.B, "C": SlotLabel.TIE}
_SLOT.update({"A>>B": SlotLabel.A, "A>B": SlotLabel.A, "A=B": SlotLabel.TIE})
_SLOT.update({"B>A": SlotLabel.B, "B>>A": SlotLabel.B})
_STRONG = {"A>>B", "B>>A"}


class VerdictParseError(ValueError):
    """The reply does not carry a complete, valid verdict."""


@dataclass(frozen=True)
class Ruling:
    """One criterion's verdict as the judge gave it, in slot terms."""

    label: str
    rationale: str | None = None

    @property
    def slot(self) -> SlotLabel:
        return _SLOT[self.label]

    @property
    def strong(self) -> bool:
        return self.label in _STRONG


@dataclass(frozen=True)
class ParsedVerdict:
    rulings: dict[str, Ruling]

    @property
    def overall(self) -> Ruling:
        return self.rulings[OVERALL]


def verdict_schema(criteria: list[str], scale: Scale) -> dict[str, Any]:
    """A strict JSON schema: each criterion a rationale, then a label (rationale first)."""
    ruling = {
        "type": "object",
        "properties": {
            "rationale": {"type": "string", "description": "One or two sentences."},
            "verdict": {"type": "string", "enum": list(LABELS[scale])},
        },
        "required": ["rationale", "verdict"],
        "additionalProperties": False,
    }
    return {
        "type": "object",
        "properties": {name: ruling for name in criteria},
        "required": list(criteria),
        "additionalProperties": False,
    }


def parse_structured(data: Any, criteria: list[str], scale: Scale) -> ParsedVerdict:
    if isinstance(data, str):
        try:
            data = json.loads(data)
        except json.JSONDecodeError as exc:
            raise VerdictParseError(f"reply is not valid JSON: {exc.msg}") from None
    if not isinstance(data, dict):
        raise VerdictParseError("reply is not a JSON object")
    rulings = {}
    for name in criteria:
        entry = data.get(name)
        if not isinstance(entry, dict):
            raise VerdictParseError(f"no verdict for {name!r}")
        label = entry.get("verdict")
        if label not in LABELS[scale]:
            raise VerdictParseError(f"{name!r}: {label!r} is not one of {LABELS[scale]}")
        rationale = entry.get("rationale")
        rulings[name] = Ruling(label, rationale if isinstance(rationale, str) else None)
    return ParsedVerdict(rulings)


def _line_pattern(scale: Scale) -> re.Pattern[str]:
    labels = "|".join(re.escape(label) for label in sorted(LABELS[scale], key=len, reverse=True))
    return re.compile(
        rf"^[ \t>*_-]*(?P<name>[a-z][a-z0-9_]*)[ \t*_]*:[ \t*_]*\[\[\s*(?P<label>{labels})\s*\]\]"
        r"[ \t]*(?P<rest>.*)$",
        re.MULTILINE,
    )


_BARE_LABEL = re.compile(r"\[\[\s*([ABC])\s*\]\]")


def parse_text(text: str, criteria: list[str], scale: Scale) -> ParsedVerdict:
    """Labels from `name: [[LABEL]] optional reason` lines; the last line per name counts.

    A reply with no `overall:` line but a bare 3-way label (`[[A]]`, the
    classic MT-Bench ending) is read by its last bare label, when overall is
    the only criterion.
    """
    found: dict[str, Ruling] = {}
    for match in _line_pattern(scale).finditer(text or ""):
        if match["name"] in criteria:
            reason = match["rest"].strip(" -—:") or None
            found[match["name"]] = Ruling(match["label"], reason)
    if OVERALL not in found and criteria == [OVERALL] and scale is Scale.THREE:
        bare = _BARE_LABEL.findall(text or "")
        if bare:
            found[OVERALL] = Ruling(bare[-1])
    missing = [name for name in criteria if name not in found]
    if missing:
        raise VerdictParseError(f"no verdict line for {', '.join(missing)}")
    return ParsedVerdict({name: found[name] for name in criteria})
