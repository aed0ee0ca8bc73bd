"""The client against the real API: errors, retries, results as DataFrames, reuse, async."""

import _thread
import asyncio
import json
import subprocess
import sys
import threading
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from judge_service.client import (
    AsyncJudgeClient,
    Estimate,
    JudgeClient,
    JudgeConnectionError,
    JudgeServiceError,
    RunMismatchError,
    Stats,
)
from judge_service.demo.sample import sample_pairs
from tests.client.conftest import FaultyProxy, unique
from tests.conftest import REPO, Stack

JUDGES = ["sim", "sim-anthropic"]


def _via(proxy: FaultyProxy, retries: int = 3) -> JudgeClient:
    return JudgeClient(proxy.url, retries=retries, backoff=0.01)


# -- errors and retries --------------------------------------------------------


def test_422_carries_field_and_message_and_is_not_retried(proxy: FaultyProxy) -> None:
    with _via(proxy) as client:
        with pytest.raises(JudgeServiceError) as caught:
            client.create_run("x", baseline="b", candidate="c", judges=["sim", "gpt-99"])
        error = caught.value
        assert error.status_code == 422
        assert error.loc == ("body", "judges", 1) and error.field == "judges.1"
        assert "unknown judge 'gpt-99'" in error.message
        assert "judges.1: unknown judge 'gpt-99'" in str(error)
        assert proxy.count("POST /v1/runs ") == 1  # a 4xx is never repeated

        with pytest.raises(JudgeServiceError) as missing:
            client.run(987654321)
        assert missing.value.status_code == 404 and "987654321" in missing.value.message
        assert proxy.count("GET /v1/runs/987654321 ") == 1


def test_a_refused_pair_is_named_by_its_external_id(proxy: FaultyProxy) -> None:
    pairs = sample_pairs(5)
    pairs[3]["question"] = "x" * 60_000  # over the API's limit
    with _via(proxy) as client:
        run = client.create_run(unique("bad pair"), baseline="b", candidate="c", judges=["sim"])
        with pytest.raises(JudgeServiceError) as caught:
            client.upload(run, pairs, chunk_size=2)
    error = caught.value
    assert error.status_code == 422 and error.field == "pairs.1.question"
    assert error.external_id == "med-0004"
    assert "med-0004" in str(error)
    assert proxy.uploads == 2  # the first chunk went in; the refused one was sent once


def test_5xx_and_429_are_retried(proxy: FaultyProxy) -> None:
    proxy.canned = [503, 500, 429]
    with _via(proxy) as client:
        judges = client.judges()
    assert {judge.name for judge in judges} == set(JUDGES)
    assert proxy.count("GET /v1/judges ") == 4


def test_dropped_connections_are_retried_then_reported(proxy: FaultyProxy) -> None:
    proxy.drop_next = 2
    with _via(proxy) as client:
        assert len(client.judges()) == 2
        assert proxy.count("GET /v1/judges ") == 3

        proxy.down = True
        with pytest.raises(JudgeConnectionError) as caught:
            client.judges()
    assert proxy.count("GET /v1/judges ") == 3 + 4  # the first try and three retries
    assert caught.value.status_code is None
    assert proxy.url in str(caught.value)


def test_creating_a_run_is_repeated_only_when_it_cannot_have_happened(
    proxy: FaultyProxy, stack: Stack
) -> None:
    name = unique("create once")
    with _via(proxy) as client:
        proxy.canned = [500]  # the server may have created it: do not risk a second run
        with pytest.raises(JudgeServiceError) as caught:
            client.create_run(name, baseline="b", candidate="c", judges=["sim"])
        assert caught.value.status_code == 500
        assert proxy.count("POST /v1/runs ") == 1

        proxy.canned = [503]  # refused before acting: safe to repeat
        run = client.create_run(name, baseline="b", candidate="c", judges=["sim"])
        assert proxy.count("POST /v1/runs ") == 3
    named = [r for r in stack.api.get("/v1/runs").json() if r["name"] == name]
    assert [r["id"] for r in named] == [run.id]


def _run_body(proxy: FaultyProxy) -> dict[str, Any]:
    """The body of the last run-create request the proxy saw."""
    _, body = [item for item in proxy.bodies if item[0].startswith("POST /v1/runs ")][-1]
    return json.loads(body)


def test_rubric_is_sent_only_when_given(proxy: FaultyProxy, stack: Stack) -> None:
    def sent() -> dict[str, Any]:
        return _run_body(proxy)

    with _via(proxy) as client:
        run = client.create_run(unique("rubric"), baseline="b", candidate="c", judges=["sim"])
        assert "rubric" not in sent()
        default = stack.api.get(f"/v1/runs/{run.id}").json()["rubric"]
        assert run.info["rubric"] == default  # the server's default

        with pytest.raises(JudgeServiceError) as caught:
            client.compare(sample_pairs(1), judges="sim", rubric="no-such-rubric", wait=False)
        assert sent()["rubric"] == "no-such-rubric"
        assert caught.value.status_code == 422 and caught.value.field == "rubric"


def test_run_options_are_sent_only_when_given(proxy: FaultyProxy, stack: Stack) -> None:
    def sent() -> dict[str, Any]:
        return _run_body(proxy)

    with _via(proxy) as client:
        plain = client.create_run(unique("plain"), baseline="b", candidate="c", judges=["sim"])
        assert not {"mode", "cache", "budget_usd"} & set(sent())
        assert (plain.info["mode"], plain.info["cache"]) == ("live", True)
        fresh = client.create_run(
            unique("fresh"), baseline="b", candidate="c", judges=["sim"], cache=False, mode="live"
        )
        assert (sent()["cache"], sent()["mode"], fresh.info["cache"]) == (False, "live", False)
        with pytest.raises(JudgeServiceError) as caught:
            # The session's judges have no prices: a budget could not be kept.
            client.compare(sample_pairs(1), judges="sim", budget_usd=2.5, wait=False)
        assert sent()["budget_usd"] == 2.5
        assert caught.value.status_code == 422 and caught.value.field == "budget_usd"


# -- results -------------------------------------------------------------------


def _plain(value: Any) -> Any:
    """A frame cell as the JSON value it came from."""
    if value is pd.NA or value is None or (isinstance(value, float) and pd.isna(value)):
        return None
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    if hasattr(value, "item"):
        return value.item()
    return value


def _json_value(key: str, value: Any) -> Any:
    if key in ("created_at", "finished_at") and value is not None:
        return datetime.fromisoformat(value)
    return value


def test_stats_judgments_and_pairs_frames_match_the_api(
    stack: Stack, client: JudgeClient, tmp_path: Path
) -> None:
    stack.start_worker()
    run = client.compare(
        sample_pairs(24), judges=JUDGES, name=unique("frames"), chunk_size=10, progress=False
    )
    assert run.status == "done" and run.upload is not None and run.upload.requests == 3
    api = stack.api

    stats = run.stats()
    body = api.get(f"/v1/runs/{run.id}/stats").json()
    assert isinstance(stats, Stats) and stats.raw == body
    assert (stats.n, stats.win_rate, list(stats.win_rate_ci or ())) == (
        body["n"],
        body["win_rate"],
        body["win_rate_ci"],
    )
    assert stats["missing_reasons"] == body["missing_reasons"]  # fields newer than the types
    frame = stats.to_frame()
    assert list(frame.index) == [*JUDGES, "panel"]
    for name, figures in [*body["per_judge"].items(), ("panel", body["panel"])]:
        row = frame.loc[name]
        for key in ("n", "wins", "losses", "ties", "inconsistent", "missing", "win_rate"):
            assert _plain(row[key]) == figures[key], (name, key)
        assert [row["win_rate_ci_low"], row["win_rate_ci_high"]] == figures["win_rate_ci"]
        assert _plain(row["order_level_wins"]) == figures["order_level"]["wins"]
        assert _plain(row["sign_test_p"]) == figures["sign_test_p"]
    assert stats.headline() in repr(stats) and "sim-anthropic" in repr(stats)
    assert "Bias diagnostics" in repr(stats)
    with pytest.raises(ValueError, match="by=key"):
        stats.strata_frame()
    by_modality = run.stats(by="modality")
    strata = by_modality.strata_frame()
    body_strata = by_modality.raw["by_stratum"]
    assert set(strata.index.get_level_values("stratum")) == set(body_strata)
    for name, stratum in body_strata.items():
        assert _plain(strata.loc[(name, "panel"), "wins"]) == stratum["panel"]["wins"]
        for judge in JUDGES:
            assert _plain(strata.loc[(name, judge), "n"]) == stratum["per_judge"][judge]["n"]
    assert f"{100 * body['win_rate']:.1f}%" in stats._repr_html_()

    records = [
        json.loads(line)
        for line in api.get(f"/v1/runs/{run.id}/judgments?format=jsonl").text.splitlines()
    ]
    judgments = run.judgments()
    assert len(judgments) == len(records) == 24 * 2 * 2
    assert list(judgments.columns) == list(records[0])
    assert str(judgments["created_at"].dtype).startswith("datetime64")
    for row, record in zip(judgments.to_dict(orient="records"), records, strict=True):
        assert {k: _plain(v) for k, v in row.items()} == {
            k: _json_value(k, v) for k, v in record.items()
        }

    items = api.get(f"/v1/runs/{run.id}/pairs").json()["items"]
    pairs = run.pairs()
    assert list(pairs["external_id"]) == [item["external_id"] for item in items]
    assert list(pairs["panel"]) == [item["panel"] for item in items]
    for judge in JUDGES:
        assert list(pairs[f"judge.{judge}"]) == [item["per_judge"][judge] for item in items]
    assert list(pairs["meta.modality"]) == [item["metadata"]["modality"] for item in items]
    assert pairs["panel"].value_counts().get("candidate", 0) == body["wins"]

    parquet = run.export(tmp_path / "judgments.parquet")
    assert pd.read_parquet(parquet)["id"].tolist() == judgments["id"].tolist()
    jsonl = run.export(tmp_path / "judgments.jsonl")
    assert jsonl.read_text() == api.get(f"/v1/runs/{run.id}/judgments?format=jsonl").text
    csv = run.export(tmp_path / "out.txt", format="csv")
    assert len(pd.read_csv(csv)) == len(records)
    pairs_csv = run.export(tmp_path / "pairs.csv", what="pairs")
    assert pd.read_csv(pairs_csv)["external_id"].tolist() == list(pairs["external_id"])


def test_same_name_reuses_the_run_and_refuses_a_different_comparison(
    stack: Stack, client: JudgeClient
) -> None:
    name = unique("reuse")
    first = client.compare(sample_pairs(12), judges=JUDGES, name=name, wait=False, progress=False)
    again = client.compare(sample_pairs(15), judges=JUDGES[::-1], name=name, wait=False)
    assert again.id == first.id
    assert again.upload is not None
    assert (again.upload.already_present, again.upload.accepted, again.upload.requests) == (
        12,
        3,
        1,
    )
    assert again.counts.pairs == 15

    with pytest.raises(RunMismatchError) as caught:
        client.compare(sample_pairs(15), candidate="other", judges=JUDGES, name=name, wait=False)
    assert caught.value.field == "name"
    assert "candidate is 'tuned', not 'other'" in str(caught.value)
    assert [r["id"] for r in stack.api.get("/v1/runs").json() if r["name"] == name] == [first.id]

    # Without a name, the same data and judges find the same run again.
    data = sample_pairs(20)[15:]
    unnamed = client.compare(data, judges=["sim"], wait=False, progress=False)
    assert unnamed.name.startswith("tuned vs base [")
    assert client.compare(data, judges=["sim"], wait=False).id == unnamed.id
    assert client.find_run(unnamed.name) is not None
    assert client.compare(data[:4], judges=["sim"], wait=False).id != unnamed.id


def test_ctrl_c_stops_waiting_not_the_run(stack: Stack, client: JudgeClient) -> None:
    run = client.compare(sample_pairs(6), judges=["sim"], name=unique("ctrl-c"), wait=False)
    with pytest.raises(TimeoutError, match="not finished after"):
        run.wait(progress=False, timeout=0.3, poll_interval=0.05)

    timer = threading.Timer(0.5, _thread.interrupt_main)  # what Ctrl-C does to the main thread
    timer.start()
    try:
        returned = run.wait(progress=True, poll_interval=0.05)  # no worker yet: it would hang
    finally:
        timer.cancel()
    assert returned is run and run.status == "pending"

    stack.start_worker()
    assert run.wait(progress=False, timeout=60, poll_interval=0.1).status == "done"
    assert run.counts.judgments_done == 12


def test_async_client_runs_the_same_path(stack: Stack, tmp_path: Path) -> None:
    stack.start_worker()
    name = unique("async")

    async def main() -> None:
        async with AsyncJudgeClient(str(stack.api.base_url), backoff=0.01) as client:
            assert {judge.name for judge in await client.judges()} == set(JUDGES)
            run = await client.compare(
                sample_pairs(10), judges=JUDGES, name=name, chunk_size=4, progress=False
            )
            assert run.status == "done" and run.upload is not None
            assert (run.upload.accepted, run.upload.requests) == (10, 3)
            again = await client.compare(sample_pairs(12), judges=JUDGES, name=name)
            assert again.id == run.id and again.upload is not None
            assert (again.upload.already_present, again.upload.accepted) == (10, 2)

            stats = await again.stats()
            assert stats.raw == stack.api.get(f"/v1/runs/{run.id}/stats").json()
            assert len(await again.judgments()) == 12 * 2 * 2
            assert list((await again.pairs())["external_id"]) == [
                p["external_id"] for p in sample_pairs(12)
            ]
            exported = await again.export(tmp_path / "j.jsonl")
            assert exported.read_text() == (
                stack.api.get(f"/v1/runs/{run.id}/judgments?format=jsonl").text
            )
            with pytest.raises(JudgeServiceError) as caught:
                await client.create_run("x", baseline="b", candidate="c", judges=["nope"])
            assert caught.value.field == "judges.0"
            assert run.id in [r.id for r in await client.runs()]

    asyncio.run(main())


def test_estimate_is_the_api_one_sync_and_async(priced_stack: Stack) -> None:
    url = str(priced_stack.api.base_url)
    with JudgeClient(url, backoff=0.01) as client:
        run = client.compare(
            sample_pairs(3), judges=JUDGES, name=unique("estimate"), wait=False, progress=False
        )
        body = priced_stack.api.post(f"/v1/runs/{run.id}/estimate").json()
        predicted = run.estimate()
    assert isinstance(predicted, Estimate) and predicted.raw == body
    # Every field typed, with the API's values (not read through `raw`).
    fields = ("judgments", "cache_hits", "input_tokens", "output_tokens", "cost_usd", "spent_usd")
    assert {name: predicted.__dict__[name] for name in fields} == {
        name: body[name] for name in fields
    }
    assert predicted.judgments == 3 * 2 * 2 and predicted.input_tokens > 0
    assert predicted.cost_usd is not None and predicted.cost_usd > 0

    async def estimate_async() -> Estimate:
        async with AsyncJudgeClient(url, backoff=0.01) as client:
            return await (await client.run(run.id)).estimate()

    awaited = asyncio.run(estimate_async())
    assert awaited == predicted and awaited.raw == body
    assert priced_stack.judge_calls() == 0  # predicted, not judged


def test_importing_the_client_does_not_import_pandas() -> None:
    code = (
        "import sys, judge_service.client as c; "
        "c.JudgeClient('http://127.0.0.1:1'); "
        "print(sorted(m for m in ('pandas', 'numpy', 'pyarrow') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
