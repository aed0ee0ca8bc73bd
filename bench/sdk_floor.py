"""The CPU one judge call costs in the official SDK alone, against the same request sent by a
bare HTTP client: the floor under bench/throughput.py's CPU per judgment.

Everything runs against the SIMULATED judge provider (its own process, its CPU not counted).
In this process, one after the other, the same Chat Completions body (the service's own
`openai_body` for a demo pair) is sent N times with C in flight:
  - sdk: `AsyncOpenAI(http_client=DefaultAioHttpClient()).post(...)`, as the worker sends it
    (judging/providers.py), one attempt, no retries;
  - aiohttp: the same bytes through a bare `aiohttp.ClientSession`.
Figures: CPU ms per call (this process's `time.process_time`), and each as a multiple of
bench/throughput.py's target for a whole judgment (API, workers and database writes
included). When the SDK alone is over that target, no tuning elsewhere meets it.

Run: `.venv/bin/python bench/sdk_floor.py` (`--calls 3000 --in-flight 50`).
"""

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable

import aiohttp
import httpx
import openai
from throughput import TARGET_CPU_MS, answers, wait_until

from judge_service.config import JudgeConfig
from judge_service.demo.sample import sample_pairs
from judge_service.judging.prompt import render_prompt
from judge_service.judging.providers import JudgeCall, openai_body

PORT = 18765


async def cpu_per_call_ms(
    call: Callable[[], Awaitable[object]], calls: int, in_flight: int
) -> float:
    """CPU ms per call of this process, after a warm-up that opens the connections."""
    gate = asyncio.Semaphore(in_flight)

    async def one() -> None:
        async with gate:
            await call()

    await asyncio.gather(*(one() for _ in range(in_flight * 2)))
    start = time.process_time()
    await asyncio.gather(*(one() for _ in range(calls)))
    return (time.process_time() - start) / calls * 1000


async def measure(
    url: str, body: dict[str, object], calls: int, in_flight: int
) -> dict[str, float]:
    sdk = openai.AsyncOpenAI(
        api_key="simulated",
        base_url=f"{url}/v1",
        max_retries=0,
        http_client=openai.DefaultAioHttpClient(),
    )
    data = json.dumps(body).encode()
    headers = {"authorization": "Bearer simulated", "content-type": "application/json"}
    async with aiohttp.ClientSession() as bare:

        async def bare_call() -> bytes:
            async with bare.post(f"{url}/v1/chat/completions", data=data, headers=headers) as r:
                return await r.read()

        figures = {
            "sdk": await cpu_per_call_ms(
                lambda: sdk.post("/chat/completions", cast_to=object, body=body), calls, in_flight
            ),
            "aiohttp": await cpu_per_call_ms(bare_call, calls, in_flight),
        }
    await sdk.close()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--in-flight", type=int, default=10)
    args = parser.parse_args()
    provider = subprocess.Popen(
        [sys.executable, "-m", "judge_service", "simulate", "--port", str(PORT)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{PORT}"
    try:
        wait_until(lambda: answers(f"{url}/healthz"), "the simulated provider")
        config = JudgeConfig(provider="openai", model="simulated-judge", api_key_env="HOME")
        pair = sample_pairs(1)[0]
        prompt = render_prompt(
            pair["question"],
            pair.get("reference_answer"),
            pair["baseline_trace"],
            pair["candidate_trace"],
        )
        body = openai_body(config, JudgeCall(prompt))
        figures = asyncio.run(measure(url, body, args.calls, args.in_flight))
        assert httpx.get(f"{url}/healthz").is_success
    finally:
        provider.terminate()
        provider.wait()
    print(
        f"SIMULATED provider; {args.calls} calls, {args.in_flight} in flight, "
        f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}"
    )
    for name, ms in figures.items():
        print(
            f"{name:8} {ms:.2f} ms CPU per call = {ms / TARGET_CPU_MS:.2f}x the {TARGET_CPU_MS} ms "
            "target for a whole judgment"
        )
    print(f"sdk / aiohttp: {figures['sdk'] / figures['aiohttp']:.2f}x")


if __name__ == "__main__":
    main()
