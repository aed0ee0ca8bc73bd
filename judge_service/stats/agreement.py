"""Agreement between judges (raw, Cohen's and Fleiss' kappa) and with people (MT-Bench style).

Formulas and the way several annotators are counted: docs/statistics.md ("Agreement").
"""

from dataclasses import dataclass

import numpy as np

from judge_service.stats.frame import HumanLabels
from judge_service.stats.preference import INCONSISTENT, LOSS, NO_OUTCOME, TIE, WIN

# Pair outcomes as kappa categories, in a fixed order.
CATEGORIES = (WIN, LOSS, TIE, INCONSISTENT)


@dataclass(frozen=True)
class JudgePairAgreement:
    """Two judges on the pairs both have an outcome for (the four pair-level outcomes)."""

    judge_a: str
    judge_b: str
    n: int
    agreement: float | None
    kappa: float | None


@dataclass(frozen=True)
class Agreement:
    """Between the run's judges; Fleiss' kappa only with three or more of them."""

    pairs: tuple[JudgePairAgreement, ...]
    fleiss_kappa: float | None
    fleiss_n: int


@dataclass(frozen=True)
class AgreementRate:
    """MT-Bench agreement: share of compared votes that match, with and without ties."""

    agree_with_ties: int
    n_with_ties: int
    with_ties: float | None
    agree_without_ties: int
    n_without_ties: int
    without_ties: float | None


@dataclass(frozen=True)
class HumanAgreement:
    """Judges and the panel against people, and people among themselves."""

    labels: int  # labels counted (one per pair and annotator)
    pairs: int  # pairs with at least one label
    annotators: int
    per_judge: dict[str, AgreementRate]
    panel: AgreementRate
    human_human: AgreementRate


def _codes(values: np.ndarray, categories: tuple[int, ...]) -> np.ndarray:
    out = np.full(values.shape, -1, dtype=np.intp)
    for index, code in enumerate(categories):
        out[values == code] = index
    return out


def confusion(a: np.ndarray, b: np.ndarray, categories: tuple[int, ...] = CATEGORIES) -> np.ndarray:
    """k x k table of how often rater a said category i while rater b said category j."""
    k = len(categories)
    ia, ib = _codes(np.asarray(a), categories), _codes(np.asarray(b), categories)
    if np.any(ia < 0) or np.any(ib < 0):
        raise ValueError("ratings outside the categories")
    return np.bincount(ia * k + ib, minlength=k * k).reshape(k, k)


def cohen_kappa_table(table: np.ndarray) -> float | None:
    """Cohen's (1960) kappa from a square contingency table; None when chance agreement is 1."""
    table = np.asarray(table, dtype=np.float64)
    n = table.sum()
    if n == 0:
        return None
    observed = np.trace(table) / n
    expected = float(table.sum(axis=1) @ table.sum(axis=0)) / (n * n)
    if expected >= 1.0:
        return None
    return float((observed - expected) / (1 - expected))


def cohen_kappa(
    a: np.ndarray, b: np.ndarray, categories: tuple[int, ...] = CATEGORIES
) -> float | None:
    """Cohen's kappa of two raters over the same items."""
    return cohen_kappa_table(confusion(a, b, categories))


def fleiss_kappa(table: np.ndarray) -> float | None:
    """Fleiss' (1971) kappa from a subjects x categories table of rater counts.

    Every subject must have the same number of raters (at least two). None when the
    expected agreement is 1 (every rating in one category) or there are no subjects.
    """
    table = np.asarray(table, dtype=np.float64)
    if table.ndim != 2 or table.shape[0] == 0:
        return None
    raters = table.sum(axis=1)
    m = raters[0]
    if m < 2 or np.any(raters != m):
        raise ValueError("Fleiss' kappa needs the same number (>= 2) of raters per subject")
    share = table.sum(axis=0) / table.sum()
    per_subject = ((table * table).sum(axis=1) - m) / (m * (m - 1))
    observed, expected = float(per_subject.mean()), float(share @ share)
    if expected >= 1.0:
        return None
    return (observed - expected) / (1 - expected)


def judge_agreement(judges: list[str], outcomes: np.ndarray) -> Agreement:
    """Raw agreement and Cohen's kappa per judge pair; Fleiss' kappa for three or more.

    `outcomes` is (judges, pairs) with NO_OUTCOME where a judge has none. Each judge pair uses
    the pairs both decided; Fleiss uses the pairs every judge decided.
    """
    has = outcomes != NO_OUTCOME
    records = []
    for i in range(len(judges)):
        for j in range(i + 1, len(judges)):
            both = has[i] & has[j]
            n = int(both.sum())
            a, b = outcomes[i, both], outcomes[j, both]
            records.append(
                JudgePairAgreement(
                    judge_a=judges[i],
                    judge_b=judges[j],
                    n=n,
                    agreement=float(np.mean(a == b)) if n else None,
                    kappa=cohen_kappa(a, b) if n else None,
                )
            )
    kappa, fleiss_n = None, 0
    if len(judges) >= 3:
        every = has.all(axis=0)
        fleiss_n = int(every.sum())
        if fleiss_n:
            decided = outcomes[:, every]
            table = np.stack([(decided == code).sum(axis=0) for code in CATEGORIES], axis=1)
            kappa = fleiss_kappa(table)
    return Agreement(pairs=tuple(records), fleiss_kappa=kappa, fleiss_n=fleiss_n)


def _rate(agree: int, n: int, agree_nt: int, n_nt: int) -> AgreementRate:
    return AgreementRate(
        agree_with_ties=agree,
        n_with_ties=n,
        with_ties=agree / n if n else None,
        agree_without_ties=agree_nt,
        n_without_ties=n_nt,
        without_ties=agree_nt / n_nt if n_nt else None,
    )


def unique_labels(humans: HumanLabels) -> HumanLabels:
    """One label per (pair, annotator): the last one given counts."""
    pair = np.asarray(humans.pair, dtype=np.int64)
    annotator = np.asarray(humans.annotator, dtype=np.int64)
    key = pair * (int(annotator.max(initial=0)) + 1) + annotator
    # Last occurrence of each key: unique over the reversed array finds first occurrences.
    _, first_from_end = np.unique(key[::-1], return_index=True)
    keep = np.sort(key.size - 1 - first_from_end)
    return HumanLabels(
        pair=humans.pair[keep], annotator=humans.annotator[keep], label=humans.label[keep]
    )


def judge_human_agreement(outcome: np.ndarray, humans: HumanLabels) -> AgreementRate:
    """A judge's (or the panel's) pair outcomes against every human label, MT-Bench style.

    Each label on a pair the judge decided is one comparison; an inconsistent outcome counts
    as a tie (as MT-Bench records it). Without ties drops comparisons where either side is a
    tie.
    """
    judged = outcome[humans.pair]
    usable = judged != NO_OUTCOME
    judged = np.where(judged == INCONSISTENT, TIE, judged)[usable]
    label = humans.label[usable]
    same = judged == label
    no_tie = (judged != TIE) & (label != TIE)
    return _rate(int(same.sum()), int(usable.sum()), int((same & no_tie).sum()), int(no_tie.sum()))


def human_human_agreement(humans: HumanLabels, n_pairs: int) -> AgreementRate:
    """Every two labels of the same pair by different annotators is one comparison."""
    per_label = []
    for code in (WIN, LOSS, TIE):
        per_label.append(np.bincount(humans.pair[humans.label == code], minlength=n_pairs))
    wins, losses, ties = (c.astype(np.int64) for c in per_label)

    def pairs_of(k: np.ndarray) -> int:
        return int((k * (k - 1) // 2).sum())

    total = wins + losses + ties
    decisive = wins + losses
    return _rate(
        pairs_of(wins) + pairs_of(losses) + pairs_of(ties),
        pairs_of(total),
        pairs_of(wins) + pairs_of(losses),
        pairs_of(decisive),
    )


def human_agreement(
    judges: list[str], outcomes: np.ndarray, panel: np.ndarray, humans: HumanLabels, n_pairs: int
) -> HumanAgreement:
    """All human-agreement figures; labels are first reduced to one per (pair, annotator)."""
    labels = unique_labels(humans)
    return HumanAgreement(
        labels=int(labels.pair.size),
        pairs=int(np.unique(labels.pair).size),
        annotators=int(np.unique(labels.annotator).size),
        per_judge={
            name: judge_human_agreement(outcomes[i], labels) for i, name in enumerate(judges)
        },
        panel=judge_human_agreement(panel, labels),
        human_human=human_human_agreement(labels, n_pairs),
    )
