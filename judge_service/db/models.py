"""Tables: a run groups pairs; each pair gets one judgment per (judge, order).

Judgment rows are created with their pair, before any job is enqueued, so the
database alone knows what remains to be judged; the unique (pair, judge,
order) constraint is what makes a second delivery of a job harmless. A run in
batch mode sends its judgments in provider batches, recorded in
`provider_batches` before they are submitted, so a worker that dies between
submitting and polling loses nothing.
"""

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
    true,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from judge_service.judging.rubrics import GENERAL

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

Id = BigInteger().with_variant(Integer, "sqlite")
JsonDoc = JSON().with_variant(JSONB(), "postgresql")


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC in and out, on Postgres (timestamptz) and SQLite alike."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use datetime.now(UTC)")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None or value.tzinfo is not None:
            return value
        return value.replace(tzinfo=UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


class JudgmentStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    # Its run stopped once decided (`runs.stop_when`): never sent to a judge, never billed.
    SKIPPED = "skipped"


class RunMode(StrEnum):
    LIVE = "live"  # one API call per judgment, from RQ jobs
    BATCH = "batch"  # provider batch APIs (half price, up to 24 h), from the workers' loop


class BatchStatus(StrEnum):
    SUBMITTING = "submitting"  # recorded and its judgments claimed; not yet accepted
    IN_PROGRESS = "in_progress"  # accepted by the provider, polled
    ENDED = "ended"  # results mapped back; what did not succeed went back to pending
    LOST = "lost"  # never accepted, or unknown to the provider: its judgments went back


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


DEFAULT_PROJECT = "default"  # runs made before projects existed, and every run of an open server


class Project(Base):
    """A team's space: its runs and everything under them are invisible to other projects."""

    __tablename__ = "projects"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ApiKey(Base):
    """A project's API key, kept only as its SHA-256 (the key is random, so no salt is needed)."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    prefix: Mapped[str] = mapped_column(String(16))  # shown in listings, to tell keys apart
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    # The person whose human labels this key makes; NULL: they are made as `key:<prefix>`.
    annotator: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    project: Mapped[Project] = relationship()


class Run(Base):
    __tablename__ = "runs"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    baseline: Mapped[str] = mapped_column(String(200))
    candidate: Mapped[str] = mapped_column(String(200))
    judges: Mapped[list[str]] = mapped_column(JsonDoc)
    swap: Mapped[bool] = mapped_column(Boolean, default=True)
    rubric_name: Mapped[str] = mapped_column(String(60), default="general")
    rubric_version: Mapped[int] = mapped_column(Integer, default=1)
    # Snapshots, so a run means the same thing after rubrics or judges change.
    rubric: Mapped[dict[str, Any]] = mapped_column(JsonDoc, default=GENERAL.as_json)
    judge_configs: Mapped[dict[str, Any]] = mapped_column(JsonDoc, default=dict)
    scale: Mapped[str] = mapped_column(String(10), default="3-way")
    strong_weight: Mapped[float] = mapped_column(Float, default=3.0)
    mode: Mapped[str] = mapped_column(String(10), default=RunMode.LIVE, server_default="live")
    # Reuse a judgment already made identically in the project instead of paying for it again.
    cache: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    # Once the run's stored spend reaches this, none of its judgments is claimed any more.
    budget_usd: Mapped[float | None] = mapped_column(Float)
    # The sum of its judgments' cost_usd, kept by the writes that store them (jobs/claims.py).
    spent_usd: Mapped[float] = mapped_column(Float, default=0.0, server_default=text("0"))
    # {"excludes": 0.5} or {"half_width": 0.03}, with "figure" and "confidence": once the
    # confidence sequence decides it, the run stops (`jobs/stopping.py`). NULL: judge every pair.
    stop_when: Mapped[dict[str, Any] | None] = mapped_column(
        JSON(none_as_null=True).with_variant(JSONB(none_as_null=True), "postgresql")
    )
    stopped_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    stop_reason: Mapped[str | None] = mapped_column(Text)
    # A probe run (services/probes.py): the run whose pairs it copied with one change, and
    # the kind of change. NULL on ordinary runs.
    probe_of: Mapped[int | None] = mapped_column(
        ForeignKey("runs.id", ondelete="CASCADE"), index=True
    )
    probe: Mapped[str | None] = mapped_column(String(30))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    pairs: Mapped[list["Pair"]] = relationship(back_populates="run", passive_deletes=True)


class Pair(Base):
    __tablename__ = "pairs"
    __table_args__ = (UniqueConstraint("run_id", "external_id"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"))
    external_id: Mapped[str] = mapped_column(String(200))
    question: Mapped[str] = mapped_column(Text)
    reference_answer: Mapped[str | None] = mapped_column(Text)
    image_urls: Mapped[list[str]] = mapped_column(JsonDoc, default=list)
    # "metadata" is reserved on declarative classes, hence the attribute name.
    meta: Mapped[dict[str, Any]] = mapped_column("metadata", JsonDoc, default=dict)
    baseline_trace: Mapped[str] = mapped_column(Text)
    candidate_trace: Mapped[str] = mapped_column(Text)
    # Characters, measured at insert: the length-bias statistics read these, not the traces.
    baseline_chars: Mapped[int] = mapped_column(Integer)
    candidate_chars: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    run: Mapped[Run] = relationship(back_populates="pairs")


class HumanLabel(Base):
    """A person's preference on a pair; one per annotator per pair (a new label replaces it)."""

    __tablename__ = "human_labels"
    __table_args__ = (UniqueConstraint("pair_id", "annotator"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), index=True)
    pair_id: Mapped[int] = mapped_column(ForeignKey("pairs.id", ondelete="CASCADE"))
    annotator: Mapped[str] = mapped_column(String(100))
    label: Mapped[str] = mapped_column(String(20))
    # LabelSource: `queue` when the label queue handed this annotator the pair, else `ad_hoc`.
    source: Mapped[str] = mapped_column(String(10), default="ad_hoc", server_default="ad_hoc")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class LabelSource(StrEnum):
    QUEUE = "queue"  # handed out by the label queue: counts in the calibrated estimate
    AD_HOC = "ad_hoc"  # someone opened the pair: counts for agreement only


class LabelDraw(Base):
    """One pair the label queue handed an annotator, with the probability it was drawn with.

    Draws are independent, with replacement, from the run's judged pairs (the population);
    `probability` is this pair's chance on this draw, `population` how many pairs there
    were. The calibrated estimate weighs each draw's label by 1 / (population x probability).
    """

    __tablename__ = "label_draws"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), index=True)
    pair_id: Mapped[int] = mapped_column(ForeignKey("pairs.id", ondelete="CASCADE"))
    annotator: Mapped[str] = mapped_column(String(100))
    strategy: Mapped[str] = mapped_column(String(20))
    probability: Mapped[float] = mapped_column(Float)
    population: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Rubric(Base):
    """A project's custom rubric version; built-in rubrics live in code, shared and read-only.

    Another project's rubric of the same name is another rubric: its own versions from 1.
    """

    __tablename__ = "rubrics"
    __table_args__ = (UniqueConstraint("project_id", "name", "version"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(60))
    version: Mapped[int] = mapped_column(Integer)
    definition: Mapped[dict[str, Any]] = mapped_column(JsonDoc)
    sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Judgment(Base):
    """One judge call: a pair, a judge, an order."""

    __tablename__ = "judgments"
    __table_args__ = (
        UniqueConstraint("pair_id", "judge", "order"),
        Index("ix_judgments_run_id_status", "run_id", "status"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"))
    pair_id: Mapped[int] = mapped_column(ForeignKey("pairs.id", ondelete="CASCADE"))
    judge: Mapped[str] = mapped_column(String(100))
    order: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20), default=JudgmentStatus.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    claim_token: Mapped[str | None] = mapped_column(String(36))
    # Until when the row's holder is presumed alive: a worker's claim (running) or the queued
    # job carrying it (pending). Past it, the reconciler queues the row again.
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The provider batch that holds the claim (running) or answered it (done): set means the
    # call was made at the batch price.
    batch_id: Mapped[int | None] = mapped_column(
        ForeignKey("provider_batches.id", ondelete="SET NULL"), index=True
    )

    judge_model: Mapped[str | None] = mapped_column(String(200))
    template_id: Mapped[str | None] = mapped_column(String(100))
    template_sha256: Mapped[str | None] = mapped_column(String(64))
    prompt_sha256: Mapped[str | None] = mapped_column(String(64))
    raw_response: Mapped[str | None] = mapped_column(Text)
    label: Mapped[str | None] = mapped_column(String(8))
    verdict: Mapped[str | None] = mapped_column(String(20))
    strong: Mapped[bool | None] = mapped_column(Boolean)
    rationale: Mapped[str | None] = mapped_column(Text)
    # {axis: {"label", "verdict", "strong", "rationale"}} for rubric axes.
    axes: Mapped[dict[str, Any] | None] = mapped_column(JsonDoc)
    images_sent: Mapped[int | None] = mapped_column(Integer)
    boundary: Mapped[str | None] = mapped_column(String(32))
    input_tokens: Mapped[int | None] = mapped_column(Integer)
    output_tokens: Mapped[int | None] = mapped_column(Integer)
    # Of input_tokens, those the provider read from its prompt cache (cheaper).
    cached_input_tokens: Mapped[int | None] = mapped_column(Integer)
    # Of output_tokens, those the judge spent reasoning (as the provider reports them).
    reasoning_tokens: Mapped[int | None] = mapped_column(Integer)
    # The provider's name for the backend that answered (OpenAI `system_fingerprint`); with
    # judge_model (the reply's `model`), what shows a judge changed under a fixed name.
    system_fingerprint: Mapped[str | None] = mapped_column(String(200))
    # The judge's thinking text, kept only for a judge with `keep_thinking`.
    thinking: Mapped[str | None] = mapped_column(Text)
    # At the judge's prices when written (batch discount included); NULL: written unpriced or
    # before 0008, so readers price its tokens at the configured prices instead.
    cost_usd: Mapped[float | None] = mapped_column(Float)
    # Hash of everything that decides the verdict, the project included (jobs/cache.py).
    cache_key: Mapped[str | None] = mapped_column(String(64), index=True)
    # Set: copied from that judgment, with no provider call.
    cached_from_id: Mapped[int | None] = mapped_column(
        ForeignKey("judgments.id", ondelete="SET NULL")
    )
    latency_ms: Mapped[int | None] = mapped_column(Integer)
    error_kind: Mapped[str | None] = mapped_column(String(40))
    error: Mapped[str | None] = mapped_column(Text)

    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ProviderBatch(Base):
    """One provider batch for one judge of a batch-mode run, recorded before it is submitted.

    Its judgments are claimed under `claim_token`, which every request's custom id carries,
    so a result can only be stored while the claim it was sent under still holds.
    """

    __tablename__ = "provider_batches"
    __table_args__ = (Index("ix_provider_batches_status_poll_after", "status", "poll_after"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), index=True)
    judge: Mapped[str] = mapped_column(String(100))
    provider: Mapped[str] = mapped_column(String(20))
    provider_batch_id: Mapped[str | None] = mapped_column(String(200))
    claim_token: Mapped[str] = mapped_column(String(36))
    status: Mapped[str] = mapped_column(String(20), default=BatchStatus.SUBMITTING)
    provider_status: Mapped[str | None] = mapped_column(String(40))
    requests: Mapped[int] = mapped_column(Integer, default=0)
    succeeded: Mapped[int] = mapped_column(Integer, default=0)
    # Errored, expired, canceled, unreadable or missing: back to pending for a later batch.
    errored: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    # Not polled before this; while submitting, until when the submitter is presumed alive.
    poll_after: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class DriftReference(Base):
    """The pairs a drift check of `judge` re-judges in a project: a run's, or a seeded sample.

    The newest row per (project, judge) is the current reference; older ones keep their checks.
    """

    __tablename__ = "drift_references"
    __table_args__ = (Index("ix_drift_references_project_id_judge", "project_id", "judge"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    judge: Mapped[str] = mapped_column(String(100))
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"))
    # The sampled pairs of the run; NULL: all of them.
    pair_ids: Mapped[list[int] | None] = mapped_column(JsonDoc)
    sample: Mapped[int | None] = mapped_column(Integer)
    seed: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class DriftCheck(Base):
    """One re-judging of a reference by its judge alone: a derived run (cache off)."""

    __tablename__ = "drift_checks"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    judge: Mapped[str] = mapped_column(String(100))
    reference_id: Mapped[int] = mapped_column(
        ForeignKey("drift_references.id", ondelete="CASCADE"), index=True
    )
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"))
    # The judge's configuration fingerprint when the check started (config.JudgeConfig).
    judge_config: Mapped[dict[str, Any]] = mapped_column(JsonDoc)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
