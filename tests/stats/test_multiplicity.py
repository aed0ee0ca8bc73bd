"""Holm and Benjamini-Hochberg against statsmodels' `multipletests`, and per-stratum use."""

from collections.abc import Callable

import numpy as np
import pytest
from scipy.stats import binomtest
from statsmodels.stats.multitest import multipletests

from judge_service.stats.multiplicity import adjust, benjamini_hochberg, holm
from judge_service.stats.report import build_report
from tests.stats.frames import grid_frame

Adjust = Callable[[np.ndarray], np.ndarray]
METHODS = [(holm, "holm"), (benjamini_hochberg, "fdr_bh")]


def random_p_values(rng: np.random.Generator) -> np.ndarray:
    """Uniform, tiny, coarse (ties) and exactly 1, mixed: what a table of sign tests gives."""
    m = int(rng.integers(1, 40))
    p = rng.uniform(size=m) ** rng.choice([1.0, 4.0])
    coarse = rng.uniform(size=m) < 0.4
    p[coarse] = np.round(p[coarse], 1)
    p[rng.uniform(size=m) < 0.15] = 1.0
    return p


@pytest.mark.parametrize(("ours", "method"), METHODS)
def test_equals_statsmodels_on_random_vectors(ours: Adjust, method: str) -> None:
    rng = np.random.default_rng(22)
    for _ in range(100):  # statsmodels takes ~40 ms per Holm call
        p = random_p_values(rng)
        reject, expected, _, _ = multipletests(p, alpha=0.05, method=method)
        np.testing.assert_allclose(ours(p), expected, rtol=1e-12, atol=0)
        assert ((ours(p) <= 0.05) == reject).all()


@pytest.mark.parametrize(("ours", "method"), METHODS)
def test_ties_and_ones(ours: Adjust, method: str) -> None:
    for p in ([0.02, 0.02, 0.02], [1.0, 1.0], [0.01, 1.0, 0.01, 0.5], [0.3]):
        expected = multipletests(p, method=method)[1]
        np.testing.assert_allclose(ours(np.array(p)), expected, rtol=1e-12, atol=0)
        adjusted = ours(np.array(p))
        assert (adjusted <= 1).all() and (adjusted >= np.array(p)).all()


def test_rows_without_a_p_value_are_left_out_of_the_family() -> None:
    rng = np.random.default_rng(5)
    for _ in range(50):
        p = random_p_values(rng)
        gaps = rng.uniform(size=p.size) < 0.3
        rows = adjust([None if gap else float(x) for gap, x in zip(gaps, p, strict=True)], 0.05)
        missing = [row for row, gap in zip(rows, gaps, strict=True) if gap]
        assert all(vars(row) == dict.fromkeys(vars(row)) for row in missing)
        tested = [row for row, gap in zip(rows, gaps, strict=True) if not gap]
        if not tested:
            continue
        holm_reject, by_holm = multipletests(p[~gaps], alpha=0.05, method="holm")[:2]
        bh_reject, by_bh = multipletests(p[~gaps], alpha=0.05, method="fdr_bh")[:2]
        np.testing.assert_allclose([r.sign_test_p_holm for r in tested], by_holm, rtol=1e-12)
        np.testing.assert_allclose([r.sign_test_p_bh for r in tested], by_bh, rtol=1e-12)
        assert [r.significant_holm for r in tested] == holm_reject.tolist()
        assert [r.significant_bh for r in tested] == bh_reject.tolist()
    assert adjust([None, float("nan")], 0.05) == [adjust([None], 0.05)[0]] * 2


WIN, LOSS, TIE = [1, 1], [-1, -1], [0, 0]


def test_a_stratum_significant_alone_is_not_after_holm() -> None:
    """Three strata with sign tests: the strong one's raw p < 0.05 does not survive Holm.

    A fourth stratum of ties has no sign test and is not part of the family.
    """
    strata = {
        "strong": [WIN] * 9 + [LOSS],
        "even": [WIN] * 5 + [LOSS] * 5,
        "slight": [WIN] * 6 + [LOSS] * 4 + [TIE],
        "ties": [TIE] * 3,
    }
    pairs = [verdicts for rows in strata.values() for verdicts in rows]
    # Each pair judged in both orders by two judges: the unit stays the pair.
    frame = grid_frame(
        [pairs, pairs],
        stratum=[s for s, rows in enumerate(strata.values()) for _ in rows],
        strata=list(strata),
    )
    report = build_report(frame, bootstrap_rounds=0)
    assert report.by_stratum is not None
    rows = report.by_stratum
    raw = [rows[name].panel.sign_test_p for name in ("strong", "even", "slight")]
    assert raw == [binomtest(w, w + lost).pvalue for w, lost in ((9, 1), (5, 5), (6, 4))]
    assert raw[0] < 0.05
    holm_reject, by_holm = multipletests(raw, alpha=0.05, method="holm")[:2]
    bh_reject, by_bh = multipletests(raw, alpha=0.05, method="fdr_bh")[:2]
    for i, name in enumerate(("strong", "even", "slight")):
        assert rows[name].sign_test_p_holm == pytest.approx(by_holm[i], rel=1e-12)
        assert rows[name].sign_test_p_bh == pytest.approx(by_bh[i], rel=1e-12)
        assert rows[name].significant_holm == holm_reject[i]
        assert rows[name].significant_bh == bh_reject[i]
    assert rows["strong"].sign_test_p_holm > 0.05 and rows["strong"].significant_holm is False
    assert rows["ties"].panel.sign_test_p is None
    assert rows["ties"].sign_test_p_holm is None and rows["ties"].significant_bh is None
    # A stricter level moves the flags, not the adjusted p-values.
    loose = build_report(frame, bootstrap_rounds=0, confidence=0.9).by_stratum
    assert loose is not None
    assert loose["strong"].sign_test_p_holm == rows["strong"].sign_test_p_holm
    assert loose["strong"].significant_holm == (rows["strong"].sign_test_p_holm <= 0.1)
