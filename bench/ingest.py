"""Ingest: 100,000 pairs posted in bulk into PostgreSQL, and single-pair posts under 20 clients.

Starts `judge-service serve` in its own process (uvicorn, one process, as deployed) on a
scratch database (`judge_bench_ingest`, dropped and made anew) with a Redis queue that no
worker reads, so only ingest is measured: validation, the set-based inserts of pairs and
their pending judgments (2 judges x 2 orders = 4 rows a pair), the commit, and the
pipelined enqueue. Traces are about 1 KB each, 2 KB a pair.

Issue-5 targets: >= 5,000 pairs/s in bulk; single-pair post p99 <= 50 ms.
Run: `.venv/bin/python bench/ingest.py` (`--pairs 20000` for a quick look); the last lines
are the figures.
"""

import argparse
import asyncio
import json
import os
import random
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import psycopg
from procs import cpu_s, load_average, postgres_cpu_s, reference_loop_s
from redis import Redis
from scratch import SERVER, fresh_database

from judge_service.demo.sample import sample_pairs
from judge_service.jobs.dispatch import judge_queue

BULK_TARGET_PAIRS_S = 5_000
SINGLE_P99_TARGET_MS = 50.0
DATABASE = "judge_bench_ingest"
REDIS_URL = "redis://127.0.0.1:6379/0"
PORT = 8765
WORDS = ("the", "lesion", "enhances", "early", "and", "washes", "out", "so", "likely", "is")


def trace(rng: random.Random, chars: int) -> str:
    words: list[str] = []
    while sum(len(word) + 1 for word in words) < chars:
        words.append(rng.choice(WORDS))
    return " ".join(words)[:chars]


def make_pairs(count: int, prefix: str, seed: int) -> list[dict[str, Any]]:
    """Pairs shaped like the sample (question, reference, metadata) with ~1 KB traces each."""
    rng = random.Random(seed)
    shapes = sample_pairs(50)
    pairs = []
    for index in range(count):
        shape = shapes[index % len(shapes)]
        pairs.append(
            {
                "external_id": f"{prefix}-{index}",
                "question": shape["question"],
                "reference_answer": shape.get("reference_answer"),
                "metadata": shape.get("metadata", {}),
                "baseline_trace": trace(rng, 1000),
                "candidate_trace": trace(rng, 1000),
            }
        )
    return pairs


def start_api(database_url: str, queue: str) -> subprocess.Popen[bytes]:
    judges = {
        name: {
            "provider": "openai",
            "model": "simulated-judge",
            "base_url": "http://127.0.0.1:9/v1",  # never called: no worker reads the queue
            "api_key_env": "JUDGE_BENCH_KEY",
        }
        for name in ("judge-a", "judge-b")
    }
    env = {
        **os.environ,
        "JUDGE_DATABASE_URL": database_url,
        "JUDGE_REDIS_URL": REDIS_URL,
        "JUDGE_QUEUE_NAME": queue,
        "JUDGE_JUDGES": json.dumps(judges),
        "JUDGE_BENCH_KEY": "unused",
    }
    command = [str(Path(sys.executable).parent / "judge-service"), "serve", "--port", str(PORT)]
    process = subprocess.Popen(command, env=env, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120  # importing the SDKs takes seconds on a busy machine
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{PORT}/readyz").status_code == 200:
                return process
        except httpx.TransportError:
            time.sleep(0.1)
    process.kill()
    raise SystemExit("the API did not come up")


def create_run(client: httpx.Client, name: str) -> int:
    judges = ["judge-a", "judge-b"]
    body = {"name": name, "baseline": "base", "candidate": "tuned", "judges": judges}
    response = client.post("/v1/runs", json=body)
    response.raise_for_status()
    return int(response.json()["id"])


def bulk(client: httpx.Client, pairs: list[dict[str, Any]], per_request: int) -> float:
    """Seconds to post `pairs` in requests of `per_request`, each answered 202 with all accepted."""
    run_id = create_run(client, "bench-bulk")
    bodies = [
        json.dumps({"pairs": pairs[start : start + per_request]}).encode()
        for start in range(0, len(pairs), per_request)
    ]
    started = time.perf_counter()
    for body in bodies:
        response = client.post(
            f"/v1/runs/{run_id}/pairs", content=body, headers={"content-type": "application/json"}
        )
        response.raise_for_status()
        assert response.json()["duplicates"] == 0, response.json()
    return time.perf_counter() - started


async def singles(run_id: int, clients: int, pairs: list[dict[str, Any]]) -> list[float]:
    """Per-request latency (ms) of single-pair posts from `clients` concurrent clients.

    Each client writes HTTP/1.1 by hand on one keep-alive connection. The bench shares two
    cores with the API, and httpx's client spent 1.6 ms of CPU per post (about as much as
    the API itself), so its own queueing showed up as the service's latency.
    """
    latencies: list[float] = []

    async def client(offset: int) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", PORT)
        for pair in pairs[offset::clients]:
            body = json.dumps({"pairs": [pair]}).encode()
            head = (
                f"POST /v1/runs/{run_id}/pairs HTTP/1.1\r\nhost: 127.0.0.1:{PORT}\r\n"
                f"content-type: application/json\r\ncontent-length: {len(body)}\r\n\r\n"
            )
            started = time.perf_counter()
            writer.write(head.encode() + body)
            status, answer = await read_response(reader)
            latencies.append((time.perf_counter() - started) * 1000)
            assert status == 202 and json.loads(answer)["accepted"] == 1, (status, answer)
        writer.close()
        await writer.wait_closed()

    await asyncio.gather(*(client(offset) for offset in range(clients)))
    return latencies


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    """The status and body of one response; the API always sends a Content-Length."""
    status_line, *headers = (await reader.readuntil(b"\r\n\r\n")).decode().split("\r\n")
    fields = {name.lower(): value for name, _, value in (line.partition(":") for line in headers)}
    return int(status_line.split()[1]), await reader.readexactly(int(fields["content-length"]))


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=100_000)
    parser.add_argument("--per-request", type=int, default=10_000)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--single-posts", type=int, default=4_000)
    args = parser.parse_args()

    database_url = fresh_database(DATABASE)
    queue = f"bench-ingest-{uuid.uuid4().hex[:8]}"
    pairs = make_pairs(args.pairs, "bulk", seed=1)
    size_mb = len(json.dumps({"pairs": pairs[: args.per_request]})) / 1e6
    api = start_api(database_url, queue)
    base_url = f"http://127.0.0.1:{PORT}"
    try:
        with httpx.Client(base_url=base_url, timeout=300) as client:
            api_cpu, pg_cpu = cpu_s(api.pid), postgres_cpu_s()
            bulk_s = bulk(client, pairs, args.per_request)
            bulk_cpu = (cpu_s(api.pid) - api_cpu, postgres_cpu_s() - pg_cpu)
            single_run = create_run(client, "bench-single")
        single_pairs = make_pairs(args.single_posts, "single", seed=2)
        api_cpu, pg_cpu, own_cpu = cpu_s(api.pid), postgres_cpu_s(), time.process_time()
        latencies = asyncio.run(singles(single_run, args.clients, single_pairs))
        single_cpu = (cpu_s(api.pid) - api_cpu, postgres_cpu_s() - pg_cpu)
        client_cpu = time.process_time() - own_cpu
    finally:
        api.terminate()
        api.wait(timeout=30)
        redis = Redis.from_url(REDIS_URL)
        judge_queue(redis, queue).empty()  # the jobs no worker was meant to run
        redis.close()

    with psycopg.connect(f"{SERVER}/{DATABASE}") as db:
        stored_pairs, stored_judgments = db.execute(
            "SELECT (SELECT count(*) FROM pairs), (SELECT count(*) FROM judgments)"
        ).fetchone() or (0, 0)
    expected_pairs = args.pairs + args.single_posts
    assert stored_pairs == expected_pairs, (stored_pairs, expected_pairs)
    assert stored_judgments == 4 * expected_pairs, stored_judgments

    rate = args.pairs / bulk_s
    p50, p99 = percentile(latencies, 0.50), percentile(latencies, 0.99)
    load = load_average()
    print(
        f"machine: {os.cpu_count()} cores, load average {load}, "
        f"a 5M-step Python loop in {reference_loop_s():.2f} s of CPU; "
        f"stored {stored_pairs:,} pairs and {stored_judgments:,} pending judgments"
    )
    print(
        f"bulk: {args.pairs:,} pairs in {args.pairs // args.per_request} requests of "
        f"{args.per_request:,} ({size_mb:.1f} MB each) in {bulk_s:.1f} s"
    )
    print(
        f"bulk CPU per 1,000 pairs: API {bulk_cpu[0] / args.pairs * 1e6:,.0f} ms, "
        f"PostgreSQL server {bulk_cpu[1] / args.pairs * 1e6:,.0f} ms (every client's)"
    )
    print(
        f"single-pair post CPU: API {single_cpu[0] / args.single_posts * 1e3:.2f} ms, "
        f"PostgreSQL server {single_cpu[1] / args.single_posts * 1e3:.2f} ms, "
        f"the bench's clients {client_cpu / args.single_posts * 1e3:.2f} ms"
    )
    print(
        f"bulk ingest: {rate:,.0f} pairs/s = {rate / BULK_TARGET_PAIRS_S:.2f}x "
        f"the {BULK_TARGET_PAIRS_S:,} pairs/s target"
    )
    print(
        f"single-pair posts, {args.clients} clients, {len(latencies):,} posts: "
        f"p50 {p50:.1f} ms, p99 {p99:.1f} ms = {p99 / SINGLE_P99_TARGET_MS:.2f}x "
        f"the {SINGLE_P99_TARGET_MS:.0f} ms target (below 1 meets it)"
    )


if __name__ == "__main__":
    main()
