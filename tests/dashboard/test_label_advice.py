"""The run page's "label N more pairs" line, against the planner's arithmetic done by hand."""

import math

import pytest

from judge_service.dashboard.views import label_advice

Z95 = 1.959963984540054


def _calibrated(**figures: object) -> dict[str, object]:
    base = {
        "estimate": 0.8,
        "ci": [0.74, 0.86],
        "labels_used": 100,
        "residual_variance": 0.05,
        "label_variance": 0.16,
        "population": 4000,
    }
    return {**base, **figures}


def test_before_the_figure_it_counts_the_labels_still_needed() -> None:
    advice = label_advice(_calibrated(estimate=None, ci=None, labels_used=12), 0.95)
    assert advice == {"more": 18, "target": None}
    assert label_advice(_calibrated(population=0), 0.95) is None


def test_the_nearest_goal_that_more_labels_reach() -> None:
    # ±0.06 now. ±0.05 needs 0.05 / ((0.05/z)² - 0.16/4000) = 82 labels: there already.
    # ±0.04 needs ceil(0.05 / ((0.04/z)² - 4e-5)) in all, 100 of them given.
    total = math.ceil(0.05 / ((0.04 / Z95) ** 2 - 0.16 / 4000))
    assert label_advice(_calibrated(), 0.95) == {"more": total - 100, "target": 0.04}


def test_on_few_pairs_it_says_how_far_labels_can_go() -> None:
    advice = label_advice(_calibrated(population=60, ci=[0.6, 0.9]), 0.95)
    assert advice is not None and advice["more"] is None
    assert advice["floor"] == pytest.approx(Z95 * math.sqrt(0.16 / 60))
