"""`judge-service`: serve, worker, migrate, reconcile, simulate, demo."""

import ipaddress
from typing import Annotated

import typer
from rich.console import Console

app = typer.Typer(help="Pairwise LLM-as-a-judge service.", no_args_is_help=True)
err = Console(stderr=True)


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on")] = 8000,
) -> None:
    """Run the HTTP API under uvicorn."""
    import uvicorn

    from judge_service.api.app import create_app

    if not _is_loopback(host):
        err.print(
            f"[yellow]warning:[/] listening on {host} without authentication; "
            "put it behind a trusted network or proxy"
        )
    uvicorn.run(create_app(), host=host, port=port, log_level="info")


@app.command()
def worker(
    burst: Annotated[bool, typer.Option(help="Exit once the queue is empty")] = False,
    queue: Annotated[str | None, typer.Option(help="Queue name (default JUDGE_QUEUE_NAME)")] = None,
    name: Annotated[str | None, typer.Option(help="Worker name shown by RQ")] = None,
) -> None:
    """Run an RQ worker that judges pairs (needs JUDGE_REDIS_URL)."""
    from redis import Redis
    from rq import Worker
    from rq.serializers import JSONSerializer

    from judge_service.config import Settings
    from judge_service.jobs.dispatch import judge_queue

    settings = Settings()
    if not settings.redis_url:
        err.print("JUDGE_REDIS_URL is not set: without Redis, the API judges in-process.")
        raise typer.Exit(2)
    redis = Redis.from_url(settings.redis_url)
    rq_queue = judge_queue(redis, queue or settings.queue_name)
    rq_worker = Worker([rq_queue], connection=redis, serializer=JSONSerializer, name=name)
    rq_worker.work(burst=burst, logging_level="INFO")


@app.command()
def migrate() -> None:
    """Bring the database (JUDGE_DATABASE_URL) to the latest schema."""
    from judge_service.config import Settings
    from judge_service.db import migrate as migrations

    migrations.upgrade(Settings().database_url)


@app.command()
def reconcile(
    run_id: Annotated[int | None, typer.Option(help="Only this run")] = None,
) -> None:
    """Queue again every judgment left pending or held by a dead worker."""
    from judge_service.config import Settings
    from judge_service.db.engine import session_factory
    from judge_service.jobs.dispatch import make_dispatcher
    from judge_service.jobs.reconcile import reconcile as reconcile_pairs

    settings = Settings()
    dispatcher = make_dispatcher(settings)
    try:
        count = reconcile_pairs(session_factory(settings.database_url), dispatcher, run_id)
    finally:
        dispatcher.close()
    print(f"queued {count} pairs with unfinished judgments")


@app.command()
def simulate(
    host: Annotated[str, typer.Option()] = "127.0.0.1",
    port: Annotated[int, typer.Option()] = 9000,
    latency_mean_s: Annotated[float, typer.Option(help="Mean reply latency")] = 0.02,
    latency_jitter_s: Annotated[float, typer.Option(help="Uniform jitter around the mean")] = 0.01,
    rpm_limit: Annotated[int | None, typer.Option(help="Requests per minute before 429")] = None,
    error_rate: Annotated[float, typer.Option(help="Share of replies that are 500/529")] = 0.0,
    position_bias: Annotated[float, typer.Option(help="P(name slot A regardless)")] = 0.0,
    tie_rate: Annotated[float, typer.Option(help="Share of undecided pairs called a tie")] = 0.1,
    seed: Annotated[int, typer.Option()] = 0,
) -> None:
    """Run the SIMULATED judge provider (OpenAI and Anthropic wire formats; not a real model)."""
    from judge_service.simulate.config import SimulatorConfig
    from judge_service.simulate.server import serve as serve_simulator

    config = SimulatorConfig(
        latency_mean_s=latency_mean_s,
        latency_jitter_s=latency_jitter_s,
        rpm_limit=rpm_limit,
        error_rate=error_rate,
        position_bias=position_bias,
        tie_rate=tie_rate,
        seed=seed,
    )
    err.print(f"[bold yellow]SIMULATED judge provider[/] (not a real model): http://{host}:{port}")
    serve_simulator(host, port, config)


@app.command()
def demo(
    pairs: Annotated[int, typer.Option(help="How many bundled sample pairs to judge")] = 240,
    workers: Annotated[int, typer.Option(help="RQ worker processes when Redis is set")] = 2,
) -> None:
    """Judge the bundled sample with simulated judges and print the result."""
    from judge_service.demo.runner import run_demo

    raise typer.Exit(run_demo(pairs=pairs, workers=workers))


if __name__ == "__main__":
    app()
