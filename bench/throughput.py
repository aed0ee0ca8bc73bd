"""Throughput at the provider's limit, at the defaults: the service against a thread pool.

Everything runs against the SIMULATED judge provider (its own process), never a real model.
Two scenarios from issues 5 and 21:
  (a) 200 +/- 50 ms latency, a hard limit of 3,000 requests/min;
  (b) 2 s latency, 10,000 requests/min (~330 calls in flight at the limit).
In each, on a fresh provider process, the service: `judge-service serve` and RQ workers
(`judge-service worker`) on a scratch PostgreSQL database and Redis, 1,000 pairs x 2 orders
posted in one request, wall time from the post until the run is done. The judges file gives
the judge's `rpm_limit` (the provider's) and nothing else: no `max_concurrency`, the default
chunk size. Two more runs of (b) give no `rpm_limit`: one where the provider sends its
rate-limit headers (the service learns the limit from them), one where it sends none (the
service probes for it). Unless `--skip-scripts`, a sequential SDK loop (timed on a sample and
extrapolated) and a 16-thread pool with a fixed 10 s sleep on any error (FastChat's and
Arena-Hard's scripts: `--parallel 16`, 10 s sleep, 16 tries) run the same calls with the
official OpenAI SDK, its own retries off.

Figures: requests/min answered between the provider's first and last request, as a share of
the limit; the share of requests answered 429; the service's CPU ms per judgment (API and
workers with their work horses, read from /proc and wait4, start-up excluded; the provider's,
PostgreSQL's and Redis's CPU are not ours and are shown apart). Each line ends PASS or FAIL
against its targets (`TARGETS`).

Run: `.venv/bin/python bench/throughput.py` (`--pairs 200` for a quick look, `--scenarios b`
for one, `--chunk N` to override the chunk size). The figures come last. Timings on a shared
2-core machine are noisy: the load average is printed.
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

from judge_service.config import Settings
from judge_service.demo.sample import sample_pairs
from judge_service.jobs.dispatch import judge_queue
from judge_service.judging.prompt import render_prompt
from judge_service.simulate.config import SimulatorConfig

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
TARGET_CPU_MS = 1.5


@dataclass(frozen=True)
class Scenario:
    name: str
    latency_s: float
    jitter_s: float
    rpm: int
    sequential_sample: int  # calls the sequential loop makes, extrapolated to all
    pool_sample: int | None  # calls the thread pool makes (None: all of them)
    configured: bool = True  # the judges file gives the provider's rpm_limit
    headers: bool = True  # the provider sends its rate-limit headers
    share: float = 0.95  # targets: of the limit, at least; 429s, at most; CPU checked too
    refused: float = 0.01
    cpu_checked: bool = True


SCENARIOS = {
    "a": Scenario("a", 0.2, 0.05, 3_000, 100, None, share=0.97),
    "b": Scenario("b", 2.0, 0.0, 10_000, 20, 480),
    "h": Scenario(
        "b, no rpm_limit, headers", 2.0, 0.0, 10_000, 20, 480, False, True, 0.90, 0.02, False
    ),
    "n": Scenario(
        "b, no rpm_limit, no headers", 2.0, 0.0, 10_000, 20, 480, False, False, 0.80, 1.0, False
    ),
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
        config = SimulatorConfig(
            latency_mean_s=scenario.latency_s,
            latency_jitter_s=scenario.jitter_s,
            rpm_limit=scenario.rpm,
            rate_headers=scenario.headers,
        )
        # `judge-service simulate` has no switch for the headers: the server is started so.
        code = (
            "import sys; from judge_service.simulate.config import SimulatorConfig; "
            "from judge_service.simulate.server import serve; "
            f"serve('127.0.0.1', {SIMULATOR_PORT}, "
            "SimulatorConfig.model_validate_json(sys.argv[1]))"
        )
        log = Path(tempfile.gettempdir()) / f"judge-bench-simulate-{uuid.uuid4().hex[:6]}.log"
        with log.open("wb") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-c", code, config.model_dump_json()],
                stdout=out,
                stderr=subprocess.STDOUT,
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


def service_run(scenario: Scenario, pairs: int, workers: int, chunk: int | None) -> ServiceResult:
    database = fresh_database(DATABASE)
    provider = Provider(scenario)  # after anything that may fail outside the try below
    queue = f"bench-throughput-{uuid.uuid4().hex[:8]}"
    judge = {
        "provider": "openai",
        "model": MODEL,
        "base_url": f"{provider.url}/v1",
        "api_key_env": KEY_ENV,
        "structured": False,
    }
    if scenario.configured:
        judge["rpm_limit"] = scenario.rpm
    env = {
        "JUDGE_DATABASE_URL": database,
        "JUDGE_REDIS_URL": REDIS_URL,
        "JUDGE_QUEUE_NAME": queue,
        "JUDGE_JUDGES": json.dumps({"sim": judge}),
        "JUDGE_LOG_LEVEL": "WARNING",
        KEY_ENV: "simulated",
    }
    if chunk is not None:
        env["JUDGE_CHUNK_SIZE"] = str(chunk)
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


def verdict(passed: bool) -> str:
    return "PASS" if passed else "FAIL"


def report(scenario: Scenario, args: argparse.Namespace) -> list[str]:
    judgments = 2 * args.pairs
    service = service_run(scenario, args.pairs, args.workers, args.chunk)
    ours = service.window
    share = ours.per_minute / scenario.rpm
    refused = ours.refused / max(ours.requests, 1)
    cpu_ms = (service.api_cpu_s + service.workers_cpu_s) / service.judgments * 1000
    cpu_ok = cpu_ms <= TARGET_CPU_MS or not scenario.cpu_checked
    passed = share >= scenario.share and refused <= scenario.refused and cpu_ok
    label = (
        f"({scenario.name}) SIMULATED provider, {scenario.latency_s * 1000:.0f}"
        f"{f' +/- {scenario.jitter_s * 1000:.0f}' if scenario.jitter_s else ''} ms, "
        f"limit {scenario.rpm:,} requests/min"
    )
    lines = [
        f"{label}: service judged {service.judgments:,} in {service.seconds:.1f} s; "
        f"{ours.per_minute:,.0f} requests/min answered = {share:.1%} of the limit "
        f"(target >= {scenario.share:.0%}); 429s {ours.refused} of {ours.requests:,} requests "
        f"= {refused:.2%} (target <= {scenario.refused:.0%}); CPU per judgment: API "
        f"{service.api_cpu_s / service.judgments * 1000:.2f} ms + workers "
        f"{service.workers_cpu_s / service.judgments * 1000:.2f} ms = {cpu_ms:.2f} ms"
        f"{f' (target <= {TARGET_CPU_MS} ms)' if scenario.cpu_checked else ''}; PostgreSQL "
        f"server {service.postgres_cpu_s / service.judgments * 1000:.2f} ms (every client's, "
        f"not counted): {verdict(passed)}"
    ]
    if args.skip_scripts or not scenario.configured:
        return lines
    prompts = the_prompts(judgments)
    sequential_s, sequential_calls, _ = script_seconds(scenario, prompts, threads=1)
    pool_s, pool_calls, pool_window = script_seconds(scenario, prompts, threads=THREADS)
    pool_share = pool_window.per_minute / scenario.rpm
    return [
        *lines,
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
    parser.add_argument(
        "--scenarios",
        default="abhn",
        help="which to run: a, b; h = (b) learning the limit from headers; n = with neither",
    )
    parser.add_argument("--workers", type=int, default=2, help="worker processes")
    parser.add_argument("--chunk", type=int, help="pairs per job (default: the service's)")
    parser.add_argument("--skip-scripts", action="store_true", help="the service alone")
    args = parser.parse_args()
    lines = []
    for name in args.scenarios:
        lines += report(SCENARIOS[name], args)
    print(
        f"machine: {os.cpu_count()} cores, load average {load_average()} at the end, "
        f"a 5M-step Python loop in {reference_loop_s():.2f} s of CPU; "
        f"{args.workers} worker processes, "
        f"{args.chunk or Settings.model_fields['chunk_size'].default} pairs per job"
    )
    print("\n".join(lines))


if __name__ == "__main__":
    main()
