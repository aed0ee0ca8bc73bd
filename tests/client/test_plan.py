"""`client.plan(...)`, sync and async, and `judge-service plan`: the API's plan, as it is."""

import asyncio
import json

import pytest

from judge_service.client import AsyncJudgeClient, JudgeClient, JudgeServiceError, Plan
from judge_service.tables import count, usd
from tests.conftest import Stack, create_run
from tests.test_cli import cli

BODY = {
    "half_width": 0.04,
    "expected_win_rate": 0.65,
    "tie_share": 0.3,
    "judge_error": 0.08,
    "judges": ["sim"],
    "mean_prompt_tokens": 1200,
}


def test_plan_is_the_api_one_sync_and_async(priced_stack: Stack) -> None:
    url = str(priced_stack.api.base_url)
    body = priced_stack.api.post("/v1/plan", json=BODY).raise_for_status().json()
    options = {key: value for key, value in BODY.items() if key != "half_width"}
    run_id = create_run(priced_stack.api, ["sim"])["id"]
    with JudgeClient(url, backoff=0.01) as client:
        planned = client.plan(0.04, **options)
        with pytest.raises(JudgeServiceError) as both:
            client.plan(0.04, expected_win_rate=0.65, pilot_run=run_id)
        with pytest.raises(JudgeServiceError) as unfinished:  # a run handle names its id
            client.plan(0.04, pilot_run=client.run(run_id))
    assert isinstance(planned, Plan) and planned.raw == body
    assert (planned.pairs, planned.judge_calls, planned.labels) == (
        body["pairs"],
        body["judge_calls"],
        body["labels"],
    )
    assert (planned.input_tokens, planned.output_tokens) == (
        body["tokens"]["input"],
        body["tokens"]["output"],
    )
    assert planned.cost_usd == body["cost_usd"] and planned.cost_usd > 0
    assert str(planned) == body["summary"]
    assert both.value.status_code == 422 and both.value.field == "expected_win_rate"
    assert unfinished.value.field == "pilot_run_id"
    assert f"run {run_id} is pending: plan from a finished run" in str(unfinished.value)

    async def plan_async() -> Plan:
        async with AsyncJudgeClient(url, backoff=0.01) as client:
            return await client.plan(0.04, **options)

    awaited = asyncio.run(plan_async())
    assert awaited == planned and awaited.raw == body
    assert priced_stack.judge_calls() == 0  # planned, not judged


def test_the_plan_command(priced_stack: Stack) -> None:
    env = {"JUDGE_URL": str(priced_stack.api.base_url), "COLUMNS": "200"}
    args = ["plan", "--half-width", "0.04", "--win-rate", "0.65", "--tie-share", "0.3"]
    args += ["--judge-error", "0.08", "--judge", "sim", "--prompt-tokens", "1200"]
    body = priced_stack.api.post("/v1/plan", json=BODY).json()
    as_json = cli(*args, "--json", env=env)
    assert as_json.returncode == 0, as_json.stderr
    assert json.loads(as_json.stdout) == body
    plain = cli(*args, env=env)
    assert plain.returncode == 0, plain.stderr
    tokens = body["tokens"]
    assert plain.stdout.splitlines() == [
        body["summary"],
        f"judge-only: {count(body['pairs'])} pairs, {count(body['judge_calls'])} judge calls",
        f"cost: {count(tokens['input'])} input and {count(tokens['output'])} output tokens, "
        f"{usd(body['cost_usd'])}",
        f"calibrated: {count(body['labels'])} labels on {count(body['labels_pairs'])} pairs",
        "assumed: win rate 0.650, ties and inconsistent 0.300, judge error 0.080 (given)",
    ]
    refused = cli("plan", "--half-width", "0.04", "--judge", "nope", "--win-rate", "0.6", env=env)
    assert refused.returncode == 1 and "unknown judge 'nope'" in refused.stderr
