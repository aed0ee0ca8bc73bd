"""The judge's win rate corrected by people's labels: prediction-powered inference (PPI++).

Every pair of the population (the run's pairs with a panel outcome) has the judge's credit f
(win 1, tie or order-inconsistent 1/2, loss 0). The label queue draws pairs independently,
with replacement, pair i with probability q_i on that draw, and a person labels each: their
credit Y. Then, for any lambda,

    estimate = lambda * mean_population(f) + mean_draws(w * (Y - lambda * f)),  w = 1 / (N q)

is unbiased for the people's mean credit over the population: each draw's term has
expectation mean(Y - lambda f) whatever q is (Hansen-Hurwitz). Its variance is
lambda^2 var(f) / N + var(w (Y - lambda f)) / n; lambda is tuned to minimise it (PPI++,
Angelopoulos, Duchi and Zrnic 2023), and when the tuned interval would still be wider than
the labels-only one (lambda = 0) the labels-only one is given. With uniform draws (w = 1)
this is `ppi_py.ppi_mean_ci`; with weights it is that function's `w`, which rescales the
weights to mean 1 (Hajek's ratio form, consistent and steadier; tested against it).
Oversampling pairs where the judge is likely wrong narrows the interval (active inference,
Zrnic and Candes 2024); `label_design.py` chooses q. Definitions: docs/statistics.md.
"""

from dataclasses import dataclass

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


def ppi_mean(
    y: np.ndarray,
    f_labelled: np.ndarray,
    f_all: np.ndarray,
    w: np.ndarray,
    lam: float,
    confidence: float,
) -> Interval:
    """The weighted PPI mean and its normal interval at a given lambda (ppi_py's formulas)."""
    n, big_n = y.size, f_all.size
    residual = w * (y - lam * f_labelled)
    estimate = lam * float(f_all.mean()) + float(residual.mean())
    se = float(np.sqrt(lam**2 * f_all.var() / big_n + residual.var() / n))
    half = _z(confidence) * se
    return Interval(estimate=estimate, ci=(estimate - half, estimate + half), se=se)


def tuned_lambda(y: np.ndarray, f_labelled: np.ndarray, f_all: np.ndarray, w: np.ndarray) -> float:
    """PPI++'s variance-minimising lambda for a mean, clipped to [0, 1] (as ppi_py computes it)."""
    n, big_n = y.size, f_all.size
    centre = ppi_mean(y, f_labelled, f_all, w, 1.0, 0.95).estimate
    grads = w * (y - centre)
    grads_hat = w * (f_labelled - centre)
    cov = 2 * float(np.mean((grads - grads.mean()) * (grads_hat - grads_hat.mean())))
    var_hat = float(np.var(np.concatenate([grads_hat, f_all - centre]), ddof=1))
    if var_hat == 0:
        return 0.0
    return float(np.clip(cov / (2 * (1 + n / big_n) * var_hat), 0.0, 1.0))


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
    base = {
        "labels_used": n_domain,
        "labels_excluded": ad_hoc + stale,
        "excluded_reasons": {
            name: count
            for name, count in (("ad_hoc", ad_hoc), ("population_changed", stale))
            if count
        },
        "draws_waiting": int((in_domain & ~labelled).sum()),
        "method": METHOD,
        "judge_estimate": float(f_all.mean()) if big_n else None,
        "judge_variance": float(f_all.var()) if big_n else None,
        "population": big_n,
        "confusion": _confusion(f_labelled[inside], y[inside]),
    }
    if n_domain < MIN_LABELS:
        reason = f"{n_domain} labels from the label queue; the calibrated figure needs {MIN_LABELS}"
        if ad_hoc:
            reason += f" ({ad_hoc} labels made outside the queue do not count)"
        return Calibrated(
            **base,
            estimate=None,
            ci=None,
            lam=None,
            human_only_estimate=None,
            human_only_ci=None,
            residual_variance=None,
            judge_error=None,
            reason=reason,
        )
    # q is over the whole population; a draw in the domain stands for 1 / (N_domain q) pairs.
    # The weights' mean is 1 in expectation; dividing by it (Hajek) steadies the estimate.
    w = np.where(inside, 1.0 / (big_n * draws.probability[usable]), 0.0)
    w = w / w.mean()
    lam = tuned_lambda(y, f_labelled, f_all, w)
    tuned = ppi_mean(y, f_labelled, f_all, w, lam, confidence)
    alone = ppi_mean(y, f_labelled, f_all, w, 0.0, confidence)
    if tuned.se > alone.se:
        lam, tuned = 0.0, alone
    return Calibrated(
        **base,
        estimate=min(1.0, max(0.0, tuned.estimate)),
        ci=_clip(*tuned.ci),
        lam=lam,
        human_only_estimate=min(1.0, max(0.0, alone.estimate)),
        human_only_ci=_clip(*alone.ci),
        residual_variance=float((w * (y - lam * f_labelled)).var()),
        judge_error=float(np.sum(w * (y - f_labelled) ** 2) / w.sum()),
        reason=None,
    )
