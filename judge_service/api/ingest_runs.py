"""The runs an API process has taken pairs for, kept so a pair post need not look its run up.

Looking the run up (an ORM get and a round trip) was about a fifth of a single-pair post's
API CPU (`docs/performance.md`), and what a post needs of its run never changes once the run
exists (`db/queries.py`, `IngestRun`).
Runs are never deleted through the API; one deleted in the database is forgotten at the
next post, whose insert its foreign key refuses (`api/pair_writer.py`).
"""

import threading
from collections import OrderedDict

from sqlalchemy.orm import Session

from judge_service.db.models import Project
from judge_service.db.queries import IngestRun
from judge_service.web.deps import get_run, run_not_found

KEPT = 4096  # runs an API process remembers, the least recently posted to forgotten first


class IngestRuns:
    def __init__(self, size: int = KEPT) -> None:
        self._size = size
        self._runs: OrderedDict[int, IngestRun] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, session: Session, run_id: int, project: Project) -> IngestRun:
        """The run, if it belongs to the caller's project (else 404, as `get_run`)."""
        with self._lock:
            run = self._runs.get(run_id)
            if run is not None:
                self._runs.move_to_end(run_id)
        if run is None:
            run = IngestRun.of(get_run(session, run_id, project))
            with self._lock:
                self._runs[run_id] = run
                while len(self._runs) > self._size:
                    self._runs.popitem(last=False)
        if run.project_id != project.id:
            raise run_not_found(run_id)
        return run

    def forget(self, run_id: int) -> None:
        with self._lock:
            self._runs.pop(run_id, None)
