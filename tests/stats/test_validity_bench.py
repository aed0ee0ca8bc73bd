"""bench/validity.py at a small size: its worlds are what they claim, and its figures move."""

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from judge_service.stats.label_design import CERTAIN, UNCERTAIN, Strategy, pair_kinds
from judge_service.stats.report import pair_credit, pair_outcome_table

BENCH = Path(__file__).resolve().parents[2] / "bench" / "validity.py"


@pytest.fixture(scope="module")
def validity() -> ModuleType:
    """The bench as a module (bench/ is scripts, not a package)."""
    spec = importlib.util.spec_from_file_location("validity_bench", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while being made
    spec.loader.exec_module(module)
    return module


def test_raw_is_biased_and_calibrated_is_not_in_the_issue_scenario(validity: ModuleType) -> None:
    scenario = validity.SCENARIOS["1 position (30% slot A, 10% wrong)"]
    rows = validity.run_scenario(0, scenario, repeats=30, seed=3, workers=1)
    truth = validity.TRUTH
    # Issue 22's figures: half credit 0.702 and never covering; decisive 0.830.
    assert rows[validity.RAW].mean == pytest.approx(0.702, abs=0.01)
    assert rows[validity.RAW].coverage == 0
    assert rows[validity.DECISIVE].mean == pytest.approx(0.830, abs=0.01)
    # The anytime-valid sequence on the judge's running rate: wider, and as wrong.
    assert rows[validity.SEQUENTIAL].width > rows[validity.RAW].width
    assert rows[validity.SEQUENTIAL].coverage == 0
    for name in (validity.UNIFORM, validity.ACTIVE):
        assert rows[name].mean == pytest.approx(truth, abs=0.015)
        assert rows[name].missing == 0
        assert rows[name].coverage >= 0.8
    assert rows[validity.UNIFORM].width < rows[validity.LABELS_ONLY].width


def test_the_queue_replay_labels_exactly_the_asked_number(validity: ModuleType) -> None:
    scenario = validity.SCENARIOS["3 disagreement (2 judges, panel)"]
    rng = np.random.default_rng(5)
    frame, human = validity.simulate(scenario, rng)
    per_judge, panel = pair_outcome_table(frame)
    uncertain = pair_kinds(per_judge, panel, None) == UNCERTAIN
    share = {}
    for strategy in Strategy:
        draws = validity.queue_draws(frame, human, strategy, rng)
        assert np.unique(draws.pair).size == validity.LABELS
        # The queue stops at the draw that hands the last new pair: it is not a repeat.
        assert draws.pair[-1] not in draws.pair[:-1]
        assert np.array_equal(draws.credit, human[draws.pair])
        assert (draws.probability > 0).all()
        share[strategy] = uncertain[draws.pair].mean()
    assert share[Strategy.ACTIVE] > share[Strategy.UNIFORM] + 0.15


def test_disagreement_predicts_error_in_scenario_3(validity: ModuleType) -> None:
    scenario = validity.SCENARIOS["3 disagreement (2 judges, panel)"]
    frame, human = validity.simulate(scenario, np.random.default_rng(7))
    per_judge, panel = pair_outcome_table(frame)
    kinds = pair_kinds(per_judge, panel, None)
    error = np.abs(human - pair_credit(panel))
    decisive_label = human != 0.5
    assert (error[(kinds == CERTAIN) & decisive_label] == 0).mean() > 0.99
    assert 0.25 < (kinds == UNCERTAIN).mean() < 0.45
