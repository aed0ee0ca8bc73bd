"""`AsyncJudgeClient`: the same operations for asyncio code, from the same flows."""

import asyncio
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


class AsyncJudgeClient:
    """The asyncio twin of `JudgeClient`: same arguments, same behaviour, awaitable."""

    def __init__(
        self,
        base_url: str | None = None,
        api_key: str | None = None,
        *,
        timeout: float = 60.0,
        retries: int = 5,
        backoff: float = 0.5,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.config = ClientConfig.resolve(
            base_url, api_key, timeout=timeout, retries=retries, backoff=backoff
        )
        self._policy = RetryPolicy(retries, backoff)
        self._http = httpx.AsyncClient(
            base_url=self.config.base_url,
            headers=self.config.headers,
            timeout=timeout,
            transport=transport,
        )

    @property
    def base_url(self) -> str:
        return self.config.base_url

    def __repr__(self) -> str:
        return f"AsyncJudgeClient({self.base_url!r})"

    async def _run(self, flow: Flow[T]) -> T:
        value: Any = None
        error: BaseException | None = None
        while True:
            finished, step = advance(flow, value, error)
            if finished:
                return step
            value, error = None, None
            try:
                value = await self._perform(step)
            except BaseException as exc:  # thrown into the flow, which may handle it
                error = exc

    async def _perform(self, step: Step) -> Any:
        if isinstance(step, Sleep):
            await asyncio.sleep(step.seconds)
            return None
        return await self._policy.asynchronous(step)(self._send, step)

    async def _send(self, call: Call) -> Any:
        try:
            if call.download is not None:
                return await self._download(call, call.download)
            response = await self._http.request(call.method, call.path, **request_kwargs(call))
        except httpx.TransportError as exc:
            raise connection_error(call, self.base_url, exc) from exc
        return decode(call, response)

    async def _download(self, call: Call, path: Path) -> Path:
        partial = path.with_name(path.name + ".part")
        async with self._http.stream(call.method, call.path, **request_kwargs(call)) as response:
            if not response.is_success:
                await response.aread()
                raise error_from_response(call, response)
            with partial.open("wb") as f:
                async for chunk in response.aiter_bytes():
                    f.write(chunk)
        partial.replace(path)
        return path

    async def judges(self) -> list[Judge]:
        return await self._run(_flows.judges())

    async def runs(self) -> list["AsyncRun"]:
        return [AsyncRun(self, info) for info in await self._run(_flows.runs())]

    async def run(self, run_id: int) -> "AsyncRun":
        return AsyncRun(self, await self._run(_flows.get_run(run_id)))

    async def find_run(self, name: str) -> "AsyncRun | None":
        info = await self._run(_flows.find_run(name))
        return None if info is None else AsyncRun(self, info)

    async def create_run(
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
    ) -> "AsyncRun":
        options = _flows.RunOptions(mode, cache, budget_usd, stop_when)
        flow = _flows.create_run(name, baseline, candidate, judges, swap, rubric, options)
        return AsyncRun(self, await self._run(flow))

    async def upload(
        self,
        run: "AsyncRun | int",
        data: Any,
        *,
        columns: Mapping[str, str] | None = None,
        chunk_size: int = _flows.DEFAULT_CHUNK_SIZE,
        progress: bool = False,
    ) -> UploadResult:
        from judge_service.client._inputs import load_pairs

        info = await self._run(_flows.get_run(run if isinstance(run, int) else run.id))
        prepared = load_pairs(data, columns, baseline=info.baseline, candidate=info.candidate)
        return await self._run(_flows.upload(info, prepared, chunk_size, progress))

    async def compare(
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
    ) -> "AsyncRun":
        """See `JudgeClient.compare`: the same flow, awaited."""
        info, result = await self._run(
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
        return AsyncRun(self, info, upload=result)

    async def stats(self, run_id: int, *, by: str | None = None, axis: str | None = None) -> Stats:
        return await self._run(_flows.stats(run_id, by, axis))

    async def plan(
        self,
        half_width: float,
        *,
        confidence: float | None = None,
        expected_win_rate: float | None = None,
        tie_share: float | None = None,
        judge_error: float | None = None,
        pilot_run: "AsyncRun | int | None" = None,
        judges: Sequence[str] | None = None,
        swap: bool | None = None,
        pairs_available: int | None = None,
        mean_prompt_tokens: float | None = None,
        mean_output_tokens: float | None = None,
    ) -> Plan:
        """See `JudgeClient.plan`."""
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
        return await self._run(_flows.plan(half_width, options))

    async def label_queue(
        self,
        run: "AsyncRun | int",
        n: int = 10,
        strategy: str = "active",
        annotator: str | None = None,
    ) -> list[int]:
        """See `JudgeClient.label_queue`."""
        run_id = run if isinstance(run, int) else run.id
        return await self._run(_flows.label_queue(run_id, n, strategy, annotator))

    async def label(self, pair_id: int, label: str, annotator: str | None = None) -> HumanLabel:
        """See `JudgeClient.label`."""
        return await self._run(_flows.label(pair_id, label, annotator))

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()


class AsyncRun(RunFields):
    """The asyncio twin of `Run`."""

    def __init__(
        self, client: AsyncJudgeClient, info: RunInfo, upload: UploadResult | None = None
    ) -> None:
        self.client = client
        self.info = info
        self.upload = upload

    async def refresh(self) -> Self:
        self.info = await self.client._run(_flows.get_run(self.id))
        return self

    async def wait(
        self, progress: bool = True, timeout: float | None = None, poll_interval: float = 1.0
    ) -> Self:
        self.info = await self.client._run(_flows.wait(self.id, progress, timeout, poll_interval))
        return self

    async def stats(self, by: str | None = None, axis: str | None = None) -> Stats:
        return await self.client._run(_flows.stats(self.id, by, axis))

    async def estimate(self) -> Estimate:
        return await self.client._run(_flows.estimate(self.id))

    async def retry_failed(self, reason: str | None = None) -> Self:
        self.info = await self.client._run(_flows.retry_failed(self.id, reason))
        return self

    async def judgments(self) -> "pd.DataFrame":
        return await self.client._run(_flows.judgments_frame(self.id))

    async def pairs(self) -> "pd.DataFrame":
        return await self.client._run(_flows.pairs_frame(self.id))

    async def export(
        self, path: str | Path, format: str | None = None, what: str = "judgments"
    ) -> Path:
        return await self.client._run(_flows.export(self.id, path, format, what))
