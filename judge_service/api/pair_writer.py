"""Pair posts that arrive together are stored in one transaction and queued together.

Under 20 clients posting single pairs, each post's own thread hop, session, insert and
commit were about half the API's CPU per post (docs/performance.md). As in a database's
group commit, posts that arrive while a write is under way wait for it to end, then go
together: one connection, one insert per run, one commit, one enqueue per run. A lone post
waits for nobody. At most `writers` groups are written at once (`JUDGE_INGEST_CONCURRENCY`),
posts are taken in arrival order, and ids are drawn in that order.

A group the database refuses (a run deleted since this process kept it) is written again
post by post, so only the post at fault fails.
"""

import asyncio
from collections import deque
from dataclasses import dataclass
from typing import Any

import anyio
from fastapi import HTTPException
from sqlalchemy.exc import DataError, IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from judge_service.api.ingest_runs import IngestRuns
from judge_service.api.schemas import MAX_PAIRS_PER_POST, PairIn, PairsAccepted
from judge_service.db.models import Project
from judge_service.db.queries import IngestRun, insert_pairs
from judge_service.jobs.dispatch import Dispatcher, dispatch_committed

Outcome = PairsAccepted | Exception


@dataclass(eq=False)
class _Post:
    run_id: int
    project: Project
    pairs: list[PairIn]
    answer: "asyncio.Future[PairsAccepted]"


class PairWriter:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        runs: IngestRuns,
        dispatcher: Dispatcher,
        writers: int,
        group_pairs: int = MAX_PAIRS_PER_POST,
    ) -> None:
        """`group_pairs`: most pairs in a group (a post's own pairs always go in one), as one
        JSON document a run to the database."""
        self._sessions = sessions
        self._runs = runs
        self._dispatcher = dispatcher
        self._writers = writers
        self._group_pairs = group_pairs
        self._writing = 0
        self._waiting: deque[_Post] = deque()
        self._tasks: set[asyncio.Task[None]] = set()  # the loop keeps only weak references

    async def add(self, run_id: int, pairs: list[PairIn], project: Project) -> PairsAccepted:
        """Stored, committed and queued with whatever posts arrive meanwhile."""
        post = _Post(run_id, project, pairs, asyncio.get_running_loop().create_future())
        self._waiting.append(post)
        if self._writing < self._writers:
            self._writing += 1
            task = asyncio.create_task(self._drain())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return await post.answer

    async def _drain(self) -> None:
        try:
            while self._waiting:
                group = self._take()
                try:
                    outcomes = await anyio.to_thread.run_sync(self._write, group)
                except Exception as error:
                    outcomes = [error] * len(group)
                for post, outcome in zip(group, outcomes, strict=True):
                    if post.answer.done():  # its request was cancelled
                        continue
                    if isinstance(outcome, Exception):
                        post.answer.set_exception(outcome)
                    else:
                        post.answer.set_result(outcome)
        finally:
            self._writing -= 1

    def _take(self) -> list[_Post]:
        group = [self._waiting.popleft()]
        pairs = len(group[0].pairs)
        while self._waiting and pairs + len(self._waiting[0].pairs) <= self._group_pairs:
            group.append(self._waiting.popleft())
            pairs += len(group[-1].pairs)
        return group

    def _write(self, group: list[_Post]) -> list[Outcome]:
        try:
            return self._store(group)
        except (IntegrityError, DataError):
            # One post's run or data refused: alone, each post succeeds or fails for itself.
            return [self._store_alone(post) for post in group]

    def _store_alone(self, post: _Post) -> Outcome:
        try:
            return self._store([post])[0]
        except Exception as error:
            return error

    def _store(self, group: list[_Post]) -> list[Outcome]:
        refused: dict[int, HTTPException] = {}
        runs: dict[int, IngestRun] = {}
        # Each external id belongs to the first post in the group that sent it for its run:
        # later ones count it a duplicate, as they would had they come one after the other.
        owners: dict[tuple[int, str], int] = {}
        rows: dict[int, list[dict[str, Any]]] = {}
        with self._sessions() as session:
            for index, post in enumerate(group):
                try:
                    runs[post.run_id] = self._runs.get(session, post.run_id, post.project)
                except HTTPException as not_found:
                    refused[index] = not_found
                    continue
                run_rows = rows.setdefault(post.run_id, [])
                for pair in post.pairs:
                    key = (post.run_id, pair.external_id)
                    if key not in owners:
                        owners[key] = index
                        run_rows.append(_row(pair))
            try:
                # In run order: two groups' inserts lock in the same order, never in a cycle.
                new = {
                    run_id: insert_pairs(session, runs[run_id], rows[run_id])
                    for run_id in sorted(rows)
                }
            except IntegrityError:
                # A run's foreign key refused its pairs: it was deleted since this process kept
                # it. Forgotten, it is looked up again, and found missing, post by post.
                for run_id in rows:
                    self._runs.forget(run_id)
                raise
            session.commit()
        jobs = {
            run_id: dispatch_committed(self._dispatcher, list(ids.values()), runs[run_id])
            for run_id, ids in new.items()
        }
        accepted = [0] * len(group)
        for run_id, ids in new.items():
            for external_id in ids:
                accepted[owners[(run_id, external_id)]] += 1
        return [
            refused[index]
            if index in refused
            else PairsAccepted(
                accepted=accepted[index],
                duplicates=len(post.pairs) - accepted[index],
                jobs=jobs[post.run_id] if accepted[index] else 0,
            )
            for index, post in enumerate(group)
        ]


def _row(pair: PairIn) -> dict[str, Any]:
    return {**pair.model_dump(exclude={"metadata"}), "meta": pair.metadata}
