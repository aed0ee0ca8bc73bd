"""Python client for judge-service: compare a base and a fine-tuned model from a notebook.

    from judge_service.client import JudgeClient

    client = JudgeClient()  # JUDGE_URL, else http://127.0.0.1:8000
    run = client.compare(df, baseline="base", candidate="tuned", judges=["gpt4o"])
    run.stats()             # win rate, 95% CI, per judge
    run.pairs()             # one row per pair with its outcome (a DataFrame)

pandas is needed only for DataFrames (`pip install 'judge-service[client]'`);
importing this package does not import it.
"""

from judge_service.client._async import AsyncJudgeClient, AsyncRun
from judge_service.client._inputs import derive_external_id, load_pairs
from judge_service.client._results import (
    Estimate,
    Figures,
    HumanLabel,
    Judge,
    Plan,
    RunCounts,
    RunInfo,
    Stats,
    UploadResult,
)
from judge_service.client._sync import JudgeClient, Run
from judge_service.client.errors import JudgeConnectionError, JudgeServiceError, RunMismatchError

__all__ = [
    "AsyncJudgeClient",
    "AsyncRun",
    "Estimate",
    "Figures",
    "HumanLabel",
    "Judge",
    "JudgeClient",
    "JudgeConnectionError",
    "JudgeServiceError",
    "Plan",
    "Run",
    "RunCounts",
    "RunInfo",
    "RunMismatchError",
    "Stats",
    "UploadResult",
    "derive_external_id",
    "load_pairs",
]
