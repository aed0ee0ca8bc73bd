import json

import pytest

from judge_service.judging.protocol import (
    LABELS,
    Ruling,
    Scale,
    VerdictParseError,
    parse_structured,
    parse_text,
    verdict_schema,
)
from judge_service.judging.verdicts import Order, SlotLabel, Verdict, to_verdict

AXES = ["perception", "knowledge", "overall"]


def test_text_lines_last_per_criterion_wins() -> None:
    reply = (
        "The instructions say to write 'overall: [[A>B]]' at the end.\n"
        "perception: [[B>A]] B names the effusion.\n"
        "knowledge: [[A=B]]\n"
        "overall: [[B>>A]] B is right and grounded.\n"
    )
    parsed = parse_text(reply, AXES, Scale.FIVE)
    assert {name: r.label for name, r in parsed.rulings.items()} == {
        "perception": "B>A",
        "knowledge": "A=B",
        "overall": "B>>A",
    }
    assert parsed.overall.rationale == "B is right and grounded."
    assert parsed.rulings["knowledge"].rationale is None


def test_text_tolerates_markdown_decoration() -> None:
    reply = "**perception**: [[A]]\n- knowledge: [[C]]\n> overall : [[ B ]] reason"
    parsed = parse_text(reply, AXES, Scale.THREE)
    assert [r.label for r in parsed.rulings.values()] == ["A", "C", "B"]


@pytest.mark.parametrize(
    "reply",
    [
        "perception: [[A]]\noverall: [[A]]",  # knowledge missing
        "perception: [[A>B]]\nknowledge: [[A>B]]\noverall: [[A>B]]",  # 5-level labels, 3-way run
        "Both are fine. [[A]]",  # bare label with axes to rule on
        "",
    ],
)
def test_text_incomplete_or_wrong_scale_is_refused(reply: str) -> None:
    with pytest.raises(VerdictParseError):
        parse_text(reply, AXES, Scale.THREE)


def test_classic_bare_label_still_reads_for_overall_only() -> None:
    """Issue-2 replies ('... [[B]]') keep their meaning: the last bare label counts."""
    assert (
        parse_text("Quoting [[A]]; my verdict: [[B]]", ["overall"], Scale.THREE).overall.label
        == "B"
    )
    with pytest.raises(VerdictParseError):
        parse_text("[[A>B]]", ["overall"], Scale.FIVE)


def test_structured_from_dict_and_json_text() -> None:
    data = {
        "perception": {"rationale": "r1", "verdict": "A>B"},
        "knowledge": {"rationale": "r2", "verdict": "B>>A"},
        "overall": {"rationale": "r3", "verdict": "A=B"},
        "extra": {"rationale": "ignored", "verdict": "A>B"},
    }
    for payload in (data, json.dumps(data)):
        parsed = parse_structured(payload, AXES, Scale.FIVE)
        assert parsed.rulings["knowledge"] == Ruling("B>>A", "r2")
        assert set(parsed.rulings) == set(AXES)


@pytest.mark.parametrize(
    "payload",
    [
        '{"perception": {"verdict": "A"',  # truncated JSON
        "[]",
        {"perception": {"verdict": "A"}, "knowledge": {"verdict": "A"}},  # no overall
        {name: {"verdict": "A>B"} for name in AXES},  # 5-level label on a 3-way scale
        {name: "A" for name in AXES},
    ],
)
def test_structured_refuses_incomplete(payload: object) -> None:
    with pytest.raises(VerdictParseError):
        parse_structured(payload, AXES, Scale.THREE)


def test_schema_is_strict() -> None:
    schema = verdict_schema(AXES, Scale.FIVE)
    assert schema["required"] == AXES and schema["additionalProperties"] is False
    ruling = schema["properties"]["overall"]
    assert list(ruling["properties"]) == ["rationale", "verdict"]
    assert ruling["properties"]["verdict"]["enum"] == list(LABELS[Scale.FIVE])
    assert ruling["additionalProperties"] is False


@pytest.mark.parametrize(
    ("label", "slot", "strong"),
    [
        ("A>>B", SlotLabel.A, True),
        ("A>B", SlotLabel.A, False),
        ("A=B", SlotLabel.TIE, False),
        ("B>A", SlotLabel.B, False),
        ("B>>A", SlotLabel.B, True),
        ("A", SlotLabel.A, False),
        ("C", SlotLabel.TIE, False),
    ],
)
def test_labels_map_to_slots_and_strength(label: str, slot: SlotLabel, strong: bool) -> None:
    ruling = Ruling(label)
    assert (ruling.slot, ruling.strong) == (slot, strong)


def test_strong_verdicts_map_back_through_the_order() -> None:
    assert to_verdict(Ruling("A>>B").slot, Order.CANDIDATE_FIRST) is Verdict.CANDIDATE
    assert to_verdict(Ruling("A>>B").slot, Order.BASELINE_FIRST) is Verdict.BASELINE
