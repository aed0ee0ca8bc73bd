"""Never pay twice, and never past a budget: real SDKs, a real worker, the simulated provider.

Provider calls are counted by the simulator itself (`requests`), so "no call" means no
request reached a provider, not that the service says so.
"""

import time
from typing import Any

import httpx
import pytest

from judge_service.client import JudgeClient
from judge_service.config import JudgeConfig
from judge_service.demo.sample import sample_pairs
from tests.api.test_auth import client, new_key
from tests.conftest import StackFactory, create_run, simulator_stats, wait_until_done
from tests.e2e.test_judging import judge, judges_of, records

pytestmark = pytest.mark.slow

# Large prices, so each call costs cents to dollars and the budget arithmetic is visible.
PRICES = {"input_usd_per_mtok": 1000.0, "output_usd_per_mtok": 4000.0}


def judge_pairs(api: httpx.Client, pairs: list[dict[str, Any]], **run: Any) -> dict[str, Any]:
    created = create_run(api, ["oa", "an"], **run)
    accepted = api.post(f"/v1/runs/{created['id']}/pairs", json={"pairs": pairs})
    assert accepted.json()["accepted"] == len(pairs)
    return wait_until_done(api, created["id"])


def verdicts(api: httpx.Client, run_id: int) -> dict[tuple[str, str, str], str]:
    return {(r["external_id"], r["judge"], r["order"]): r["verdict"] for r in records(api, run_id)}


def test_a_repeated_run_is_answered_from_the_cache_within_its_project_only(
    stack_factory: StackFactory,
) -> None:
    priced = judges_of(
        oa=lambda u: judge(u, "openai", **PRICES), an=lambda u: judge(u, "anthropic", **PRICES)
    )
    stack = stack_factory(judges=priced, auth="required")
    url = str(stack.api.base_url)
    team_a = client(url, new_key(stack.settings.database_url, "team-a"))
    team_b = client(url, new_key(stack.settings.database_url, "team-b"))
    stack.start_worker()
    pairs = sample_pairs(4)
    expected = 4 * 2 * 2  # pairs x judges x orders

    first = judge_pairs(team_a, pairs)
    calls = stack.judge_calls()
    assert calls >= expected
    originals = {r["id"]: r for r in records(team_a, first["id"])}
    for r in originals.values():
        config = stack.settings.all_judges[r["judge"]]
        assert r["cached_from_id"] is None and r["input_tokens"] > 0
        # Stored at write time, by the price formula.
        assert r["cost_usd"] == pytest.approx(
            config.cost_usd(r["input_tokens"], r["output_tokens"], r["cached_input_tokens"] or 0)
        )
    assert first["spent_usd"] == pytest.approx(sum(r["cost_usd"] for r in originals.values()))

    again = judge_pairs(team_a, pairs)
    assert stack.judge_calls() == calls  # not one provider request
    copies = records(team_a, again["id"])
    assert len(copies) == expected
    for r in copies:
        assert (r["status"], r["input_tokens"], r["output_tokens"], r["cost_usd"]) == (
            "done",
            0,
            0,
            0.0,
        )
        assert r["cached_from_id"] in originals
    assert again["spent_usd"] == 0.0
    assert verdicts(team_a, again["id"]) == verdicts(team_a, first["id"])

    uncached = judge_pairs(team_a, pairs, cache=False)
    assert uncached["cache"] is False
    assert stack.judge_calls() >= calls + expected
    assert all(r["cached_from_id"] is None for r in records(team_a, uncached["id"]))

    calls = stack.judge_calls()
    other = judge_pairs(team_b, pairs)  # the same pairs in another project: judged afresh
    assert stack.judge_calls() >= calls + expected
    assert all(r["cached_from_id"] is None for r in records(team_b, other["id"]))
    assert other["spent_usd"] > 0

    # Another project's run is a 404 on the new routes.
    assert team_b.patch(f"/v1/runs/{first['id']}", json={"budget_usd": 5}).status_code == 404
    assert team_b.post(f"/v1/runs/{first['id']}/estimate").status_code == 404


def wait_for_status(api: httpx.Client, run_id: int, status: str, timeout: float = 120) -> Any:
    deadline = time.monotonic() + timeout
    while (run := api.get(f"/v1/runs/{run_id}").raise_for_status().json())["status"] != status:
        assert time.monotonic() < deadline, f"run {run_id} never {status}: {run}"
        time.sleep(0.1)
    return run


def test_a_budget_stops_dispatch_and_raising_it_resumes_the_run(
    stack_factory: StackFactory,
) -> None:
    # Input-priced only: each call costs at least its system prompt (~400 tokens: $0.40).
    prices = {"input_usd_per_mtok": 1000.0, "output_usd_per_mtok": 0.0}
    stack = stack_factory(judges=judges_of(oa=lambda u: judge(u, "openai", **prices)), chunk_size=1)
    pairs = sample_pairs(8)
    budget = 2.0
    run = create_run(stack.api, ["oa"], budget_usd=budget)
    stack.api.post(f"/v1/runs/{run['id']}/pairs", json={"pairs": pairs}).raise_for_status()
    stack.start_worker()

    stopped = wait_for_status(stack.api, run["id"], "budget_exhausted")
    with JudgeClient(str(stack.api.base_url)) as notebook:
        waited = notebook.run(run["id"]).wait(progress=False, timeout=30)
    assert waited.status == "budget_exhausted"  # the client stops waiting too
    assert stopped["spent_usd"] >= budget
    judged = [r for r in records(stack.api, run["id"]) if r["status"] == "done"]
    assert 0 < len(judged) < 16
    cheapest = min(r["cost_usd"] for r in judged)
    # Claims stop once spend reaches the budget: what was spent before the last claim is
    # under it, and that claim held one pair's two orders (chunk_size 1) in flight.
    in_flight = 2
    assert len(judged) <= budget / cheapest + in_flight
    assert stack.judge_calls() == len(judged)  # structured replies: no follow-up calls

    resumed = stack.api.patch(f"/v1/runs/{run['id']}", json={"budget_usd": 1000.0})
    assert resumed.status_code == 200, resumed.text
    done = wait_until_done(stack.api, run["id"])
    assert done["counts"]["judgments_done"] == 16
    assert stack.judge_calls() == 16  # each judgment called once, before and after the stop


def test_the_estimate_predicts_tokens_and_cost_without_calling(
    stack_factory: StackFactory,
) -> None:
    stack = stack_factory(judges=judges_of(oa=lambda u: judge(u, "openai", **PRICES)))
    config: JudgeConfig = stack.settings.all_judges["oa"]
    pairs = sample_pairs(5)
    run = create_run(stack.api, ["oa"])
    stack.api.post(f"/v1/runs/{run['id']}/pairs", json={"pairs": pairs}).raise_for_status()
    before = stack.api.post(f"/v1/runs/{run['id']}/estimate").raise_for_status().json()
    assert stack.judge_calls() == 0
    assert (before["judgments"], before["cache_hits"]) == (10, 0)
    assert before["output_tokens"] == 10 * config.max_tokens  # no finished call to learn from
    assert before["cost_usd"] == pytest.approx(
        config.cost_usd(before["input_tokens"], before["output_tokens"])
    )

    stack.start_worker()
    wait_until_done(stack.api, run["id"])
    got = records(stack.api, run["id"])
    actual_in = sum(r["input_tokens"] for r in got)
    # Within 2%: both count characters / 4 of the same prompts (boundary codes differ).
    assert before["input_tokens"] == pytest.approx(actual_in, rel=0.02)
    assert before["output_tokens"] >= sum(r["output_tokens"] for r in got)
    after = stack.api.post(f"/v1/runs/{run['id']}/estimate").json()
    assert (after["judgments"], after["input_tokens"], after["cost_usd"]) == (0, 0, 0.0)

    # The same pairs again: every judgment would come from the cache, for nothing.
    repeat = create_run(stack.api, ["oa"])
    for worker in stack.workers:
        worker.stop()
    stack.api.post(f"/v1/runs/{repeat['id']}/pairs", json={"pairs": pairs}).raise_for_status()
    cached = stack.api.post(f"/v1/runs/{repeat['id']}/estimate").json()
    assert (cached["judgments"], cached["cache_hits"], cached["input_tokens"]) == (10, 10, 0)
    assert cached["cost_usd"] == 0.0


def test_prompt_cache_reads_are_recorded_and_priced_for_both_sdks(
    stack_factory: StackFactory,
) -> None:
    """The simulator serves a repeated system prompt from its (simulated) prompt cache."""
    prices = {**PRICES, "cached_input_usd_per_mtok": 100.0}
    stack = stack_factory(
        judges=judges_of(
            oa=lambda u: judge(u, "openai", **prices), an=lambda u: judge(u, "anthropic", **prices)
        )
    )
    stack.start_worker()
    run = judge_pairs(stack.api, sample_pairs(6))
    got = records(stack.api, run["id"])
    assert all(r["status"] == "done" for r in got)
    read = [r for r in got if r["cached_input_tokens"]]
    # Every call after the first with the same system prompt (per judge) read it from cache.
    assert {r["judge"] for r in read} == {"oa", "an"}
    assert len(read) >= len(got) - 2 * 2  # at most two system prompts (reference or not)
    stats = simulator_stats(stack.simulator)
    assert sum(r["cached_input_tokens"] or 0 for r in got) == stats["cached_prompt_tokens"]
    for r in got:
        assert (r["cached_input_tokens"] or 0) < r["input_tokens"]
        config = stack.settings.all_judges[r["judge"]]
        assert r["cost_usd"] == pytest.approx(
            config.cost_usd(r["input_tokens"], r["output_tokens"], r["cached_input_tokens"] or 0)
        )
    # Anthropic reports cache reads and writes apart from input_tokens; stored, they are
    # summed back, so both judges record the same prompt size for the same prompt.
    prompt = {(r["external_id"], r["order"], r["judge"]): r["input_tokens"] for r in got}
    for (external_id, order, name), tokens in prompt.items():
        if name == "oa":
            assert prompt[external_id, order, "an"] == tokens
