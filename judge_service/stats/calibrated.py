"""The judge's win rate corrected by people's labels: prediction-powered inference (PPI++).

Every pair of the population (the run's pairs with a panel outcome) has the judge's credit f
(win 1, tie or order-inconsistent 1/2, loss 0). The label queue draws pairs independently,
with replacement, pair i with probability q_i on that draw, and a person labels each: their
credit Y. Then, for any lambda,

    estimate = lambda * mean_N(f) + mean_n(w * (Y - lambda * f)),  w = 1 / (N q)

has expectation mean_N(Y), the people's mean credit over the run's pairs: each draw's term
has expectation mean_N(Y - lambda f) whatever q is (Hansen and Hurwitz 1943). The run's pairs
are themselves a sample of the questions the figure is about, so the variance is

    var(Y) / N + var(w (Y - lambda f)) / n,

the first term as for any mean over N pairs (it is why no number of labels makes the
interval narrower than people labelling all N would), the second the draws' own, exact for
independent draws. lambda minimises the second (PPI++, Angelopoulos, Duchi and Zrnic 2023:
the judge's weight, clipped to [0, 1]); lambda = 0 is the labels alone, so the interval is
never wider than theirs. With uniform draws (w = 1) the estimate and the draws' term are
`ppi_py.ppi_mean_ci`'s; its first term, lambda^2 var(f) / N, is for unlabelled pairs drawn
apart from the labelled ones, which ours are not. Oversampling pairs where the judge is
likely wrong narrows the second term (active inference, Zrnic and Candes 2024);
`label_design.py` chooses q. Definitions: docs/statistics.md.
"""

from dataclasses import dataclass
from functools import partial

import numpy as np

from judge_service.stats.frame import LabelDraws
from judge_service.stats.preference import _z

MIN_LABELS = 30  # below this the normal approximation behind the interval is not trusted
METHOD = "ppi++"


@dataclass(frozen=True)
class Interval:
    estimate: float
    ci: tuple[float, float]
    se: float


@dataclass(frozen=True)
class Calibrated:
    """The calibrated figure of one judge (or the panel) over one population of pairs."""

    estimate: float | None  # None with `reason`
    ci: tuple[float, float] | None
    labels_used: int  # queue draws with a label: the n of the correction
    labels_excluded: int  # labels that do not count: ad hoc, or drawn from another population
    excluded_reasons: dict[str, int]
    draws_waiting: int  # pairs handed out by the queue and not labelled yet
    method: str
    lam: float | None  # the power-tuning weight of the judge (0: labels only)
    human_only_estimate: float | None  # the same draws without the judge (lambda = 0)
    human_only_ci: tuple[float, float] | None
    judge_estimate: float | None  # mean judge credit over the population (the uncorrected figure)
    residual_variance: float | None  # var(w (Y - lambda f)): what the planner needs for more labels
    label_variance: float | None  # var(Y) over the population, from the draws
    judge_variance: float | None  # var(f) over the population
    population: int  # N: pairs with a panel outcome
    # The judge against people on the used draws: judge credit name -> label -> draws, and the
    # weighted mean of (Y - f)^2 (what `POST /v1/plan` calls judge_error).
    confusion: dict[str, dict[str, int]]
    judge_error: float | None
    reason: str | None


_NAMES = {1.0: "candidate", 0.5: "tie", 0.0: "baseline"}


def _confusion(f: np.ndarray, y: np.ndarray) -> dict[str, dict[str, int]]:
    """Draws by the judge's credit (a tie or an order flip is "tie") and the person's label."""
    table = {judge: dict.fromkeys(_NAMES.values(), 0) for judge in _NAMES.values()}
    for judged, labelled in zip(f.tolist(), y.tolist(), strict=True):
        table[_NAMES[judged]][_NAMES[labelled]] += 1
    return table


def _clip(low: float, high: float) -> tuple[float, float]:
    return max(0.0, low), min(1.0, high)


def estimate_at(
    y: np.ndarray,
    f_labelled: np.ndarray,
    f_all: np.ndarray,
    w: np.ndarray,
    label_variance: float,
    lam: float,
    confidence: float,
) -> Interval:
    """The estimate and its normal interval at a given lambda (module docstring).

    `y`, `f_labelled` and `w` are per draw (zero terms for draws outside the domain);
    `label_variance` is var(Y) over the domain, estimated from the draws.
    """
    residual = w * (y - lam * f_labelled)
    estimate = lam * float(f_all.mean()) + float(residual.mean())
    se = float(np.sqrt(label_variance / f_all.size + residual.var() / y.size))
    half = _z(confidence) * se
    return Interval(estimate=estimate, ci=(estimate - half, estimate + half), se=se)


def tuned_lambda(y: np.ndarray, f_labelled: np.ndarray, w: np.ndarray) -> float:
    """The lambda that minimises var(w (Y - lambda f)), clipped to [0, 1]."""
    wy, wf = w * y, w * f_labelled
    spread = float(wf.var())
    if spread == 0:
        return 0.0
    cov = float(np.mean((wy - wy.mean()) * (wf - wf.mean())))
    return float(np.clip(cov / spread, 0.0, 1.0))


def calibrate(
    f: np.ndarray,
    members: np.ndarray,
    draws: LabelDraws,
    population: int,
    confidence: float,
) -> Calibrated:
    """Calibrated mean credit over `members` (pair indices of the population, or a stratum of it).

    `f` is the judge's credit per pair of the run; `population` the size of the whole
    population, which every draw must have been made from to count.
    """
    f_all = f[members]
    big_n = int(members.size)
    in_domain = np.isin(draws.pair, members)
    current = draws.population == population
    labelled = ~np.isnan(draws.credit)
    # Draws outside the domain stay in as zero terms: the domain estimator of Hansen-Hurwitz.
    usable = current & labelled
    inside = in_domain[usable]
    pair = draws.pair[usable]
    y = np.where(inside, draws.credit[usable], 0.0)
    f_labelled = np.where(inside, f[pair], 0.0)
    stale = int((in_domain & labelled & ~current).sum())
    ad_hoc = int(np.isin(draws.ad_hoc_pair, members).sum())
    n_domain = int(inside.sum())
    # The fields both answers share, bound to the constructor so each one is type-checked.
    calibrated = partial(
        Calibrated,
        labels_used=n_domain,
        labels_excluded=ad_hoc + stale,
        excluded_reasons={
            name: count
            for name, count in (("ad_hoc", ad_hoc), ("population_changed", stale))
            if count
        },
        draws_waiting=int((in_domain & ~labelled).sum()),
        method=METHOD,
        judge_estimate=float(f_all.mean()) if big_n else None,
        judge_variance=float(f_all.var()) if big_n else None,
        population=big_n,
        confusion=_confusion(f_labelled[inside], y[inside]),
    )
    if n_domain < MIN_LABELS:
        reason = f"{n_domain} labels from the label queue; the calibrated figure needs {MIN_LABELS}"
        if ad_hoc:
            reason += f" ({ad_hoc} labels made outside the queue do not count)"
        return calibrated(
            estimate=None,
            ci=None,
            lam=None,
            human_only_estimate=None,
            human_only_ci=None,
            residual_variance=None,
            label_variance=None,
            judge_error=None,
            reason=reason,
        )
    # q is over the whole population; a draw in the domain stands for 1 / (N_domain q) pairs.
    w = np.where(inside, 1.0 / (big_n * draws.probability[usable]), 0.0)
    # var(Y) over the domain, each draw weighted by the pairs it stands for.
    centre = float(np.sum(w * y) / np.sum(w))
    label_variance = float(np.sum(w * (y - centre) ** 2) / np.sum(w))
    lam = tuned_lambda(y, f_labelled, w)
    tuned = estimate_at(y, f_labelled, f_all, w, label_variance, lam, confidence)
    alone = estimate_at(y, f_labelled, f_all, w, label_variance, 0.0, confidence)
    return calibrated(
        estimate=min(1.0, max(0.0, tuned.estimate)),
        ci=_clip(*tuned.ci),
        lam=lam,
        human_only_estimate=min(1.0, max(0.0, alone.estimate)),
        human_only_ci=_clip(*alone.ci),
        residual_variance=float((w * (y - lam * f_labelled)).var()),
        label_variance=label_variance,
        judge_error=float(np.sum(w * (y - f_labelled) ** 2) / w.sum()),
        reason=None,
    )
