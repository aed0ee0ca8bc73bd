"""Probe statistics on fixed outcomes: changed share, its Wilson interval, direction, reading."""

import numpy as np
import pytest

from judge_service.stats.preference import INCONSISTENT, LOSS, NO_OUTCOME, TIE, WIN, wilson_interval
from judge_service.stats.probes import aligned, compare_outcomes, reading
from judge_service.stats.report import pair_outcome_table
from tests.stats.frames import grid_frame


def test_changed_share_interval_and_direction() -> None:
    source = np.array([WIN, WIN, LOSS, TIE, TIE, INCONSISTENT, WIN, NO_OUTCOME, LOSS, WIN])
    probe = np.array([WIN, LOSS, WIN, WIN, INCONSISTENT, LOSS, WIN, WIN, NO_OUTCOME, TIE])
    got = compare_outcomes(source, probe)
    assert got.n == 8  # the two pairs without an outcome in one run are left out
    assert got.changed == 6
    assert got.changed_share == pytest.approx(0.75)
    assert got.changed_ci == pytest.approx(wilson_interval(6, 8))
    # up: loss->win, tie->win; down: win->loss, inconsistent->loss, win->tie; tie->incons.: neither
    assert (got.toward_candidate, got.toward_baseline) == (2, 3)


def test_no_change_gives_an_interval_near_zero() -> None:
    outcomes = np.array([WIN] * 30 + [LOSS] * 10)
    got = compare_outcomes(outcomes, outcomes.copy())
    assert (got.n, got.changed, got.toward_candidate, got.toward_baseline) == (40, 0, 0, 0)
    assert got.changed_ci is not None and got.changed_ci[0] == 0.0 and got.changed_ci[1] < 0.1


def test_nothing_to_compare() -> None:
    got = compare_outcomes(np.array([NO_OUTCOME]), np.array([WIN]))
    assert (got.n, got.changed_share, got.changed_ci) == (0, None, None)
    assert "no pair" in reading("drop_images", "sim-x", None, got)


def test_outcomes_from_frames_are_compared_by_external_id() -> None:
    """The per-pair outcomes the run's figures use, matched by external id across runs."""
    source_frame = grid_frame([[[1, -1], [1, 1], [-1, -1]]])  # inconsistent, win, loss
    probe_frame = grid_frame([[[-1, -1], [1, 1]]])  # loss, win
    source_ids, probe_ids = ["a", "b", "c"], ["c", "a"]
    s, p = aligned(source_ids, probe_ids)
    assert s.tolist() == [2, 0] and p.tolist() == [0, 1]
    source_outcomes = pair_outcome_table(source_frame)[0][0]
    probe_outcomes = pair_outcome_table(probe_frame)[0][0]
    got = compare_outcomes(source_outcomes[s], probe_outcomes[p])
    assert (got.n, got.changed) == (2, 1)  # c stayed a loss; a went inconsistent -> win
    assert (got.toward_candidate, got.toward_baseline) == (1, 0)


@pytest.mark.parametrize(
    ("changed", "n", "ends"),
    [
        (0, 50, "the perception axis is not image-grounded."),
        (45, 50, "the perception axis depends on the images."),
        (2, 10, "too few pairs to say whether the perception axis depends on the images."),
    ],
)
def test_reading_says_what_the_interval_supports(changed: int, n: int, ends: str) -> None:
    source = np.array([WIN] * n)
    probe = np.array([TIE] * changed + [WIN] * (n - changed))
    line = reading("drop_images", "sim-x", "perception", compare_outcomes(source, probe))
    unchanged = round(100 * (n - changed) / n)
    assert line == (
        f"sim-x: verdict unchanged in {unchanged}% of {n} pairs when the images were removed: "
        + ends
    )


def test_reading_names_the_overall_verdict() -> None:
    outcomes = np.array([WIN] * 40)
    line = reading("swap_answers", "j", None, compare_outcomes(outcomes, -outcomes))
    assert line.endswith("the overall verdict follows the final answers.")
