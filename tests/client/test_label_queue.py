"""`client.label_queue` and `client.label`, sync and async, against the real API on PostgreSQL.

The run's verdicts are written straight into the database (`tests/api/plans.py`), so the
queue has a finished run to sample without a worker.
"""

import asyncio

import pytest
from sqlalchemy import select

from judge_service.client import AsyncJudgeClient, HumanLabel, JudgeClient, JudgeServiceError, Run
from judge_service.db.engine import session_factory
from judge_service.db.models import LabelDraw
from judge_service.demo.sample import sample_pairs
from tests.api.plans import apply_plan, random_plan
from tests.client.conftest import unique
from tests.conftest import Stack

PAIRS = 40


def _judged_run(stack: Stack, client: JudgeClient) -> Run:
    run = client.create_run(unique("labels"), baseline="base", candidate="tuned", judges=["sim"])
    client.upload(run, sample_pairs(PAIRS))
    apply_plan(stack.settings.database_url, run.id, random_plan(PAIRS, seed=5, judges=("sim",)))
    return run.refresh()


def _strategies(stack: Stack, run_id: int, annotator: str) -> set[str]:
    with session_factory(stack.settings.database_url)() as session:
        rows = session.scalars(
            select(LabelDraw.strategy).where(
                LabelDraw.run_id == run_id, LabelDraw.annotator == annotator
            )
        )
        return {str(strategy) for strategy in rows}


def test_the_queue_hands_out_pairs_and_labels_count_as_queue_labels(
    stack: Stack, client: JudgeClient
) -> None:
    run = _judged_run(stack, client)
    handed = client.label_queue(run, n=10, annotator="dr-a")
    assert len(set(handed)) == 10 and all(isinstance(pair_id, int) for pair_id in handed)
    assert _strategies(stack, run.id, "dr-a") == {"active"}  # the default
    uniform = client.label_queue(run.id, n=5, strategy="uniform", annotator="dr-b")
    assert len(set(uniform)) == 5 and _strategies(stack, run.id, "dr-b") == {"uniform"}

    async def label_async() -> tuple[list[int], list[HumanLabel]]:
        async with AsyncJudgeClient(str(stack.api.base_url), backoff=0.01) as aclient:
            again = await aclient.label_queue(run.id, n=10, annotator="dr-a")
            labels = [await aclient.label(p, "candidate", annotator="dr-a") for p in handed[:5]]
            return again, labels

    # Handed out and not labelled: the same pairs come back first, in the same order.
    again, awaited = asyncio.run(label_async())
    assert again == handed
    labels = awaited + [client.label(p, "tie", annotator="dr-a") for p in handed[5:]]
    assert [label.pair_id for label in labels] == handed
    assert {(label.run_id, label.annotator, label.source) for label in labels} == {
        (run.id, "dr-a", "queue")
    }
    assert [label.label for label in labels] == ["candidate"] * 5 + ["tie"] * 5
    stored = stack.api.get(f"/v1/pairs/{handed[0]}/human-labels").json()
    assert stored == [awaited[0].raw]

    # Someone the queue handed nothing labels ad hoc; a second label replaces the first.
    assert client.label(handed[0], "baseline", annotator="dr-c").source == "ad_hoc"
    assert client.label(handed[0], "baseline", annotator="dr-a").label == "baseline"
    fresh = client.label_queue(run, n=10, annotator="dr-a")
    assert len(fresh) == 10 and not set(fresh) & set(handed)
    calibrated = run.stats()["calibrated"]
    assert calibrated["excluded_reasons"] == {"ad_hoc": 1}
    # dr-a's ten fresh pairs and dr-b's five wait (a pair drawn twice waits twice).
    assert calibrated["labels_used"] >= 10 and calibrated["draws_waiting"] >= 15


def test_queue_and_label_refusals_are_the_servers(stack: Stack, client: JudgeClient) -> None:
    pending = client.create_run(unique("pending"), baseline="b", candidate="c", judges=["sim"])
    client.upload(pending, sample_pairs(3))
    with pytest.raises(JudgeServiceError) as unfinished:
        client.label_queue(pending, annotator="dr-a")
    assert unfinished.value.status_code == 409
    assert "judge calls to make" in unfinished.value.message

    run = _judged_run(stack, client)
    pair_id = client.label_queue(run, n=1, annotator="dr-a")[0]
    for call, field in (
        (lambda: client.label_queue(run), "annotator"),  # an open server needs a name
        (lambda: client.label_queue(run, strategy="greedy", annotator="dr-a"), "strategy"),
        (lambda: client.label_queue(run, n=0, annotator="dr-a"), "n"),
        (lambda: client.label(pair_id, "candidate"), "annotator"),
        (lambda: client.label(pair_id, "maybe", annotator="dr-a"), "label"),
    ):
        with pytest.raises(JudgeServiceError) as refused:
            call()
        assert (refused.value.status_code, refused.value.field) == (422, field)
    with pytest.raises(JudgeServiceError) as missing:
        client.label(987654321, "tie", annotator="dr-a")
    assert missing.value.status_code == 404
