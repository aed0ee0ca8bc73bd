"""`judge-service demo`: the whole path on one machine, with SIMULATED judges.

Starts the simulated provider, the API and (when JUDGE_REDIS_URL is set) RQ
worker processes, submits the bundled synthetic sample over HTTP, follows the
run, has a SIMULATED annotator label pairs through the label queue, and prints
the figures, the calibrated one included; then it probes the run (each probe
re-judges a sample of its pairs with one change) and prints what moved the
judges. Nothing here is a real evaluation: the judges are the simulated
provider's transparent decision rule, the annotator another (`annotator.py`),
the images a synthetic placeholder.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import time
from contextlib import ExitStack
from typing import Any

import httpx
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.text import Text

from judge_service.app import create_app
from judge_service.background import BackgroundServer, free_port
from judge_service.client import JudgeClient
from judge_service.config import Settings
from judge_service.db import migrate
from judge_service.demo import annotator
from judge_service.demo.sample import sample_pairs
from judge_service.simulate.config import SimulatorConfig
from judge_service.simulate.server import create_app as create_simulator
from judge_service.tables import (
    breakdown_tables,
    ci_level,
    ci_range,
    headline,
    pct,
    probe_tables,
    report,
)

KEY_ENV = "JUDGE_SIMULATED_KEY"
RUBRIC = "reasoning-trace"
RUN_TIMEOUT_S = 600
LABELS = 120  # the simulated annotator's labels, at most one per pair
PROBE_SAMPLE = 40  # pairs each probe re-judges
PROBES = ["drop_images", "swap_answers", "pad_length", "shuffle_rationale"]
GROUNDED_JUDGE = "sim-openai"


def demo_judges(simulator_url: str) -> dict[str, dict[str, Any]]:
    """Three simulated vision judges: one per wire format and output mode, each biased
    differently. `GROUNDED_JUDGE` grounds its reading in the images (`image_grounded`); the
    other two are sent the images but never look at them, as the drop-images probe shows."""
    common = {"api_key_env": KEY_ENV, "vision": True}
    return {
        "sim-openai": {
            "provider": "openai",
            "model": "simulated-judge@image_grounded=true",
            "base_url": f"{simulator_url}/v1",
            **common,
        },
        "sim-anthropic": {
            "provider": "anthropic",
            "model": "simulated-judge@position_bias=0.25",
            "base_url": simulator_url,
            **common,
        },
        "sim-local": {
            "provider": "openai",
            "model": "simulated-judge@position_bias=0.1,seed=3",
            "base_url": f"{simulator_url}/v1",
            "structured": False,
            **common,
        },
    }


def _port(wanted: int) -> int:
    """The port asked for when it is free (a stable dashboard URL), else any free one."""
    if wanted:
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", wanted))
            except OSError:
                pass
            else:
                return wanted
    return free_port()


def _start_workers(count: int, stack: ExitStack) -> None:
    for index in range(count):
        worker = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "judge_service",
                "worker",
                "--name",
                f"demo-{os.getpid()}-{index}",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        stack.callback(_stop, worker)


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()


def _follow(client: httpx.Client, run_id: int, console: Console) -> dict[str, Any]:
    columns = (
        TextColumn("judging"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[failed]} failed"),
        TimeElapsedColumn(),
    )
    deadline = time.monotonic() + RUN_TIMEOUT_S
    with Progress(*columns, console=console) as progress:
        task = progress.add_task("judging", total=None, failed=0)
        while True:
            run = client.get(f"/v1/runs/{run_id}").raise_for_status().json()
            counts = run["counts"]
            finished = counts["judgments_done"] + counts["judgments_failed"]
            progress.update(
                task,
                total=counts["judgments_expected"],
                completed=finished,
                failed=counts["judgments_failed"],
            )
            if run["status"] == "done":
                return run
            if time.monotonic() > deadline:
                raise TimeoutError(f"run {run_id} not done after {RUN_TIMEOUT_S} s")
            time.sleep(0.25)


def _follow_probes(client: httpx.Client, runs: list[dict[str, Any]], console: Console) -> None:
    """Until every probe run is judged, with one progress bar over all their judge calls."""
    columns = (TextColumn("probing"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    deadline = time.monotonic() + RUN_TIMEOUT_S
    with Progress(*columns, console=console) as progress:
        task = progress.add_task("probing", total=None)
        while True:
            now = [client.get(f"/v1/runs/{run['id']}").raise_for_status().json() for run in runs]
            progress.update(
                task,
                total=sum(run["counts"]["judgments_expected"] for run in now),
                completed=sum(
                    run["counts"]["judgments_done"] + run["counts"]["judgments_failed"]
                    for run in now
                ),
            )
            if all(run["status"] == "done" for run in now):
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"probe runs not done after {RUN_TIMEOUT_S} s")
            time.sleep(0.25)


def _probe(client: httpx.Client, run_id: int, pairs: int, console: Console) -> None:
    """Probe the run with every kind over one sample, wait for the probes, print the table."""
    sample = min(PROBE_SAMPLE, pairs)
    console.print(
        f"[bold yellow]PROBES[/]: {', '.join(PROBES)} on {sample} pairs each, judged again by "
        f"the same SIMULATED judges; {GROUNDED_JUDGE} grounds its reading in the (synthetic "
        "placeholder) images, the others never look at them."
    )
    body = {"probes": PROBES, "sample": sample, "seed": 7}
    created = client.post(f"/v1/runs/{run_id}/probes", json=body).raise_for_status().json()
    _follow_probes(client, created["runs"], console)
    table = client.get(f"/v1/runs/{run_id}/probes").raise_for_status().json()
    # The overall verdict and the axis an image should ground; `judge-service probe` has all.
    for part in probe_tables(table, " [simulated judges]", axes=(None, "perception")):
        console.print(part)


def _pairs_by_id(
    client: httpx.Client, run_id: int, sample: list[dict[str, Any]]
) -> dict[int, dict[str, Any]]:
    """The run's pair ids, each with the sample pair it holds (the annotator reads the pair)."""
    by_external = {pair["external_id"]: pair for pair in sample}
    found: dict[int, dict[str, Any]] = {}
    after: int | None = 0
    while after is not None:
        page = client.get(f"/v1/runs/{run_id}/pairs", params={"after_id": after, "limit": 1000})
        page = page.raise_for_status().json()
        found.update({item["pair_id"]: by_external[item["external_id"]] for item in page["items"]})
        after = page["next_after_id"]
    return found


def _simulate_labels(
    api_url: str,
    http: httpx.Client,
    run_id: int,
    sample: list[dict[str, Any]],
    target: int,
    console: Console,
) -> int:
    """Through the client, as a labelling tool would: the queue's pairs, in its order.

    Returns how many pairs were labelled."""
    console.print(
        f"[bold yellow]SIMULATED ANNOTATOR[/]: {annotator.NAME!r} labels up to {target} pairs "
        "the label queue hands out (active strategy). A rule stands in for a person: the "
        "trace whose final answer matches the reference wins, both or neither is a tie, "
        f"{100 * annotator.ERROR_RATE:g}% of labels are wrong (seeded). No person labelled "
        "anything."
    )
    columns = (TextColumn("labelling"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    pairs = _pairs_by_id(http, run_id, sample)
    with JudgeClient(api_url) as client, Progress(*columns, console=console) as progress:
        task = progress.add_task("labelling", total=target)
        labelled = 0
        for labelled in annotator.label_through_queue(client, run_id, pairs, target):
            progress.update(task, completed=labelled)
    return labelled


def calibrated_line(stats: dict[str, Any], labelled: int) -> str:
    """The panel's calibrated win rate beside the judges', said to come from simulated labels."""
    level = ci_level(stats)
    judges = f"the judges' {pct(stats['win_rate'])} ({level} CI {ci_range(stats['win_rate_ci'])})"
    calibrated = stats["calibrated"]  # null only for a rubric axis
    source = (
        f"SIMULATED annotator, not people: {calibrated['labels_used']} labels from the label "
        f"queue on {labelled} pairs"
    )
    if calibrated["estimate"] is None:
        return f"Calibrated win rate ({source}): none yet, {calibrated['reason']}"
    return (
        f"Calibrated win rate ({source}): {pct(calibrated['estimate'])} "
        f"({level} CI {ci_range(calibrated['ci'])}) vs {judges}"
    )


def run_demo(
    pairs: int = 240, workers: int = 2, port: int = 8000, serve: bool = True, labels: int = LABELS
) -> int:
    """Judge the sample, label up to `labels` pairs by the simulated annotator, print the
    figures, then (with `serve`) keep the dashboard up."""
    console = Console()
    os.environ.setdefault(KEY_ENV, "simulated-not-a-secret")
    simulator_port = free_port()
    simulator_url = f"http://127.0.0.1:{simulator_port}"
    os.environ["JUDGE_JUDGES"] = json.dumps(demo_judges(simulator_url))
    settings = Settings()
    migrate.upgrade(settings.database_url)

    with ExitStack() as stack:
        config = SimulatorConfig(latency_mean_s=0.02, latency_jitter_s=0.01, seed=7)
        stack.enter_context(BackgroundServer(create_simulator(config), port=simulator_port))
        api = stack.enter_context(BackgroundServer(create_app(settings), port=_port(port)))
        if settings.redis_url:
            _start_workers(workers, stack)
        where = "RQ on " + settings.redis_url if settings.redis_url else "in-process executor"
        console.print(
            "[bold yellow]SIMULATED JUDGES[/]: the judge provider is judge-service's simulator, "
            "not a real model; these figures demonstrate the pipeline, not a real evaluation."
        )
        console.print(f"database: {settings.database_url}; jobs: {where}; API: {api.url}")

        client = stack.enter_context(httpx.Client(base_url=api.url, timeout=60))
        run = (
            client.post(
                "/v1/runs",
                json={
                    "name": "demo: synthetic medical VQA sample",
                    "baseline": "base",
                    "candidate": "tuned",
                    "judges": list(demo_judges(simulator_url)),
                    "swap": True,
                    "rubric": RUBRIC,
                    "scale": "5-level",
                },
            )
            .raise_for_status()
            .json()
        )
        sample = sample_pairs(pairs, images=True)
        accepted = client.post(f"/v1/runs/{run['id']}/pairs", json={"pairs": sample})
        accepted = accepted.raise_for_status().json()
        console.print(
            f"run {run['id']}: {accepted['accepted']} pairs accepted, "
            f"{accepted['duplicates']} duplicates, judged by {', '.join(run['judges'])} "
            f"in both orders on the {run['rubric']} rubric ({run['scale']} scale)"
        )
        _follow(client, run["id"], console)
        target = min(labels, accepted["accepted"])
        labelled = _simulate_labels(api.url, client, run["id"], sample, target, console)
        stats = client.get(f"/v1/runs/{run['id']}/stats", params={"by": "modality"})
        stats = stats.raise_for_status().json()
        # The sentence first, then the tables behind it.
        console.print(f"[bold]{headline(stats)}[/] [yellow](simulated judges)[/]")
        for part in report(stats):
            console.print(part)
        by_axis = {
            axis["name"]: client.get(f"/v1/runs/{run['id']}/stats", params={"axis": axis["name"]})
            .raise_for_status()
            .json()
            for axis in client.get(f"/v1/rubrics/{RUBRIC}").raise_for_status().json()["axes"]
        }
        for table in breakdown_tables("Per-axis win rates (panel)", "axis", by_axis):
            console.print(table)
        console.print(Text(calibrated_line(stats, labelled), style="bold"), soft_wrap=True)
        console.print(
            f"(the annotator's rule on all {len(sample)} pairs gives "
            f"{pct(annotator.rule_win_rate(sample))}: the figure the calibrated one estimates)"
        )
        if accepted["accepted"]:
            _probe(client, run["id"], accepted["accepted"], console)
        console.print(f"API docs: {api.url}/docs")
        console.print(f"[bold]Dashboard: {api.url}/runs/{run['id']}[/] (all runs: {api.url}/)")
        if serve:
            console.print("Serving the dashboard and the API; press Ctrl-C to stop.")
            _wait_for_stop()
            console.print("stopped")
    return 0


def _wait_for_stop() -> None:
    """Until Ctrl-C or SIGTERM; either way the ExitStack then stops servers and workers."""
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
