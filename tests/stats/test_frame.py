import numpy as np

from judge_service.stats.frame import NO_VERDICT
from tests.stats.frames import VerdictRow, frame_from_rows


def test_frame_from_rows_columns() -> None:
    rows = [
        VerdictRow(10, "a", "baseline_first", "candidate", strong=True),
        VerdictRow(10, "a", "candidate_first", None, "failed", "parse_error"),
        VerdictRow(20, "b", "baseline_first", "tie"),
        VerdictRow(20, "b", "candidate_first", None, "pending"),
        VerdictRow(30, "a", "baseline_first", None),  # done without a verdict
        VerdictRow(99, "a", "baseline_first", "tie"),  # not a pair of the run: ignored
        VerdictRow(10, "zz", "baseline_first", "tie"),  # not a judge of the run: ignored
    ]
    frame = frame_from_rows(
        [10, 20, 30],
        rows,
        ["a", "b"],
        orders=2,
        baseline_len=[1, 2, 3],
        candidate_len=[4, 5, 6],
        stratum=["x", "y", "x"],
    )
    assert frame.n_pairs == 3 and frame.judges == ["a", "b"]
    assert frame.pair.tolist() == [0, 0, 1, 1, 2]
    assert frame.judge.tolist() == [0, 0, 1, 1, 0]
    assert frame.order.tolist() == [0, 1, 0, 1, 0]
    assert frame.verdict.tolist() == [1, NO_VERDICT, 0, NO_VERDICT, NO_VERDICT]
    assert frame.strong.tolist() == [True, False, False, False, False]
    assert [frame.reasons[r] if r >= 0 else None for r in frame.reason.tolist()] == [
        None,
        "parse_error",
        None,
        "pending",
        "criterion_not_judged",
    ]
    assert frame.candidate_len.dtype == np.int64 and frame.candidate_len.tolist() == [4, 5, 6]
    assert frame.strata == ["x", "y"] and frame.stratum is not None
    assert frame.stratum.tolist() == [0, 1, 0]


def test_frame_from_rows_defaults() -> None:
    frame = frame_from_rows([1], [], ["a"], orders=1)
    assert frame.pair.size == 0 and frame.baseline_len.tolist() == [0]
    assert frame.stratum is None and frame.strata == []
