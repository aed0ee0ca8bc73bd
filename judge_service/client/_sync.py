"""`JudgeClient`: the blocking client, for notebooks and scripts."""

import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self, TypeVar

import httpx

from judge_service.client import _flows
from judge_service.client._http import (
    Call,
    ClientConfig,
    Flow,
    RetryPolicy,
    Sleep,
    Step,
    advance,
    connection_error,
    decode,
    error_from_response,
    request_kwargs,
)
from judge_service.client._results import (
    Estimate,
    HumanLabel,
    Judge,
    Plan,
    RunFields,
    RunInfo,
    Stats,
    UploadResult,
)

if TYPE_CHECKING:
    import pandas as pd

T = TypeVar("T")


class JudgeClient:
    """Talks to a judge-service API.

    `base_url` defaults to `JUDGE_URL`, then http://127.0.0.1:8000; `api_key`
    to `JUDGE_API_KEY` (sent as a bearer token). Connection failures, 429 and
    5xx are retried `retries` times with exponential backoff from `backoff`
    seconds; a 4xx never is. `transport` is handed to httpx (proxies, mTLS).
    """

    def __init__(
        self,
        base_url: str | None = None,
        api_key: str | None = None,
        *,
        timeout: float = 60.0,
        retries: int = 5,
        backoff: float = 0.5,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.config = ClientConfig.resolve(
            base_url, api_key, timeout=timeout, retries=retries, backoff=backoff
        )
        self._policy = RetryPolicy(retries, backoff)
        self._http = httpx.Client(
            base_url=self.config.base_url,
            headers=self.config.headers,
            timeout=timeout,
            transport=transport,
        )

    @property
    def base_url(self) -> str:
        return self.config.base_url

    def __repr__(self) -> str:
        return f"JudgeClient({self.base_url!r})"

    # -- driving flows -------------------------------------------------------

    def _run(self, flow: Flow[T]) -> T:
        value: Any = None
        error: BaseException | None = None
        while True:
            finished, step = advance(flow, value, error)
            if finished:
                return step
            value, error = None, None
            try:
                value = self._perform(step)
            except BaseException as exc:  # thrown into the flow, which may handle it
                error = exc

    def _perform(self, step: Step) -> Any:
        if isinstance(step, Sleep):
            time.sleep(step.seconds)
            return None
        return self._policy.sync(step)(self._send, step)

    def _send(self, call: Call) -> Any:
        try:
            if call.download is not None:
                return self._download(call, call.download)
            response = self._http.request(call.method, call.path, **request_kwargs(call))
        except httpx.TransportError as exc:
            raise connection_error(call, self.base_url, exc) from exc
        return decode(call, response)

    def _download(self, call: Call, path: Path) -> Path:
        partial = path.with_name(path.name + ".part")
        with self._http.stream(call.method, call.path, **request_kwargs(call)) as response:
            if not response.is_success:
                response.read()
                raise error_from_response(call, response)
            with partial.open("wb") as f:
                for chunk in response.iter_bytes():
                    f.write(chunk)
        partial.replace(path)
        return path

    # -- the API -------------------------------------------------------------

    def judges(self) -> list[Judge]:
        """The judges the operator configured (names and models)."""
        return self._run(_flows.judges())

    def runs(self) -> list["Run"]:
        """Every run, newest first."""
        return [Run(self, info) for info in self._run(_flows.runs())]

    def run(self, run_id: int) -> "Run":
        return Run(self, self._run(_flows.get_run(run_id)))

    def find_run(self, name: str) -> "Run | None":
        """The newest run with exactly this name."""
        info = self._run(_flows.find_run(name))
        return None if info is None else Run(self, info)

    def create_run(
        self,
        name: str,
        *,
        baseline: str,
        candidate: str,
        judges: Sequence[str],
        swap: bool = True,
        rubric: str | None = None,
        mode: str | None = None,
        cache: bool | None = None,
        budget_usd: float | None = None,
        stop_when: Mapping[str, Any] | None = None,
    ) -> "Run":
        """A new, empty run; a setting left None (`rubric`, `mode`, `cache`, `budget_usd`,
        `stop_when`) takes the server's default. `stop_when={"excludes": 0.5}` or
        `{"half_width": 0.03}` stops judging once the run is decided (docs/statistics.md)."""
        options = _flows.RunOptions(mode, cache, budget_usd, stop_when)
        flow = _flows.create_run(name, baseline, candidate, judges, swap, rubric, options)
        return Run(self, self._run(flow))

    def upload(
        self,
        run: "Run | int",
        data: Any,
        *,
        columns: Mapping[str, str] | None = None,
        chunk_size: int = _flows.DEFAULT_CHUNK_SIZE,
        progress: bool = False,
    ) -> UploadResult:
        """Add pairs to a run, sending only those it does not hold yet."""
        from judge_service.client._inputs import load_pairs

        info = self._run(_flows.get_run(run if isinstance(run, int) else run.id))
        prepared = load_pairs(data, columns, baseline=info.baseline, candidate=info.candidate)
        return self._run(_flows.upload(info, prepared, chunk_size, progress))

    def compare(
        self,
        data: Any,
        *,
        baseline: str = "base",
        candidate: str = "tuned",
        judges: Sequence[str] | str,
        rubric: str | None = None,
        columns: Mapping[str, str] | None = None,
        name: str | None = None,
        swap: bool = True,
        wait: bool = True,
        progress: bool = True,
        chunk_size: int = _flows.DEFAULT_CHUNK_SIZE,
        timeout: float | None = None,
        mode: str | None = None,
        cache: bool | None = None,
        budget_usd: float | None = None,
        stop_when: Mapping[str, Any] | None = None,
    ) -> "Run":
        """Create (or reuse) a run, upload the pairs it lacks, and wait for the verdicts.

        `data` is a pandas DataFrame, a list of dicts, or a .jsonl/.csv/.parquet
        path. Calling again with the same `name` (or, without a name, the same
        data and judges) resumes: only missing pairs are sent. The run's
        `upload` attribute says what this call sent. `mode`, `cache`, `budget_usd` and
        `stop_when` apply to a run created here, as in `create_run`.
        """
        info, result = self._run(
            _flows.compare(
                data,
                baseline=baseline,
                candidate=candidate,
                judges=[judges] if isinstance(judges, str) else list(judges),
                rubric=rubric,
                columns=columns,
                name=name,
                swap=swap,
                wait_done=wait,
                progress=progress,
                chunk_size=chunk_size,
                timeout=timeout,
                options=_flows.RunOptions(mode, cache, budget_usd, stop_when),
            )
        )
        return Run(self, info, upload=result)

    def stats(self, run_id: int, *, by: str | None = None, axis: str | None = None) -> Stats:
        return self._run(_flows.stats(run_id, by, axis))

    def plan(
        self,
        half_width: float,
        *,
        confidence: float | None = None,
        expected_win_rate: float | None = None,
        tie_share: float | None = None,
        judge_error: float | None = None,
        pilot_run: "Run | int | None" = None,
        judges: Sequence[str] | None = None,
        swap: bool | None = None,
        pairs_available: int | None = None,
        mean_prompt_tokens: float | None = None,
        mean_output_tokens: float | None = None,
    ) -> Plan:
        """Pairs, judge calls, cost and human labels for an interval of ±`half_width` on the
        win rate, from an expected win rate or a finished `pilot_run`'s figures; an option
        left None takes the server's default (docs/statistics.md, "Planning")."""
        options = {
            "confidence": confidence,
            "expected_win_rate": expected_win_rate,
            "tie_share": tie_share,
            "judge_error": judge_error,
            "pilot_run_id": pilot_run if isinstance(pilot_run, int | None) else pilot_run.id,
            "judges": None if judges is None else list(judges),
            "swap": swap,
            "pairs_available": pairs_available,
            "mean_prompt_tokens": mean_prompt_tokens,
            "mean_output_tokens": mean_output_tokens,
        }
        return self._run(_flows.plan(half_width, options))

    def label_queue(
        self,
        run: "Run | int",
        n: int = 10,
        strategy: str = "active",
        annotator: str | None = None,
    ) -> list[int]:
        """The next `n` pair ids for a person to label, drawn by the run's label queue.

        Label them in this order with `label()`: only queue labels correct the judge in the
        calibrated win rate. `strategy`: "active" favours pairs the judges were unsure of,
        "uniform" draws every pair alike. `annotator`: who labels; with an API key, the
        key's annotator (leave it None), on an open server required.
        """
        run_id = run if isinstance(run, int) else run.id
        return self._run(_flows.label_queue(run_id, n, strategy, annotator))

    def label(self, pair_id: int, label: str, annotator: str | None = None) -> HumanLabel:
        """Record a person's preference on a pair ("baseline", "candidate" or "tie"),
        replacing this annotator's earlier label on it."""
        return self._run(_flows.label(pair_id, label, annotator))

    # -- lifecycle -----------------------------------------------------------

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class Run(RunFields):
    """A handle on one run: its last known state, and what you can ask of it."""

    def __init__(
        self, client: JudgeClient, info: RunInfo, upload: UploadResult | None = None
    ) -> None:
        self.client = client
        self.info = info
        self.upload = upload

    def refresh(self) -> Self:
        self.info = self.client._run(_flows.get_run(self.id))
        return self

    def wait(
        self, progress: bool = True, timeout: float | None = None, poll_interval: float = 1.0
    ) -> Self:
        """Block until every judgment is done or failed (or the budget is spent); Ctrl-C stops
        waiting, not the run."""
        self.info = self.client._run(_flows.wait(self.id, progress, timeout, poll_interval))
        return self

    def stats(self, by: str | None = None, axis: str | None = None) -> Stats:
        """The run's figures; `by` and `axis` are passed to the API as they are."""
        return self.client._run(_flows.stats(self.id, by, axis))

    def estimate(self) -> Estimate:
        """Tokens and cost of judging what is left of the run, predicted without a judge call:
        what the run will take before it is queued, or before its budget is raised."""
        return self.client._run(_flows.estimate(self.id))

    def retry_failed(self, reason: str | None = None) -> Self:
        """Queue the run's failed judge calls again (only those failed with `reason`, if given).

        `wait()` afterwards follows them; `info.counts.failed_by_reason` says what failed.
        """
        self.info = self.client._run(_flows.retry_failed(self.id, reason))
        return self

    def judgments(self) -> "pd.DataFrame":
        """One row per judge call, as `GET /v1/runs/{id}/judgments` exports them."""
        return self.client._run(_flows.judgments_frame(self.id))

    def pairs(self) -> "pd.DataFrame":
        """One row per pair: `panel`, `judge.<name>` outcomes and `meta.<key>` metadata."""
        return self.client._run(_flows.pairs_frame(self.id))

    def export(self, path: str | Path, format: str | None = None, what: str = "judgments") -> Path:
        """Write judgments (or `what="pairs"`) to .parquet, .csv or .jsonl."""
        return self.client._run(_flows.export(self.id, path, format, what))
