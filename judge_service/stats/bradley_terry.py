"""Bradley-Terry scores across runs that share models, with bootstrap intervals.

P(a beats b) = sigmoid(score_a - score_b): scores are natural log-strengths, anchored so
their mean is 0 (or a named model is 0). A tie is half a win for each side, the usual
logistic-regression treatment (Chatbot Arena's). Fitted by Newton's method on battles
aggregated per model pair, all bootstrap rounds at once. See docs/statistics.md.
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.special import expit

from judge_service.stats.bootstrap import group, percentile_interval, resample

# A vanishing ridge: keeps scores finite when a model wins (or loses) every battle and
# leaves any other fit unchanged to ~1e-8.
RIDGE = 1e-6
# Elo points per unit of log-strength, for readers used to that scale.
ELO_PER_UNIT = 400 / math.log(10)


@dataclass(frozen=True)
class BradleyTerry:
    """A fitted model; `scores` on the log-strength scale."""

    models: tuple[str, ...]
    scores: dict[str, float]
    scores_ci: dict[str, tuple[float, float] | None]
    battles: int
    anchor: str | None
    confidence: float
    bootstrap_rounds: int
    samples: np.ndarray = field(repr=False, compare=False)  # (rounds, models) anchored scores

    def predicted_win_rate(self, a: str, b: str) -> float:
        """Expected score of a against b (a win 1, a tie 1/2): sigmoid(score_a - score_b)."""
        return float(expit(self.scores[a] - self.scores[b]))

    def predicted_win_rate_ci(self, a: str, b: str) -> tuple[float, float] | None:
        """Percentile bootstrap interval of `predicted_win_rate(a, b)`."""
        if self.samples.shape[0] == 0:
            return None
        ia, ib = self.models.index(a), self.models.index(b)
        return percentile_interval(
            expit(self.samples[:, ia] - self.samples[:, ib]), self.confidence
        )

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-ready figures: scores, intervals and every pairwise predicted win rate."""
        return {
            "scale": "log-strength: P(a beats b) = 1 / (1 + exp(score_b - score_a))",
            "anchor": self.anchor,
            "bootstrap_rounds": self.bootstrap_rounds,
            "models": [
                {
                    "model": name,
                    "score": self.scores[name],
                    "score_ci": self.scores_ci[name],
                    "elo": 1000 + ELO_PER_UNIT * self.scores[name],
                }
                for name in sorted(self.models, key=lambda m: -self.scores[m])
            ],
            "predicted_win_rates": {
                a: {
                    b: {
                        "win_rate": self.predicted_win_rate(a, b),
                        "ci": self.predicted_win_rate_ci(a, b),
                    }
                    for b in self.models
                    if b != a
                }
                for a in self.models
            },
        }


def _newton(
    incidence: np.ndarray, total: np.ndarray, wins: np.ndarray, *, max_iter: int = 200
) -> np.ndarray:
    """Penalised maximum-likelihood scores, (rounds, models), for (rounds, pairs) data.

    `incidence` (pairs, models) has +1 for a pair's first model and -1 for its second;
    `wins` counts the first model's (weighted, half-for-tie) wins out of `total`.
    """
    rounds, k = total.shape[0], incidence.shape[1]
    theta = np.zeros((rounds, k))
    # Adding the all-ones matrix fixes the free shift without changing the (mean-0) solution.
    fixed = RIDGE * np.eye(k) + np.ones((k, k))
    for _ in range(max_iter):
        p = expit(theta @ incidence.T)
        grad = (wins - total * p) @ incidence - RIDGE * theta
        w = total * p * (1 - p)
        hess = np.einsum("rp,pk,pl->rkl", w, incidence, incidence) + fixed
        step = np.linalg.solve(hess, grad[..., None])[..., 0]
        step = np.clip(step, -10.0, 10.0)  # a trust region for the first steps only
        theta += step
        if np.max(np.abs(step)) < 1e-10:
            break
    return theta - theta.mean(axis=1, keepdims=True)


def _connected(k: int, first: np.ndarray, second: np.ndarray) -> bool:
    parent = list(range(k))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for a, b in zip(first.tolist(), second.tolist(), strict=True):
        parent[root(a)] = root(b)
    return len({root(i) for i in range(k)}) == 1


def fit_bradley_terry(
    battles: Sequence[tuple[str, str, float]]
    | Sequence[tuple[str, str, float, float]]
    | None = None,
    *,
    model_a: Sequence[str] | np.ndarray | None = None,
    model_b: Sequence[str] | np.ndarray | None = None,
    score_a: Sequence[float] | np.ndarray | None = None,
    weight: Sequence[float] | np.ndarray | None = None,
    bootstrap_rounds: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
    anchor: str | None = None,
) -> BradleyTerry:
    """Fit from battles `(model_a, model_b, score_a[, weight])`, or the same as arrays.

    score_a is 1 (a won), 0.5 (tie) or 0 (b won); weight defaults to 1. The bootstrap
    resamples battles (multinomially over identical ones) and refits every round.
    """
    if battles is not None:
        rows = list(battles)
        model_a = [row[0] for row in rows]
        model_b = [row[1] for row in rows]
        score_a = [row[2] for row in rows]
        weight = [row[3] if len(row) > 3 else 1.0 for row in rows]  # type: ignore[misc]
    if model_a is None or model_b is None or score_a is None:
        raise ValueError("give battles, or model_a, model_b and score_a")
    names_a = np.asarray(model_a, dtype=object)
    names_b = np.asarray(model_b, dtype=object)
    score = np.asarray(score_a, dtype=np.float64)
    w = np.ones(score.size) if weight is None else np.asarray(weight, dtype=np.float64)
    if not names_a.size == names_b.size == score.size == w.size:
        raise ValueError("battle columns differ in length")
    if score.size == 0:
        raise ValueError("no battles")
    if np.any((score < 0) | (score > 1)) or np.any(w < 0):
        raise ValueError("scores must lie in [0, 1] and weights be non-negative")
    if np.any(names_a == names_b):
        raise ValueError("a model cannot battle itself")
    models = tuple(sorted(set(names_a.tolist()) | set(names_b.tolist())))
    if anchor is not None and anchor not in models:
        raise ValueError(f"anchor {anchor!r} is not among the models")
    index = {name: i for i, name in enumerate(models)}
    ia = np.array([index[m] for m in names_a.tolist()], dtype=np.int64)
    ib = np.array([index[m] for m in names_b.tolist()], dtype=np.int64)
    # Canonical orientation: the lower model index first, its score flipped when needed.
    flip = ia > ib
    low, high = np.where(flip, ib, ia), np.where(flip, ia, ib)
    score = np.where(flip, 1 - score, score)
    k = len(models)
    pair_key = low * k + high
    pair_ids, _, _ = group(pair_key)
    pairs_low = np.zeros(pair_ids.max() + 1, dtype=np.int64)
    pairs_high = np.zeros_like(pairs_low)
    pairs_low[pair_ids], pairs_high[pair_ids] = low, high
    used = np.bincount(pair_ids, weights=w) > 0
    if not _connected(k, pairs_low[used], pairs_high[used]):
        raise ValueError("the battles do not link every model through some chain of battles")
    n_pairs = pairs_low.size
    incidence = np.zeros((n_pairs, k))
    incidence[np.arange(n_pairs), pairs_low] = 1.0
    incidence[np.arange(n_pairs), pairs_high] = -1.0

    total = np.bincount(pair_ids, weights=w, minlength=n_pairs)[None, :]
    wins = np.bincount(pair_ids, weights=w * score, minlength=n_pairs)[None, :]
    theta = _newton(incidence, total, wins)[0]

    samples = np.zeros((0, k))
    if bootstrap_rounds > 0:
        # Identical battles (same pair, score and weight) are interchangeable.
        _, score_code = np.unique(score, return_inverse=True)
        _, weight_code = np.unique(w, return_inverse=True)
        key = (pair_ids * (score_code.max() + 1) + score_code) * (weight_code.max() + 1)
        kinds, counts, _ = group(key + weight_code)
        kind_pair = np.zeros(counts.size, dtype=np.int64)
        kind_w = np.zeros(counts.size)
        kind_s = np.zeros(counts.size)
        kind_pair[kinds], kind_w[kinds], kind_s[kinds] = pair_ids, w, score
        to_pair = np.zeros((counts.size, n_pairs))
        to_pair[np.arange(counts.size), kind_pair] = 1.0
        draws = resample(counts, bootstrap_rounds, seed).astype(np.float64)
        samples = _newton(
            incidence,
            draws @ (to_pair * kind_w[:, None]),
            draws @ (to_pair * (kind_w * kind_s)[:, None]),
        )
    if anchor is not None:
        shift = index[anchor]
        theta = theta - theta[shift]
        samples = samples - samples[:, [shift]]
    cis = {
        name: percentile_interval(samples[:, i], confidence) if samples.shape[0] else None
        for i, name in enumerate(models)
    }
    return BradleyTerry(
        models=models,
        scores={name: float(theta[i]) for i, name in enumerate(models)},
        scores_ci=cis,
        battles=int(score.size),
        anchor=anchor,
        confidence=confidence,
        bootstrap_rounds=max(bootstrap_rounds, 0),
        samples=samples,
    )
