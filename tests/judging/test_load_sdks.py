"""The worker loads what the SDKs import lazily, so a forked work horse's first call imports none.

RQ forks a work horse per job: anything imported in it is imported again by the next job.
The check runs in a fresh interpreter, as a worker starts; this process has imported it all.
"""

import asyncio
import json
import ssl
import subprocess
import sys
from typing import Any

from judge_service.config import JudgeConfig
from judge_service.judging.providers import load_sdks, make_provider, verifying_context
from judge_service.judging.rate_headers import StatusResponse
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
SDK_PACKAGES = (
    *("openai", "anthropic", "httpx", "httpx2", "httpcore", "httpcore2", "h11", "anyio"),
    *("aiohttp", "aiohappyeyeballs", "multidict", "yarl"),
)


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


def test_every_live_client_verifies_tls_with_the_one_context_made_before_the_fork(
    judges: dict[str, dict[str, Any]],
) -> None:
    """Each client loading the CA bundle again cost ~17 ms per judge per job."""
    load_sdks()
    made_before = verifying_context()

    async def ignore(_response: StatusResponse) -> None:
        return None

    async def transports_contexts() -> list[ssl.SSLContext]:
        contexts = []
        for judge in judges.values():
            provider = make_provider(JudgeConfig.model_validate(judge), ignore)
            # The SDK's HTTP client, then its transport (the aiohttp one).
            contexts.append(provider._client._client._transport.ssl_context)  # type: ignore[attr-defined]
            await provider.aclose()
        return contexts

    contexts = asyncio.run(transports_contexts())
    assert {judge["provider"] for judge in judges.values()} == {"openai", "anthropic"}
    assert all(context is made_before for context in contexts)
    assert made_before.verify_mode is ssl.CERT_REQUIRED and made_before.check_hostname
