"""What a judge with position bias b and per-call error e does to the pair-level figures.

Simulates runs with the service's own functions (judge_service/simulate/judge_model.py) and
prints a markdown table for docs/statistics.md ("Why the swap is needed"): each figure's mean
over the repeats, then in brackets what the formulas predict, with the error and without it.
Run: `.venv/bin/python bench/judge_model.py`.
"""

import argparse

import numpy as np

from judge_service.simulate.judge_model import Figures, predict, simulate

FIGURES = ("win_rate", "decisive_win_rate", "position_consistency", "first_slot_rate")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--truth", type=float, default=0.861)
    parser.add_argument("--pairs", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print(
        f"t = {args.truth}, {args.pairs:,} pairs, {args.repeats} repeats, seed {args.seed}; "
        "mean (formula with e / error-free formula)\n"
    )
    print("| b | e | " + " | ".join(f"`{name}`" for name in FIGURES) + " |")
    print("|---|---|" + "---|" * len(FIGURES))
    for bias in (0.0, 0.3):
        for error in (0.0, 0.1):
            runs = simulate(
                args.truth, bias, error, pairs=args.pairs, repeats=args.repeats, seed=args.seed
            )
            formula, error_free = predict(args.truth, bias, error), predict(args.truth, bias, 0)
            cells = [
                f"{mean(runs, name):.3f} ({getattr(formula, name):.3f} / "
                f"{getattr(error_free, name):.3f})"
                for name in FIGURES
            ]
            print(f"| {bias:g} | {error:g} | " + " | ".join(cells) + " |")


def mean(runs: list[Figures], name: str) -> float:
    return float(np.mean([getattr(run, name) for run in runs]))


if __name__ == "__main__":
    main()
