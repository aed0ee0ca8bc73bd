import numpy as np
import pytest

from judge_service.stats.bootstrap import group, percentile_interval, resample


def test_group_dense_and_sparse_keys_agree() -> None:
    keys = np.array([5, 3, 5, 9, 3, 5])
    ids, counts, present = group(keys)
    assert counts.tolist() == [2, 3, 1] and present.tolist() == [3, 5, 9]
    assert ids.tolist() == [1, 0, 1, 2, 0, 1]
    big_ids, big_counts, big_keys = group(keys + (1 << 40))
    assert big_ids.tolist() == ids.tolist() and big_counts.tolist() == counts.tolist()
    assert big_keys.tolist() == (present + (1 << 40)).tolist()
    empty_ids, empty_counts, empty_keys = group(np.zeros(0, dtype=np.int64))
    assert empty_ids.size == empty_counts.size == empty_keys.size == 0


def test_resample_keeps_the_total_and_is_seeded() -> None:
    counts = np.array([10, 0, 5, 85])
    draws = resample(counts, 500, seed=3)
    assert draws.shape == (500, 4)
    assert np.all(draws.sum(axis=1) == 100) and np.all(draws[:, 1] == 0)
    assert np.array_equal(draws, resample(counts, 500, seed=3))
    assert draws.mean(axis=0) == pytest.approx(counts, abs=1.5)
    assert resample(np.zeros(3, dtype=np.int64), 4, seed=0).shape == (4, 3)


def test_percentile_interval() -> None:
    samples = np.arange(1001, dtype=float)
    assert percentile_interval(samples, 0.95) == pytest.approx((25.0, 975.0))
    assert percentile_interval(np.array([np.nan, 2.0]), 0.9) == (2.0, 2.0)
    assert percentile_interval(np.array([np.nan]), 0.9) is None
