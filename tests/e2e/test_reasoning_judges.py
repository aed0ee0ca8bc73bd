"""A run with reasoning judges, end to end: real SDKs, a real worker, the simulated provider.

A GPT-5-style judge, an Anthropic judge with extended thinking (keeping its thinking text)
and a reasoning judge whose cap its reasoning fills: what each is sent, what is stored per
judgment (reasoning tokens, the serving backend, thinking), what it costs, and how the
capped one fails; then the estimate of a run whose judge's cap is now below what its calls
used warns.
"""

from collections import Counter

import httpx
import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from judge_service.db.models import Judgment, Run
from judge_service.demo.sample import sample_pairs
from judge_service.simulate.reasoning import EFFORT_TOKENS
from tests.conftest import StackFactory, create_run, wait_until_done
from tests.e2e.test_judging import judge, judges_of, records

pytestmark = pytest.mark.slow

PRICES = {"input_usd_per_mtok": 1000.0, "output_usd_per_mtok": 4000.0}
PAIRS = 10  # 20 done calls per judge: enough for the estimate to check a cap against


REASONING_JUDGES = judges_of(
    gpt5=lambda u: {
        **judge(u, "openai", reasoning_effort="low", max_tokens=4000, **PRICES),
        "model": "gpt-5-mini",
    },
    claude=lambda u: judge(
        u, "anthropic", thinking_budget_tokens=1024, max_tokens=4096, keep_thinking=True, **PRICES
    ),
    capped=lambda u: {
        **judge(u, "openai", reasoning_effort="high", max_tokens=500),
        "model": "o4-mini",
    },
)


def test_a_run_with_reasoning_judges_stores_and_costs_their_reasoning(
    stack_factory: StackFactory,
) -> None:
    stack = stack_factory(judges=REASONING_JUDGES)
    created = create_run(stack.api, ["gpt5", "claude", "capped"])
    pairs = sample_pairs(PAIRS)
    accepted = stack.api.post(f"/v1/runs/{created['id']}/pairs", json={"pairs": pairs})
    assert accepted.json()["accepted"] == PAIRS
    stack.start_worker()
    run = wait_until_done(stack.api, created["id"])

    got = records(stack.api, run["id"])
    by_judge = Counter((r["judge"], r["status"], r["error_kind"]) for r in got)
    assert by_judge == {
        ("gpt5", "done", None): 2 * PAIRS,
        ("claude", "done", None): 2 * PAIRS,
        # Reasoning filled the cap: a failure of its own kind, not a bad verdict.
        ("capped", "failed", "truncated"): 2 * PAIRS,
    }
    configs = stack.settings.all_judges
    for r in got:
        if r["judge"] != "capped":
            priced = configs[r["judge"]].cost_usd(
                r["input_tokens"], r["output_tokens"], r["cached_input_tokens"] or 0
            )
            assert r["cost_usd"] == pytest.approx(priced)
    assert run["spent_usd"] == pytest.approx(sum(r["cost_usd"] or 0.0 for r in got))

    engine = create_engine(stack.settings.database_url)
    with Session(engine) as session:
        stored = session.scalars(select(Judgment).where(Judgment.run_id == run["id"])).all()
        snapshot = session.get_one(Run, run["id"]).judge_configs
    engine.dispose()
    for j in stored:
        if j.judge == "gpt5":
            # Priced once: the reasoning tokens are a part of the output tokens.
            assert j.reasoning_tokens == EFFORT_TOKENS["low"] < (j.output_tokens or 0)
            assert (j.judge_model, j.system_fingerprint) == ("gpt-5-mini", "simulated-judge")
            assert j.thinking is None
        elif j.judge == "claude":
            assert j.thinking is not None and j.thinking.startswith("Simulated thinking")
            assert (j.output_tokens or 0) > 1024 and j.reasoning_tokens is None
        else:
            assert j.reasoning_tokens is not None and j.reasoning_tokens > 0
    # The run's record names the temperature never sent as the provider's default.
    assert {name: snapshot[name]["temperature"] for name in snapshot} == {
        "gpt5": "provider default",
        "claude": "provider default",
        "capped": "provider default",
    }
    assert snapshot["gpt5"]["reasoning_effort"] == "low"
    assert snapshot["claude"]["thinking_budget_tokens"] == 1024

    sent = httpx.get(f"{stack.simulator.url}/simulator/requests").raise_for_status().json()
    gpt5_sent = [body for body in sent if body["model"] == "gpt-5-mini"]
    claude_sent = [body for body in sent if body["model"] == "simulated-judge"]
    assert gpt5_sent and claude_sent
    for body in gpt5_sent:
        assert body["max_completion_tokens"] == 4000 and body["reasoning_effort"] == "low"
        assert "temperature" not in body and "max_tokens" not in body
    for body in claude_sent:
        assert body["thinking"] == {"type": "enabled", "budget_tokens": 1024}
        assert body["tool_choice"] == {"type": "auto"}

    # The same judge name with a cap below what its calls used: the estimate warns of it,
    # and of no other judge (the Anthropic one keeps its cap).
    smaller = judges_of(
        gpt5=lambda u: {
            **judge(u, "openai", reasoning_effort="low", max_tokens=150),
            "model": "gpt-5-mini",
        },
        claude=lambda u: REASONING_JUDGES(u)["claude"],
    )
    later = stack_factory(judges=smaller)  # the same database, so the same project
    again = create_run(later.api, ["gpt5", "claude"])
    later.api.post(f"/v1/runs/{again['id']}/pairs", json={"pairs": pairs}).raise_for_status()
    estimate = later.api.post(f"/v1/runs/{again['id']}/estimate").raise_for_status().json()
    (warning,) = estimate["warnings"]
    assert "'gpt5'" in warning and "max_tokens 150" in warning and "truncated" in warning
