"""The worker loads what the SDKs import lazily, so a forked work horse's first call imports none.

RQ forks a work horse per job: anything imported in it is imported again by the next job.
The check runs in a fresh interpreter, as a worker starts; this process has imported it all.
"""

import json
import subprocess
import sys
from typing import Any

from tests.conftest import REPO

FIRST_CALLS = """
import asyncio, json, sys
from judge_service.config import JudgeConfig
from judge_service.judging.prompt import render_prompt
from judge_service.judging.providers import JudgeCall, load_sdks, make_provider

if sys.argv[2] == "load":
    load_sdks()
judges = [JudgeConfig.model_validate(j) for j in json.loads(sys.argv[1]).values()]
before = set(sys.modules)

async def ignore(response) -> None:
    return None

async def call_each() -> None:
    for judge in judges:
        provider = make_provider(judge, ignore)
        prompt = render_prompt("Which?", "a", "Final answer: a", "Final answer: b")
        await provider.complete(JudgeCall(prompt))
        await provider.aclose()

asyncio.run(call_each())
print(json.dumps(sorted(set(sys.modules) - before)))
"""
# The SDKs, their HTTP stacks and the async library under them.
SDK_PACKAGES = ("openai", "anthropic", "httpx", "httpx2", "httpcore", "httpcore2", "h11", "anyio")


def imported_by_first_calls(judges: dict[str, dict[str, Any]], mode: str) -> set[str]:
    result = subprocess.run(
        [sys.executable, "-c", FIRST_CALLS, json.dumps(judges), mode],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    modules = json.loads(result.stdout)
    return {name for name in modules if name.split(".")[0] in SDK_PACKAGES}


def test_after_load_sdks_the_first_calls_import_nothing_of_the_sdks(
    judges: dict[str, dict[str, Any]],
) -> None:
    assert imported_by_first_calls(judges, "cold")  # what a horse would import on every job
    assert imported_by_first_calls(judges, "load") == set()
