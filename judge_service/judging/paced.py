"""A judge's calls paced to what the provider allows: shared budget, concurrency, one retry layer.

Every attempt (the retries included) tells the job's adaptive concurrency the rate the
judge's shared budget allows, waits for that budget and any pause (`judging/rate_limits.py`),
then reports whether the provider refused it (`judging/concurrency.py`); refused or failed
attempts are retried by `judging/retries.py` alone. Each call and attempt reports when it
begins and ends, so the concurrency knows when a slot waits with no answer on its way.

A judge of several endpoints (`judging/endpoints.py`) sends each attempt to the one whose
budget lets it go soonest, and its slots follow the live endpoints' rates together. An
attempt whose endpoint is down (refused connection, timeout, 5xx) goes on at once to each
other live endpoint in turn, within the same attempt: a failover spends none of the call's
`max_retries`, which are for a call that fails everywhere. Only when no other endpoint is
live does the attempt fail, to be retried (or given up) as a judge of one endpoint's is.
"""

import time
from collections.abc import Callable

import anthropic
import openai

from judge_service.config import JudgeConfig
from judge_service.judging.concurrency import AdaptiveConcurrency
from judge_service.judging.endpoints import Endpoint, EndpointPool
from judge_service.judging.providers import JudgeCall, JudgeProvider, describe_error
from judge_service.judging.rate_headers import THROTTLED
from judge_service.judging.rate_limits import JudgeBudget
from judge_service.judging.replies import JudgeReply
from judge_service.judging.retries import with_retries


def estimated_tokens(config: JudgeConfig, call: JudgeCall) -> int:
    """What a call may cost before it is made: about 4 characters a token, plus max_tokens."""
    chars = len(call.prompt.system) + len(call.prompt.user) + len(call.previous_reply or "")
    return chars // 4 + config.max_tokens


def _nothing() -> None:
    pass


def _refused(exc: Exception) -> bool:
    return (
        isinstance(exc, openai.APIStatusError | anthropic.APIStatusError)
        and exc.status_code in THROTTLED
    )


class PacedJudge:
    """A `JudgeProvider` whose every attempt fits the shared budget of the endpoint it uses."""

    def __init__(
        self,
        provider: JudgeProvider | EndpointPool,
        config: JudgeConfig,
        budget: JudgeBudget | None,
        concurrency: AdaptiveConcurrency,
    ) -> None:
        """A judge of one endpoint: its `provider` and `budget`; of several: their pool (and
        no budget: each endpoint has its own)."""
        if isinstance(provider, EndpointPool):
            self.endpoints = provider
        else:
            assert budget is not None, "a judge of one endpoint paces with its budget"
            self.endpoints = EndpointPool("", [Endpoint("", provider, budget)])
        self._config = config
        self.concurrency = concurrency  # its slots: the job holds one per call until stored

    async def complete(self, call: JudgeCall, sent: Callable[[], None] = _nothing) -> JudgeReply:
        """The reply; `sent()` as each attempt's turn in the budget comes (a job counts the
        calls it still has to send)."""
        tokens = estimated_tokens(self._config, call)

        started = 0.0  # when the attempt on the current endpoint went out (monotonic)

        async def attempt() -> JudgeReply:
            tried: list[Endpoint] = []
            failure: Exception | None = None
            while True:
                endpoint = await self.endpoints.choose(tokens, tried)
                if endpoint is None:  # no other endpoint is live: the attempt fails
                    assert failure is not None
                    raise failure
                tried.append(endpoint)
                try:
                    return await on(endpoint)
                except Exception as exc:
                    kind, _message = describe_error(exc)
                    if not self.endpoints.failed(endpoint, started, exc, kind):
                        raise
                    failure = exc

        async def on(endpoint: Endpoint) -> JudgeReply:
            nonlocal started
            self.concurrency.follow(self.endpoints.calls_per_s(tokens))
            await self.endpoints.acquire(endpoint, tokens)
            sent()
            started = time.monotonic()
            epoch = self.concurrency.epoch
            self.concurrency.answering(+1)
            try:
                reply = await endpoint.provider.complete(call)
            except Exception as exc:
                if _refused(exc):
                    self.concurrency.throttled(epoch)
                raise
            finally:
                self.concurrency.answering(-1)
            self.endpoints.answered(endpoint, started)
            await self.concurrency.succeeded()
            used = (reply.input_tokens or 0) + (reply.output_tokens or 0)
            await endpoint.budget.settle(tokens, used or None)
            return reply

        self.concurrency.calling(+1)
        try:
            return await with_retries(attempt, self._config.max_retries)
        finally:
            self.concurrency.calling(-1)

    async def aclose(self) -> None:
        await self.endpoints.aclose()
