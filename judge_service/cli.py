"""`judge-service`: serve, worker, migrate, reconcile, simulate, demo.

Client commands (submit, runs, status, retry-failed, stats, estimate, drift, probe, plan,
export, judges) talk to a running API over HTTP through `judge_service.client`, like a
notebook would.
"""

import gc
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console

if TYPE_CHECKING:
    from judge_service.client import JudgeClient

app = typer.Typer(help="Pairwise LLM-as-a-judge service.", no_args_is_help=True)
err = Console(stderr=True)


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on")] = 8000,
) -> None:
    """Run the HTTP API and dashboard under uvicorn."""
    import uvicorn

    from judge_service.app import create_app
    from judge_service.config import Settings
    from judge_service.ops.logs import configure_logging

    settings = Settings()
    configure_logging(settings.log_format, settings.log_level)
    try:
        who = serving_auth(settings.auth, host)
    except ValueError as refused:
        err.print(f"[red]refused:[/] {refused}")
        raise typer.Exit(2) from None
    # A log line, not a console one: under JUDGE_LOG_FORMAT=json every line is JSON.
    logging.getLogger("judge_service.serve").info(who, extra={"auth": settings.auth})
    # The app applies JUDGE_AUTH to each request itself, as under `uvicorn --factory`.
    app_ = create_app(settings)
    # Everything imported so far (the SDKs, SQLAlchemy, FastAPI) lives as long as the process:
    # out of the collector's sight, a full collection no longer walks it in the middle of a
    # request. Single-post p99 in bench/ingest.py: 280-290 -> 143-147 ms.
    gc.freeze()
    # log_config=None: uvicorn's lines go to the root handler, in the configured format.
    uvicorn.run(app_, host=host, port=port, log_config=None, log_level=settings.log_level.lower())


def serving_auth(auth: str, host: str) -> str:
    """Who needs an API key, for the startup line; `off` beyond loopback is refused.

    The app decides each request (`web.auth.access`); under `off` it would answer every
    client but this machine 403, so `serve` says so at once instead of starting.
    """
    from judge_service.web.auth import loopback_host

    if auth == "off" and not loopback_host(host):
        raise ValueError(
            f"JUDGE_AUTH=off but listening on {host}: every client but this machine would get "
            "403; set JUDGE_AUTH=required to serve them with API keys (or listen on 127.0.0.1)"
        )
    create = "create one: judge-service keys create --project NAME"
    if auth == "required":
        return f"API keys required ({create})"
    if auth == "auto":
        return f"API keys required except from this machine, not through a proxy ({create})"
    return "JUDGE_AUTH=off: no API keys; requests from beyond this machine get 403"


keys_app = typer.Typer(help="Projects' API keys (stored as SHA-256 only).", no_args_is_help=True)
app.add_typer(keys_app, name="keys")


@keys_app.command("create")
def keys_create(
    project: Annotated[str, typer.Option(help="Project name; created if new")],
    annotator: Annotated[
        str | None,
        typer.Option(help="The person whose human labels this key makes (default: key:<prefix>)"),
    ] = None,
) -> None:
    """Make an API key for a project and print it: it is shown this once, never stored."""
    from judge_service.config import Settings
    from judge_service.db.engine import session_factory
    from judge_service.db.projects import annotator_problem, create_key

    if not 1 <= len(project) <= 100 or "\x00" in project:
        err.print("--project must be 1 to 100 characters")
        raise typer.Exit(2)
    problem = annotator_problem(annotator) if annotator is not None else None
    if problem is not None:
        err.print(f"--annotator {problem}")
        raise typer.Exit(2)
    with session_factory(Settings().database_url)() as session:
        key = create_key(session, project, annotator)
    labels = f", labelling as {annotator!r}" if annotator else ""
    err.print(f"API key for project {project!r}{labels} (shown once; store it now):")
    print(key)


@keys_app.command("list")
def keys_list() -> None:
    """Every key's prefix, project, annotator and dates; never the keys themselves."""
    from judge_service.config import Settings
    from judge_service.db.engine import session_factory
    from judge_service.db.projects import list_keys

    with session_factory(Settings().database_url)() as session:
        for key in list_keys(session):
            revoked = f"revoked {key.revoked_at:%Y-%m-%d %H:%M}" if key.revoked_at else "active"
            created = f"{key.created_at:%Y-%m-%d %H:%M}"
            print(f"{key.prefix}…\t{key.project}\t{key.annotator}\t{created}\t{revoked}")


@keys_app.command("revoke")
def keys_revoke(
    prefix: Annotated[
        str, typer.Argument(help="The prefix `keys list` shows, a start of it, or the key")
    ],
) -> None:
    """Revoke a key at once: requests with it get 401 from then on."""
    from judge_service.config import Settings
    from judge_service.db.engine import session_factory
    from judge_service.db.projects import revoke_key

    with session_factory(Settings().database_url)() as session:
        try:
            revoked = revoke_key(session, prefix)
        except ValueError as refused:
            err.print(f"[red]refused:[/] {refused}")
            raise typer.Exit(2) from None
    if not revoked:
        err.print(f"no active key with prefix {prefix!r}")
        raise typer.Exit(1)
    err.print(f"revoked {prefix}")


@app.command()
def worker(
    burst: Annotated[bool, typer.Option(help="Exit once the queue is empty")] = False,
    queue: Annotated[str | None, typer.Option(help="Queue name (default JUDGE_QUEUE_NAME)")] = None,
    name: Annotated[str | None, typer.Option(help="Worker name shown by RQ")] = None,
    processes: Annotated[int, typer.Option(min=1, help="Worker processes to run")] = 1,
    stop_timeout_s: Annotated[
        float, typer.Option(min=1.0, help="With --processes: warm shutdown time per child")
    ] = 60.0,
) -> None:
    """Run an RQ worker that judges pairs (needs JUDGE_REDIS_URL), or several."""
    from redis import Redis
    from rq.serializers import JSONSerializer

    from judge_service.config import Settings
    from judge_service.jobs.dispatch import judge_queue
    from judge_service.jobs.worker import JudgeWorker
    from judge_service.jobs.worker_processes import WorkerProcesses
    from judge_service.ops.logs import configure_logging

    settings = Settings()
    configure_logging(settings.log_format, settings.log_level)
    if not settings.redis_url:
        err.print("JUDGE_REDIS_URL is not set: without Redis, the API judges in-process.")
        raise typer.Exit(2)
    if processes > 1:
        args = [f"--queue={queue}"] if queue else []
        pool = WorkerProcesses(processes, name, args, burst, stop_timeout_s)
        raise typer.Exit(pool.run())
    redis = Redis.from_url(settings.redis_url)
    rq_queue = judge_queue(redis, queue or settings.queue_name)
    rq_worker = JudgeWorker(
        [rq_queue], connection=redis, serializer=JSONSerializer, name=name, settings=settings
    )
    # RQ logs through the root handler configured above (it adds its own only if none).
    rq_worker.work(burst=burst, logging_level=settings.log_level)


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
    """Queue again, now, every judgment left pending or held by a dead worker.

    Workers do this on their own every JUDGE_RECONCILE_INTERVAL_S for what has waited a
    lease; this is for when you know the queue lost its jobs (Redis flushed or replaced).
    """
    from judge_service.config import Settings
    from judge_service.db.engine import session_factory
    from judge_service.jobs.dispatch import make_dispatcher
    from judge_service.jobs.reconcile import reconcile as reconcile_pairs
    from judge_service.ops.logs import configure_logging

    settings = Settings()
    configure_logging(settings.log_format, settings.log_level)
    dispatcher = make_dispatcher(settings)
    sessions = session_factory(settings.database_url)
    try:
        count = reconcile_pairs(sessions, dispatcher, settings.lease_s, run_id, everything=True)
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
    rpm_burst: Annotated[int | None, typer.Option(help="Bucket size (default 2 s of rpm)")] = None,
    error_rate: Annotated[float, typer.Option(help="Share of replies that are 500/529")] = 0.0,
    position_bias: Annotated[float, typer.Option(help="P(name slot A regardless)")] = 0.0,
    tie_rate: Annotated[float, typer.Option(help="Share of undecided pairs called a tie")] = 0.1,
    axis_tie_rate: Annotated[float, typer.Option(help="Share of axes called a tie")] = 0.15,
    malformed_rate: Annotated[float, typer.Option(help="First replies with no verdict")] = 0.0,
    truncate_rate: Annotated[float, typer.Option(help="First replies cut off")] = 0.0,
    persistent_faults: Annotated[bool, typer.Option(help="Faults on every attempt")] = False,
    batch_delay_s: Annotated[float, typer.Option(help="How long a batch stays in progress")] = 0.5,
    batch_error_rate: Annotated[float, typer.Option(help="Batch requests that error")] = 0.0,
    seed: Annotated[int, typer.Option()] = 0,
) -> None:
    """Run the SIMULATED judge provider (OpenAI and Anthropic wire formats; not a real model).

    Echo and obedient (gullible) behaviour are per judge: `simulated-judge@echo=1,obedient=1`.
    """
    from judge_service.simulate.config import SimulatorConfig
    from judge_service.simulate.server import serve as serve_simulator

    config = SimulatorConfig(
        latency_mean_s=latency_mean_s,
        latency_jitter_s=latency_jitter_s,
        rpm_limit=rpm_limit,
        rpm_burst=rpm_burst,
        error_rate=error_rate,
        position_bias=position_bias,
        tie_rate=tie_rate,
        axis_tie_rate=axis_tie_rate,
        malformed_rate=malformed_rate,
        truncate_rate=truncate_rate,
        persistent_faults=persistent_faults,
        batch_delay_s=batch_delay_s,
        batch_error_rate=batch_error_rate,
        seed=seed,
    )
    err.print(f"[bold yellow]SIMULATED judge provider[/] (not a real model): http://{host}:{port}")
    serve_simulator(host, port, config)


@app.command()
def demo(
    pairs: Annotated[int, typer.Option(help="How many bundled sample pairs to judge")] = 240,
    workers: Annotated[int, typer.Option(help="RQ worker processes when Redis is set")] = 2,
    port: Annotated[int, typer.Option(help="API and dashboard port; busy or 0: any free")] = 8000,
    serve: Annotated[
        bool, typer.Option(help="Keep serving the dashboard until Ctrl-C (--no-serve: exit)")
    ] = True,
) -> None:
    """Judge the bundled sample with simulated judges, print the result, serve the dashboard."""
    from judge_service.config import Settings
    from judge_service.demo.runner import run_demo
    from judge_service.ops.logs import configure_logging

    settings = Settings()
    # The demo's screen is a progress bar that its in-process jobs' INFO lines would break:
    # warnings only, unless JUDGE_LOG_LEVEL asks for more.
    level = settings.log_level if "log_level" in settings.model_fields_set else "WARNING"
    configure_logging(settings.log_format, level)
    raise typer.Exit(run_demo(pairs=pairs, workers=workers, port=port, serve=serve))


# -- client commands: a running API, reached over HTTP ---------------------------

Url = Annotated[
    str | None,
    typer.Option(
        "--url",
        envvar="JUDGE_URL",
        help="API base URL [default: JUDGE_URL, else http://127.0.0.1:8000]",
        show_default=False,
    ),
]
ApiKey = Annotated[
    str | None,
    typer.Option("--api-key", envvar="JUDGE_API_KEY", help="Bearer token", show_default=False),
]
Json = Annotated[bool, typer.Option("--json", help="Print the API's JSON instead of a table")]


def _client(url: str | None, api_key: str | None) -> "JudgeClient":
    from judge_service.client import JudgeClient

    return JudgeClient(url, api_key)


@contextmanager
def _reported() -> Iterator[None]:
    """API errors and bad input as one line on stderr and an exit code, not a traceback."""
    from judge_service.client import JudgeServiceError

    try:
        yield
    except JudgeServiceError as exc:
        err.print(f"[red]error:[/] {exc}", markup=True, highlight=False)
        raise typer.Exit(1) from None
    except (ValueError, TypeError, OSError, ImportError) as exc:
        err.print(f"[red]error:[/] {exc}", highlight=False)
        raise typer.Exit(2) from None


def _print_json(value: Any) -> None:
    import json

    print(json.dumps(value, indent=2, ensure_ascii=False, default=str))


def _progress_line(counts: dict[str, Any]) -> str:
    done, failed = counts.get("judgments_done", 0), counts.get("judgments_failed", 0)
    reasons = counts.get("failed_by_reason") or {}
    why = " (" + ", ".join(f"{n} {kind}" for kind, n in sorted(reasons.items())) + ")"
    skipped = counts.get("judgments_skipped", 0)
    return (
        f"{done}/{counts.get('judgments_expected', 0)} judged, {failed} failed"
        + (why if reasons else "")
        + (f", {skipped} skipped (stopped once decided)" if skipped else "")
    )


def _stop_when(excludes: float | None, half_width: float | None) -> dict[str, float] | None:
    """The run's stop rule from the submit options; the server checks it (one rule only)."""
    rule = {"excludes": excludes, "half_width": half_width}
    return {key: value for key, value in rule.items() if value is not None} or None


def _columns(pairs: list[str]) -> dict[str, str]:
    mapping = {}
    for item in pairs:
        field, sep, column = item.partition("=")
        if not sep or not field or not column:
            raise ValueError(f"--column takes FIELD=COLUMN, got {item!r}")
        mapping[field] = column
    return mapping


def _print_stats(stats: dict[str, Any]) -> None:
    from judge_service.tables import headline, report

    console = Console()
    if stats.get("axis"):
        console.print(f"axis: [bold]{stats['axis']}[/]")
    for part in report(stats):
        console.print(part, highlight=False)
    console.print(headline(stats), highlight=False, soft_wrap=True)  # one line, for grep


@app.command()
def submit(
    path: Annotated[Path, typer.Argument(help="Pairs: .jsonl, .json, .csv or .parquet")],
    baseline: Annotated[str, typer.Option(help="Label of the base model")],
    candidate: Annotated[str, typer.Option(help="Label of the fine-tuned model")],
    judge: Annotated[list[str], typer.Option("--judge", help="A judge name; repeat for more")],
    rubric: Annotated[
        str | None, typer.Option(help="Rubric name [default: the server's]", show_default=False)
    ] = None,
    name: Annotated[
        str | None,
        typer.Option(help="Run name; reusing one resumes that run [default: from the data]"),
    ] = None,
    column: Annotated[
        list[str] | None,
        typer.Option("--column", help="FIELD=COLUMN, e.g. question=prompt; repeatable"),
    ] = None,
    chunk_size: Annotated[int, typer.Option(help="Pairs per upload request")] = 10_000,
    mode: Annotated[
        str | None, typer.Option(help="live or batch [default: live]", show_default=False)
    ] = None,
    cache: Annotated[
        bool, typer.Option(help="Reuse judgments already made identically in the project")
    ] = True,
    budget_usd: Annotated[
        float | None,
        typer.Option(help="Stop judging once the run has spent this much (USD)"),
    ] = None,
    stop_excludes: Annotated[
        float | None,
        typer.Option(
            help="Stop judging once the win rate's confidence sequence excludes this (e.g. 0.5)"
        ),
    ] = None,
    stop_half_width: Annotated[
        float | None,
        typer.Option(help="Stop judging once the sequence's half-width is at most this"),
    ] = None,
    wait: Annotated[
        bool, typer.Option(help="Wait for every verdict, then print the stats")
    ] = False,
    as_json: Json = False,
    url: Url = None,
    api_key: ApiKey = None,
) -> None:
    """Upload pairs from a file into a run (created, or resumed by name)."""
    from dataclasses import asdict

    with _reported(), _client(url, api_key) as client:
        run = client.compare(
            path,
            baseline=baseline,
            candidate=candidate,
            judges=judge,
            rubric=rubric,
            columns=_columns(column or []),
            name=name,
            wait=wait,
            progress=wait and not as_json,
            chunk_size=chunk_size,
            mode=mode,
            cache=cache,
            budget_usd=budget_usd,
            stop_when=_stop_when(stop_excludes, stop_half_width),
        )
        upload = run.upload
        assert upload is not None
        stats = run.stats().raw if wait else None
    if as_json:
        _print_json({"run": run.info.raw, "upload": asdict(upload), "stats": stats})
        return
    print(
        f"run {run.id} {run.name!r}: {upload.accepted} pairs added, "
        f"{upload.already_present} already there "
        f"({upload.requests} request{'' if upload.requests == 1 else 's'}); "
        f"{run.status}, {_progress_line(run.info.raw['counts'])}"
    )
    if stats is not None:
        _print_stats(stats)


@app.command()
def runs(as_json: Json = False, url: Url = None, api_key: ApiKey = None) -> None:
    """List runs, newest first."""
    from rich.table import Table

    with _reported(), _client(url, api_key) as client:
        listed = [run.info.raw for run in client.runs()]
    if as_json:
        _print_json(listed)
        return
    table = Table(title="Runs")
    for heading in ("id", "name", "candidate vs baseline", "judges", "status", "progress"):
        table.add_column(heading, justify="right" if heading == "id" else "left")
    for run in listed:
        table.add_row(
            str(run["id"]),
            run["name"],
            f"{run['candidate']} vs {run['baseline']}",
            ", ".join(run["judges"]),
            run["status"],
            _progress_line(run["counts"]),
        )
    Console().print(table)


@app.command()
def status(
    run_id: Annotated[int, typer.Argument(metavar="RUN")],
    as_json: Json = False,
    url: Url = None,
    api_key: ApiKey = None,
) -> None:
    """One run's status and counts."""
    with _reported(), _client(url, api_key) as client:
        run = client.run(run_id).info.raw
    if as_json:
        _print_json(run)
        return
    counts = run["counts"]
    print(f"run {run['id']} {run['name']!r}: {run['candidate']} vs {run['baseline']}")
    print(
        f"judges: {', '.join(run['judges'])}"
        + (f"; rubric: {run['rubric']}" if "rubric" in run else "")
    )
    print(f"status: {run['status']}; {counts['pairs']} pairs; {_progress_line(counts)}")
    if run.get("stop_reason"):
        print(f"stopped: {run['stop_reason']}")


@app.command("retry-failed")
def retry_failed(
    run_id: Annotated[int, typer.Argument(metavar="RUN")],
    reason: Annotated[
        str | None, typer.Option(help="Only calls that failed this way, e.g. rate_limited")
    ] = None,
    url: Url = None,
    api_key: ApiKey = None,
) -> None:
    """Queue a run's failed judge calls again; `status` follows them."""
    with _reported(), _client(url, api_key) as client:
        before = client.run(run_id).info.counts.judgments_failed
        after = client.run(run_id).retry_failed(reason).info.raw
    print(f"run {run_id}: {before} failed before, {_progress_line(after['counts'])} now")


@app.command()
def stats(
    run_id: Annotated[int, typer.Argument(metavar="RUN")],
    by: Annotated[str | None, typer.Option(help="Break down by a metadata key")] = None,
    axis: Annotated[str | None, typer.Option(help="A rubric axis instead of overall")] = None,
    as_json: Json = False,
    url: Url = None,
    api_key: ApiKey = None,
) -> None:
    """A run's win rate with intervals, sign test, bias and agreement, per judge and panel."""
    with _reported(), _client(url, api_key) as client:
        body = client.stats(run_id, by=by, axis=axis).raw
    if as_json:
        _print_json(body)
        return
    _print_stats(body)


@app.command()
def estimate(
    run_id: Annotated[int, typer.Argument(metavar="RUN")],
    as_json: Json = False,
    url: Url = None,
    api_key: ApiKey = None,
) -> None:
    """Tokens and cost of judging what is left of a run, predicted without a judge call."""
    from judge_service.tables import count, usd

    with _reported(), _client(url, api_key) as client:
        predicted = client.run(run_id).estimate()
    if as_json:
        _print_json(predicted.raw)
        return
    print(
        f"run {run_id}: {count(predicted.judgments)} judgments left, "
        f"{count(predicted.cache_hits)} of them from the cache (free)"
    )
    print(
        f"estimate: {count(predicted.input_tokens)} input tokens, "
        f"{count(predicted.output_tokens)} output tokens, {usd(predicted.cost_usd)}"
    )
    print(f"spent so far: {usd(predicted.spent_usd)}")
    for warning in predicted.raw.get("warnings", []):
        err.print(f"[yellow]warning:[/] {warning}", highlight=False)


@app.command()
def drift(
    judge: Annotated[str, typer.Option(help="The judge to check")],
    reference_run: Annotated[
        int | None,
        typer.Option(help="Make this run's pairs the judge's reference set first"),
    ] = None,
    timeout: Annotated[
        float | None, typer.Option(help="Give up waiting after this many seconds")
    ] = None,
    as_json: Json = False,
    url: Url = None,
    api_key: ApiKey = None,
) -> None:
    """Re-judge the judge's reference pairs, wait, and compare with its last check."""
    from judge_service.client._drift import drift_check, drift_lines

    with _reported(), _client(url, api_key) as client:
        report = client._run(drift_check(judge, reference_run, not as_json, timeout))
    if as_json:
        _print_json(report)
        return
    for line in drift_lines(report):
        print(line)


@app.command()
def probe(
    run_id: Annotated[int, typer.Argument(metavar="RUN")],
    kind: Annotated[
        list[str],
        typer.Option(
            help="swap_answers, pad_length, drop_images or shuffle_rationale (repeatable)"
        ),
    ],
    sample: Annotated[
        int | None, typer.Option(help="Pairs to re-judge (default 50, at most the run's)")
    ] = None,
    seed: Annotated[int | None, typer.Option(help="Draws the sample and the changes")] = None,
    timeout: Annotated[
        float | None, typer.Option(help="Give up waiting after this many seconds")
    ] = None,
    as_json: Json = False,
    url: Url = None,
    api_key: ApiKey = None,
) -> None:
    """Re-judge a sample of a run's pairs with one change per kind, wait, print what moved."""
    from judge_service.client._probes import probe_run
    from judge_service.tables import probe_tables

    with _reported(), _client(url, api_key) as client:
        table = client._run(probe_run(run_id, kind, sample, seed, not as_json, timeout))
    if as_json:
        _print_json(table)
        return
    console = Console()
    for part in probe_tables(table):
        console.print(part, highlight=False)


@app.command()
def plan(
    half_width: Annotated[
        float, typer.Option(help="Target half-width of the interval on the win rate, e.g. 0.03")
    ],
    win_rate: Annotated[
        float | None, typer.Option(help="Expected half-credit win rate (or --pilot-run)")
    ] = None,
    pilot_run: Annotated[
        int | None, typer.Option(help="A finished run whose figures stand in for expected ones")
    ] = None,
    tie_share: Annotated[
        float | None, typer.Option(help="Expected ties + inconsistent pairs (default 0.2)")
    ] = None,
    judge_error: Annotated[
        float | None,
        typer.Option(help="Judge's mean squared credit error against people (default 0.15)"),
    ] = None,
    confidence: Annotated[float, typer.Option(help="Interval confidence")] = 0.95,
    judge: Annotated[
        list[str] | None,
        typer.Option("--judge", help="A judge name; repeat (default: the pilot's, else all)"),
    ] = None,
    swap: Annotated[bool, typer.Option(help="Judge each pair in both orders")] = True,
    pairs_available: Annotated[int | None, typer.Option(help="Pairs in your dataset")] = None,
    prompt_tokens: Annotated[
        float | None, typer.Option(help="Prompt tokens per call (default: the pilot's mean)")
    ] = None,
    output_tokens: Annotated[
        float | None,
        typer.Option(help="Output tokens per call (default: the pilot's, else max_tokens)"),
    ] = None,
    as_json: Json = False,
    url: Url = None,
    api_key: ApiKey = None,
) -> None:
    """Pairs, judge calls, cost and human labels an interval of +-HALF_WIDTH needs."""
    from judge_service.tables import count, usd

    with _reported(), _client(url, api_key) as client:
        planned = client.plan(
            half_width,
            confidence=confidence,
            expected_win_rate=win_rate,
            tie_share=tie_share,
            judge_error=judge_error,
            pilot_run=pilot_run,
            judges=judge or None,
            swap=swap,
            pairs_available=pairs_available,
            mean_prompt_tokens=prompt_tokens,
            mean_output_tokens=output_tokens,
        )
    if as_json:
        _print_json(planned.raw)
        return
    facts = planned.raw["assumptions"]
    tokens = (
        f"{count(planned.input_tokens)} input and {count(planned.output_tokens)} output tokens"
        if planned.input_tokens is not None
        else "tokens unknown (--prompt-tokens)"
    )
    print(planned.summary)
    print(f"judge-only: {count(planned.pairs)} pairs, {count(planned.judge_calls)} judge calls")
    print(f"cost: {tokens}, {usd(planned.cost_usd)}")
    print(f"calibrated: {count(planned.labels)} labels on {count(planned.labels_pairs)} pairs")
    print(
        f"assumed: win rate {facts['win_rate']:.3f}, ties and inconsistent "
        f"{facts['tie_share']:.3f}, judge error {facts['judge_error']:.3f} "
        f"({facts['judge_error_source']})"
    )


@app.command()
def export(
    run_id: Annotated[int, typer.Argument(metavar="RUN")],
    format: Annotated[
        str | None,
        typer.Option("--format", help="parquet, csv or jsonl [default: from -o, else parquet]"),
    ] = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="File [default: run-RUN-judgments.EXT]")
    ] = None,
    pairs: Annotated[
        bool, typer.Option("--pairs", help="One row per pair with outcomes, not per judge call")
    ] = False,
    url: Url = None,
    api_key: ApiKey = None,
) -> None:
    """Write every judge call (or every pair's outcome) to Parquet, CSV or JSONL."""
    what = "pairs" if pairs else "judgments"
    if output is None:
        output = Path(f"run-{run_id}-{what}.{format or 'parquet'}")
    with _reported(), _client(url, api_key) as client:
        written = client.run(run_id).export(output, format=format, what=what)
    err.print(f"wrote {written}")


@app.command()
def judges(as_json: Json = False, url: Url = None, api_key: ApiKey = None) -> None:
    """The judges the server's operator configured."""
    from rich.table import Table

    with _reported(), _client(url, api_key) as client:
        listed = [judge.raw for judge in client.judges()]
    if as_json:
        _print_json(listed)
        return
    table = Table(title="Judges")
    for heading in ("name", "provider", "model"):
        table.add_column(heading)
    for judge in listed:
        table.add_row(judge["name"], judge["provider"], judge["model"])
    Console().print(table)


if __name__ == "__main__":
    app()
