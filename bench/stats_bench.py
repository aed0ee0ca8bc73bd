"""Times `build_report` on a synthetic run of 500,000 pairs x 2 orders x 1 judge.

The target (GitHub issue 4): every figure, the 1,000-round bootstrap included, in under one
second once the frame is loaded. Run: `.venv/bin/python bench/stats_bench.py`; the last line
is the figure.
"""

import argparse
import time

import numpy as np

from judge_service.stats.frame import NO_VERDICT, RunFrame
from judge_service.stats.report import build_report

TARGET_S = 1.0


def synthetic_frame(n_pairs: int, seed: int = 0) -> RunFrame:
    """A judge with position bias 0.2, ties, strong verdicts, 1% failed calls, length effects."""
    rng = np.random.default_rng(seed)
    baseline_len = rng.integers(200, 4000, n_pairs)
    candidate_len = baseline_len + rng.normal(300, 600, n_pairs).astype(np.int64)
    # The truth leans to the candidate, more so when it is longer.
    p_candidate = 1 / (1 + np.exp(-(0.3 + 0.4 * np.tanh((candidate_len - baseline_len) / 600))))
    truth = np.where(rng.random(n_pairs) < p_candidate, 1, -1)
    truth[rng.random(n_pairs) < 0.1] = 0
    pair = np.repeat(np.arange(n_pairs, dtype=np.int32), 2)
    order = np.tile(np.array([0, 1], dtype=np.int8), n_pairs)
    verdict = truth[pair].astype(np.int8)
    slot_a = np.where(order == 0, -1, 1).astype(np.int8)
    biased = rng.random(pair.size) < 0.2
    verdict[biased] = slot_a[biased]
    strong = (verdict != 0) & (rng.random(pair.size) < 0.3)
    failed = rng.random(pair.size) < 0.01
    verdict[failed] = NO_VERDICT
    reason = np.where(failed, 0, -1).astype(np.int16)
    return RunFrame(
        judges=["judge"],
        n_pairs=n_pairs,
        pair=pair,
        judge=np.zeros(pair.size, dtype=np.int16),
        order=order,
        verdict=verdict,
        strong=strong,
        reason=reason,
        reasons=["parse_error"],
        baseline_len=baseline_len.astype(np.int64),
        candidate_len=candidate_len.astype(np.int64),
        orders=2,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pairs", type=int, default=500_000)
    parser.add_argument("--rounds", type=int, default=1000)
    args = parser.parse_args()
    frame = synthetic_frame(args.pairs)
    start = time.perf_counter()
    report = build_report(frame, bootstrap_rounds=args.rounds)
    elapsed = time.perf_counter() - start
    panel = report.panel
    print(
        f"n={panel.n} win_rate={panel.win_rate:.4f} bootstrap_ci={panel.win_rate_bootstrap_ci} "
        f"lc={panel.length_controlled_win_rate:.4f} first_slot={panel.first_slot_rate:.4f}"
    )
    print(
        f"stats_bench: {args.pairs} pairs x {frame.orders} orders: {elapsed:.2f} s "
        f"({elapsed / TARGET_S:.2f} x the {TARGET_S:g} s target)"
    )


if __name__ == "__main__":
    main()
