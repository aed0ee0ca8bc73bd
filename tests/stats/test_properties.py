"""Property tests: symmetry under swapping the models, intervals around estimates, ties."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from judge_service.stats.frame import NO_VERDICT, RunFrame
from judge_service.stats.preference import credit_interval, summarize_counts
from judge_service.stats.report import JudgeFigures, build_report
from tests.stats.frames import grid_frame, swap_roles

SETTINGS = settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    database=None,  # no .hypothesis directory in the work tree
    suppress_health_check=[HealthCheck.too_slow],
)
VALUES = st.sampled_from([-2, -1, 0, 1, 2, NO_VERDICT, None])


@st.composite
def frames(draw: st.DrawFn) -> RunFrame:
    judges = draw(st.integers(1, 3))
    pairs = draw(st.integers(0, 25))
    orders = draw(st.sampled_from([1, 2]))
    cube = [[[draw(VALUES) for _ in range(orders)] for _ in range(pairs)] for _ in range(judges)]
    lengths = st.lists(st.integers(0, 60), min_size=pairs, max_size=pairs)
    return grid_frame(
        cube,
        baseline_len=draw(lengths),
        candidate_len=draw(lengths),
        orders=orders,
        strong_weight=draw(st.sampled_from([1.0, 3.0])),
    )


def mirrored(ci: tuple[float, float] | None) -> tuple[float, float] | None:
    return None if ci is None else (1 - ci[1], 1 - ci[0])


def one_minus(x: float | None) -> float | None:
    return None if x is None else 1 - x


def assert_mirror(a: JudgeFigures, b: JudgeFigures) -> None:
    assert (a.n, a.ties, a.inconsistent, a.missing) == (b.n, b.ties, b.inconsistent, b.missing)
    assert (a.wins, a.losses) == (b.losses, b.wins)
    assert a.missing_reasons == b.missing_reasons
    assert b.win_rate == pytest.approx(one_minus(a.win_rate), abs=1e-12)
    assert b.win_rate_ci == pytest.approx(mirrored(a.win_rate_ci), abs=1e-12)
    assert b.decisive_win_rate == pytest.approx(one_minus(a.decisive_win_rate), abs=1e-12)
    assert b.decisive_win_rate_ci == pytest.approx(mirrored(a.decisive_win_rate_ci), abs=1e-12)
    assert b.sign_test_p == pytest.approx(a.sign_test_p, abs=1e-12)
    assert b.position_consistency == a.position_consistency
    assert b.order_level.win_rate == pytest.approx(one_minus(a.order_level.win_rate), abs=1e-12)
    assert (b.order_level.wins, b.order_level.losses) == (a.order_level.losses, a.order_level.wins)
    # Slot and length preferences do not depend on which model is called the candidate.
    assert (b.first_slot_rate, b.first_slot_n) == (a.first_slot_rate, a.first_slot_n)
    assert b.longer_preferred_rate == a.longer_preferred_rate
    if a.length_controlled_win_rate is None:
        assert b.length_controlled_win_rate is None
    else:
        assert b.length_controlled_win_rate == pytest.approx(
            1 - a.length_controlled_win_rate, abs=1e-6
        )
    # The bootstrap mirrors up to its Monte Carlo error (the draws themselves differ), which
    # near a quantile can reach one step of the discrete resampled mean, 1/n.
    if a.win_rate_bootstrap_ci is None:
        assert b.win_rate_bootstrap_ci is None
    else:
        assert b.win_rate_bootstrap_ci == pytest.approx(
            mirrored(a.win_rate_bootstrap_ci), abs=0.05 + 1 / a.n
        )


@SETTINGS
@given(frames())
def test_swapping_the_models_mirrors_every_figure(frame: RunFrame) -> None:
    one = build_report(frame, bootstrap_rounds=2000)
    other = build_report(swap_roles(frame), bootstrap_rounds=2000)
    assert_mirror(one.panel, other.panel)
    for judge in frame.judges:
        assert_mirror(one.per_judge[judge], other.per_judge[judge])


def inside(value: float | None, ci: tuple[float, float] | None) -> bool:
    if value is None:
        return ci is None
    assert ci is not None
    return ci[0] - 1e-12 <= value <= ci[1] + 1e-12


@SETTINGS
@given(frames())
def test_intervals_contain_their_estimates(frame: RunFrame) -> None:
    report = build_report(frame, bootstrap_rounds=300)
    for f in [report.panel, *report.per_judge.values()]:
        assert inside(f.win_rate, f.win_rate_ci)
        assert inside(f.win_rate, f.win_rate_bootstrap_ci)
        assert inside(f.preferred_rate, f.preferred_rate_ci)
        assert inside(f.decisive_win_rate, f.decisive_win_rate_ci)
        assert inside(f.order_level.win_rate, f.order_level.win_rate_ci)
        assert inside(f.first_slot_rate, f.first_slot_rate_ci)
        assert inside(f.longer_preferred_rate, f.longer_preferred_rate_ci)
        for ci in (f.win_rate_ci, f.win_rate_bootstrap_ci, f.order_level.win_rate_ci):
            assert ci is None or 0.0 <= ci[0] <= ci[1] <= 1.0


COUNT = st.integers(0, 400)


@SETTINGS
@given(COUNT, COUNT, COUNT, COUNT, st.floats(0.5, 0.999))
def test_credit_interval_contains_and_mirrors(
    wins: int, losses: int, ties: int, inconsistent: int, confidence: float
) -> None:
    n = wins + losses + ties + inconsistent
    halves = ties + inconsistent
    low, high = credit_interval(wins, halves, n, confidence)
    assert 0 <= low <= ((wins + halves / 2) / n if n else 0.5) <= high <= 1
    assert credit_interval(losses, halves, n, confidence) == pytest.approx((1 - high, 1 - low))


@SETTINGS
@given(COUNT, COUNT, COUNT, COUNT)
def test_a_tie_moves_the_win_rate_toward_one_half(
    wins: int, losses: int, ties: int, inconsistent: int
) -> None:
    before = summarize_counts(wins, losses, ties, inconsistent, swapped=True).win_rate
    after = summarize_counts(wins, losses, ties + 1, inconsistent, swapped=True).win_rate
    assert after is not None
    if before is None:
        assert after == 0.5
        return
    assert abs(after - 0.5) <= abs(before - 0.5)
    if before != 0.5:
        assert abs(after - 0.5) < abs(before - 0.5)
        assert (after - 0.5) * (before - 0.5) > 0  # toward one half, never past it


@SETTINGS
@given(frames())
def test_a_tied_pair_moves_the_report_toward_one_half(frame: RunFrame) -> None:
    before = build_report(frame, bootstrap_rounds=0).panel.win_rate
    tied = np.zeros((len(frame.judges), 1, frame.orders), dtype=int)
    extended = grid_frame(tied)
    joined = RunFrame(
        judges=frame.judges,
        n_pairs=frame.n_pairs + 1,
        pair=np.concatenate([frame.pair, extended.pair + frame.n_pairs]).astype(np.int32),
        judge=np.concatenate([frame.judge, extended.judge]),
        order=np.concatenate([frame.order, extended.order]),
        verdict=np.concatenate([frame.verdict, extended.verdict]),
        strong=np.concatenate([frame.strong, extended.strong]),
        reason=np.concatenate([frame.reason, extended.reason]),
        reasons=frame.reasons,
        baseline_len=np.append(frame.baseline_len, 0),
        candidate_len=np.append(frame.candidate_len, 0),
        orders=frame.orders,
    )
    after = build_report(joined, bootstrap_rounds=0).panel.win_rate
    assert after is not None
    assert abs(after - 0.5) <= abs((before if before is not None else 0.5) - 0.5)
