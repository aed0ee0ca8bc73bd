"""A process that takes grants from one judge's shared budget and prints when it got each.

`python -m tests.judging.budget_child REDIS_URL NAMESPACE JUDGE RPM COUNT`: waits for a line on
stdin (so every child starts drawing at once, imports done), then prints one wall-clock
time per grant, as JSON.
"""

import asyncio
import json
import subprocess
import sys
import time

from judge_service.judging.rate_limits import RateBudgets
from tests.conftest import REPO, cli_env


def spawn(
    redis_url: str, namespace: str, judge: str, rpm: int, count: int
) -> subprocess.Popen[str]:
    """The child, started and waiting for its go (write a line to its stdin)."""
    return subprocess.Popen(
        [sys.executable, "-m", __name__, redis_url, namespace, judge, str(rpm), str(count)],
        cwd=REPO,
        env=cli_env(),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )


async def draw(url: str, namespace: str, judge: str, rpm: int, count: int) -> list[float]:
    budgets = RateBudgets(url, namespace)
    budget = budgets.for_judge(judge, rpm, None)
    granted = []
    try:
        for _ in range(count):
            await budget.acquire(1)
            granted.append(time.time())
    finally:
        await budgets.aclose()
    return granted


if __name__ == "__main__":
    url, namespace, judge, rpm, count = sys.argv[1:6]
    sys.stdin.readline()
    print(json.dumps(asyncio.run(draw(url, namespace, judge, int(rpm), int(count)))))
