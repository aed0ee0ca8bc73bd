"""The calibrated win rate: the reference implementation's numbers, unbiasedness, its refusals."""

import numpy as np
import ppi_py
import pytest

from judge_service.stats.calibrated import MIN_LABELS, calibrate, estimate_at, tuned_lambda
from judge_service.stats.frame import NO_DRAWS, LabelDraws
from judge_service.stats.label_design import (
    CERTAIN,
    UNCERTAIN,
    Strategy,
    error_sizes,
    pair_kinds,
    probabilities,
)
from judge_service.stats.preference import INCONSISTENT, LOSS, TIE, WIN

Z95 = 1.959963984540054


def _draws(pairs: np.ndarray, credit: np.ndarray, q: np.ndarray, population: int) -> LabelDraws:
    return LabelDraws(
        pair=pairs.astype(np.int32),
        credit=credit.astype(np.float64),
        probability=q[pairs],
        population=np.full(pairs.size, population, dtype=np.int64),
        ad_hoc_pair=np.zeros(0, dtype=np.int32),
    )


def _world(seed: int, n: int = 2000) -> tuple[np.ndarray, np.ndarray]:
    """People's credit y and a judge's f that is wrong, and biased, on some pairs."""
    rng = np.random.default_rng(seed)
    y = rng.choice([0.0, 0.5, 1.0], size=n, p=[0.12, 0.05, 0.83])
    flip = rng.random(n) < 0.15
    f = np.where(flip, rng.choice([0.0, 0.5], size=n), y)
    return y, f


@pytest.mark.parametrize("lam", [0.0, 0.6, 1.0])
def test_estimate_and_draws_term_equal_ppi_python_on_fixed_data(lam: float) -> None:
    """Uniform draws: the estimate is ppi_py's; so is the draws' term of the variance.

    ppi_py's other term, lambda^2 var(f) / N, is for unlabelled pairs drawn apart from the
    labelled ones; ours are drawn from the judged pairs, so it is var(Y) / N instead.
    """
    y, f = _world(1)
    n = f.size
    pairs = np.random.default_rng(2).choice(n, size=200)
    w = np.ones(pairs.size)
    label_variance = float(y[pairs].var())
    mine = estimate_at(y[pairs], f[pairs], f, w, label_variance, lam, 0.95)
    point = ppi_py.ppi_mean_pointestimate(y[pairs], f[pairs], f, lam=lam)
    low, high = ppi_py.ppi_mean_ci(y[pairs], f[pairs], f, alpha=0.05, lam=lam)
    assert mine.estimate == pytest.approx(float(point[0]), abs=1e-12)
    z = Z95
    theirs_draws = ((high[0] - low[0]) / (2 * z)) ** 2 - lam**2 * f.var() / n
    mine_draws = mine.se**2 - label_variance / n
    assert mine_draws == pytest.approx(float(theirs_draws), rel=1e-9)


def test_tuned_lambda_gives_the_narrowest_interval() -> None:
    y, f = _world(3)
    q = np.where(f == 0.5, 3.0, 1.0)
    q /= q.sum()
    pairs = np.random.default_rng(4).choice(f.size, size=300, p=q)
    w = 1 / (f.size * q[pairs])
    lam = tuned_lambda(y[pairs], f[pairs], w)
    best = estimate_at(y[pairs], f[pairs], f, w, 0.1, lam, 0.95).se
    for other in np.linspace(0, 1, 21):
        assert best <= estimate_at(y[pairs], f[pairs], f, w, 0.1, other, 0.95).se + 1e-12
    assert 0.3 < lam <= 1


def test_oversampling_disagreement_stays_unbiased() -> None:
    """Inverse-probability weights: a queue that draws uncertain pairs 4x as often is unbiased."""
    y, f = _world(4)
    n = f.size
    q = np.where(f == 0.5, 4.0, 1.0)
    q /= q.sum()
    truth = y.mean()
    rng = np.random.default_rng(5)
    estimates, naive, covered = [], [], 0
    for _ in range(400):
        pairs = rng.choice(n, size=150, p=q)
        got = calibrate(f, np.arange(n), _draws(pairs, y[pairs], q, n), n, 0.95)
        estimates.append(got.estimate)
        naive.append(y[pairs].mean())  # ignoring the design: pulled toward the uncertain pairs
        covered += got.ci[0] <= truth <= got.ci[1]
    assert abs(np.mean(estimates) - truth) < 0.003
    assert abs(np.mean(naive) - truth) > 0.02
    assert covered / 400 >= 0.93


def test_judge_only_figure_is_biased_and_calibration_corrects_it() -> None:
    y, f = _world(6)
    n = f.size
    q = np.full(n, 1 / n)
    rng = np.random.default_rng(7)
    covered = excluded = 0
    for _ in range(200):
        pairs = rng.choice(n, size=300)
        got = calibrate(f, np.arange(n), _draws(pairs, y[pairs], q, n), n, 0.95)
        assert got.judge_estimate == pytest.approx(f.mean())
        covered += got.ci[0] <= y.mean() <= got.ci[1]
        excluded += not got.ci[0] <= f.mean() <= got.ci[1]  # the judge's own figure ruled out
        # PPI++ is never wider than the same labels alone.
        width = got.ci[1] - got.ci[0]
        assert width <= got.human_only_ci[1] - got.human_only_ci[0] + 1e-12
    assert covered >= 0.93 * 200 and excluded >= 0.9 * 200


def test_a_useless_judge_falls_back_to_the_labels_alone() -> None:
    rng = np.random.default_rng(8)
    n = 1000
    y = rng.choice([0.0, 1.0], size=n, p=[0.3, 0.7])
    f = rng.choice([0.0, 1.0], size=n)  # unrelated to y
    pairs = rng.choice(n, size=100)
    got = calibrate(f, np.arange(n), _draws(pairs, y[pairs], np.full(n, 1 / n), n), n, 0.95)
    assert got.ci[1] - got.ci[0] <= got.human_only_ci[1] - got.human_only_ci[0] + 1e-12


def test_too_few_labels_give_no_figure_with_the_reason() -> None:
    y, f = _world(9)
    n = f.size
    pairs = np.arange(MIN_LABELS - 1)
    draws = _draws(pairs, y[pairs], np.full(n, 1 / n), n)
    draws = LabelDraws(**{**draws.__dict__, "ad_hoc_pair": np.array([5, 6, 7], dtype=np.int32)})
    got = calibrate(f, np.arange(n), draws, n, 0.95)
    assert got.estimate is None and got.ci is None
    assert f"{MIN_LABELS - 1} labels" in got.reason and "3 labels made outside" in got.reason
    assert got.labels_excluded == 3 and got.excluded_reasons == {"ad_hoc": 3}
    empty = calibrate(f, np.arange(n), NO_DRAWS, n, 0.95)
    assert empty.labels_used == 0 and empty.estimate is None


def test_draws_from_another_population_and_unlabelled_draws_do_not_count() -> None:
    y, f = _world(10)
    n = f.size
    pairs = np.arange(60)
    credit = y[pairs].copy()
    credit[:5] = np.nan  # handed out, not labelled yet
    draws = _draws(pairs, credit, np.full(n, 1 / n), n)
    population = draws.population.copy()
    population[5:15] = n - 1  # drawn when the run had another set of decided pairs
    draws = LabelDraws(**{**draws.__dict__, "population": population})
    got = calibrate(f, np.arange(n), draws, n, 0.95)
    assert got.labels_used == 45 and got.draws_waiting == 5
    assert got.excluded_reasons == {"population_changed": 10}


def test_a_stratum_is_estimated_from_the_whole_runs_draws() -> None:
    """Domain estimation: draws outside the stratum are zero terms; unbiased over repeats."""
    y, f = _world(11)
    n = f.size
    stratum = np.arange(n) % 4 == 0
    members = np.flatnonzero(stratum)
    y = np.where(stratum, np.minimum(1.0, y + 0.0), y * 0.5)
    q = np.where(f == 0.5, 2.0, 1.0)
    q /= q.sum()
    rng = np.random.default_rng(12)
    estimates = []
    for _ in range(300):
        pairs = rng.choice(n, size=400, p=q)
        got = calibrate(f, members, _draws(pairs, y[pairs], q, n), n, 0.95)
        assert got.population == members.size
        assert got.labels_used == int(stratum[pairs].sum())
        estimates.append(got.estimate)
    assert abs(np.mean(estimates) - y[members].mean()) < 0.005


def test_pair_kinds_follow_how_sure_the_judges_were() -> None:
    per_judge = np.array(
        [
            [WIN, WIN, INCONSISTENT, WIN, WIN],
            [WIN, WIN, WIN, LOSS, WIN],
        ],
        dtype=np.int8,
    )
    panel = np.array([WIN, WIN, WIN, TIE, WIN], dtype=np.int8)
    axes = np.array([[WIN, LOSS, WIN, WIN, WIN]], dtype=np.int8)
    kinds = pair_kinds(per_judge, panel, axes)
    assert kinds.tolist() == [CERTAIN, 1, UNCERTAIN, UNCERTAIN, CERTAIN]


def test_active_probabilities_learn_where_the_judge_errs() -> None:
    kinds = np.array([CERTAIN] * 80 + [UNCERTAIN] * 20, dtype=np.int8)
    prior = error_sizes(kinds, np.zeros(0, dtype=np.intp), np.zeros(0))
    # Labels show the certain pairs right and the uncertain ones off by a half.
    labelled = np.arange(100)
    learned = error_sizes(kinds, labelled, np.where(kinds == UNCERTAIN, 0.25, 0.0))
    assert learned[UNCERTAIN] / learned[CERTAIN] > prior[UNCERTAIN] / prior[CERTAIN]
    q = probabilities(kinds, Strategy.ACTIVE, learned)
    assert q.sum() == pytest.approx(1.0) and (q > 0).all()
    assert q[-1] > 3 * q[0]
    assert probabilities(kinds, Strategy.UNIFORM, learned).tolist() == [0.01] * 100


def test_the_judge_against_people_on_the_draws_used() -> None:
    f = np.array([1.0, 1.0, 0.5, 0.0] * 10)
    y = np.array([1.0, 0.0, 1.0, 0.0] * 10)
    n = f.size
    pairs = np.arange(n)
    got = calibrate(f, np.arange(n), _draws(pairs, y, np.full(n, 1 / n), n), n, 0.95)
    assert got.confusion["candidate"] == {"candidate": 10, "tie": 0, "baseline": 10}
    assert got.confusion["tie"] == {"candidate": 10, "tie": 0, "baseline": 0}
    assert got.confusion["baseline"] == {"candidate": 0, "tie": 0, "baseline": 10}
    # Squared credit differences: 0, 1, 0.25, 0 per block of four.
    assert got.judge_error == pytest.approx(1.25 / 4)
