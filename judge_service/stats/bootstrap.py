"""Percentile bootstrap over pairs, done by resampling counts of identical pairs.

A pair enters every figure only through a few small integers (its outcome, how many of its
games fell on each verdict level), so pairs fall into few distinct kinds. Drawing n pairs with
replacement is the same as drawing the number of pairs of each kind from a multinomial with
the observed shares (Efron & Tibshirani 1993, ch. 6): exact, and 1,000 rounds over 500,000
pairs cost a few thousand binomial draws instead of 500 million index lookups.
"""

import numpy as np

# bincount is faster than a sort while the key range stays this small.
_DENSE_KEYS = 1 << 20


def group(key: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Group id per item (0..G-1), each group's size and key, for non-negative integer keys.

    Groups come in increasing key order.
    """
    if key.size == 0:
        empty = np.zeros(0, dtype=np.int64)
        return np.zeros(0, dtype=np.intp), empty, empty
    top = int(key.max())
    if top < _DENSE_KEYS:
        counts = np.bincount(key, minlength=top + 1)
        present = np.flatnonzero(counts)
        remap = np.zeros(top + 1, dtype=np.intp)
        remap[present] = np.arange(present.size)
        return remap[key], counts[present], present.astype(np.int64)
    keys, inverse, counts = np.unique(key, return_inverse=True, return_counts=True)
    return inverse.reshape(-1), counts, keys.astype(np.int64)


def resample(counts: np.ndarray, rounds: int, seed: int) -> np.ndarray:
    """(rounds, G) group sizes of `rounds` resamples of sum(counts) items with replacement."""
    n = int(counts.sum())
    rng = np.random.default_rng(seed)
    if n == 0 or rounds <= 0:
        return np.zeros((max(rounds, 0), counts.size), dtype=np.int64)
    return rng.multinomial(n, counts / n, size=rounds)


def percentile_interval(samples: np.ndarray, confidence: float) -> tuple[float, float] | None:
    """The central `confidence` share of the bootstrap distribution (NaN rounds dropped)."""
    finite = samples[np.isfinite(samples)]
    if finite.size == 0:
        return None
    tail = (1 - confidence) / 2
    low, high = np.quantile(finite, [tail, 1 - tail])
    return (float(low), float(high))
