"""Pair ids committed by requests at the same moment go to the queue in one enqueue.

Under 20 clients posting single pairs, each post enqueued its own one-pair job: a
third of the API's CPU per post, and a worker fork per pair. Like a database's group
commit, ids that arrive while an enqueue is under way wait for it to end, then the
first of them enqueues all of them at once; a lone request waits for nobody.
"""

import threading
from collections.abc import Callable, Sequence


class _Group:
    def __init__(self) -> None:
        self.ids: list[int] = []
        self.done = False
        self.jobs = 0
        self.error: Exception | None = None

    def outcome(self) -> int:
        if self.error is not None:
            raise self.error
        return self.jobs


class SharedEnqueue:
    """Calls `enqueue(ids) -> jobs` for groups of callers; each caller gets its group's jobs.

    A failed enqueue raises in every caller of the group: none of their ids was queued
    (the reconciler queues them later), and each caller says so for its own.
    """

    def __init__(self, enqueue: Callable[[Sequence[int]], int]) -> None:
        self._enqueue = enqueue
        self._changed = threading.Condition()
        self._open = _Group()
        self._busy = False

    def __call__(self, pair_ids: Sequence[int]) -> int:
        if not pair_ids:  # all duplicates: nothing to queue, no one to wait for
            return 0
        with self._changed:
            group = self._open
            group.ids.extend(pair_ids)
            while self._busy and not group.done:
                self._changed.wait()
            if group.done:  # another caller enqueued it
                return group.outcome()
            self._busy = True
            self._open = _Group()
        try:
            group.jobs = self._enqueue(group.ids)
        except Exception as error:
            group.error = error
        finally:
            with self._changed:
                group.done, self._busy = True, False
                self._changed.notify_all()
        return group.outcome()
