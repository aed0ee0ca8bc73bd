"""The API's own shared objects on `app.state`, and the dependencies its routes name them by."""

from typing import Annotated

from fastapi import Depends, Request

from judge_service.api.metrics_collector import ServiceCollector
from judge_service.api.pair_writer import PairWriter
from judge_service.web.state import AppState, state_of


class ApiState(AppState):
    """What only the API reads, besides what every part does (see web/state.py)."""

    pair_writer: PairWriter
    metrics: ServiceCollector


# Async because they never block (see web/deps.py).
async def _pair_writer(request: Request) -> PairWriter:
    return state_of(request.app, ApiState).pair_writer


async def _metrics(request: Request) -> ServiceCollector:
    return state_of(request.app, ApiState).metrics


PairWriterDep = Annotated[PairWriter, Depends(_pair_writer)]
MetricsDep = Annotated[ServiceCollector, Depends(_metrics)]
