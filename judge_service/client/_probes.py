"""Probing a run as one flow (`judge-service probe`): create the probe runs, wait for each,
read the probe table (docs/probes.md)."""

from collections.abc import Sequence
from typing import Any

from judge_service.client import _flows
from judge_service.client._http import Call, Flow


def probe_run(
    run_id: int,
    kinds: Sequence[str],
    sample: int | None = None,
    seed: int | None = None,
    progress: bool = True,
    timeout: float | None = None,
) -> Flow[dict[str, Any]]:
    """`GET /v1/runs/{id}/probes` once the probe runs of `kinds` made now are judged."""
    body: dict[str, Any] = {"probes": list(kinds)}
    if sample is not None:
        body["sample"] = sample
    if seed is not None:
        body["seed"] = seed
    created = yield Call("POST", f"/v1/runs/{run_id}/probes", json=body, idempotent=False)
    for run in created["runs"]:
        yield from _flows.wait(int(run["id"]), progress, timeout)
    table: dict[str, Any] = yield Call("GET", f"/v1/runs/{run_id}/probes")
    return table
