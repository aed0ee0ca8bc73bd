"""A judge's calls paced to what the provider allows: shared budget, concurrency, one retry layer.

Every attempt (the retries included) tells the job's adaptive concurrency the rate the
judge's shared budget allows, waits for that budget and any pause (`judging/rate_limits.py`),
then reports whether the provider refused it (`judging/concurrency.py`); refused or failed
attempts are retried by `judging/retries.py` alone. Each call and attempt reports when it
begins and ends, so the concurrency knows when a slot waits with no answer on its way.
"""

from collections.abc import Callable

import anthropic
import openai

from judge_service.config import JudgeConfig
from judge_service.judging.concurrency import AdaptiveConcurrency
from judge_service.judging.providers import JudgeCall, JudgeProvider
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
    """A `JudgeProvider` whose every attempt fits the judge's shared budget."""

    def __init__(
        self,
        provider: JudgeProvider,
        config: JudgeConfig,
        budget: JudgeBudget,
        concurrency: AdaptiveConcurrency,
    ) -> None:
        self._provider = provider
        self._config = config
        self._budget = budget
        self.concurrency = concurrency  # its slots: the job holds one per call until stored

    async def complete(self, call: JudgeCall, sent: Callable[[], None] = _nothing) -> JudgeReply:
        """The reply; `sent()` as each attempt's turn in the budget comes (a job counts the
        calls it still has to send)."""
        tokens = estimated_tokens(self._config, call)

        async def attempt() -> JudgeReply:
            self.concurrency.follow(self._budget.calls_per_s(tokens))
            await self._budget.acquire(tokens)
            sent()
            epoch = self.concurrency.epoch
            self.concurrency.answering(+1)
            try:
                reply = await self._provider.complete(call)
            except Exception as exc:
                if _refused(exc):
                    self.concurrency.throttled(epoch)
                raise
            finally:
                self.concurrency.answering(-1)
            await self.concurrency.succeeded()
            used = (reply.input_tokens or 0) + (reply.output_tokens or 0)
            await self._budget.settle(tokens, used or None)
            return reply

        self.concurrency.calling(+1)
        try:
            return await with_retries(attempt, self._config.max_retries)
        finally:
            self.concurrency.calling(-1)

    async def aclose(self) -> None:
        await self._provider.aclose()
