"""docs/statistics.md's formulas for a judge with position bias b and per-call error e.

Each formula is quoted as the docs write it and checked against the simulated judge of
judge_service/simulate/judge_model.py (bench/judge_model.py prints the same at full size), so
a wrong formula in the docs, or one missing from them, fails here.
"""

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from judge_service.simulate.judge_model import predict, simulate

DOCS = Path(__file__).parents[2] / "docs" / "statistics.md"


def consistency(t: float, b: float, e: float) -> float:
    return (1 - b) * (1 - 2 * (1 - b) * e * (1 - e))


FORMULAS: dict[str, tuple[str, Callable[[float, float, float], float]]] = {
    "win_rate": (
        "win_rate = 1/2 + (t - 1/2)(1 - b)(1 - 2e)",
        lambda t, b, e: 0.5 + (t - 0.5) * (1 - b) * (1 - 2 * e),
    ),
    "position_consistency": ("position_consistency = (1 - b)(1 - 2(1 - b)e(1 - e))", consistency),
    "decisive_win_rate": (
        "decisive_win_rate = 1/2 + (t - 1/2)(1 - b)(1 - 2e) / position_consistency",
        lambda t, b, e: 0.5 + (t - 0.5) * (1 - b) * (1 - 2 * e) / consistency(t, b, e),
    ),
    "first_slot_rate": ("first_slot_rate = (1 + b)/2", lambda t, b, e: (1 + b) / 2),
}
SETTINGS = [(0.861, b, e) for b in (0.0, 0.3) for e in (0.0, 0.1)] + [(0.3, 0.5, 0.25)]


def test_the_docs_state_the_formulas() -> None:
    text = DOCS.read_text().replace("\u2212", "-")  # the docs write a minus sign
    for quoted, _ in FORMULAS.values():
        assert quoted in text


@pytest.mark.parametrize(("t", "b", "e"), SETTINGS)
def test_formulas_match_the_simulated_judge(t: float, b: float, e: float) -> None:
    runs = simulate(t, b, e, pairs=2000, repeats=50, seed=11)
    for name, (_, formula) in FORMULAS.items():
        values = np.array([getattr(run, name) for run in runs], dtype=float)
        # Four standard errors of the mean over the repeats; truth sampling included.
        tolerance = 4 * values.std(ddof=1) / np.sqrt(values.size) + 1e-9
        assert values.mean() == pytest.approx(formula(t, b, e), abs=tolerance), name
        assert getattr(predict(t, b, e), name) == pytest.approx(formula(t, b, e)), name
        if e > 0 and name != "first_slot_rate":
            # The error-free formulas (e = 0) are measurably wrong for an erring judge.
            assert values.mean() != pytest.approx(formula(t, b, 0.0), abs=tolerance), name
