"""A run with a stop rule stops once decided: nothing more is claimed, the rest is skipped."""

import threading
from collections.abc import Callable, Sequence
from datetime import timedelta

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from judge_service.db.engine import session_factory
from judge_service.db.models import Judgment, JudgmentStatus, Run, utcnow
from judge_service.db.projects import default_project
from judge_service.db.queries import IngestRun, insert_pairs, run_counts
from judge_service.jobs.claims import Result, claim, claim_more, store_many
from judge_service.jobs.dispatch import dispatch_committed, judging_order
from judge_service.jobs.reconcile import reconcile
from judge_service.jobs.stopping import run_sequence, stop_decided

EXCLUDES = {"excludes": 0.5, "figure": "win_rate", "confidence": 0.95}


@pytest.fixture
def sessions(make_migrated_database: Callable[[], str]) -> sessionmaker[Session]:
    """A database of the test's own: the reconciler looks at every run."""
    return session_factory(make_migrated_database())


def make_run(
    sessions: sessionmaker[Session], count: int, stop_when: dict[str, object] | None = EXCLUDES
) -> tuple[int, list[int]]:
    with sessions() as session:
        run = Run(
            project_id=default_project(session).id,
            name="stopping",
            baseline="b",
            candidate="c",
            judges=["sim"],
            swap=True,
            stop_when=stop_when,
        )
        session.add(run)
        session.flush()
        pairs = [
            {
                "external_id": f"p{i}",
                "question": f"Question {i}?",
                "reference_answer": None,
                "baseline_trace": f"b{i}",
                "candidate_trace": f"c{i}",
                "image_urls": [],
                "meta": {},
            }
            for i in range(count)
        ]
        ids = list(insert_pairs(session, run, pairs).values())
        session.commit()
        return run.id, ids


def judged(sessions: sessionmaker[Session], pair_ids: Sequence[int], verdict: str) -> None:
    """The pairs' judgments stored with this verdict, one pair after another."""
    with sessions.begin() as session:
        for pair_id in pair_ids:
            session.execute(
                update(Judgment)
                .where(Judgment.pair_id == pair_id)
                .values(status=JudgmentStatus.DONE, verdict=verdict, finished_at=utcnow())
            )


def statuses(sessions: sessionmaker[Session], run_id: int) -> dict[str, int]:
    with sessions() as session:
        rows = session.scalars(select(Judgment.status).where(Judgment.run_id == run_id)).all()
    return {status: rows.count(status) for status in set(rows)}


def test_a_run_stops_once_decided_and_skips_what_no_one_holds(
    sessions: sessionmaker[Session],
) -> None:
    run_id, ids = make_run(sessions, 200)
    judged(sessions, ids[:5], "candidate")
    assert stop_decided(sessions, [run_id]) == []  # 5 pairs decide nothing

    judged(sessions, ids[5:40], "candidate")
    in_flight = claim(sessions, ids[40:50], "in-flight", lease_s=600, judges={})
    assert len(in_flight) == 20
    assert stop_decided(sessions, [run_id]) == [run_id]
    with sessions() as session:
        run = session.get(Run, run_id)
        assert run is not None and run.stopped_at is not None
        assert run.stop_reason is not None
        assert run.stop_reason.startswith(
            "the 95% confidence sequence for win_rate excluded 0.5 after 40 pairs: ["
        )
    assert statuses(sessions, run_id) == {"done": 80, "running": 20, "skipped": 300}
    assert stop_decided(sessions, [run_id]) == []  # stopped once

    # Nothing of the run is claimed any more, by a job naming its pairs or by a refill...
    assert claim(sessions, ids, "late-job", lease_s=600, judges={}) == []
    assert claim_more(sessions, [run_id], "refill", lease_s=600, judges={}, limit=100) == []
    # ...but what was in flight finishes and counts.
    done = [(item, Result(JudgmentStatus.DONE, verdict="candidate")) for item in in_flight]
    assert store_many(sessions, "in-flight", done) == [True] * 20
    counts = run_counts(sessions(), [run_id])[run_id]
    assert (counts.judgments_done, counts.judgments_skipped, counts.status) == (100, 300, "done")

    with sessions() as session:
        run = session.get(Run, run_id)
        assert run is not None
        state = run_sequence(session, run)
    assert state is not None
    assert (state.sequence.pairs, state.stopped_pairs) == (50, 40)


def test_workers_racing_to_stop_a_run_record_one_stop(sessions: sessionmaker[Session]) -> None:
    run_id, ids = make_run(sessions, 100)
    judged(sessions, ids[:60], "baseline")
    barrier = threading.Barrier(4)
    results: list[list[int]] = []

    def check() -> None:
        barrier.wait()
        results.append(stop_decided(sessions, [run_id]))

    threads = [threading.Thread(target=check) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [[], [], [], [run_id]]
    assert statuses(sessions, run_id) == {"done": 120, "skipped": 80}


def test_a_half_width_rule_waits_for_a_narrow_sequence(sessions: sessionmaker[Session]) -> None:
    run_id, ids = make_run(sessions, 300, {"half_width": 0.05, "confidence": 0.95})
    judged(sessions, ids[:40], "candidate")
    judged(sessions, ids[40:60], "tie")
    assert stop_decided(sessions, [run_id]) == []  # it excludes 0.5, but is 0.09 wide
    judged(sessions, ids[60:200], "candidate")
    assert stop_decided(sessions, [run_id]) == [run_id]
    with sessions() as session:
        reason = session.scalars(select(Run.stop_reason).where(Run.id == run_id)).one()
    assert reason is not None and "had a half-width of 0.0" in reason and "(at most 0.05)" in reason


class Recorder:
    """A dispatcher that keeps what it is given."""

    def __init__(self) -> None:
        self.dispatched: list[list[int]] = []

    def dispatch(self, pair_ids: Sequence[int]) -> int:
        self.dispatched.append(list(pair_ids))
        return 1


def test_the_reconciler_skips_a_stopped_runs_left_overs_instead_of_queueing_them(
    sessions: sessionmaker[Session],
) -> None:
    run_id, ids = make_run(sessions, 60)
    judged(sessions, ids[:50], "candidate")
    dead = claim(sessions, ids[50:52], "dead-worker", lease_s=600, judges={})
    assert stop_decided(sessions, [run_id]) == [run_id]
    with sessions.begin() as session:  # the dead worker's lease runs out; pairs posted late
        session.execute(
            update(Judgment)
            .where(Judgment.claim_token == "dead-worker")
            .values(lease_expires_at=utcnow() - timedelta(seconds=1))
        )
        run = session.get(Run, run_id)
        assert run is not None
        late = {
            "external_id": "late",
            "question": "q",
            "reference_answer": None,
            "baseline_trace": "b",
            "candidate_trace": "c",
            "image_urls": [],
            "meta": {},
        }
        insert_pairs(session, run, [late])
    assert len(dead) == 4
    assert statuses(sessions, run_id)["running"] == 4
    recorder = Recorder()
    assert reconcile(sessions, recorder, 60, everything=True) == 0  # type: ignore[arg-type]
    assert statuses(sessions, run_id) == {"done": 100, "skipped": 22}
    assert recorder.dispatched == [[]]


def test_a_run_with_a_rule_is_queued_in_its_own_random_order() -> None:
    ids = list(range(1000, 1200))
    order = judging_order(7, ids)
    assert sorted(order) == ids and order != ids
    assert judging_order(7, list(reversed(ids))) == order  # the order posted does not matter
    # A pair keeps its place however the run's pairs are split into posts.
    halves = judging_order(7, ids[:100]), judging_order(7, ids[100:])
    assert all(sorted(half, key=order.index) == half for half in halves)
    assert judging_order(8, ids) != order  # another run, another order

    recorder = Recorder()
    ruled = IngestRun(7, 1, ("sim",), True, "live", stops=True)
    plain = IngestRun(8, 1, ("sim",), True, "live")
    dispatch_committed(recorder, ids, ruled)  # type: ignore[arg-type]
    dispatch_committed(recorder, ids, plain)  # type: ignore[arg-type]
    assert recorder.dispatched == [order, ids]


def test_a_run_with_a_rule_is_judged_chunk_by_chunk(sessions: sessionmaker[Session]) -> None:
    """A refill would run past the stop, and out of the random order: it skips such runs."""
    ruled, _ = make_run(sessions, 5)
    plain, _ = make_run(sessions, 5, stop_when=None)
    more = claim_more(sessions, [ruled, plain], "refill", lease_s=600, judges={}, limit=100)
    assert {item.run_id for item in more} == {plain}
    with sessions() as session:
        assert session.scalars(select(Run.stop_when).where(Run.id == plain)).one() is None
