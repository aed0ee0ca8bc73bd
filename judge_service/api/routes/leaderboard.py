"""Bradley-Terry across runs that share models: base vs tuned-v1, base vs tuned-v2, v1 vs v2."""

import re
from typing import Annotated, Any

from fastapi import APIRouter, Query

from judge_service.services.leaderboard import MAX_RUNS, compute_leaderboard
from judge_service.web.auth import AUTH_RESPONSES, ProjectDep
from judge_service.web.deps import MAX_ROW_ID, SessionDep
from judge_service.web.errors import query_error

router = APIRouter(prefix="/v1/leaderboard", tags=["leaderboard"], responses=AUTH_RESPONSES)


# What `runs` takes, stated in the OpenAPI document as the parser applies it: 1 to MAX_RUNS
# ids (repeats allowed, counted once), each under 10^18, so within MAX_ROW_ID.
RUN_ID = r"[1-9][0-9]{0,17}"
RUNS_PATTERN = rf"^{RUN_ID}(,{RUN_ID}){{0,{MAX_RUNS - 1}}}$"
_RUNS = re.compile(RUNS_PATTERN)


def _parse_ids(runs: str) -> list[int]:
    if not _RUNS.fullmatch(runs):
        raise query_error(
            "runs",
            f"runs must name at least one and at most {MAX_RUNS} runs as comma-separated "
            f"run ids, e.g. runs=1,2,3; ids are from 1 to {MAX_ROW_ID}",
        )
    return sorted({int(part) for part in runs.split(",")})


@router.get("")
def leaderboard(
    session: SessionDep,
    project: ProjectDep,
    runs: Annotated[
        str,
        Query(
            description="Comma-separated run ids, e.g. 1,2,3",
            json_schema_extra={"pattern": RUNS_PATTERN},
        ),
    ],
    bootstrap_rounds: Annotated[int, Query(ge=0, le=10_000)] = 1000,
    seed: Annotated[int, Query(ge=0)] = 0,
    anchor: Annotated[str | None, Query(description="A model whose score is fixed at 0")] = None,
) -> dict[str, Any]:
    """Each pair the panel decided is one battle; a tie or inconsistent pair is half a win each.

    A model that won (or lost) every comparison has `score: null` and `unbounded: "+inf"`
    (or "-inf"); the other models are fitted and centred without it.
    """
    return compute_leaderboard(
        session,
        project,
        _parse_ids(runs),
        bootstrap_rounds=bootstrap_rounds,
        seed=seed,
        anchor=anchor,
    )
