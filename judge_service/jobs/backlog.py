"""A job's calls that have not gone out yet: waiting for a judge's slot or rate budget.

When the last of them goes out, the job has nothing left to send while its replies come
in: a provider's latency of seconds at a rate limit of thousands a minute. Left alone, the
worker would send nothing until the job ends and the next one starts, and two workers that
started together would fall silent together. The job instead claims more of its runs' work
at that moment (`jobs/judge_pairs.py`).
"""

from collections.abc import Callable


class Backlog:
    def __init__(self, emptied: Callable[[], None]) -> None:
        self.count = 0
        self._emptied = emptied

    def join(self) -> Callable[[], None]:
        """Count one call; returns what marks it gone out (or given up), once, however often
        it is called."""
        self.count += 1
        gone = False

        def leave() -> None:
            nonlocal gone
            if gone:
                return
            gone = True
            self.count -= 1
            if self.count == 0:
                self._emptied()

        return leave
