"""Every client operation, written once for the sync and the async client.

A flow yields `Call` (an HTTP request) and `Sleep` steps and gets back the
decoded body; a failed step is thrown into it. See `_http` for the drivers'
contract. Keeping the logic here means `JudgeClient.compare` and
`AsyncJudgeClient.compare` cannot drift apart.
"""

import hashlib
import json
import sys
import time
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from judge_service.client import _frames
from judge_service.client._http import Call, Flow, Sleep
from judge_service.client._inputs import PreparedPairs, chunk_bodies, encode_pair, load_pairs
from judge_service.client._results import (
    Estimate,
    HumanLabel,
    Judge,
    Plan,
    RunInfo,
    Stats,
    UploadResult,
)
from judge_service.client.errors import JudgeServiceError, RunMismatchError

DEFAULT_CHUNK_SIZE = 10_000  # the API's limit per request
MAX_REQUEST_BYTES = 64 * 1024 * 1024  # the server refuses larger bodies by default (413)
PAGE_SIZE = 1000  # GET /v1/runs/{id}/pairs maximum
MAX_NAME = 200


def _bar(**kwargs: Any) -> Any:
    """tqdm's auto bar: a widget in Jupyter (with ipywidgets), text in a terminal."""
    with warnings.catch_warnings():
        # Without ipywidgets tqdm falls back to text by itself; its warning is noise.
        warnings.simplefilter("ignore")
        from tqdm.auto import tqdm
    return tqdm(**kwargs)


def judges() -> Flow[list[Judge]]:
    body = yield Call("GET", "/v1/judges")
    return [Judge.from_dict(item) for item in body]


def runs() -> Flow[list[RunInfo]]:
    body = yield Call("GET", "/v1/runs")
    return [RunInfo.from_dict(item) for item in body]


def get_run(run_id: int) -> Flow[RunInfo]:
    body = yield Call("GET", f"/v1/runs/{run_id}")
    return RunInfo.from_dict(body)


@dataclass(frozen=True)
class RunOptions:
    """How a new run is judged; each left None takes the server's default.

    `mode`: "live" or "batch"; `cache`: False to call the judges even for pairs already
    judged identically in the project; `budget_usd`: stop spending at this much;
    `stop_when`: stop once decided, e.g. `{"excludes": 0.5}` (sent as given: the server
    checks it and answers a bad one with a 422).
    """

    mode: str | None = None
    cache: bool | None = None
    budget_usd: float | None = None
    stop_when: Mapping[str, Any] | None = None

    def body(self) -> dict[str, Any]:
        return {key: value for key, value in asdict(self).items() if value is not None}


def create_run(
    name: str,
    baseline: str,
    candidate: str,
    judges: Sequence[str],
    swap: bool = True,
    rubric: str | None = None,
    options: RunOptions = RunOptions(),
) -> Flow[RunInfo]:
    body: dict[str, Any] = {
        "name": name,
        "baseline": baseline,
        "candidate": candidate,
        "judges": list(judges),
        "swap": swap,
        **options.body(),
    }
    if rubric is not None:  # only when asked for: otherwise the server's default rubric
        body["rubric"] = rubric
    created = yield Call("POST", "/v1/runs", json=body, idempotent=False)
    return RunInfo.from_dict(created)


def find_run(name: str) -> Flow[RunInfo | None]:
    """The newest run with this exact name, if any."""
    listed = yield from runs()
    return next((run for run in listed if run.name == name), None)


def _differences(
    run: RunInfo,
    baseline: str,
    candidate: str,
    judges: Sequence[str],
    swap: bool,
    rubric: str | None,
) -> list[str]:
    asked: dict[str, Any] = {
        "baseline": (run.baseline, baseline),
        "candidate": (run.candidate, candidate),
        "judges": (sorted(run.judges), sorted(judges)),
        "swap": (run.swap, swap),
    }
    if rubric is not None and "rubric" in run.raw:
        asked["rubric"] = (run.raw["rubric"], rubric)
    return [
        f"{key} is {have!r}, not {want!r}" for key, (have, want) in asked.items() if have != want
    ]


def find_or_create_run(
    name: str,
    baseline: str,
    candidate: str,
    judges: Sequence[str],
    swap: bool,
    rubric: str | None,
    options: RunOptions = RunOptions(),
) -> Flow[RunInfo]:
    """Reuse the run with this name when it compares the same thing, else create it.

    `options` apply to a run created here; a reused run keeps its own.
    """
    existing = yield from find_run(name)
    if existing is None:
        return (yield from create_run(name, baseline, candidate, judges, swap, rubric, options))
    differences = _differences(existing, baseline, candidate, judges, swap, rubric)
    if differences:
        raise RunMismatchError(
            f"run {existing.id} is already named {name!r} but its "
            + "; its ".join(differences)
            + ". Pick another name, or compare what that run compares.",
            loc=("name",),
        )
    return existing


def pair_results(run_id: int) -> Flow[list[dict[str, Any]]]:
    """Every pair of the run with its outcomes, page by page."""
    items: list[dict[str, Any]] = []
    after: int | None = 0
    while after is not None:
        page = yield Call(
            "GET", f"/v1/runs/{run_id}/pairs", params={"after_id": after, "limit": PAGE_SIZE}
        )
        items.extend(page["items"])
        after = page.get("next_after_id")
    return items


def upload(
    run: RunInfo,
    prepared: PreparedPairs,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    progress: bool = False,
    max_request_bytes: int = MAX_REQUEST_BYTES,
) -> Flow[UploadResult]:
    """Send the pairs the run lacks, `chunk_size` per request.

    Resumable: what the run already holds (from an earlier, interrupted call)
    is listed first and not sent again. A chunk retried after a dropped
    connection is harmless too: the server skips external_ids it has.
    """
    if not 1 <= chunk_size <= DEFAULT_CHUNK_SIZE:
        raise ValueError(f"chunk_size must be between 1 and {DEFAULT_CHUNK_SIZE}")
    present: set[str] = set()
    if run.counts.pairs:
        present = {item["external_id"] for item in (yield from pair_results(run.id))}
    todo = [pair for pair in prepared.pairs if pair["external_id"] not in present]
    chunks = chunk_bodies([encode_pair(pair) for pair in todo], chunk_size, max_request_bytes)
    accepted = duplicates = requests = 0
    bar = _bar(
        total=len(todo),
        desc=f"uploading to run {run.id}",
        unit="pair",
        disable=not progress or len(chunks) < 2,
    )
    try:
        for start, end, body in chunks:
            try:
                answer = yield Call("POST", f"/v1/runs/{run.id}/pairs", content=body)
            except JudgeServiceError as exc:
                _name_the_pair(exc, todo[start:end])
                raise
            accepted += answer["accepted"]
            duplicates += answer["duplicates"]
            requests += 1
            bar.update(end - start)
    finally:
        bar.close()
    return UploadResult(
        pairs=len(prepared.pairs),
        already_present=len(prepared.pairs) - len(todo),
        accepted=accepted,
        duplicates=duplicates,
        requests=requests,
        dropped_duplicates=prepared.dropped_duplicates,
    )


def _name_the_pair(exc: JudgeServiceError, chunk: Sequence[Mapping[str, Any]]) -> None:
    """A 422 says `pairs.3.question`; the researcher wants to know which of their pairs."""
    loc = exc.loc
    index = loc[2] if len(loc) >= 3 and loc[:2] == ("body", "pairs") else None
    if isinstance(index, int) and 0 <= index < len(chunk):
        exc.external_id = str(chunk[index]["external_id"])


def wait(
    run_id: int,
    progress: bool = True,
    timeout: float | None = None,
    poll_interval: float = 1.0,
) -> Flow[RunInfo]:
    """Poll until every judgment is done or failed, or the run has spent its budget.

    Ctrl-C (KeyboardInterrupt) stops the waiting and returns the last
    snapshot: the run itself goes on on the server.
    """
    deadline = None if timeout is None else time.monotonic() + timeout
    run = yield from get_run(run_id)
    bar = _bar(
        total=run.counts.judgments_expected,
        desc=f"run {run_id}",
        unit="judgment",
        disable=not progress,
    )
    delay = min(0.2, poll_interval)
    try:
        while True:
            bar.total = run.counts.judgments_expected
            bar.n = run.counts.judgments_finished
            # A dict keeps this order (keyword arguments would be sorted); it also refreshes.
            counts = run.counts
            postfix = {"judged": counts.judgments_done, "failed": counts.judgments_failed}
            if counts.judgments_skipped:
                postfix["skipped"] = counts.judgments_skipped
            bar.set_postfix(postfix)
            # A run that spent its budget stays as it is until someone raises the budget.
            if run.finished or run.status == "budget_exhausted":
                return run
            if deadline is not None and time.monotonic() >= deadline:
                raise TimeoutError(
                    f"run {run_id} not finished after {timeout} s: "
                    f"{run.counts.judgments_finished}/{run.counts.judgments_expected} judgments"
                )
            yield Sleep(delay)
            delay = min(poll_interval, delay * 2)
            run = yield from get_run(run_id)
    except KeyboardInterrupt:
        print(
            f"\nStopped waiting for run {run_id} "
            f"({run.counts.judgments_finished}/{run.counts.judgments_expected} judgments "
            "finished); it goes on on the server. Call run.wait() to follow it again.",
            file=sys.stderr,
        )
        return run
    finally:
        bar.close()


def default_name(
    baseline: str, candidate: str, judges: Sequence[str], prepared: PreparedPairs
) -> str:
    """A name that is the same whenever the same data goes to the same judges.

    So a `compare()` without `name=` that failed half-way finds its own run
    when called again instead of starting over.
    """
    digest = hashlib.sha256(
        json.dumps([baseline, candidate, sorted(judges), sorted(prepared.external_ids)]).encode()
    ).hexdigest()[:10]
    label = f"{candidate} vs {baseline}"
    return f"{label[: MAX_NAME - 13]} [{digest}]"


def compare(
    data: Any,
    *,
    baseline: str,
    candidate: str,
    judges: Sequence[str],
    rubric: str | None,
    columns: Mapping[str, str] | None,
    name: str | None,
    swap: bool,
    wait_done: bool,
    progress: bool,
    chunk_size: int,
    timeout: float | None,
    options: RunOptions = RunOptions(),
) -> Flow[tuple[RunInfo, UploadResult]]:
    """Load, find or create the run, upload what is missing, and (optionally) wait."""
    if not judges:
        raise ValueError("name at least one judge (see client.judges())")
    prepared = load_pairs(data, columns, baseline=baseline, candidate=candidate)
    if not prepared.pairs:
        raise ValueError("no pairs to compare: the input is empty")
    name = name or default_name(baseline, candidate, judges, prepared)
    run = yield from find_or_create_run(name, baseline, candidate, judges, swap, rubric, options)
    result = yield from upload(run, prepared, chunk_size, progress)
    if wait_done:
        run = yield from wait(run.id, progress=progress, timeout=timeout)
    else:
        run = yield from get_run(run.id)
    return run, result


def stats(run_id: int, by: str | None = None, axis: str | None = None) -> Flow[Stats]:
    body = yield Call("GET", f"/v1/runs/{run_id}/stats", params={"by": by, "axis": axis})
    return Stats.from_dict(body)


def estimate(run_id: int) -> Flow[Estimate]:
    """The server's prediction for what is left of the run; it changes nothing, so a repeat
    after a dropped connection is harmless."""
    body = yield Call("POST", f"/v1/runs/{run_id}/estimate")
    return Estimate.from_dict(body)


def plan(half_width: float, options: Mapping[str, Any]) -> Flow[Plan]:
    """The server's plan; options left None take its defaults. It changes nothing, so a
    repeat after a dropped connection is harmless."""
    body = {"half_width": half_width, **{k: v for k, v in options.items() if v is not None}}
    answer = yield Call("POST", "/v1/plan", json=body)
    return Plan.from_dict(answer)


def label_queue(run_id: int, n: int, strategy: str, annotator: str | None) -> Flow[list[int]]:
    """The next pairs for this annotator to label. Pairs handed out and not labelled come
    back first, so a request repeated after a dropped connection draws nothing new."""
    body = yield Call(
        "GET",
        f"/v1/runs/{run_id}/label-queue",
        params={"n": n, "strategy": strategy, "annotator": annotator},
    )
    return [int(pair_id) for pair_id in body["pair_ids"]]


def label(pair_id: int, verdict: str, annotator: str | None) -> Flow[HumanLabel]:
    """A person's label on a pair; it replaces the same annotator's earlier one, so a repeat
    after a dropped connection is harmless."""
    body: dict[str, Any] = {"label": verdict}
    if annotator is not None:
        body["annotator"] = annotator
    stored = yield Call("POST", f"/v1/pairs/{pair_id}/human-labels", json=body)
    return HumanLabel.from_dict(stored)


def retry_failed(run_id: int, reason: str | None = None) -> Flow[RunInfo]:
    """Failed judge calls back to the queue; safe to repeat (a second call finds none)."""
    yield Call("POST", f"/v1/runs/{run_id}/retry-failed", params={"reason": reason})
    return (yield from get_run(run_id))


def judgment_records(run_id: int) -> Flow[list[dict[str, Any]]]:
    text = yield Call(
        "GET", f"/v1/runs/{run_id}/judgments", params={"format": "jsonl"}, expect="text"
    )
    return _frames.parse_jsonl(text)


def judgments_frame(run_id: int) -> Flow[Any]:
    return _frames.judgments_frame((yield from judgment_records(run_id)))


def pairs_frame(run_id: int) -> Flow[Any]:
    run = yield from get_run(run_id)
    return _frames.pairs_frame((yield from pair_results(run_id)), run.judges)


def export(
    run_id: int, path: str | Path, format: str | None = None, what: str = "judgments"
) -> Flow[Path]:
    """Write judgments (one row per judge call) or pairs to Parquet, CSV or JSONL.

    Judgments in CSV or JSONL stream straight from the server to the file;
    Parquet (and any pairs export) goes through a DataFrame.
    """
    path = Path(path)
    chosen = _frames.export_format(path, format)
    if what == "judgments":
        if chosen in ("csv", "jsonl"):
            yield Call(
                "GET",
                f"/v1/runs/{run_id}/judgments",
                params={"format": chosen},
                download=path,
            )
            return path
        frame = yield from judgments_frame(run_id)
    elif what == "pairs":
        frame = yield from pairs_frame(run_id)
    else:
        raise ValueError(f"what must be 'judgments' or 'pairs', not {what!r}")
    _frames.write_frame(frame, path, chosen)
    return path
