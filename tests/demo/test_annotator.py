"""The demo's simulated annotator: its rule, its seeded error rate, and the figure it implies."""

from typing import Any

import pytest

from judge_service.demo.annotator import ERROR_RATE, rule_win_rate, simulated_label
from judge_service.demo.sample import sample_pairs


def _pair(baseline: str, candidate: str, external_id: str = "q-1") -> dict[str, Any]:
    return {
        "external_id": external_id,
        "reference_answer": "Pneumothorax.",
        "baseline_trace": f"Looked at the film.\nFinal answer: {baseline}",
        "candidate_trace": f"Looked at the film.\nFinal answer: {candidate}",
    }


@pytest.mark.parametrize(
    ("baseline", "candidate", "label"),
    [
        ("Effusion", "pneumothorax", "candidate"),
        ("Tension pneumothorax.", "Effusion", "baseline"),
        ("Pneumothorax", "pneumothorax", "tie"),
        ("Effusion", "Atelectasis", "tie"),
    ],
)
def test_the_trace_matching_the_reference_wins_else_a_tie(
    baseline: str, candidate: str, label: str
) -> None:
    assert simulated_label(_pair(baseline, candidate), error_rate=0.0) == label


def test_errors_are_seeded_per_pair_and_about_the_stated_share() -> None:
    pairs = sample_pairs(2000)
    clean = [simulated_label(pair, error_rate=0.0) for pair in pairs]
    noisy = [simulated_label(pair) for pair in pairs]
    assert noisy == [simulated_label(pair) for pair in pairs]  # the same pair, the same label
    wrong = sum(a != b for a, b in zip(clean, noisy, strict=True)) / len(pairs)
    assert abs(wrong - ERROR_RATE) < 0.015
    assert noisy != [simulated_label(pair, seed=8) for pair in pairs]


def test_the_rule_over_the_sample_credits_two_wrong_answers_as_a_tie() -> None:
    """Below the candidate's "83% right": where both answers are wrong people call a tie."""
    pairs = [_pair("Effusion", "pneumothorax", f"q-{i}") for i in range(6)]
    pairs += [_pair("Effusion", "Atelectasis", f"q-{i}") for i in range(6, 8)]
    clean = [simulated_label(pair, error_rate=0.0) for pair in pairs]
    assert clean == ["candidate"] * 6 + ["tie"] * 2
    noisy = [simulated_label(pair) for pair in pairs]
    credit = {"candidate": 1.0, "tie": 0.5, "baseline": 0.0}
    assert rule_win_rate(pairs) == sum(credit[label] for label in noisy) / len(pairs)
    assert 0.6 < rule_win_rate(sample_pairs(240)) < 0.7  # what the demo prints beside it
