"""Pairs committed at the same moment share an enqueue; none is lost or queued twice."""

import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Sequence

import pytest
from redis import Redis

from judge_service.config import Settings
from judge_service.jobs.dispatch import RQDispatcher
from judge_service.jobs.shared_enqueue import SharedEnqueue


class HeldEnqueue:
    """Records each enqueue; the first waits for `release`, so others pile up behind it."""

    def __init__(self, fail_second: bool = False) -> None:
        self.calls: list[list[int]] = []
        self.started = threading.Event()
        self.release = threading.Event()
        self.fail_second = fail_second

    def __call__(self, ids: Sequence[int]) -> int:
        self.calls.append(list(ids))
        if len(self.calls) == 1:
            self.started.set()
            assert self.release.wait(10)
        elif len(self.calls) == 2 and self.fail_second:
            raise ConnectionError("queue unreachable")
        return len(ids) * 10  # distinct from any caller's own count


def run_callers(
    dispatch: Callable[[Sequence[int]], int], ids: list[list[int]]
) -> list[threading.Thread]:
    threads = [threading.Thread(target=dispatch, args=(pair_ids,)) for pair_ids in ids]
    for thread in threads:
        thread.start()
    return threads


def pile_up(
    enqueue: HeldEnqueue, leader: list[int], followers: list[list[int]]
) -> tuple[SharedEnqueue, dict[int, int | Exception]]:
    """Each caller's outcome, by its first id; the leader's enqueue is held until all joined."""
    shared = SharedEnqueue(enqueue)
    outcomes: dict[int, int | Exception] = {}

    def call(ids: list[int]) -> None:
        try:
            outcomes[ids[0]] = shared(ids)
        except ConnectionError as error:
            outcomes[ids[0]] = error

    first = threading.Thread(target=call, args=(leader,))
    first.start()
    assert enqueue.started.wait(10)
    others = [threading.Thread(target=call, args=(ids,)) for ids in followers]
    for thread in others:
        thread.start()
    deadline = time.monotonic() + 10
    # The open group is private; reading it is the only way to know the followers are in.
    while len(shared._open.ids) < sum(map(len, followers)):
        assert time.monotonic() < deadline, "the followers did not join"
        time.sleep(0.001)
    enqueue.release.set()
    for thread in [first, *others]:
        thread.join(10)
    return shared, outcomes


def test_a_lone_caller_enqueues_at_once() -> None:
    calls: list[list[int]] = []
    shared = SharedEnqueue(lambda ids: calls.append(list(ids)) or 1)
    assert (shared([1, 2]), shared([3])) == (1, 1)
    assert calls == [[1, 2], [3]]


def test_ids_that_arrive_during_an_enqueue_share_the_next_one() -> None:
    enqueue = HeldEnqueue()
    _, outcomes = pile_up(enqueue, [1], [[i, i + 100] for i in (2, 3, 4)])

    assert enqueue.calls[0] == [1]
    assert len(enqueue.calls) == 2
    assert sorted(enqueue.calls[1]) == [2, 3, 4, 102, 103, 104]
    # Each caller is told the jobs of the enqueue that carried its ids.
    assert outcomes == {1: 10, 2: 60, 3: 60, 4: 60}


def test_a_failed_enqueue_fails_every_caller_in_its_group_and_no_other() -> None:
    shared, outcomes = pile_up(HeldEnqueue(fail_second=True), [1], [[2], [3]])

    assert outcomes[1] == 10
    assert all(isinstance(outcomes[i], ConnectionError) for i in (2, 3))
    # The next caller is not held back by the failure.
    assert shared([5]) == 10


def test_a_caller_with_no_ids_waits_for_no_one() -> None:
    enqueue = HeldEnqueue()
    shared = SharedEnqueue(enqueue)
    leader = threading.Thread(target=shared, args=([1],))
    leader.start()
    assert enqueue.started.wait(10)
    assert shared([]) == 0  # while the leader's enqueue is held
    enqueue.release.set()
    leader.join(10)
    assert enqueue.calls == [[1]]


def test_rq_callers_held_behind_a_slow_enqueue_share_one_job(
    pg_settings: Settings, redis_url: str
) -> None:
    """Redis pauses writes (CLIENT PAUSE), so the first enqueue hangs while 19 callers arrive."""
    settings = pg_settings.model_copy(
        update={"queue_name": f"shared-{uuid.uuid4().hex[:8]}", "chunk_size": 100}
    )
    dispatcher = RQDispatcher(settings)
    admin = Redis.from_url(redis_url)
    try:
        admin.execute_command("CLIENT", "PAUSE", 1000, "WRITE")
        threads = run_callers(dispatcher.dispatch, [[1]])
        time.sleep(0.2)  # the first caller is inside its enqueue, waiting on Redis
        threads += run_callers(dispatcher.dispatch, [[i] for i in range(2, 21)])
        for thread in threads:
            thread.join(10)
        jobs = dispatcher.queue.jobs
        queued = Counter(pair_id for job in jobs for pair_id in job.args[0])
    finally:
        admin.execute_command("CLIENT", "UNPAUSE")
        admin.close()
        dispatcher.queue.empty()
        dispatcher.close()

    assert queued == Counter(range(1, 21))  # each pair once
    assert sorted(len(job.args[0]) for job in jobs) == [1, 19]


@pytest.mark.parametrize("callers", [1, 8])
def test_rq_dispatch_queues_every_pair_once(pg_settings: Settings, callers: int) -> None:
    settings = pg_settings.model_copy(
        update={"queue_name": f"shared-{uuid.uuid4().hex[:8]}", "chunk_size": 10}
    )
    dispatcher = RQDispatcher(settings)
    try:
        threads = run_callers(
            dispatcher.dispatch,
            [list(range(start, start + 25)) for start in range(0, 25 * callers, 25)],
        )
        for thread in threads:
            thread.join(10)
        queued = Counter(pair_id for job in dispatcher.queue.jobs for pair_id in job.args[0])
    finally:
        dispatcher.queue.empty()
        dispatcher.close()
    assert queued == Counter(range(25 * callers))
