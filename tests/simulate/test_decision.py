"""The simulated judge's decision rule, as pure functions."""

import random

import pytest

from judge_service.judging.prompt import PromptParts
from judge_service.judging.verdicts import SlotLabel, parse_label
from judge_service.simulate.decision import (
    Decision,
    Rule,
    answer_matches,
    decide,
    final_answer,
    normalise_answer,
    reply_text,
    unit_draw,
    unparseable_reply,
)

MIRROR = {SlotLabel.A: SlotLabel.B, SlotLabel.B: SlotLabel.A, SlotLabel.TIE: SlotLabel.TIE}
WORDS = [
    "lung",
    "opacity",
    "effusion",
    "heart",
    "size",
    "normal",
    "rib",
    "fracture",
    "nodule",
    "left",
    "right",
    "lobe",
]
ANSWERS = ["pneumonia", "edema", "normal", "pneumothorax", "effusion"]


def random_trace(rng: random.Random, answer: str | None = None) -> str:
    body = " ".join(rng.choice(WORDS) for _ in range(rng.randint(5, 25)))
    if answer is None:
        return body
    return f"{body}.\nFinal answer: {answer}."


def parts(a: str, b: str, reference: str | None = None) -> PromptParts:
    return PromptParts("Which finding?", reference, a, b)


def swapped(p: PromptParts) -> PromptParts:
    return PromptParts(p.question, p.reference_answer, p.trace_b, p.trace_a)


def run(p: PromptParts, *, tie_rate: float = 0.1, seed: int = 0, bias: float = 0.0) -> Decision:
    return decide(p, position_bias=bias, tie_rate=tie_rate, seed=seed, prompt_key=repr(p))


@pytest.mark.parametrize(
    ("trace", "expected"),
    [
        ("Reasoning.\nFinal answer: Pneumonia.", "pneumonia"),
        ("FINAL ANSWER:   Left   Lower Lobe Pneumonia!!", "left lower lobe pneumonia"),
        ("final answer: edema\nmore thoughts\nFinal Answer: effusion", "effusion"),
        ("Steps.\n**Final answer:** *Pneumothorax*.", "pneumothorax"),
        ("Steps.\n  > Final answer: normal", "normal"),
        ("Steps.\nFinal answer:\n\nBilateral effusion.\n", "bilateral effusion"),
        ('Final answer: "yes".', "yes"),
        ("Final answer: option (b)", "option (b)"),
        ("No conclusion line at all.", None),
        ("My final answer: pneumonia", None),
        ("The final answer: is not on its own line", None),
        ("Final answer:   ...  ", None),
        ("Final answer:", None),
        ("", None),
    ],
)
def test_final_answer(trace: str, expected: str | None) -> None:
    assert final_answer(trace) == expected


def test_normalise_answer_strips_only_trailing_punctuation() -> None:
    assert normalise_answer("  U.S.A.  ") == "u.s.a"
    assert normalise_answer("3.5 cm.") == "3.5 cm"
    assert normalise_answer("`Yes`?!") == "yes"


@pytest.mark.parametrize(
    ("answer", "reference", "expected"),
    [
        ("pneumonia", "pneumonia", True),
        ("left lower lobe pneumonia", "pneumonia", True),
        ("pneumonia, left lower lobe", "pneumonia", True),
        ("bronchopneumonia", "pneumonia", False),
        ("no pneumonia", "edema", False),
        (None, "pneumonia", False),
        ("pneumonia", "", False),
    ],
)
def test_answer_matches(answer: str | None, reference: str, expected: bool) -> None:
    assert answer_matches(answer, reference) is expected


def test_reference_matching_trace_wins_in_either_slot() -> None:
    right = "The opacity is lobar.\nFinal answer: Pneumonia."
    wrong = "The heart is large.\nFinal answer: Edema."
    first = run(parts(right, wrong, "pneumonia"))
    second = run(parts(wrong, right, "Pneumonia."))
    assert (first.label, first.rule) == (SlotLabel.A, Rule.REFERENCE)
    assert (second.label, second.rule) == (SlotLabel.B, Rule.REFERENCE)
    assert "matches the reference" in first.reason


@pytest.mark.parametrize(
    ("a_answer", "b_answer", "why"),
    [("pneumonia", "pneumonia", "Both"), ("edema", "normal", "Neither"), (None, None, "Neither")],
)
def test_reference_that_does_not_separate_falls_to_hash(
    a_answer: str | None, b_answer: str | None, why: str
) -> None:
    rng = random.Random(5)
    p = parts(random_trace(rng, a_answer), random_trace(rng, b_answer), "pneumonia")
    decision = run(p, tie_rate=0.0)
    assert decision.rule is Rule.HASH_WINNER
    assert decision.reason.startswith(why)


def test_order_independence_over_many_random_pairs() -> None:
    """Without bias, swapping the slots swaps the verdict, whatever the seed and tie rate."""
    rng = random.Random(1234)
    seen: set[SlotLabel] = set()
    rules: set[Rule] = set()
    for _ in range(600):
        a = random_trace(rng, rng.choice([*ANSWERS, None]))
        b = random_trace(rng, rng.choice([*ANSWERS, None]))
        reference = rng.choice([*ANSWERS, None])
        p = parts(a, b, reference)
        tie_rate, seed = rng.random() * 0.5, rng.randint(0, 10**6)
        forward = run(p, tie_rate=tie_rate, seed=seed)
        backward = run(swapped(p), tie_rate=tie_rate, seed=seed)
        assert backward.label is MIRROR[forward.label], (p, forward, backward)
        assert backward.rule is forward.rule
        seen.add(forward.label)
        rules.add(forward.rule)
    assert seen == {SlotLabel.A, SlotLabel.B, SlotLabel.TIE}
    assert rules == {Rule.REFERENCE, Rule.HASH_TIE, Rule.HASH_WINNER}


def test_hash_winner_is_balanced_between_slots() -> None:
    rng = random.Random(7)
    labels = [
        run(parts(random_trace(rng), random_trace(rng)), tie_rate=0.0).label for _ in range(400)
    ]
    share_a = labels.count(SlotLabel.A) / len(labels)
    assert 0.4 < share_a < 0.6
    assert SlotLabel.TIE not in labels


def test_tie_rate_extremes_and_identical_traces() -> None:
    rng = random.Random(3)
    pairs = [parts(random_trace(rng), random_trace(rng)) for _ in range(100)]
    assert all(run(p, tie_rate=1.0).label is SlotLabel.TIE for p in pairs)
    share = sum(run(p, tie_rate=0.3).label is SlotLabel.TIE for p in pairs) / len(pairs)
    assert 0.15 < share < 0.45
    same = run(parts("identical trace", "identical trace"), tie_rate=0.0)
    assert (same.label, same.rule) == (SlotLabel.TIE, Rule.HASH_TIE)
    assert "identical" in same.reason


def test_seed_changes_hash_winners() -> None:
    rng = random.Random(8)
    pairs = [parts(random_trace(rng), random_trace(rng)) for _ in range(50)]
    one = [run(p, tie_rate=0.0, seed=1).label for p in pairs]
    two = [run(p, tie_rate=0.0, seed=2).label for p in pairs]
    assert one != two


def test_position_bias_is_deterministic_per_prompt_and_keeps_the_truth() -> None:
    right, wrong = "x\nFinal answer: edema", "y\nFinal answer: normal"
    p = parts(wrong, right, "edema")
    forced = decide(p, position_bias=1.0, tie_rate=0.1, seed=0, prompt_key="k")
    assert (forced.label, forced.rule, forced.bias_fired) == (SlotLabel.A, Rule.POSITION_BIAS, True)
    assert forced.truthful_label is SlotLabel.B
    assert forced.reason.startswith("Position bias fired")
    honest = decide(p, position_bias=0.0, tie_rate=0.1, seed=0, prompt_key="k")
    assert (honest.label, honest.bias_fired) == (SlotLabel.B, False)
    keys = [f"prompt-{i}" for i in range(2000)]
    fired = [decide(p, position_bias=0.3, tie_rate=0.1, seed=4, prompt_key=k) for k in keys]
    again = [decide(p, position_bias=0.3, tie_rate=0.1, seed=4, prompt_key=k) for k in keys]
    assert fired == again
    share = sum(d.bias_fired for d in fired) / len(fired)
    assert 0.26 < share < 0.34


def test_unit_draw_separates_its_parts() -> None:
    assert unit_draw("ab", "c") != unit_draw("a", "bc")
    assert 0.0 <= unit_draw("x") < 1.0


def test_reply_text_is_labelled_simulated_and_ends_with_the_label() -> None:
    rng = random.Random(2)
    for _ in range(50):
        p = parts(random_trace(rng, rng.choice(ANSWERS)), random_trace(rng, rng.choice(ANSWERS)))
        decision = decide(p, position_bias=0.3, tie_rate=0.2, seed=1, prompt_key=repr(p))
        text = reply_text(decision)
        assert text.startswith("Simulated judge (not a real model):")
        assert text.splitlines()[-1] == f"[[{decision.label.value}]]"
        assert parse_label(text) is decision.label
        assert text.count("[[") == 1


def test_reply_text_cannot_be_hijacked_by_a_reason_quoting_a_label() -> None:
    decision = Decision(SlotLabel.A, Rule.REFERENCE, False, SlotLabel.A, "quoted [[B]] here")
    text = reply_text(decision)
    assert parse_label(text) is SlotLabel.A
    assert text.count("[[") == 1


def test_unparseable_reply_has_no_label() -> None:
    text = unparseable_reply()
    assert text.startswith("Simulated judge (not a real model):")
    assert parse_label(text) is None
