"""Load: 50 concurrent clients post pairs for LOAD_TEST_SECONDS while two workers judge.

Forty clients post one pair per request and ten post batches of 200-1500 pairs, without
pause, across three runs (one judge each, over both SDKs), to the API under uvicorn on a
real loopback socket, with PostgreSQL, Redis and two `judge-service worker` processes
judging against the simulated provider. The API runs open (`JUDGE_AUTH=auto` on
loopback: no keys), so the per-key rate limit, which counts keys, never applies. New pairs
come from a budget of a few a second per kind of client, so the judging the load makes
stays bounded; a request that finds none left resubmits stored pairs, which is still a
whole request for the API.

Exactly-once is challenged on purpose: batches mix new ids with stored ones (any
client's) and name one new id twice; every few requests a client resubmits stored ids
only; a batch carrying new pairs is uploaded twice at once, the copies in opposite
orders, as two uploaders of one data set would; and every third client gives up on some
requests after a few milliseconds and sends the same pairs again, reversed, while the
first copy may still be inserting.

Asserted: no errors (every answer a 202 with exactly the counts expected, no 5xx, 429,
connection error or timeout, nothing logged as an error by the API); every external id
submitted is stored exactly once in its run, and nothing else is; the answered `accepted`
add up to the rows; every pair has one judgment per judge and order; once the load stops
the workers finish every judgment, each claimed once, and the simulator was called once
per judgment. Reported, never asserted (timings on a shared machine are noise): requests,
duplicates, p50/p99 latency of single and batch posts, throughput and the drain, printed
(visible with `-s`) and written to tests/artifacts/load.json.
"""

import asyncio
import json
import logging
import math
import os
import random
import ssl
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import AsyncExitStack, contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import numpy as np
import psycopg
import pytest
from redis import Redis
from rq import Worker
from rq.registry import FailedJobRegistry

from judge_service.demo.sample import sample_pairs
from judge_service.jobs.dispatch import judge_queue
from tests.conftest import REPO, Stack, StackFactory, create_run, simulator_stats

LOAD_SECONDS = float(os.environ.get("LOAD_TEST_SECONDS", "60"))
# The drain can take minutes on a busy machine: more than the suite's 300 s per test.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(int(LOAD_SECONDS) + 480)]
CLIENTS = 50
BATCH_CLIENTS = 10  # the other forty post one pair per request
BATCH_SIZES = (200, 1500)  # past 1,000 rows SQLAlchemy splits the INSERT in several
RUN_JUDGES = (["sim"], ["sim-anthropic"], ["sim"])  # both SDKs
ORDERS = 2  # every run swaps: each pair is judged baseline-first and candidate-first
CHUNK_SIZE = 50  # pairs per job: a batch makes a few jobs, a single post one
# New pairs per second, per kind of client: this bounds the judging the load makes, so two
# workers on two cores finish soon after it stops. A request that finds no budget left
# resubmits stored pairs instead: still a whole request for the API, answered as duplicates.
NEW_PAIRS_PER_S = {"single": 1.0, "batch": 6.0}
FIRST_BATCH_PAIRS = 600  # the first batch is all new: nothing is stored yet
RESUBMIT_EVERY = 4  # every 4th request of a client resubmits stored ids only
IMPATIENT_EVERY = 3  # every 3rd client is impatient, on every 3rd of its requests
GIVE_UP_AFTER_S = 0.005
REQUEST_TIMEOUT_S = 120.0  # an ordinary request's patience: running out of it is an error
KEEPALIVE_S = 1.0  # below uvicorn's 5 s keep-alive: see drive()
DRAIN_TIMEOUT_S = 240.0
ARTIFACT = REPO / "tests" / "artifacts" / "load.json"


@dataclass
class Answered:
    """One answered request: which kind, how long it took, its status."""

    kind: str
    seconds: float
    status: int


@dataclass
class Budget:
    """New pairs one kind of client may send: `initial`, then `per_s` a second."""

    per_s: float
    initial: int = 0
    started: float = 0.0
    taken: int = 0

    def take(self, most: int) -> int:
        """As many new pairs as the budget allows now, up to `most`."""
        allowed = self.initial + (time.monotonic() - self.started) * self.per_s
        count = max(0, min(most, int(allowed) - self.taken))
        self.taken += count
        return count


@dataclass
class Load:
    """What the clients did and saw, shared by all of them (one event loop: no locks)."""

    runs: list[int]
    chunk_size: int
    started: float = 0.0  # set when the clients are ready
    deadline: float = 0.0
    budgets: dict[str, Budget] = field(
        default_factory=lambda: {
            "single": Budget(NEW_PAIRS_PER_S["single"]),
            "batch": Budget(NEW_PAIRS_PER_S["batch"], FIRST_BATCH_PAIRS),
        }
    )
    submitted: dict[int, set[str]] = field(default_factory=dict)  # new ids sent, per run
    stored: dict[int, list[str]] = field(default_factory=dict)  # ids an answer confirmed
    answered: list[Answered] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    accepted: int = 0  # the sum of `accepted` over the answers received
    duplicates: int = 0
    gave_up: int = 0
    # Pairs a request given up on stored: its second copy answered them as duplicates.
    accepted_unanswered: int = 0

    def __post_init__(self) -> None:
        for run_id in self.runs:
            self.submitted[run_id] = set()
            self.stored[run_id] = []

    def start(self, seconds: float) -> None:
        self.started = time.monotonic()
        self.deadline = self.started + seconds
        for budget in self.budgets.values():
            budget.started = self.started


async def post(
    http: httpx.AsyncClient,
    load: Load,
    kind: str,
    run_id: int,
    pairs: list[dict[str, Any]],
    timeout: httpx.Timeout | None = None,
) -> dict[str, int] | None:
    """The answer's counts, or None after recording the error; a given-up request raises."""
    started = time.perf_counter()
    try:
        response = await http.post(
            f"/v1/runs/{run_id}/pairs",
            json={"pairs": pairs},
            timeout=timeout or httpx.USE_CLIENT_DEFAULT,
        )
    except httpx.ReadTimeout:
        if timeout is not None:
            raise  # given up on purpose
        load.errors.append(f"{kind} post to run {run_id}: timed out after {REQUEST_TIMEOUT_S} s")
        return None
    except httpx.HTTPError as exc:
        load.errors.append(f"{kind} post to run {run_id}: {exc!r}")
        return None
    load.answered.append(Answered(kind, time.perf_counter() - started, response.status_code))
    if response.status_code != 202:
        load.errors.append(f"{kind} post: {response.status_code} {response.text[:300]}")
        return None
    counts: dict[str, int] = response.json()
    load.accepted += counts["accepted"]
    load.duplicates += counts["duplicates"]
    # Pairs that other requests commit meanwhile may share the jobs (jobs/shared_enqueue.py).
    least_jobs = math.ceil(counts["accepted"] / load.chunk_size)
    if counts["jobs"] < least_jobs or (counts["jobs"] > 0) != (counts["accepted"] > 0):
        load.errors.append(f"{kind} post: {counts} queued, expected at least {least_jobs} jobs")
    return counts


async def submit(
    http: httpx.AsyncClient,
    load: Load,
    kind: str,
    run_id: int,
    pairs: list[dict[str, Any]],
    new_ids: list[str],
    mode: str,
) -> None:
    """Post the pairs `once`; `twice` at once, the copies in opposite orders; or `give_up`
    after a few ms and post them again, reversed. Checks every answer's counts."""
    load.submitted[run_id].update(new_ids)
    new, sent = len(new_ids), len(pairs)
    if mode == "twice":
        both = await asyncio.gather(
            post(http, load, kind, run_id, pairs), post(http, load, kind, run_id, pairs[::-1])
        )
        answers = [counts for counts in both if counts is not None]
        if len(answers) < len(both):
            return
        # One copy stores each new pair, the other answers it as a duplicate.
        if sum(a["accepted"] for a in answers) != new or any(
            a["accepted"] + a["duplicates"] != sent for a in answers
        ):
            load.errors.append(f"{kind} posted twice: {answers}, {new} new of {sent}")
    elif mode == "give_up":
        try:
            timeout = httpx.Timeout(REQUEST_TIMEOUT_S, read=GIVE_UP_AFTER_S)
            counts = await post(http, load, kind, run_id, pairs, timeout)
        except httpx.ReadTimeout:
            load.gave_up += 1
            # The first copy may be inserting still: the second waits for it on the unique
            # index, and answers as duplicates whatever the first stored.
            counts = await post(http, load, kind, run_id, pairs[::-1])
            if counts is None:
                return
            if counts["accepted"] + counts["duplicates"] != sent or counts["accepted"] > new:
                load.errors.append(f"{kind} post sent again: {counts}, {new} new of {sent}")
            load.accepted_unanswered += new - counts["accepted"]
        else:
            if not expected(load, kind, counts, new, sent):
                return
    elif not expected(load, kind, await post(http, load, kind, run_id, pairs), new, sent):
        return
    load.stored[run_id].extend(new_ids)


def expected(load: Load, kind: str, counts: dict[str, int] | None, new: int, sent: int) -> bool:
    """Whether a lone copy's answer is exactly its new pairs accepted, the rest duplicates."""
    if counts is None:
        return False
    if (counts["accepted"], counts["duplicates"]) != (new, sent - new):
        load.errors.append(f"{kind} post: {counts}, expected {new} new of {sent}")
    return True


def with_ids(templates: list[dict[str, Any]], ids: list[str], offset: int) -> list[dict[str, Any]]:
    return [
        {**templates[(offset + i) % len(templates)], "external_id": external_id}
        for i, external_id in enumerate(ids)
    ]


async def client(
    index: int, http: httpx.AsyncClient, load: Load, templates: list[dict[str, Any]]
) -> None:
    """One client: posts until the deadline, one request (or one pair of copies) at a time."""
    rng = random.Random(index)
    kind = "batch" if index < BATCH_CLIENTS else "single"
    impatient = index % IMPATIENT_EVERY == 0
    request = 0
    while time.monotonic() < load.deadline:
        request += 1
        run_id = load.runs[(index + request) % len(load.runs)]
        stored = load.stored[run_id]
        size = rng.randint(*BATCH_SIZES) if kind == "batch" else 1
        new = load.budgets[kind].take(size) if request % RESUBMIT_EVERY else 0
        if not new and not stored:
            await asyncio.sleep(0.05)  # nothing new allowed, nothing stored to resubmit
            continue
        new_ids = [f"c{index:02d}-{request:05d}-{i:03d}" for i in range(new)]
        ids = new_ids + rng.sample(stored, min(len(stored), size - new))
        if kind == "batch" and new_ids:
            ids.append(new_ids[0])  # the same new pair twice in one body
        rng.shuffle(ids)
        if impatient and request % IMPATIENT_EVERY == 0:
            mode = "give_up"
        elif kind == "batch" and new_ids:
            mode = "twice"
        else:
            mode = "once"
        pairs = with_ids(templates, ids, index * 7919 + request)
        await submit(http, load, kind, run_id, pairs, new_ids, mode)


class ErrorLog(logging.Handler):
    """Keeps what is logged at ERROR or above (a 500's traceback, a failed dispatch)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(self.format(record))


@contextmanager
def errors_logged(*names: str) -> Iterator[list[str]]:
    """What the named loggers (and those below them) log at ERROR or above meanwhile."""
    handler = ErrorLog()
    loggers = [logging.getLogger(name) for name in names]
    for logger in loggers:
        logger.addHandler(handler)
    try:
        yield handler.records
    finally:
        for logger in loggers:
            logger.removeHandler(handler)


def percentiles_ms(seconds: list[float]) -> dict[str, float | int]:
    if not seconds:
        return {"requests": 0}
    p50, p99 = np.percentile(np.array(seconds) * 1000, [50, 99])
    return {
        "requests": len(seconds),
        "p50_ms": round(float(p50), 1),
        "p99_ms": round(float(p99), 1),
        "max_ms": round(max(seconds) * 1000, 1),
    }


def libpq(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def unfinished(conn: psycopg.Connection[Any], runs: list[int]) -> int:
    return int(
        conn.execute(
            "SELECT count(*) FROM judgments WHERE run_id = ANY(%s)"
            " AND status IN ('pending', 'running')",
            (runs,),
        ).fetchone()[0]  # type: ignore[index]
    )


def wait_for_workers(stack: Stack, count: int, timeout: float = 180) -> float:
    """Seconds until `count` workers listen on the queue (they start before the clock does)."""
    start = time.monotonic()
    with Redis.from_url(stack.settings.redis_url or "") as redis:
        queue = judge_queue(redis, stack.settings.queue_name)
        while len(Worker.all(queue=queue)) < count:
            assert time.monotonic() - start < timeout, f"{count} workers not up in {timeout} s"
            time.sleep(0.2)
    return time.monotonic() - start


def wait_for_drain(stack: Stack, conn: psycopg.Connection[Any], runs: list[int]) -> float:
    """Seconds until every judgment of the runs is finished; fails if a worker dies."""
    start = time.monotonic()
    while unfinished(conn, runs):
        dead = [w for w in stack.workers if w.process.poll() is not None]
        if dead or time.monotonic() - start > DRAIN_TIMEOUT_S:
            logs = "\n".join(w.stop()[-3000:] for w in stack.workers)
            cause = "a worker exited" if dead else f"not drained in {DRAIN_TIMEOUT_S} s"
            raise AssertionError(f"{cause}: {unfinished(conn, runs)} unfinished\n{logs}")
        time.sleep(0.2)
    return time.monotonic() - start


async def drive(load: Load, base_url: str) -> None:
    """Every client connected first, then the clock starts and all of them post."""
    templates = sample_pairs(500)
    # One TLS context for all (plain HTTP needs none, but httpx makes one per client,
    # ~80 ms of CPU each, which would eat the first seconds of the load).
    tls = ssl.create_default_context()
    # uvicorn closes a connection idle for 5 s, and httpx keeps one for 5 s counted from
    # when it read the last answer (later, in this busy process): reusing it then can
    # meet the server closing it (a ReadError). Idle connections go well before that.
    limits = httpx.Limits(keepalive_expiry=KEEPALIVE_S)
    async with AsyncExitStack() as stack:
        clients = [
            await stack.enter_async_context(
                httpx.AsyncClient(
                    base_url=base_url, timeout=REQUEST_TIMEOUT_S, verify=tls, limits=limits
                )
            )
            for _ in range(CLIENTS)
        ]
        load.start(LOAD_SECONDS)
        await asyncio.gather(*(client(i, http, load, templates) for i, http in enumerate(clients)))


def test_fifty_clients_post_while_two_workers_judge(stack_factory: StackFactory) -> None:
    stack = stack_factory(chunk_size=CHUNK_SIZE)
    assert stack.settings.auth != "required"  # open on loopback: no keys, no rate limit
    # Cache off: the clients post the same 500 templates again and again, and this test
    # counts one provider call per judgment.
    runs = [
        int(create_run(stack.api, judges, name=f"load-{i}", cache=False)["id"])
        for i, judges in enumerate(RUN_JUDGES)
    ]
    judges_of = dict(zip(runs, RUN_JUDGES, strict=True))
    stack.start_worker()
    stack.start_worker()
    workers_ready_s = wait_for_workers(stack, 2)
    base_url = str(stack.api.base_url).rstrip("/")

    # uvicorn logs a 500's traceback on "uvicorn.error"; the API's own errors are below
    # "judge_service" (a dispatch that failed after the commit, say).
    with errors_logged("uvicorn.error", "judge_service") as api_errors:
        load = Load(runs, stack.settings.chunk_size)
        asyncio.run(drive(load, base_url))
        load_s = time.monotonic() - load.started

    with psycopg.connect(libpq(stack.settings.database_url)) as conn:
        judged_during_load = int(
            conn.execute(
                "SELECT count(*) FROM judgments WHERE run_id = ANY(%s) AND status = 'done'",
                (runs,),
            ).fetchone()[0]  # type: ignore[index]
        )
        drain_s = wait_for_drain(stack, conn, runs)
        rows = conn.execute(
            "SELECT run_id, external_id FROM pairs WHERE run_id = ANY(%s)", (runs,)
        ).fetchall()
        per_pair = conn.execute(
            'SELECT p.run_id, p.id, count(j.id), count(DISTINCT (j.judge, j."order"))'
            " FROM pairs p LEFT JOIN judgments j ON j.pair_id = p.id"
            " WHERE p.run_id = ANY(%s) GROUP BY p.run_id, p.id",
            (runs,),
        ).fetchall()
        outcomes = {
            (status, attempts): count
            for status, attempts, count in conn.execute(
                "SELECT status, attempts, count(*) FROM judgments WHERE run_id = ANY(%s)"
                " GROUP BY status, attempts",
                (runs,),
            ).fetchall()
        }
    sim = simulator_stats(stack.simulator)
    with Redis.from_url(stack.settings.redis_url or "") as redis:
        queue = judge_queue(redis, stack.settings.queue_name)
        failed_jobs = FailedJobRegistry(queue=queue).count

    judgments = sum(outcomes.values())
    single = [a.seconds for a in load.answered if a.kind == "single"]
    batch = [a.seconds for a in load.answered if a.kind == "batch"]
    report = {
        "load_seconds": LOAD_SECONDS,
        "clients": {"single": CLIENTS - BATCH_CLIENTS, "batch": BATCH_CLIENTS},
        "runs": len(runs),
        "workers": len(stack.workers),
        "workers_ready_s": round(workers_ready_s, 1),
        "auth": "open (loopback, JUDGE_AUTH=auto): no keys, so no per-key rate limit",
        "requests": len(load.answered),
        "errors": len(load.errors) + len(api_errors),
        "given_up_and_sent_again": load.gave_up,
        "new_pairs_sent": sum(len(ids) for ids in load.submitted.values()),
        "pairs_accepted": len(rows),
        "accepted_answered": load.accepted,
        "accepted_unanswered": load.accepted_unanswered,
        "duplicates_answered": load.duplicates,
        "latency": {"single": percentiles_ms(single), "batch": percentiles_ms(batch)},
        "throughput_requests_per_s": round(len(load.answered) / load_s, 1),
        # Every pair the API answered for, new or duplicate: what it inserted or skipped.
        "throughput_pairs_posted_per_s": round((load.accepted + load.duplicates) / load_s, 1),
        "throughput_pairs_accepted_per_s": round(len(rows) / load_s, 1),
        "load_wall_s": round(load_s, 1),
        "judgments": judgments,
        "judged_during_load": judged_during_load,
        "drain_s": round(drain_s, 1),
        "judge_calls": sim["requests"],
        "judge_follow_ups": sim["followups"],
    }
    ARTIFACT.parent.mkdir(exist_ok=True)
    ARTIFACT.write_text(json.dumps(report, indent=2) + "\n")
    print("\n" + "\n".join(f"load: {key}: {value}" for key, value in report.items()))

    assert not load.errors, load.errors[:10]
    assert not api_errors, api_errors[:3]
    assert load.answered and all(a.status == 202 for a in load.answered)
    assert rows and load.duplicates
    stored: dict[int, Counter[str]] = {run_id: Counter() for run_id in runs}
    for run_id, external_id in rows:
        stored[run_id][external_id] += 1
    for run_id in runs:
        assert set(stored[run_id].values()) <= {1}  # exactly once per (run, external_id)
        assert set(stored[run_id]) == load.submitted[run_id]
    assert load.accepted + load.accepted_unanswered == len(rows)
    for run_id, _pair_id, count, distinct in per_pair:
        assert count == distinct == len(judges_of[run_id]) * ORDERS
    assert judgments == sum(len(judges_of[r]) * ORDERS for r, *_ in per_pair)
    # Every judgment done, each claimed once, each one call: nothing was judged twice.
    assert outcomes == {("done", 1): judgments}
    assert (sim["followups"], sim["server_errors"]) == (0, 0)
    # One call per judgment. (A CI run once saw 2,037 calls for 2,034: the workers were
    # judging stale rows another test had left in the shared database; stacks now get a
    # database of their own.)
    assert sim["requests"] == judgments
    assert failed_jobs == 0
    for run_id in runs:
        assert stack.api.get(f"/v1/runs/{run_id}").json()["status"] == "done"
