"""Throughput at the provider's limit: the service against a sequential loop and a thread pool.

Everything runs against the SIMULATED judge provider (`judge-service simulate`, its own
process), never a real model. Two scenarios from issue 5:
  (a) 200 +/- 50 ms latency, a hard limit of 3,000 requests/min;
  (b) 2 s latency, 10,000 requests/min (~330 calls in flight at the limit).
In each, on a fresh provider process:
  - the service: `judge-service serve` and RQ workers (`judge-service worker`) on a scratch
    PostgreSQL database and Redis, 1,000 pairs x 2 orders posted in one request, the judge's
    `rpm_limit` set to the provider's; wall time from the post until the run is done;
  - a sequential SDK loop (one call after another), timed on a sample and extrapolated;
  - a 16-thread pool with a fixed 10 s sleep on any error (FastChat's and Arena-Hard's
    scripts: `--parallel 16`, 10 s sleep, 16 tries), timed on a sample (scenario b) or in full.
Both scripts use the official OpenAI SDK with its own retries off (the scripts' loop is their
retry layer) and send the prompt the service sends.

Figures: requests/min achieved between the provider's first and last request, as a share of
the limit; the share of requests answered 429; the service's CPU ms per judgment (API and
workers with their work horses, read from /proc and wait4, start-up excluded; the provider's,
PostgreSQL's and Redis's CPU are not ours and are shown apart); the scripts' wall time as
multiples of the service's. Targets: >= 95% of the limit, <= 2% 429s, <= 3 ms CPU/judgment,
>= 10x faster than the thread pool in (b).

Run: `.venv/bin/python bench/throughput.py` (`--pairs 200` for a quick look). The figures
come last. Timings on a shared 2-core machine are noisy: the load average is printed.
"""

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx
import openai
from procs import cpu_at_exit_s, cpu_s, load_average, postgres_cpu_s, reference_loop_s
from redis import Redis
from rq import Worker
from scratch import fresh_database

from judge_service.demo.sample import sample_pairs
from judge_service.jobs.dispatch import judge_queue
from judge_service.judging.prompt import render_prompt

CLI = str(Path(sys.executable).parent / "judge-service")
REDIS_URL = "redis://127.0.0.1:6379/0"
DATABASE = "judge_bench_throughput"
KEY_ENV = "JUDGE_BENCH_SIMULATED_KEY"
MODEL = "simulated-judge"
SIMULATOR_PORT = 8781
API_PORT = 8782
THREADS = 16
SCRIPT_SLEEP_S = 10.0  # FastChat's API_RETRY_SLEEP
SCRIPT_TRIES = 16  # FastChat's API_MAX_RETRY
TARGET_SHARE = 0.95
TARGET_429_SHARE = 0.02
TARGET_CPU_MS = 3.0


@dataclass(frozen=True)
class Scenario:
    name: str
    latency_s: float
    jitter_s: float
    rpm: int
    sequential_sample: int  # calls the sequential loop makes, extrapolated to all
    pool_sample: int | None  # calls the thread pool makes (None: all of them)


SCENARIOS = {
    "a": Scenario("a", 0.2, 0.05, 3_000, sequential_sample=100, pool_sample=None),
    "b": Scenario("b", 2.0, 0.0, 10_000, sequential_sample=20, pool_sample=480),
}


@dataclass(frozen=True)
class Window:
    """What the provider saw: requests, 429s, and the seconds from first to last request."""

    requests: int
    refused: int
    seconds: float

    @property
    def per_minute(self) -> float:
        return (self.requests - self.refused) / self.seconds * 60 if self.seconds else 0.0


def wait_until(
    check: Callable[[], bool], what: str, timeout_s: float = 180, every_s: float = 0.1
) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            raise SystemExit(f"bench: {what} not after {timeout_s} s")
        time.sleep(every_s)


def answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.TransportError:
        return False


def start(args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    """`judge-service ARGS`, its output in a log file of the temporary directory."""
    log = Path(tempfile.gettempdir()) / f"judge-bench-{args[0]}-{uuid.uuid4().hex[:6]}.log"
    with log.open("wb") as out:
        return subprocess.Popen(
            [CLI, *args], env={**os.environ, **env}, stdout=out, stderr=subprocess.STDOUT
        )


def stop(process: subprocess.Popen[bytes]) -> float:
    """SIGTERM, then the process's CPU seconds over its life (its reaped children included)."""
    process.send_signal(signal.SIGTERM)
    return cpu_at_exit_s(process)


class Provider:
    """A fresh simulated provider process for one measurement."""

    def __init__(self, scenario: Scenario) -> None:
        self.url = f"http://127.0.0.1:{SIMULATOR_PORT}"
        self.process = start(
            [
                "simulate",
                f"--port={SIMULATOR_PORT}",
                f"--latency-mean-s={scenario.latency_s}",
                f"--latency-jitter-s={scenario.jitter_s}",
                f"--rpm-limit={scenario.rpm}",
            ],
            {},
        )
        wait_until(lambda: answers(f"{self.url}/healthz"), "the simulated provider")

    def window(self) -> Window:
        stats = httpx.get(f"{self.url}/simulator/stats").raise_for_status().json()
        first, last = stats["first_request_at"], stats["last_request_at"]
        return Window(stats["requests"], stats["rate_limited"], (last - first) if first else 0.0)

    def close(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)


def the_prompts(count: int) -> list[tuple[str, str]]:
    """(system, user) of each call: the service's prompt for 1,000 sample pairs x 2 orders."""
    prompts = []
    for pair in sample_pairs(count // 2 + 1):
        for first, second in (
            (pair["baseline_trace"], pair["candidate_trace"]),
            (pair["candidate_trace"], pair["baseline_trace"]),
        ):
            prompt = render_prompt(pair["question"], pair.get("reference_answer"), first, second)
            prompts.append((prompt.system, prompt.user))
    return prompts[:count]


def script_call(client: openai.OpenAI, prompt: tuple[str, str]) -> None:
    """One judgment the way the peer scripts make it: on any error, sleep 10 s and try again."""
    system, user = prompt
    for _ in range(SCRIPT_TRIES):
        try:
            client.chat.completions.create(
                model=MODEL,
                messages=[{"role": "system", "content": system}, {"role": "user", "content": user}],
                temperature=0.0,
                max_tokens=1024,
            )
            return
        except openai.OpenAIError:
            time.sleep(SCRIPT_SLEEP_S)
    raise SystemExit("bench: a script call failed 16 times")


def script_seconds(
    scenario: Scenario, prompts: list[tuple[str, str]], threads: int
) -> tuple[float, int, Window]:
    """Seconds the script takes for all prompts (extrapolated from its sample), calls it made,
    and what the provider saw."""
    sample = scenario.sequential_sample if threads == 1 else scenario.pool_sample
    calls = prompts[: sample or len(prompts)]
    provider = Provider(scenario)
    try:
        client = openai.OpenAI(
            api_key="simulated", base_url=f"{provider.url}/v1", max_retries=0, timeout=60
        )
        started = time.perf_counter()
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(lambda prompt: script_call(client, prompt), calls))
        seconds = time.perf_counter() - started
        return seconds * len(prompts) / len(calls), len(calls), provider.window()
    finally:
        provider.close()


@dataclass(frozen=True)
class ServiceResult:
    seconds: float
    judgments: int
    window: Window
    api_cpu_s: float
    workers_cpu_s: float
    postgres_cpu_s: float


def service_run(scenario: Scenario, pairs: int, workers: int, chunk: int) -> ServiceResult:
    database = fresh_database(DATABASE)
    provider = Provider(scenario)  # after anything that may fail outside the try below
    queue = f"bench-throughput-{uuid.uuid4().hex[:8]}"
    judge = {
        "provider": "openai",
        "model": MODEL,
        "base_url": f"{provider.url}/v1",
        "api_key_env": KEY_ENV,
        "structured": False,
        "max_concurrency": 512,
        "rpm_limit": scenario.rpm,
    }
    env = {
        "JUDGE_DATABASE_URL": database,
        "JUDGE_REDIS_URL": REDIS_URL,
        "JUDGE_QUEUE_NAME": queue,
        "JUDGE_CHUNK_SIZE": str(chunk),
        "JUDGE_JUDGES": json.dumps({"sim": judge}),
        "JUDGE_LOG_LEVEL": "WARNING",
        KEY_ENV: "simulated",
    }
    api = start(["serve", f"--port={API_PORT}"], env)
    horses = [start(["worker", f"--name={queue}-{i}"], env) for i in range(workers)]
    redis = Redis.from_url(REDIS_URL)
    try:
        base = f"http://127.0.0.1:{API_PORT}"
        wait_until(lambda: answers(f"{base}/readyz"), "the API")
        rq_queue = judge_queue(redis, queue)
        wait_until(lambda: Worker.count(queue=rq_queue) == workers, "the workers")
        ready_cpu = [cpu_s(api.pid), *(cpu_s(w.pid) for w in horses)]
        postgres_before = postgres_cpu_s()
        body = {"name": "bench", "baseline": "base", "candidate": "tuned", "judges": ["sim"]}
        with httpx.Client(base_url=base, timeout=300) as client:
            run_id = client.post("/v1/runs", json=body).raise_for_status().json()["id"]
            started = time.perf_counter()
            posted = client.post(
                f"/v1/runs/{run_id}/pairs", json={"pairs": sample_pairs(pairs)}
            ).raise_for_status()
            assert posted.json()["accepted"] == pairs, posted.text

            def done() -> bool:
                run = client.get(f"/v1/runs/{run_id}").raise_for_status().json()
                return run["status"] == "done"

            # Twice a second, as a notebook might: polling ten times a second cost the API
            # more CPU than the run itself in (a) (~4 ms a poll). The wall time may run up to
            # 0.5 s long, which only flatters the scripts.
            wait_until(done, "the run", timeout_s=1800, every_s=0.5)
            seconds = time.perf_counter() - started
            run = client.get(f"/v1/runs/{run_id}").raise_for_status().json()
        postgres = postgres_cpu_s() - postgres_before
        window = provider.window()
    finally:
        used = [stop(api), *(stop(w) for w in horses)]
        redis.close()
        provider.close()
    counts = run["counts"]
    assert counts["judgments_done"] == counts["judgments_expected"] == 2 * pairs, counts
    return ServiceResult(
        seconds=seconds,
        judgments=counts["judgments_done"],
        window=window,
        api_cpu_s=used[0] - ready_cpu[0],
        workers_cpu_s=sum(used[1:]) - sum(ready_cpu[1:]),
        postgres_cpu_s=postgres,
    )


def report(scenario: Scenario, args: argparse.Namespace) -> list[str]:
    judgments = 2 * args.pairs
    prompts = the_prompts(judgments)
    service = service_run(scenario, args.pairs, args.workers, args.chunk)
    sequential_s, sequential_calls, _ = script_seconds(scenario, prompts, threads=1)
    pool_s, pool_calls, pool_window = script_seconds(scenario, prompts, threads=THREADS)
    ours = service.window
    cpu_ms = (service.api_cpu_s + service.workers_cpu_s) / service.judgments * 1000
    label = (
        f"({scenario.name}) SIMULATED provider, {scenario.latency_s * 1000:.0f}"
        f"{f' +/- {scenario.jitter_s * 1000:.0f}' if scenario.jitter_s else ''} ms, "
        f"limit {scenario.rpm:,} requests/min"
    )
    pool_share = pool_window.per_minute / scenario.rpm
    return [
        f"{label}: service judged {service.judgments:,} in {service.seconds:.1f} s; "
        f"{ours.per_minute:,.0f} requests/min answered = {ours.per_minute / scenario.rpm:.1%} "
        f"of the limit (target >= {TARGET_SHARE:.0%}); 429s {ours.refused} of {ours.requests:,} "
        f"requests = {ours.refused / max(ours.requests, 1):.2%} (target <= {TARGET_429_SHARE:.0%})",
        f"({scenario.name}) service CPU per judgment: API "
        f"{service.api_cpu_s / service.judgments * 1000:.2f} ms + workers "
        f"{service.workers_cpu_s / service.judgments * 1000:.2f} ms = {cpu_ms:.2f} ms "
        f"= {cpu_ms / TARGET_CPU_MS:.2f}x the {TARGET_CPU_MS:.0f} ms target (below 1 meets it); "
        f"PostgreSQL server {service.postgres_cpu_s / service.judgments * 1000:.2f} ms "
        f"(every client's, not counted)",
        f"({scenario.name}) sequential SDK loop: {sequential_s:,.0f} s for {judgments:,} "
        f"(extrapolated from {sequential_calls}) = {sequential_s / service.seconds:.1f}x "
        f"the service's wall time",
        f"({scenario.name}) 16-thread pool, 10 s sleep on error: {pool_s:,.0f} s for "
        f"{judgments:,}{'' if pool_calls == judgments else f' (extrapolated from {pool_calls})'}"
        f" = {pool_s / service.seconds:.1f}x the service's wall time; it reached "
        f"{pool_share:.1%} of the limit, 429s {pool_window.refused} of "
        f"{pool_window.requests:,} requests",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=1_000)
    parser.add_argument("--scenarios", default="ab", help="which of a, b to run")
    parser.add_argument("--workers", type=int, default=2, help="worker processes")
    parser.add_argument("--chunk", type=int, default=100, help="pairs per job")
    args = parser.parse_args()
    lines = []
    for name in args.scenarios:
        lines += report(SCENARIOS[name], args)
    print(
        f"machine: {os.cpu_count()} cores, load average {load_average()} at the end, "
        f"a 5M-step Python loop in {reference_loop_s():.2f} s of CPU; "
        f"{args.workers} worker processes, {args.chunk} pairs per job"
    )
    print("\n".join(lines))


if __name__ == "__main__":
    main()
