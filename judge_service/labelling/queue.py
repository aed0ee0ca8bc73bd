"""The label queue: hands each annotator the next pairs to label, drawn by a known rule.

Draws are independent and with replacement from the run's decided pairs, with the
probabilities of `stats/label_design.py`; each is stored with its probability before the
pair is shown, so the calibrated estimate can weigh it. A draw that lands on a pair the
annotator has already labelled, or already holds, is stored too and answered by that one
label: it asks nothing more of them. Pairs handed out and not labelled yet come back first,
so asking again never piles up draws.
"""

from dataclasses import dataclass

import numpy as np
from sqlalchemy.orm import Session

from judge_service.db.label_draws import (
    CREDIT,
    labelled_pairs,
    pair_labels,
    unfinished_judgments,
    waiting_pairs,
)
from judge_service.db.models import LabelDraw, Run
from judge_service.db.run_frame import load_run_frame
from judge_service.stats.label_design import Strategy, error_sizes, pair_kinds, probabilities
from judge_service.stats.preference import NO_OUTCOME
from judge_service.stats.report import pair_credit, pair_outcome_table

# Draws per pair asked for before giving up on finding one the annotator has not labelled.
MAX_DRAWS_PER_PAIR = 50


class QueueRefused(Exception):
    """The run cannot be sampled now (still being judged, or nothing decided)."""


@dataclass(frozen=True)
class QueueBatch:
    pair_ids: list[int]  # to label, in this order
    strategy: Strategy
    population: int  # pairs the draws were made from (0 when none were needed)
    draws: int  # draws stored by this request, including those an earlier label answers


def next_pairs(
    session: Session,
    run: Run,
    annotator: str,
    n: int,
    strategy: Strategy,
    rng: np.random.Generator,
    skip: frozenset[int] = frozenset(),
) -> QueueBatch:
    """The next `n` pairs for this annotator; `skip`: pairs they passed over just now.

    A skipped pair stays handed out (its draw waits, counted in `draws_waiting`): leaving it
    out of the estimate is honest only if skipping has nothing to do with the pair.
    """
    unfinished = unfinished_judgments(session, run)
    if unfinished:
        raise QueueRefused(
            f"run {run.id} still has {unfinished} judge calls to make; the queue samples "
            "from the finished run, so every draw has the same population"
        )
    waiting = waiting_pairs(session, run, annotator)
    handed = [pair_id for pair_id in waiting if pair_id not in skip][:n]
    if len(handed) == n:
        return QueueBatch(pair_ids=handed, strategy=strategy, population=0, draws=0)

    pair_ids, q = _design(session, run, strategy)
    taken = labelled_pairs(session, run, annotator) | set(waiting)
    draws: list[LabelDraw] = []
    while len(handed) < n and len(draws) < MAX_DRAWS_PER_PAIR * n:
        index = int(rng.choice(q.size, p=q))
        pair_id = int(pair_ids[index])
        draws.append(
            LabelDraw(
                run_id=run.id,
                pair_id=pair_id,
                annotator=annotator,
                strategy=strategy,
                probability=float(q[index]),
                population=int(q.size),
            )
        )
        if pair_id not in taken:
            taken.add(pair_id)
            handed.append(pair_id)
    session.add_all(draws)
    session.commit()
    return QueueBatch(pair_ids=handed, strategy=strategy, population=int(q.size), draws=len(draws))


def _design(session: Session, run: Run, strategy: Strategy) -> tuple[np.ndarray, np.ndarray]:
    """The decided pairs' ids and each one's probability on a draw."""
    frame, ids = load_run_frame(session, run)
    per_judge, panel = pair_outcome_table(frame)
    decided = np.flatnonzero(panel != NO_OUTCOME)
    if not decided.size:
        raise QueueRefused(f"run {run.id} has no pair with an outcome to label")
    axes = None
    if strategy is Strategy.ACTIVE and run.rubric.get("axes"):
        axes = np.stack(
            [
                pair_outcome_table(load_run_frame(session, run, axis=item["name"])[0])[1]
                for item in run.rubric["axes"]
            ]
        )[:, decided]
    kinds = pair_kinds(per_judge[:, decided], panel[decided], axes)
    labels = pair_labels(session, run)
    position = np.searchsorted(ids[decided], np.array([p for p, _ in labels], dtype=np.int64))
    position = np.minimum(position, decided.size - 1)
    found = ids[decided][position] == np.array([p for p, _ in labels], dtype=np.int64)
    human = np.array([CREDIT[label] for _, label in labels], dtype=np.float64)[found]
    judged = pair_credit(panel[decided][position[found]])
    sizes = error_sizes(kinds, position[found], (human - judged) ** 2)
    return ids[decided], probabilities(kinds, strategy, sizes)
