"""`GET /metrics` for Prometheus: open like `/healthz`, as it carries aggregates only.

What it reports and why no project can read another's data in it: `api.metrics_collector`.
"""

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from judge_service.api.deps import MetricsDep

router = APIRouter(tags=["health"])


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE_LATEST: {}}, "description": "Prometheus text"}},
)
def metrics(collector: MetricsDep) -> Response:
    return Response(generate_latest(collector.registry), media_type=CONTENT_TYPE_LATEST)
