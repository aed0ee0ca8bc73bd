"""Validity: do the intervals the service reports cover the truth when the judge errs?

Simulated judged runs with a known truth: people's labels (candidate / baseline / tie) of
2,000 pairs, each drawn with chances whose mean credit is TRUTH, and a judge (or a panel of
two) that errs in a chosen way, swap on. Each seeded repeat makes a new run, scored as the
service scores it (`build_report`): the panel's half-credit `win_rate` and
`decisive_win_rate` with their intervals; the anytime-valid sequence on the running
`win_rate` that `stop_when` watches (stats/sequential.py), looked at after every 10 pairs;
and the calibrated figure from 200 labels drawn uniformly or actively by the label queue's
rule (`judge_service/labelling/queue.py`, replayed here with its pure functions: batches of
10 pairs for one annotator, error sizes re-learned from the labels so far before each batch,
a draw landing on a labelled pair kept and answered by that label), with its labels-only
counterpart. Coverage is counted twice: of TRUTH, the rate a study generalises to and the
one the judge's intervals aim at, and of the people's mean credit over the run's own pairs.

Scenarios (issue 22, item 8):
1. position (issue 22's): names slot A on 30% of calls whatever the content, wrong on 10%
   of the rest; people never tie here, as in the issue's simulation;
2. length: names the longer trace, in both orders, where one is over twice the other's
   length (about 17% of pairs, most of them with the shorter candidate), else 10% slot A
   and 5% wrong: an error that depends on the pair and that order swaps cannot reveal;
3. disagreement: two judges; on 30% of pairs (hard ones) each call is wrong with chance
   0.6, drawn again until the four calls show a flip or a split; on the rest each is wrong
   with chance 0.01. Where the judges flip or disagree they are mostly wrong, where both
   are consistent and agree they are right;
4. good judge: 5% slot A, 3% wrong.

Targets: both calibrated rows cover TRUTH in >= 93% of repeats in every scenario; in
scenario 3 the active interval is at least 20% narrower than the uniform one; in scenario 4
the calibrated interval is narrower than the one from the same labels alone. Prints a
markdown table, then PASS/FAIL per target, and exits 1 on a FAIL.
Run: `.venv/bin/python bench/validity.py` (`--quick` for a smoke test).

No figure here uses the bootstrap, so `build_report` runs with `bootstrap_rounds=0`;
the intervals shown do not depend on it.
"""

import argparse
import sys
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from os import cpu_count

import numpy as np

from judge_service.stats.frame import LabelDraws, RunFrame
from judge_service.stats.label_design import Strategy, error_sizes, pair_kinds, probabilities
from judge_service.stats.report import build_report, pair_credit, pair_outcome_table
from judge_service.stats.sequential import confidence_sequence

N_PAIRS = 2000
LABELS = 200
BATCH = 10  # pairs the label queue hands one annotator per request
PEEK = 10  # pairs between two looks at the confidence sequence
REPEATS = 1000
QUICK_REPEATS = 20
CONFIDENCE = 0.95
# People's labels: candidate, tie, baseline; the mean credit (TRUTH) is 0.836 + 0.05 / 2.
PEOPLE = np.array([0.836, 0.05, 0.114])
TRUTH = float(PEOPLE[0] + PEOPLE[1] / 2)
DECISIVE_PEOPLE = np.array([TRUTH, 0.0, 1 - TRUTH])  # issue 22's simulation: no ties
CODES = np.array([1, 0, -1], dtype=np.int8)
SLOT_A = np.array([-1, 1], dtype=np.int8)  # per order, the verdict that names slot A

MIN_COVERAGE = 0.93
ACTIVE_NARROWER = 0.20

RAW = "win_rate (half credit)"
DECISIVE = "decisive_win_rate"
SEQUENTIAL = "win_rate sequence (every peek)"
LABELS_ONLY = f"labels only, {LABELS} uniform"
UNIFORM = f"calibrated, {LABELS} uniform"
ACTIVE = f"calibrated, {LABELS} active"
ESTIMATORS = (RAW, DECISIVE, SEQUENTIAL, LABELS_ONLY, UNIFORM, ACTIVE)


@dataclass(frozen=True)
class Pairs:
    """What the simulation knows of each pair: the people's verdict code and the lengths."""

    truth: np.ndarray  # int8 verdict code of the people's label
    baseline_len: np.ndarray
    candidate_len: np.ndarray


Judge = Callable[[Pairs, np.random.Generator], np.ndarray]  # -> verdicts (judges, pairs, 2)


def _calls(
    truth: np.ndarray,
    rng: np.random.Generator,
    judges: int,
    slot_a: float,
    wrong: float | np.ndarray,
) -> np.ndarray:
    """Verdicts per (judge, pair, order): slot A at rate `slot_a`, else wrong at rate `wrong`.

    A wrong call on a decisive pair names the other trace; on a tie, either trace.
    """
    shape = (judges, truth.size, 2)
    verdict = np.broadcast_to(truth[None, :, None], shape).copy()
    errs = rng.random(shape) < np.broadcast_to(wrong, truth.shape)[:, None]
    other = np.where(verdict == 0, rng.choice(np.array([-1, 1], dtype=np.int8), shape), -verdict)
    verdict = np.where(errs, other, verdict)
    return np.where(rng.random(shape) < slot_a, SLOT_A, verdict).astype(np.int8)


def position_judge(pairs: Pairs, rng: np.random.Generator) -> np.ndarray:
    return _calls(pairs.truth, rng, 1, slot_a=0.3, wrong=0.1)


def length_judge(pairs: Pairs, rng: np.random.Generator) -> np.ndarray:
    verdict = _calls(pairs.truth, rng, 1, slot_a=0.1, wrong=0.05)
    longer = np.where(pairs.candidate_len > pairs.baseline_len, 1, -1).astype(np.int8)
    ratio = np.maximum(pairs.candidate_len, pairs.baseline_len) / np.minimum(
        pairs.candidate_len, pairs.baseline_len
    )
    return np.where((ratio > 2)[None, :, None], longer[None, :, None], verdict).astype(np.int8)


def disagreement_panel(pairs: Pairs, rng: np.random.Generator) -> np.ndarray:
    """Hard pairs' calls are drawn again until they show it: a flip or a split."""
    hard = rng.random(pairs.truth.size) < 0.3
    cube = _calls(pairs.truth, rng, 2, slot_a=0.0, wrong=np.where(hard, 0.6, 0.01))
    while (hidden := hard & (cube == cube[:1, :, :1]).all(axis=(0, 2))).any():
        cube[:, hidden] = _calls(pairs.truth[hidden], rng, 2, slot_a=0.0, wrong=0.6)
    return cube


def good_judge(pairs: Pairs, rng: np.random.Generator) -> np.ndarray:
    return _calls(pairs.truth, rng, 1, slot_a=0.05, wrong=0.03)


@dataclass(frozen=True)
class Scenario:
    judge: Judge
    people: np.ndarray  # chances of the people's labels: candidate, tie, baseline


SCENARIOS = {
    "1 position (30% slot A, 10% wrong)": Scenario(position_judge, DECISIVE_PEOPLE),
    "2 length (longer trace where 2x)": Scenario(length_judge, PEOPLE),
    "3 disagreement (2 judges, panel)": Scenario(disagreement_panel, PEOPLE),
    "4 good judge (5% slot A, 3% wrong)": Scenario(good_judge, PEOPLE),
}


def simulate(scenario: Scenario, rng: np.random.Generator) -> tuple[RunFrame, np.ndarray]:
    """A judged run built as columns, and the people's credit of each pair."""
    label = rng.choice(3, size=N_PAIRS, p=scenario.people)
    baseline_len = rng.integers(300, 3000, N_PAIRS)
    # The candidate is the more concise model: usually a little shorter, now and then far.
    candidate_len = np.maximum(1, baseline_len * np.exp(rng.normal(-0.1, 0.5, N_PAIRS)))
    pairs = Pairs(CODES[label], baseline_len, candidate_len.astype(np.int64))
    cube = scenario.judge(pairs, rng)
    judges = cube.shape[0]
    j, p, o = (a.ravel() for a in np.indices(cube.shape))
    frame = RunFrame(
        judges=[f"judge{i}" for i in range(judges)],
        n_pairs=N_PAIRS,
        pair=p.astype(np.int32),
        judge=j.astype(np.int16),
        order=o.astype(np.int8),
        verdict=cube.ravel(),
        strong=np.zeros(cube.size, dtype=bool),
        reason=np.full(cube.size, -1, dtype=np.int16),
        reasons=[],
        baseline_len=pairs.baseline_len,
        candidate_len=pairs.candidate_len,
        orders=2,
    )
    return frame, (CODES[label] + 1) / 2


def queue_draws(
    frame: RunFrame, human: np.ndarray, strategy: Strategy, rng: np.random.Generator
) -> LabelDraws:
    """The label queue's draws for one annotator who labels every pair it is handed.

    Every pair has an outcome here, so the population is all pairs.
    """
    per_judge, panel = pair_outcome_table(frame)
    kinds = pair_kinds(per_judge, panel, None)
    judged = pair_credit(panel)
    labelled = np.zeros(N_PAIRS, dtype=bool)
    pairs: list[np.ndarray] = []
    chances: list[np.ndarray] = []
    while (given := int(labelled.sum())) < LABELS:
        done = np.flatnonzero(labelled)
        sizes = error_sizes(kinds, done, (human[done] - judged[done]) ** 2)
        q = probabilities(kinds, strategy, sizes)
        want = min(BATCH, LABELS - given)
        handed = 0
        while handed < want:
            chunk = rng.choice(N_PAIRS, size=4 * want, p=q)
            made = chunk.size
            for i, pair in enumerate(chunk):
                if not labelled[pair]:
                    labelled[pair] = True
                    handed += 1
                    if handed == want:
                        made = i + 1  # the queue stops drawing here
                        break
            pairs.append(chunk[:made])
            chances.append(q[chunk[:made]])
    drawn = np.concatenate(pairs).astype(np.int32)
    return LabelDraws(
        pair=drawn,
        credit=human[drawn],
        probability=np.concatenate(chances),
        population=np.full(drawn.size, N_PAIRS, dtype=np.int64),
        ad_hoc_pair=np.zeros(0, dtype=np.int32),
    )


@dataclass(frozen=True)
class Figure:
    """One estimator's figure in one repeat; NaN and not covering when the figure is null."""

    estimate: float
    low: float
    high: float
    covered: bool  # the truth inside the interval (inside the sequence at every peek)
    covered_run: bool  # the same for the people's mean credit over this run's own pairs


def _interval(estimate: float | None, ci: tuple[float, float] | None, run_mean: float) -> Figure:
    if estimate is None or ci is None:
        return Figure(np.nan, np.nan, np.nan, covered=False, covered_run=False)
    low, high = ci
    return Figure(
        estimate, low, high, covered=low <= TRUTH <= high, covered_run=low <= run_mean <= high
    )


def _sequence(credit: np.ndarray, run_mean: float) -> Figure:
    """The judge's running win rate watched after every PEEK pairs, as `stop_when` watches it."""
    lower, upper = confidence_sequence(credit, CONFIDENCE)
    low, high = lower[PEEK - 1 :: PEEK], upper[PEEK - 1 :: PEEK]
    return Figure(
        float(credit.mean()),
        float(lower[-1]),
        float(upper[-1]),
        covered=bool(((low <= TRUTH) & (high >= TRUTH)).all()),
        covered_run=bool(((low <= run_mean) & (high >= run_mean)).all()),
    )


def run_repeat(scenario: Scenario, seed: np.random.SeedSequence) -> dict[str, Figure]:
    """One simulated run scored by every estimator."""
    rng = np.random.default_rng(seed)
    frame, human = simulate(scenario, rng)
    run_mean = float(human.mean())
    uniform = queue_draws(frame, human, Strategy.UNIFORM, rng)
    active = queue_draws(frame, human, Strategy.ACTIVE, rng)
    by_uniform = build_report(frame, draws=uniform, bootstrap_rounds=0).panel
    by_active = build_report(frame, draws=active, bootstrap_rounds=0).panel
    cal_u, cal_a = by_uniform.calibrated, by_active.calibrated
    assert cal_u is not None and cal_a is not None  # draws were given
    # Pairs get their outcomes in a random order, so index order is as good as any.
    credit = pair_credit(pair_outcome_table(frame)[1])
    return {
        RAW: _interval(by_uniform.win_rate, by_uniform.win_rate_ci, run_mean),
        DECISIVE: _interval(
            by_uniform.decisive_win_rate, by_uniform.decisive_win_rate_ci, run_mean
        ),
        SEQUENTIAL: _sequence(credit, run_mean),
        LABELS_ONLY: _interval(cal_u.human_only_estimate, cal_u.human_only_ci, run_mean),
        UNIFORM: _interval(cal_u.estimate, cal_u.ci, run_mean),
        ACTIVE: _interval(cal_a.estimate, cal_a.ci, run_mean),
    }


@dataclass(frozen=True)
class Row:
    mean: float
    width: float
    coverage: float  # of TRUTH; a null figure covers nothing
    coverage_run: float  # of each run's own people's mean
    missing: int  # repeats where the figure was null


def summarise(repeats: list[dict[str, Figure]]) -> dict[str, Row]:
    rows = {}
    for name in ESTIMATORS:
        figures = [r[name] for r in repeats]
        estimate = np.array([f.estimate for f in figures])
        width = np.array([f.high - f.low for f in figures])
        given = ~np.isnan(estimate)
        rows[name] = Row(
            mean=float(estimate[given].mean()) if given.any() else np.nan,
            width=float(width[given].mean()) if given.any() else np.nan,
            coverage=float(np.mean([f.covered for f in figures])),
            coverage_run=float(np.mean([f.covered_run for f in figures])),
            missing=int((~given).sum()),
        )
    return rows


def run_scenario(
    index: int, scenario: Scenario, repeats: int, seed: int, workers: int
) -> dict[str, Row]:
    """Repeat r of scenario s uses seed (seed, s, r) whatever the number of workers."""
    seeds = [np.random.SeedSequence([seed, index, r]) for r in range(repeats)]
    if workers == 1:
        return summarise([run_repeat(scenario, s) for s in seeds])
    with ProcessPoolExecutor(workers) as pool:
        chunk = max(1, repeats // (4 * workers))
        return summarise(list(pool.map(run_repeat, [scenario] * repeats, seeds, chunksize=chunk)))


def targets(results: dict[str, dict[str, Row]]) -> list[tuple[str, bool]]:
    checks = []
    for scenario, rows in results.items():
        for name in (UNIFORM, ACTIVE):
            coverage = rows[name].coverage
            checks.append(
                (
                    f"{scenario}: {name} covers {coverage:.1%} >= {MIN_COVERAGE:.0%}",
                    coverage >= MIN_COVERAGE,
                )
            )
    disagreement = results[list(SCENARIOS)[2]]
    shrink = 1 - disagreement[ACTIVE].width / disagreement[UNIFORM].width
    checks.append(
        (
            f"scenario 3: active {shrink:.1%} narrower than uniform (>= {ACTIVE_NARROWER:.0%})",
            shrink >= ACTIVE_NARROWER,
        )
    )
    good = results[list(SCENARIOS)[3]]
    checks.append(
        (
            f"scenario 4: calibrated width {good[UNIFORM].width:.4f} < labels only "
            f"{good[LABELS_ONLY].width:.4f}",
            good[UNIFORM].width < good[LABELS_ONLY].width,
        )
    )
    return checks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=None, help=f"per scenario ({REPEATS})")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=cpu_count() or 1)
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_REPEATS} repeats")
    args = parser.parse_args()
    repeats = args.repeats or (QUICK_REPEATS if args.quick else REPEATS)

    start = time.perf_counter()
    results = {
        name: run_scenario(i, scenario, repeats, args.seed, args.workers)
        for i, (name, scenario) in enumerate(SCENARIOS.items())
    }
    elapsed = time.perf_counter() - start

    print(
        f"validity: {N_PAIRS} pairs x 2 orders, truth {TRUTH:.3f}, {repeats} repeats per "
        f"scenario, seed {args.seed}, {CONFIDENCE:.0%} intervals, {elapsed:.0f} s"
    )
    print()
    print(f"| scenario | estimator | mean | mean width | covers {TRUTH:.3f} | covers run's mean |")
    print("|---|---|---|---|---|---|")
    for scenario, rows in results.items():
        for name, row in rows.items():
            null = f" ({row.missing} null)" if row.missing else ""
            print(
                f"| {scenario} | {name} | {row.mean:.3f} | {row.width:.3f} | "
                f"{row.coverage:.1%}{null} | {row.coverage_run:.1%} |"
            )
    print()
    checks = targets(results)
    for text, ok in checks:
        print(f"{'PASS' if ok else 'FAIL'}: {text}")
    if not all(ok for _, ok in checks):
        sys.exit(1)


if __name__ == "__main__":
    main()
