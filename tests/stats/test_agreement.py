import itertools

import numpy as np
import pytest
from statsmodels.stats.inter_rater import cohens_kappa as sm_cohens_kappa
from statsmodels.stats.inter_rater import fleiss_kappa as sm_fleiss_kappa

from judge_service.stats.agreement import (
    CATEGORIES,
    cohen_kappa,
    cohen_kappa_table,
    confusion,
    fleiss_kappa,
    human_human_agreement,
    judge_agreement,
    judge_human_agreement,
    unique_labels,
)
from judge_service.stats.frame import HumanLabels
from judge_service.stats.preference import INCONSISTENT, NO_OUTCOME

# Wikipedia, "Fleiss' kappa", worked example: 10 subjects, 14 raters, 5 categories.
WIKIPEDIA_FLEISS = [
    [0, 0, 0, 0, 14],
    [0, 2, 6, 4, 2],
    [0, 0, 3, 5, 6],
    [0, 3, 9, 2, 0],
    [2, 2, 8, 1, 1],
    [7, 7, 0, 0, 0],
    [3, 2, 6, 3, 0],
    [2, 5, 3, 2, 2],
    [6, 5, 2, 1, 0],
    [0, 2, 2, 3, 7],
]


@pytest.mark.parametrize(
    ("table", "kappa"),
    [
        # Wikipedia, "Cohen's kappa": 50 grant proposals, two readers, yes/no.
        ([[20, 5], [10, 15]], 0.4),
        # Same agreement (60%), different marginals, different kappa (Wikipedia again).
        ([[45, 15], [25, 15]], 0.06 / 0.46),
        ([[25, 35], [5, 35]], 0.14 / 0.54),
    ],
)
def test_cohen_kappa_worked_examples(table: list[list[int]], kappa: float) -> None:
    assert cohen_kappa_table(np.array(table)) == pytest.approx(kappa, abs=1e-12)


def test_cohen_kappa_matches_statsmodels() -> None:
    rng = np.random.default_rng(0)
    for _ in range(20):
        a = rng.choice(CATEGORIES, 80)
        b = np.where(rng.random(80) < 0.6, a, rng.choice(CATEGORIES, 80))
        table = confusion(a, b)
        assert cohen_kappa(a, b) == pytest.approx(sm_cohens_kappa(table).kappa, abs=1e-12)


def test_cohen_kappa_degenerate() -> None:
    assert cohen_kappa(np.array([1, 1]), np.array([1, 1])) is None  # chance agreement is 1
    assert cohen_kappa_table(np.zeros((4, 4))) is None
    with pytest.raises(ValueError):
        confusion(np.array([5]), np.array([1]))


def test_fleiss_kappa_wikipedia_example() -> None:
    # Wikipedia gives P-bar = 0.378, P-bar-e = 0.213, kappa = 0.210 (rounded).
    assert fleiss_kappa(np.array(WIKIPEDIA_FLEISS)) == pytest.approx(0.210, abs=5e-4)
    assert fleiss_kappa(np.array(WIKIPEDIA_FLEISS)) == pytest.approx(
        sm_fleiss_kappa(np.array(WIKIPEDIA_FLEISS), method="fleiss"), abs=1e-12
    )


def test_fleiss_kappa_with_two_raters_is_scotts_pi() -> None:
    # Cohen's 2x2 example as subjects x categories; Scott's pi by hand: pooled "yes" share
    # (25 + 30) / 100, chance 0.55^2 + 0.45^2 = 0.505, observed 0.7.
    subjects = [[2, 0]] * 20 + [[1, 1]] * 15 + [[0, 2]] * 15
    assert fleiss_kappa(np.array(subjects)) == pytest.approx((0.7 - 0.505) / (1 - 0.505))


def test_fleiss_kappa_matches_statsmodels_on_random_tables() -> None:
    rng = np.random.default_rng(1)
    for raters in (3, 4, 7):
        table = np.stack([rng.multinomial(raters, [0.5, 0.2, 0.2, 0.1]) for _ in range(50)])
        assert fleiss_kappa(table) == pytest.approx(sm_fleiss_kappa(table), abs=1e-12)


def test_fleiss_kappa_edge_cases() -> None:
    assert fleiss_kappa(np.zeros((0, 4))) is None
    assert fleiss_kappa(np.array([[3, 0], [3, 0]])) is None
    with pytest.raises(ValueError):
        fleiss_kappa(np.array([[3, 0], [1, 1]]))


def test_judge_agreement_one_judge_and_missing_pairs() -> None:
    assert judge_agreement(["a"], np.array([[1, -1]])).pairs == ()
    outcomes = np.array([[1, NO_OUTCOME, 0], [1, 1, NO_OUTCOME], [1, 1, 0]])
    result = judge_agreement(["a", "b", "c"], outcomes)
    assert [(p.judge_a, p.judge_b, p.n) for p in result.pairs] == [
        ("a", "b", 1),
        ("a", "c", 2),
        ("b", "c", 2),
    ]
    assert result.fleiss_n == 1


def mt_bench_reference(
    judge: dict[int, str], humans: dict[int, list[str]], ban: tuple[str, ...]
) -> tuple[int, int]:
    """MT-Bench's counting loop (FastChat compute_agreement.py), restated in plain Python."""
    agree = total = 0
    for pair, votes in humans.items():
        if pair not in judge or judge[pair] in ban:
            continue
        for vote in votes:
            if vote in ban:
                continue
            total += 1
            agree += vote == judge[pair]
    return agree, total


def mt_bench_human_reference(humans: dict[int, list[str]], ban: tuple[str, ...]) -> tuple[int, int]:
    agree = total = 0
    for votes in humans.values():
        for a, b in itertools.combinations(votes, 2):
            if a in ban or b in ban:
                continue
            total += 1
            agree += a == b
    return agree, total


def test_human_agreement_matches_the_mt_bench_loops() -> None:
    rng = np.random.default_rng(2)
    names = {1: "model_b", -1: "model_a", 0: "tie", INCONSISTENT: "tie"}
    outcome = rng.choice([1, -1, 0, INCONSISTENT, NO_OUTCOME], 40)
    pairs, annotators = np.meshgrid(np.arange(40), np.arange(4), indexing="ij")
    chosen = rng.random(pairs.shape) < 0.6
    labels = HumanLabels(
        pair=pairs[chosen].astype(np.int32),
        annotator=annotators[chosen].astype(np.int32),
        label=rng.choice([1, -1, 0], int(chosen.sum())).astype(np.int8),
    )
    judge = {p: names[int(o)] for p, o in enumerate(outcome) if o != NO_OUTCOME}
    humans: dict[int, list[str]] = {}
    for p, v in zip(labels.pair.tolist(), labels.label.tolist(), strict=True):
        humans.setdefault(p, []).append(names[v])
    rate = judge_human_agreement(outcome, labels)
    assert (rate.agree_with_ties, rate.n_with_ties) == mt_bench_reference(judge, humans, ())
    assert (rate.agree_without_ties, rate.n_without_ties) == mt_bench_reference(
        judge, humans, ("tie",)
    )
    hh = human_human_agreement(labels, 40)
    assert (hh.agree_with_ties, hh.n_with_ties) == mt_bench_human_reference(humans, ())
    assert (hh.agree_without_ties, hh.n_without_ties) == mt_bench_human_reference(humans, ("tie",))


def test_unique_labels_keeps_the_last_label_per_annotator() -> None:
    labels = HumanLabels(
        pair=np.array([0, 0, 1, 0], dtype=np.int32),
        annotator=np.array([3, 4, 3, 3], dtype=np.int32),
        label=np.array([1, 0, -1, -1], dtype=np.int8),
    )
    kept = unique_labels(labels)
    got = sorted(zip(kept.pair.tolist(), kept.annotator.tolist(), kept.label.tolist(), strict=True))
    assert got == [(0, 3, -1), (0, 4, 0), (1, 3, -1)]
