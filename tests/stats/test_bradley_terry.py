import warnings

import numpy as np
import pytest
import statsmodels.api as sm
from scipy.special import expit

from judge_service.stats.bradley_terry import ELO_PER_UNIT, fit_bradley_terry

TRUE = {"base": 0.0, "tuned-v1": 0.4, "tuned-v2": 0.9}
PAIRS = [("base", "tuned-v1"), ("base", "tuned-v2"), ("tuned-v1", "tuned-v2")]


def simulated_battles(
    per_pair: int, seed: int = 0, ties: float = 0.1
) -> list[tuple[str, str, float]]:
    rng = np.random.default_rng(seed)
    out = []
    for a, b in PAIRS:
        p = expit(TRUE[a] - TRUE[b])
        u = rng.random(per_pair)
        scores = np.where(u < ties, 0.5, np.where(rng.random(per_pair) < p, 1.0, 0.0))
        out += [(a, b, float(s)) for s in scores]
    return out


def logistic_reference(battles: list[tuple[str, str, float]]) -> dict[str, float]:
    """The same model as a plain logistic regression: +1 for model a, -1 for model b."""
    models = sorted({m for a, b, _ in battles for m in (a, b)})
    x = np.zeros((len(battles), len(models)))
    for row, (a, b, _) in enumerate(battles):
        x[row, models.index(a)] += 1
        x[row, models.index(b)] -= 1
    y = np.array([s for _, _, s in battles])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # fractional y (ties)
        fit = sm.GLM(y, x[:, 1:], family=sm.families.Binomial()).fit()
    theta = np.concatenate([[0.0], fit.params])
    theta -= theta.mean()
    return dict(zip(models, theta.tolist(), strict=True))


def test_matches_a_plain_logistic_regression() -> None:
    battles = simulated_battles(400, seed=1)
    fit = fit_bradley_terry(battles, bootstrap_rounds=0)
    expected = logistic_reference(battles)
    for model, score in expected.items():
        assert fit.scores[model] == pytest.approx(score, abs=1e-6)
    assert sum(fit.scores.values()) == pytest.approx(0.0, abs=1e-12)


def test_recovers_true_strengths_and_predicts_win_rates() -> None:
    fit = fit_bradley_terry(simulated_battles(20_000, ties=0), bootstrap_rounds=300, seed=3)
    gap = fit.scores["tuned-v2"] - fit.scores["base"]
    assert gap == pytest.approx(0.9, abs=0.05)
    assert fit.predicted_win_rate("tuned-v2", "base") == pytest.approx(expit(gap))
    assert fit.predicted_win_rate("base", "tuned-v2") == pytest.approx(1 - expit(gap))
    for model, (low, high) in fit.scores_ci.items():  # type: ignore[misc]
        assert low <= fit.scores[model] <= high
    low, high = fit.predicted_win_rate_ci("tuned-v2", "base") or (0.0, 0.0)
    assert low < expit(0.9) < high


def test_ties_are_half_a_win_each() -> None:
    with_ties = [("a", "b", 1.0)] * 6 + [("a", "b", 0.5)] * 4 + [("b", "c", 0.0)] * 3
    with_ties += [("b", "c", 1.0)] * 2
    halves = [("a", "b", 1.0, 6.0 + 2.0), ("a", "b", 0.0, 2.0), ("b", "c", 0.0, 3.0)]
    halves += [("b", "c", 1.0, 2.0)]
    one = fit_bradley_terry(with_ties, bootstrap_rounds=0)
    two = fit_bradley_terry(halves, bootstrap_rounds=0)
    assert one.scores == pytest.approx(two.scores, abs=1e-9)


def test_arrays_tuples_and_weights_agree() -> None:
    battles = simulated_battles(50, seed=4)
    from_tuples = fit_bradley_terry(battles, bootstrap_rounds=100, seed=2)
    from_arrays = fit_bradley_terry(
        model_a=[b[0] for b in battles],
        model_b=[b[1] for b in battles],
        score_a=np.array([b[2] for b in battles]),
        bootstrap_rounds=100,
        seed=2,
    )
    assert from_tuples.scores == from_arrays.scores
    assert from_tuples.scores_ci == from_arrays.scores_ci
    doubled = fit_bradley_terry([(*b, 2.0) for b in battles], bootstrap_rounds=0)
    assert doubled.scores == pytest.approx(
        fit_bradley_terry(battles + battles, bootstrap_rounds=0).scores, abs=1e-9
    )
    # Naming a battle from b's side is the same battle.
    flipped = fit_bradley_terry([(b, a, 1 - s) for a, b, s in battles], bootstrap_rounds=0)
    assert flipped.scores == pytest.approx(from_tuples.scores, abs=1e-12)


def test_anchor_and_elo() -> None:
    battles = simulated_battles(200, seed=5)
    free = fit_bradley_terry(battles, bootstrap_rounds=50)
    anchored = fit_bradley_terry(battles, bootstrap_rounds=50, anchor="base")
    assert anchored.scores["base"] == 0.0 and anchored.scores_ci["base"] == (0.0, 0.0)
    for model in TRUE:
        assert anchored.scores[model] == pytest.approx(free.scores[model] - free.scores["base"])
    assert anchored.predicted_win_rate("tuned-v1", "base") == pytest.approx(
        free.predicted_win_rate("tuned-v1", "base")
    )
    entry = anchored.as_dict()["models"][0]
    assert entry["elo"] == pytest.approx(1000 + ELO_PER_UNIT * entry["score"])


def test_bootstrap_matches_refitting_resampled_battles() -> None:
    battles = simulated_battles(40, seed=6)
    fit = fit_bradley_terry(battles, bootstrap_rounds=4000, seed=1)
    rng = np.random.default_rng(9)
    gaps = []
    for _ in range(400):
        drawn = [battles[i] for i in rng.integers(0, len(battles), len(battles))]
        scores = fit_bradley_terry(drawn, bootstrap_rounds=0).scores
        gaps.append(scores["tuned-v2"] - scores["base"])
    expected = np.quantile(gaps, [0.05, 0.5, 0.95])
    got = np.quantile(fit.samples[:, 2] - fit.samples[:, 0], [0.05, 0.5, 0.95])
    assert got == pytest.approx(expected, abs=0.12)


def test_seeded_and_json_ready() -> None:
    battles = simulated_battles(30, seed=7)
    one = fit_bradley_terry(battles, bootstrap_rounds=100, seed=11)
    assert one.scores_ci == fit_bradley_terry(battles, bootstrap_rounds=100, seed=11).scores_ci
    body = one.as_dict()
    assert [m["model"] for m in body["models"]] == sorted(TRUE, key=lambda m: -one.scores[m])
    rates = body["predicted_win_rates"]
    assert rates["base"]["tuned-v1"]["win_rate"] == pytest.approx(
        1 - rates["tuned-v1"]["base"]["win_rate"]
    )
    assert (
        fit_bradley_terry(battles, bootstrap_rounds=0).predicted_win_rate_ci("base", "tuned-v1")
        is None
    )


# A and B split their games; C won every battle it played (the audit's finding).
SPLIT = [("A", "B", 1.0)] * 6 + [("A", "B", 0.0)] * 4 + [("A", "B", 0.5)] * 2
SWEEP = [("C", "A", 1.0)] * 5 + [("B", "C", 0.0)] * 7


@pytest.mark.parametrize("ridge", [1e-6, 1e-8])
def test_a_model_that_won_every_battle_is_unbounded_and_moves_no_one(
    ridge: float, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("judge_service.stats.bradley_terry.RIDGE", ridge)
    fit = fit_bradley_terry(SPLIT + SWEEP, bootstrap_rounds=200, seed=4)
    without_c = fit_bradley_terry(SPLIT, bootstrap_rounds=200, seed=4)
    # A and B: the fit on their own games, centred on them, whatever the ridge.
    assert fit.scores == pytest.approx(without_c.scores, abs=1e-12)
    assert fit.scores == pytest.approx({"A": np.log(7 / 5) / 2, "B": -np.log(7 / 5) / 2})
    assert fit.scores_ci == without_c.scores_ci
    assert fit.unbounded["C"].direction == "+inf" and set(fit.unbounded) == {"C"}
    rows = fit.as_dict()["models"]
    top = rows[0]
    assert (top["model"], top["score"], top["score_ci"], top["unbounded"]) == (
        "C",
        None,
        None,
        "+inf",
    )
    assert rows[0]["reason"] == "won every comparison"
    assert [r["unbounded"] for r in rows[1:]] == [None, None]
    rates = fit.as_dict()["predicted_win_rates"]
    assert rates["C"]["A"] == {"win_rate": 1.0, "ci": None}
    assert rates["B"]["C"] == {"win_rate": 0.0, "ci": None}
    assert rates["A"]["B"]["ci"] == without_c.predicted_win_rate_ci("A", "B")


def test_a_model_that_lost_every_battle_is_unbounded_below_but_a_tie_bounds_it() -> None:
    lost = SPLIT + [("D", "A", 0.0)] * 3 + [("B", "D", 1.0)] * 2
    fit = fit_bradley_terry(lost, bootstrap_rounds=0)
    assert fit.scores == pytest.approx(fit_bradley_terry(SPLIT, bootstrap_rounds=0).scores)
    assert fit.unbounded["D"].direction == "-inf"
    assert fit.unbounded["D"].reason == "lost every comparison"
    assert fit.as_dict()["models"][-1]["model"] == "D"
    # One tie is half a win: D took some score from B and has a finite score.
    tied = fit_bradley_terry([*lost, ("B", "D", 0.5)], bootstrap_rounds=0)
    assert tied.unbounded == {} and set(tied.scores) == {"A", "B", "D"}
    assert tied.scores["D"] < tied.scores["B"] - 1


def test_a_group_that_beat_everyone_else_is_unbounded_together() -> None:
    group = [("C", "D", 1.0)] * 3 + [("C", "D", 0.0)] * 2 + SWEEP + [("D", "B", 1.0)] * 4
    fit = fit_bradley_terry(SPLIT + group, bootstrap_rounds=0)
    assert {m: u.direction for m, u in fit.unbounded.items()} == {"C": "+inf", "D": "+inf"}
    assert fit.unbounded["D"].group == ("C", "D")
    assert "outside its group (C, D)" in fit.unbounded["D"].reason
    assert fit.scores == pytest.approx(fit_bradley_terry(SPLIT, bootstrap_rounds=0).scores)
    assert fit.predicted_win_rate("D", "A") == 1.0
    assert fit.predicted_win_rate("C", "D") is None  # both unbounded: their gap is not fitted


def test_two_models_one_sweeps_leaves_nothing_to_score() -> None:
    fit = fit_bradley_terry([("v1", "base", 1.0)] * 20, bootstrap_rounds=50)
    assert fit.scores == {} and fit.samples.shape == (50, 0)
    assert {m: u.direction for m, u in fit.unbounded.items()} == {"v1": "+inf", "base": "-inf"}
    assert fit.predicted_win_rate("base", "v1") == 0.0
    with pytest.raises(ValueError, match="anchor 'v1' has no finite score"):
        fit_bradley_terry([("v1", "base", 1.0)] * 20, anchor="v1")


def test_bounded_models_report_no_unbounded() -> None:
    fit = fit_bradley_terry(simulated_battles(30, seed=7), bootstrap_rounds=0)
    assert fit.unbounded == {} and set(fit.scores) == set(TRUE)
    assert {r["unbounded"] for r in fit.as_dict()["models"]} == {None}


def test_a_bootstrap_round_that_sweeps_does_not_move_the_others() -> None:
    """base won only 1 of its 8 games: some rounds draw none of its wins.

    Those rounds are centred on the models still bounded in them: the reference refits each
    resampled set of battles, without base when base swept or was swept.
    """
    battles = SPLIT + [("base", "A", 1.0)] + [("base", "A", 0.0)] * 7 + [("B", "base", 1.0)] * 4
    fit = fit_bradley_terry(battles, bootstrap_rounds=2000, seed=3)
    rng = np.random.default_rng(5)
    refits = []
    for _ in range(400):
        drawn = [battles[i] for i in rng.integers(0, len(battles), len(battles))]
        took = [s if a == "base" else 1 - s for a, b, s in drawn if "base" in (a, b)]
        if 0 < sum(took) < len(took):
            refits.append(fit_bradley_terry(drawn, bootstrap_rounds=0).scores["A"])
        else:  # base swept or was swept: A and B on their own games, centred on them
            a_took = sum(s if a == "A" else 1 - s for a, b, s in drawn if {a, b} == {"A", "B"})
            games = sum({a, b} == {"A", "B"} for a, b, _ in drawn)
            refits.append(np.log(a_took / (games - a_took)) / 2)
    column = list(fit.scores).index("A")
    expected = np.quantile(refits, [0.05, 0.5, 0.95])
    assert np.quantile(fit.samples[:, column], [0.05, 0.5, 0.95]) == pytest.approx(
        expected, abs=0.15
    )
    assert fit.unbounded == {}


@pytest.mark.parametrize(
    ("battles", "message"),
    [
        ([("a", "b", 1.0), ("c", "d", 0.0)], "link"),
        ([("a", "a", 1.0)], "itself"),
        ([], "no battles"),
        ([("a", "b", 2.0)], "scores"),
    ],
)
def test_bad_input(battles: list[tuple[str, str, float]], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        fit_bradley_terry(battles)
    with pytest.raises(ValueError, match="anchor"):
        fit_bradley_terry([("a", "b", 1.0)], anchor="z")
