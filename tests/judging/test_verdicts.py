import pytest

from judge_service.judging.verdicts import Order, SlotLabel, Verdict, parse_label, to_verdict


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ("B reasons better.\n[[B]]", SlotLabel.B),
        ("[[A]]", SlotLabel.A),
        ("Equally good. [[C]]", SlotLabel.TIE),
        ("Spacing tolerated: [[ B ]]", SlotLabel.B),
        # The label quoted mid-text is not the verdict: the last one is.
        (
            "The rubric says to answer [[A]] if A is better. A misreads the film.\n[[B]]",
            SlotLabel.B,
        ),
        ("Both labels: [[B]] then on reflection [[A]]", SlotLabel.A),
        ("[[A]] is what a careless judge says; I say [[C]]", SlotLabel.TIE),
    ],
)
def test_last_label_wins(reply: str, expected: SlotLabel) -> None:
    assert parse_label(reply) is expected


@pytest.mark.parametrize(
    "reply",
    ["", "Trace A is better.", "[A]", "[[D]]", "[[a]]", "[[AB]]", "verdict: A>B"],
)
def test_no_label(reply: str) -> None:
    assert parse_label(reply) is None


@pytest.mark.parametrize(
    ("label", "order", "verdict"),
    [
        (SlotLabel.A, Order.BASELINE_FIRST, Verdict.BASELINE),
        (SlotLabel.B, Order.BASELINE_FIRST, Verdict.CANDIDATE),
        (SlotLabel.A, Order.CANDIDATE_FIRST, Verdict.CANDIDATE),
        (SlotLabel.B, Order.CANDIDATE_FIRST, Verdict.BASELINE),
        (SlotLabel.TIE, Order.BASELINE_FIRST, Verdict.TIE),
        (SlotLabel.TIE, Order.CANDIDATE_FIRST, Verdict.TIE),
    ],
)
def test_swap_mapping(label: SlotLabel, order: Order, verdict: Verdict) -> None:
    assert to_verdict(label, order) is verdict


def test_a_judge_that_always_says_a_is_inconsistent_under_swap() -> None:
    verdicts = {to_verdict(SlotLabel.A, order) for order in Order}
    assert verdicts == {Verdict.BASELINE, Verdict.CANDIDATE}
