"""Bradley-Terry scores across runs that share models, with bootstrap intervals.

P(a beats b) = sigmoid(score_a - score_b): scores are natural log-strengths, anchored so
their mean is 0 (or a named model is 0). A tie is half a win for each side, the usual
logistic-regression treatment (Chatbot Arena's). Fitted by Newton's method on battles
aggregated per model pair, all bootstrap rounds at once. A model (or group) that won, or lost,
every comparison with the others has no finite maximum-likelihood score: it is reported as
unbounded and the others are fitted without it. See docs/statistics.md.
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from scipy.sparse.csgraph import connected_components
from scipy.special import expit

from judge_service.stats.bootstrap import group, percentile_interval, resample

# A vanishing ridge: keeps a bootstrap round finite when it happens to leave a model winning
# (or losing) every battle, and leaves any other fit unchanged to ~1e-8.
RIDGE = 1e-6
# Elo points per unit of log-strength, for readers used to that scale.
ELO_PER_UNIT = 400 / math.log(10)


Direction = Literal["+inf", "-inf", "unlinked"]


class AnchorError(ValueError):
    """The anchor is not a model of the battles, or has no finite score."""


@dataclass(frozen=True)
class Unbounded:
    """A model whose maximum-likelihood score is infinite, and why.

    "+inf": it (with its group) won every comparison against the models left when it was set
    aside; "-inf": lost every one; "unlinked": it met those models only through unbounded ones.
    """

    direction: Direction
    group: tuple[str, ...]  # the models that share its fate (itself included)
    reason: str


@dataclass(frozen=True)
class BradleyTerry:
    """A fitted model; `scores` (log-strength scale) for the bounded models only."""

    models: tuple[str, ...]
    scores: dict[str, float]
    scores_ci: dict[str, tuple[float, float] | None]
    battles: int
    anchor: str | None
    confidence: float
    bootstrap_rounds: int
    samples: np.ndarray = field(repr=False, compare=False)  # (rounds, bounded) anchored scores
    unbounded: dict[str, Unbounded] = field(default_factory=dict)

    def _order(self, a: str, b: str) -> float | None:
        """1 or 0 when an unbounded model is surely above or below the other, else None."""
        rank = {"+inf": 1, "-inf": -1}
        ra = rank.get(self.unbounded[a].direction) if a in self.unbounded else 0
        rb = rank.get(self.unbounded[b].direction) if b in self.unbounded else 0
        if ra is None or rb is None or ra == rb:
            return None
        return 1.0 if ra > rb else 0.0

    def predicted_win_rate(self, a: str, b: str) -> float | None:
        """Expected score of a against b (a win 1, a tie 1/2): sigmoid(score_a - score_b).

        Against an unbounded model: 1 or 0 when the order is known, None when it is not.
        """
        if a in self.unbounded or b in self.unbounded:
            return self._order(a, b)
        return float(expit(self.scores[a] - self.scores[b]))

    def predicted_win_rate_ci(self, a: str, b: str) -> tuple[float, float] | None:
        """Percentile bootstrap interval of `predicted_win_rate(a, b)` (None if unbounded)."""
        if self.samples.shape[0] == 0 or a in self.unbounded or b in self.unbounded:
            return None
        bounded = list(self.scores)
        ia, ib = bounded.index(a), bounded.index(b)
        return percentile_interval(
            expit(self.samples[:, ia] - self.samples[:, ib]), self.confidence
        )

    def _unbounded_rows(self, direction: Direction) -> list[dict[str, Any]]:
        return [
            {
                "model": name,
                "score": None,
                "score_ci": None,
                "elo": None,
                "unbounded": direction,
                "reason": why.reason,
            }
            for name, why in sorted(self.unbounded.items())
            if why.direction == direction
        ]

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-ready figures: scores, intervals and every pairwise predicted win rate."""
        return {
            "scale": "log-strength: P(a beats b) = 1 / (1 + exp(score_b - score_a))",
            "anchor": self.anchor,
            "bootstrap_rounds": self.bootstrap_rounds,
            "models": [
                *self._unbounded_rows("+inf"),
                *(
                    {
                        "model": name,
                        "score": self.scores[name],
                        "score_ci": self.scores_ci[name],
                        "elo": 1000 + ELO_PER_UNIT * self.scores[name],
                        "unbounded": None,
                        "reason": None,
                    }
                    for name in sorted(self.scores, key=lambda m: -self.scores[m])
                ),
                *self._unbounded_rows("-inf"),
                *self._unbounded_rows("unlinked"),
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
    centred: np.ndarray = theta - theta.mean(axis=1, keepdims=True)
    return centred


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


def _beats(
    k: int, first: np.ndarray, second: np.ndarray, won: np.ndarray, lost: np.ndarray
) -> np.ndarray:
    """(k, k) booleans: [i, j] when i took some score (a win or half a tie) from j."""
    beats = np.zeros((k, k), dtype=bool)
    beats[first[won > 0], second[won > 0]] = True
    beats[second[lost > 0], first[lost > 0]] = True
    return beats


def _peel(beats: np.ndarray) -> dict[int, tuple[Direction, tuple[int, ...], int]]:
    """The models with an infinite maximum-likelihood score: {model: (direction, group, round)}.

    The scores are finite exactly when every group of models took some score from the rest
    (the comparison graph is strongly connected; Ford 1957). Otherwise the graph's strongly
    connected groups form a chain-like order: each round sets aside the groups nothing outside
    them beat ("+inf") and those that beat nothing outside them ("-inf"), never the largest
    group (most models, then most arrows among them), until the rest is one group.
    """
    remaining = np.arange(beats.shape[0])
    out: dict[int, tuple[Direction, tuple[int, ...], int]] = {}
    round_ = 0
    while remaining.size > 1:
        sub = beats[np.ix_(remaining, remaining)]
        n, label = connected_components(sub, directed=True, connection="strong")
        if n == 1:
            break
        round_ += 1
        across = sub & (label[:, None] != label[None, :])
        beats_out = np.zeros(n, dtype=bool)
        beaten = np.zeros(n, dtype=bool)
        np.logical_or.at(beats_out, label, across.any(axis=1))
        np.logical_or.at(beaten, label, across.any(axis=0))
        size = np.bincount(label, minlength=n)
        inner = np.bincount(label, weights=(sub & ~across).sum(axis=1), minlength=n)
        largest = max(range(n), key=lambda c: (size[c], inner[c], -c))
        keep = largest if size[largest] > 1 else -1
        set_aside = np.zeros(remaining.size, dtype=bool)
        for c in range(n):
            if c == keep or (beats_out[c] and beaten[c]):
                continue
            direction: Direction = (
                "unlinked"
                if not (beats_out[c] or beaten[c])
                else "+inf"
                if beats_out[c]
                else "-inf"
            )
            members = label == c
            group = tuple(remaining[members].tolist())
            for i in group:
                out[i] = (direction, group, round_)
            set_aside |= members
        remaining = remaining[~set_aside]
    return out


def _reason(
    models: tuple[str, ...], direction: Direction, group: tuple[int, ...], round_: int
) -> str:
    if direction == "unlinked":
        return "met the other models only through models with no finite score"
    text = "won every comparison" if direction == "+inf" else "lost every comparison"
    if len(group) > 1:
        text += f" against models outside its group ({', '.join(models[i] for i in group)})"
    if round_ > 1:
        text += " once the models with no finite score before it are set aside"
    return text


def _fit(
    k: int,
    ia: np.ndarray,
    ib: np.ndarray,
    score: np.ndarray,
    w: np.ndarray,
    bootstrap_rounds: int,
    seed: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Mean-0 scores (k,) and bootstrap samples (rounds, k) of models that all have one.

    A bootstrap round can still leave a model winning (or losing) every battle it drew: the
    ridge keeps its score finite and far in its own tail, and the round is centred on the
    models that stay bounded in it, so that model does not move the others.
    """
    rounds = max(bootstrap_rounds, 0)
    if k < 2:
        return np.zeros(k), np.zeros((rounds, k))
    # Canonical orientation: the lower model index first, its score flipped when needed.
    flip = ia > ib
    low, high = np.where(flip, ib, ia), np.where(flip, ia, ib)
    score = np.where(flip, 1 - score, score)
    pair_key = low * k + high
    pair_ids, _, _ = group(pair_key)
    pairs_low = np.zeros(pair_ids.max() + 1, dtype=np.int64)
    pairs_high = np.zeros_like(pairs_low)
    pairs_low[pair_ids], pairs_high[pair_ids] = low, high
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
        drawn_wins = draws @ (to_pair * (kind_w * kind_s)[:, None])
        drawn_losses = draws @ (to_pair * (kind_w * (1 - kind_s))[:, None])
        samples = _newton(incidence, draws @ (to_pair * kind_w[:, None]), drawn_wins)
        full_losses = np.bincount(pair_ids, weights=w * (1 - score), minlength=n_pairs) > 0
        # Only a round that lost some arrow of the (strongly connected) graph can leave a model out.
        thinner = ((drawn_wins > 0) != (wins[0] > 0)) | ((drawn_losses > 0) != full_losses)
        for r in np.flatnonzero(thinner.any(axis=1)).tolist():
            loose = _peel(_beats(k, pairs_low, pairs_high, drawn_wins[r], drawn_losses[r]))
            if loose:
                bounded = [i for i in range(k) if i not in loose]
                if bounded:
                    samples[r] -= samples[r, bounded].mean()
    return theta, samples


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
    resamples battles (multinomially over identical ones) and refits every round. Models
    with no finite score (see `_peel`) are reported in `unbounded`; the others are fitted,
    bootstrapped and centred on the battles among themselves alone.
    """
    if battles is not None:
        rows: list[tuple[str, str, float] | tuple[str, str, float, float]] = list(battles)
        model_a = [row[0] for row in rows]
        model_b = [row[1] for row in rows]
        score_a = [row[2] for row in rows]
        weight = [row[3] if len(row) > 3 else 1.0 for row in rows]
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
        raise AnchorError(f"anchor {anchor!r} is not among the models")
    index = {name: i for i, name in enumerate(models)}
    ia = np.array([index[m] for m in names_a.tolist()], dtype=np.int64)
    ib = np.array([index[m] for m in names_b.tolist()], dtype=np.int64)
    k = len(models)
    if not _connected(k, ia[w > 0], ib[w > 0]):
        raise ValueError("the battles do not link every model through some chain of battles")
    loose = _peel(_beats(k, ia, ib, w * score, w * (1 - score)))
    unbounded = {
        models[i]: Unbounded(d, tuple(models[j] for j in g), _reason(models, d, g, r))
        for i, (d, g, r) in loose.items()
    }
    if anchor in unbounded:
        raise AnchorError(f"anchor {anchor!r} has no finite score: it {unbounded[anchor].reason}")
    bounded = tuple(m for m in models if m not in unbounded)
    inside = np.array([index[m] for m in bounded], dtype=np.int64)
    renumber = np.full(k, -1, dtype=np.int64)
    renumber[inside] = np.arange(inside.size)
    among = (renumber[ia] >= 0) & (renumber[ib] >= 0)
    theta, samples = _fit(
        len(bounded),
        renumber[ia[among]],
        renumber[ib[among]],
        score[among],
        w[among],
        bootstrap_rounds,
        seed,
    )
    if anchor is not None:
        shift = bounded.index(anchor)
        theta = theta - theta[shift]
        samples = samples - samples[:, [shift]]
    cis = {
        name: percentile_interval(samples[:, i], confidence) if samples.shape[0] else None
        for i, name in enumerate(bounded)
    }
    return BradleyTerry(
        models=models,
        scores={name: float(theta[i]) for i, name in enumerate(bounded)},
        scores_ci=cis,
        battles=int(score.size),
        anchor=anchor,
        confidence=confidence,
        bootstrap_rounds=max(bootstrap_rounds, 0),
        samples=samples,
        unbounded=unbounded,
    )
