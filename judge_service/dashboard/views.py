"""What each dashboard page shows, assembled from the services the API itself serves.

The run page renders `compute_run_stats` (the body of `GET /stats`) and the pair browser
filters on `pair_outcome_table` (the outcomes `build_report` counts), so a number on screen
is always the number the API returns.
"""

import difflib
import hashlib
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from judge_service.config import JudgeConfig
from judge_service.dashboard.sequence_chart import sequence_chart
from judge_service.db.models import HumanLabel, Judgment, Pair, Project, Run
from judge_service.db.queries import RunCounts, run_counts, run_orders
from judge_service.db.run_frame import load_run_frame, metadata_keys
from judge_service.db.usage import JudgeUsage, judge_usage
from judge_service.jobs.stopping import run_sequence
from judge_service.services.probes import probe_table
from judge_service.services.stats import compute_axis_stats, compute_run_stats
from judge_service.simulated_model import MODEL_NAME as SIMULATED_MODEL
from judge_service.stats.calibrated import MIN_LABELS
from judge_service.stats.planning import labels_to_reach, z_value
from judge_service.stats.preference import INCONSISTENT, LOSS, NO_OUTCOME, TIE, WIN, Outcome
from judge_service.stats.report import JudgeFigures, build_report, pair_outcome_table

MISSING = "missing"
OUTCOME_NAMES = {
    WIN: Outcome.WIN.value,
    LOSS: Outcome.LOSS.value,
    TIE: Outcome.TIE.value,
    INCONSISTENT: Outcome.INCONSISTENT.value,
    NO_OUTCOME: MISSING,
}
OUTCOME_CODES = {name: code for code, name in OUTCOME_NAMES.items()}
PANEL = "panel"
DIFF_MAX_LINES = 3000  # longer traces are shown without the shared-line marks
# The host (and port) of an https URL, read only where no browser could read another: a
# userinfo `@`, a backslash or a percent-escape in the authority matches nothing.
HTTPS_HOST = re.compile(r"^https://([a-z0-9.-]+)(?::([0-9]{1,5}))?(?:[/?#]|$)", re.IGNORECASE)


@dataclass(frozen=True)
class RunSummary:
    """A row of the runs page."""

    run: Run
    counts: RunCounts
    usage: dict[str, JudgeUsage]
    cost_usd: float | None
    panel: JudgeFigures
    simulated: bool

    @property
    def progress(self) -> float:
        expected = self.counts.judgments_expected
        finished = self.counts.judgments_done + self.counts.judgments_failed
        return finished / expected if expected else 0.0

    @property
    def spent_usd(self) -> float | None:
        return shown_spend(self.counts, self.cost_usd)

    @property
    def tokens(self) -> int:
        return sum(u.input_tokens + u.output_tokens for u in self.usage.values())


class SummaryCache:
    """Panel figures per run, recomputed only when the run's judgments change.

    The runs page shows many runs; a finished run's figures never change, so each is
    computed once per process rather than on every page view.
    """

    def __init__(self, size: int = 1024) -> None:
        self._size = size
        self._entries: dict[int, tuple[tuple[Any, ...], JudgeFigures]] = {}

    def panel(self, session: Session, run: Run, version: tuple[Any, ...]) -> JudgeFigures:
        hit = self._entries.get(run.id)
        if hit is not None and hit[0] == version:
            return hit[1]
        figures = build_report(load_run_frame(session, run)[0], bootstrap_rounds=0).panel
        if len(self._entries) >= self._size:
            self._entries.pop(next(iter(self._entries)))
        self._entries[run.id] = (version, figures)
        return figures


def is_simulated(run: Run, judge: str) -> bool:
    return str(run.judge_configs.get(judge, {}).get("model", "")).startswith(SIMULATED_MODEL)


def judge_costs(
    run: Run, usage: dict[str, JudgeUsage], judges: dict[str, JudgeConfig]
) -> dict[str, float | None]:
    """Cost per judge of the run: stored costs, and judgments stored without one priced now.

    None before its first call when the judge has no price or is no longer configured.
    """
    costs: dict[str, float | None] = {}
    for name in run.judges:
        config, use = judges.get(name), usage.get(name)
        if use is not None:
            costs[name] = use.spend.cost_usd(config)
        else:
            costs[name] = config.cost_usd(0, 0) if config is not None else None
    return costs


def total_cost(costs: dict[str, float | None]) -> float | None:
    values = list(costs.values())
    return None if any(v is None for v in values) else float(sum(v or 0.0 for v in values))


def shown_spend(counts: RunCounts, cost_usd: float | None) -> float | None:
    """The run's spend as the API reports it (`spent_usd`: stored costs, what a budget counts);
    None while a judge has no price, whose calls store no cost, so the run does not read as free.
    """
    return None if cost_usd is None else counts.spent_usd


def models(session: Session, project: Project) -> list[str]:
    mine = Run.project_id == project.id
    names = set(session.scalars(select(Run.baseline).where(mine).distinct()))
    return sorted(names | set(session.scalars(select(Run.candidate).where(mine).distinct())))


def list_runs(
    session: Session,
    project: Project,
    cache: SummaryCache,
    judges: dict[str, JudgeConfig],
    *,
    model: str | None,
    before: int | None,
    limit: int,
) -> tuple[list[RunSummary], int | None]:
    """Newest first, keyset-paged on id; `model` matches either side of a run."""
    query = select(Run).where(Run.project_id == project.id).order_by(Run.id.desc()).limit(limit + 1)
    if model:
        query = query.where(or_(Run.baseline == model, Run.candidate == model))
    if before is not None:
        query = query.where(Run.id < before)
    runs = list(session.scalars(query))
    more = len(runs) > limit
    runs = runs[:limit]
    ids = [run.id for run in runs]
    counts = run_counts(session, ids)
    usage = judge_usage(session, ids)
    rows = []
    for run in runs:
        last = max(
            (u.last_finished_at for u in usage[run.id].values() if u.last_finished_at), default=None
        )
        version = (counts[run.id], last)
        rows.append(
            RunSummary(
                run=run,
                counts=counts[run.id],
                usage=usage[run.id],
                cost_usd=total_cost(judge_costs(run, usage[run.id], judges)),
                panel=cache.panel(session, run, version),
                simulated=any(is_simulated(run, judge) for judge in run.judges),
            )
        )
    return rows, (runs[-1].id if more else None)


def linked_runs(runs: list[Run]) -> list[int]:
    """The newest run and every run joined to it by shared models: a fittable leaderboard."""
    if not runs:
        return []
    linked = {runs[0].baseline, runs[0].candidate}
    chosen: set[int] = set()
    grew = True
    while grew:
        grew = False
        for run in runs:
            if run.id not in chosen and {run.baseline, run.candidate} & linked:
                chosen.add(run.id)
                linked |= {run.baseline, run.candidate}
                grew = True
    return sorted(chosen)


def default_breakdown(keys: list[str]) -> str | None:
    return "modality" if "modality" in keys else (keys[0] if keys else None)


def run_page(
    session: Session, run: Run, judges: dict[str, JudgeConfig], by: str | None
) -> dict[str, Any]:
    """Everything the run page draws, as plain data for the template."""
    keys = metadata_keys(session, run)
    if by not in keys:
        by = default_breakdown(keys)
    stats = compute_run_stats(session, run, by=by).model_dump()
    axes = {name: row.model_dump() for name, row in compute_axis_stats(session, run).items()}
    counts = run_counts(session, [run.id])[run.id]
    usage = judge_usage(session, [run.id])[run.id]
    costs = judge_costs(run, usage, judges)
    cost_usd = total_cost(costs)
    return {
        "run": run,
        "stats": stats,
        "axes": axes,
        "keys": keys,
        "by": by,
        "counts": counts,
        "usage": usage,
        "costs": costs,
        "cost_usd": cost_usd,
        "spent_usd": shown_spend(counts, cost_usd),
        "simulated": {judge: is_simulated(run, judge) for judge in run.judges},
        "kappa": _kappa_matrix(run.judges, stats["agreement"]["pairs"]),
        "sequence": sequence_chart(run_sequence(session, run)),
        "advice": label_advice(stats["calibrated"], stats["confidence"]),
        "probes": probe_table(session, run).model_dump(),
    }


# Half-widths the run page offers as the next goal of labelling, widest first.
ADVICE_TARGETS = (0.05, 0.04, 0.03, 0.02, 0.01)


def label_advice(calibrated: dict[str, Any] | None, confidence: float) -> dict[str, Any] | None:
    """The run page's "label N more pairs to reach ±w": the nearest goal narrower than now.

    Before the calibrated figure exists, the labels it still needs (target None). When no
    goal can be reached on the run's pairs, the `floor` no number of labels gets below (the
    pairs' own term). None when nothing is decided yet or the interval is within ±1 point.
    """
    if not calibrated or not calibrated["population"]:
        return None
    if calibrated["estimate"] is None:
        return {"more": max(0, MIN_LABELS - calibrated["labels_used"]), "target": None}
    low, high = calibrated["ci"]
    for target in ADVICE_TARGETS:
        if target >= (high - low) / 2:
            continue
        more = labels_to_reach(
            target,
            confidence,
            calibrated["labels_used"],
            calibrated["residual_variance"],
            calibrated["label_variance"],
            calibrated["population"],
        )
        if more:
            return {"more": more, "target": target}
        if more is None:
            floor = z_value(confidence) * math.sqrt(
                calibrated["label_variance"] / calibrated["population"]
            )
            return {"more": None, "target": None, "floor": floor}
    return None


def _kappa_matrix(judges: list[str], pairs: list[dict[str, Any]]) -> list[list[float | None]]:
    kappa = {(p["judge_a"], p["judge_b"]): p["kappa"] for p in pairs}
    return [
        [1.0 if a == b else kappa.get((a, b), kappa.get((b, a))) for b in judges] for a in judges
    ]


@dataclass(frozen=True)
class PairFilter:
    judge: str = PANEL  # whose outcome `outcome` refers to: a judge name or the panel
    outcome: str | None = None  # candidate, baseline, tie, inconsistent, missing
    disagree: bool = False  # judges with an outcome do not all agree
    key: str | None = None  # metadata key ...
    value: str | None = None  # ... and the value it must have
    human: str | None = None  # labelled, unlabelled


@dataclass(frozen=True)
class PairRow:
    pair_id: int
    external_id: str
    question: str
    metadata: dict[str, Any]
    per_judge: dict[str, str]
    panel: str
    labels: int


def browse_pairs(
    session: Session, run: Run, wanted: PairFilter, page: int, size: int
) -> tuple[list[PairRow], int]:
    """One page of the pairs matching `wanted`, and how many match in all."""
    frame, pair_ids = load_run_frame(session, run, by=wanted.key)
    per_judge, panel = pair_outcome_table(frame)
    keep = np.ones(frame.n_pairs, dtype=bool)
    if wanted.outcome is not None:
        column = panel if wanted.judge == PANEL else per_judge[run.judges.index(wanted.judge)]
        keep &= column == OUTCOME_CODES[wanted.outcome]
    if wanted.disagree:
        decided = per_judge != NO_OUTCOME
        high = np.where(decided, per_judge, np.int8(-127)).max(axis=0, initial=-127)
        low = np.where(decided, per_judge, np.int8(127)).min(axis=0, initial=127)
        keep &= decided.sum(axis=0) >= 2
        keep &= high != low
    if wanted.key is not None and wanted.value is not None and frame.stratum is not None:
        index = frame.strata.index(wanted.value) if wanted.value in frame.strata else -1
        keep &= frame.stratum == index
    if wanted.human is not None:
        labelled = np.isin(pair_ids, list(_labelled_pairs(session, run)))
        keep &= labelled if wanted.human == "labelled" else ~labelled
    matches = np.flatnonzero(keep)
    shown = matches[(page - 1) * size : page * size]
    ids = [int(pair_ids[i]) for i in shown]
    pairs = {
        row.id: row
        for row in session.execute(
            select(Pair.id, Pair.external_id, func.substr(Pair.question, 1, 200), Pair.meta).where(
                Pair.id.in_(ids)
            )
        )
    }
    labels = dict(
        session.execute(
            select(HumanLabel.pair_id, func.count())
            .where(HumanLabel.pair_id.in_(ids))
            .group_by(HumanLabel.pair_id)
        ).all()
    )
    rows = []
    for i, pair_id in zip(shown.tolist(), ids, strict=True):
        pair = pairs[pair_id]
        rows.append(
            PairRow(
                pair_id=pair_id,
                external_id=pair.external_id,
                question=pair[2],
                metadata=pair.meta or {},
                per_judge={
                    judge: OUTCOME_NAMES[int(per_judge[j, i])] for j, judge in enumerate(run.judges)
                },
                panel=OUTCOME_NAMES[int(panel[i])],
                labels=labels.get(pair_id, 0),
            )
        )
    return rows, int(matches.size)


def _labelled_pairs(session: Session, run: Run) -> set[int]:
    return set(
        session.scalars(select(HumanLabel.pair_id).where(HumanLabel.run_id == run.id).distinct())
    )


@dataclass(frozen=True)
class TraceLine:
    number: int
    text: str
    shared: bool  # the same line appears, in sequence, in the other trace


def trace_lines(first: str, second: str) -> tuple[list[TraceLine], list[TraceLine]]:
    """Both traces as numbered lines, lines they share marked, for a side-by-side reading."""
    a, b = first.splitlines() or [""], second.splitlines() or [""]
    shared_a: set[int] = set()
    shared_b: set[int] = set()
    if len(a) <= DIFF_MAX_LINES and len(b) <= DIFF_MAX_LINES:
        matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
        for block in matcher.get_matching_blocks():
            for k in range(block.size):
                if a[block.a + k].strip():
                    shared_a.add(block.a + k)
                    shared_b.add(block.b + k)
    return (
        [TraceLine(i + 1, line, i in shared_a) for i, line in enumerate(a)],
        [TraceLine(i + 1, line, i in shared_b) for i, line in enumerate(b)],
    )


def candidate_on_left(pair_id: int) -> bool:
    """Blind labelling shows the two traces in an order fixed per pair but unpredictable."""
    return hashlib.sha256(f"pair:{pair_id}".encode()).digest()[0] & 1 == 1


@dataclass(frozen=True)
class PairImage:
    url: str
    shown: Literal["image", "link", "text"]


def _host_and_port(host: str) -> tuple[str, int]:
    name, _, port = host.partition(":")
    return name.lower(), int(port or 443)


def pair_images(urls: Iterable[str], allowed_hosts: Iterable[str]) -> list[PairImage]:
    """How the pair page shows each image, so opening a pair makes no request elsewhere.

    A data: image or one on a host the operator allows is drawn; another https image is a
    link the viewer may choose to open; anything else, which the API refuses but an older
    row might hold, is shown as text, never as a link.
    """
    allowed = {_host_and_port(host) for host in allowed_hosts}
    images = []
    for url in urls:
        match = HTTPS_HOST.match(url)
        if url.startswith("data:image/") or (
            match is not None and (match[1].lower(), int(match[2] or 443)) in allowed
        ):
            images.append(PairImage(url, "image"))
        elif url.startswith("https://"):
            images.append(PairImage(url, "link"))
        else:
            images.append(PairImage(url, "text"))
    return images


def pair_page(
    session: Session, pair: Pair, blind: bool, image_hosts: Iterable[str]
) -> dict[str, Any]:
    run = pair.run
    judgments = list(
        session.scalars(select(Judgment).where(Judgment.pair_id == pair.id).order_by(Judgment.id))
    )
    orders = [order.value for order in run_orders(run)]
    by_judge = {
        judge: sorted(
            (j for j in judgments if j.judge == judge), key=lambda j: orders.index(j.order)
        )
        for judge in run.judges
    }
    labels = list(
        session.scalars(
            select(HumanLabel).where(HumanLabel.pair_id == pair.id).order_by(HumanLabel.id)
        )
    )
    left_is_candidate = blind and candidate_on_left(pair.id)
    left = (
        ("candidate", pair.candidate_trace)
        if left_is_candidate
        else ("baseline", pair.baseline_trace)
    )
    right = (
        ("baseline", pair.baseline_trace)
        if left_is_candidate
        else ("candidate", pair.candidate_trace)
    )
    left_lines, right_lines = trace_lines(left[1], right[1])
    return {
        "pair": pair,
        "run": run,
        "images": pair_images(pair.image_urls, image_hosts),
        "by_judge": by_judge,
        "labels": labels,
        "blind": blind,
        "left": {"side": left[0], "lines": left_lines},
        "right": {"side": right[0], "lines": right_lines},
        "simulated": {judge: is_simulated(run, judge) for judge in run.judges},
    }
