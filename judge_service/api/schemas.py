"""Request and response bodies. Limits here are what a 422 names when input is refused."""

from datetime import datetime
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
)

from judge_service.db.models import BatchStatus, RunMode
from judge_service.judging.images import (
    DATA_URI_PATTERN,
    HTTPS_URL_PATTERN,
    MAX_IMAGES,
    check_image_url,
)
from judge_service.judging.probes import ProbeKind
from judge_service.judging.protocol import Scale
from judge_service.judging.rubrics import DEFAULT_RUBRIC, RubricDefinition
from judge_service.services.stats_models import StopWhen
from judge_service.text import Text, storable
from judge_service.web.deps import MAX_ROW_ID

MAX_TRACE_CHARS = 200_000
MAX_QUESTION_CHARS = 50_000
MAX_METADATA_KEYS = 50
MAX_PAIRS_PER_POST = 10_000
# Rubric versions are integer columns (ids: `web.deps.MAX_ROW_ID`): a larger number is no
# version, and PostgreSQL refuses to compare a column with it.
MAX_VERSION = 2**31 - 1

Label = Annotated[Text, Field(min_length=1, max_length=200)]
MetadataValue = (
    Annotated[str, Field(max_length=1000), AfterValidator(storable)] | int | float | bool
)


class ErrorDetail(BaseModel):
    """A refusal other than a validation error (404, 409, 413), said in words."""

    detail: str


def refused(description: str) -> dict[str, Any]:
    """One entry of a route's `responses=`, so the OpenAPI document lists every status."""
    return {"model": ErrorDetail, "description": description}


NO_RUN = refused("No such run")
TOO_LARGE = refused("The body is over the server's size limit (JUDGE_MAX_BODY_BYTES)")
JUDGES_CHANGED = refused("A judge of the run is not configured as when the run was created")


Budget = Annotated[float, Field(gt=0, le=1_000_000, allow_inf_nan=False)]


def _whole(value: Any) -> Any:
    """7805.0 is an integer to JSON Schema, so to the strict request models too; true and "5"
    stay for their strict check to refuse."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


WHOLE = BeforeValidator(_whole)
# An optional one keeps its bounds before `WHOLE` (`Annotated[int, Field(...), WHOLE]`): in
# the other order pydantic writes them into the schema as "ge"/"le", which JSON Schema lacks.
WholeNumber = Annotated[int, WHOLE]


class RunCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)  # 0 is not false: as the schema says

    name: Label
    baseline: Label = Field(description="Label of the base model")
    candidate: Label = Field(description="Label of the fine-tuned model")
    judges: list[Annotated[str, Field(min_length=1, max_length=100)]] = Field(
        min_length=1,
        max_length=10,
        description="Names from GET /v1/judges",
        json_schema_extra={"uniqueItems": True},
    )
    swap: bool = Field(default=True, description="Judge each pair in both orders")
    rubric: Text = Field(
        default=DEFAULT_RUBRIC, max_length=60, description="A name from GET /v1/rubrics"
    )
    rubric_version: Annotated[int, Field(ge=1, le=MAX_VERSION), WHOLE] | None = Field(
        default=None, description="Default: the latest"
    )
    scale: Scale = Field(
        default=Scale.THREE, strict=False, description="3-way (A/B/C) or 5-level (A>>B..B>>A)"
    )
    strong_weight: float = Field(
        default=3.0, ge=1.0, le=10.0, description="Games a strong 5-level verdict counts as"
    )
    mode: RunMode = Field(
        default=RunMode.LIVE,
        strict=False,
        description="live: one API call per judgment; batch: the providers' batch APIs "
        "(half price, results within 24 h; needs RQ workers)",
    )
    cache: bool = Field(
        default=True,
        description="Reuse a judgment already made identically in this project (no call, "
        "no cost) instead of calling the judge again",
    )
    budget_usd: Budget | None = Field(
        default=None,
        description="Stop claiming judgments once the run's stored spend reaches this; "
        "needs every judge priced",
    )
    stop_when: StopWhen | None = Field(
        default=None,
        description="Stop once decided: the pairs are judged in a random order and the rest "
        "skipped (never sent, never billed) once the rule holds; live mode only",
    )


class RunUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)  # 0 is not false: as the schema says

    budget_usd: Budget | None = Field(
        description="A new budget (null: none); pending judgments are queued again if it "
        "leaves room"
    )


class EstimatePublic(BaseModel):
    """What judging the run's unfinished judgments should take, predicted without a call."""

    judgments: int = Field(description="Unfinished judgments (pending or running)")
    cache_hits: int = Field(description="Of them, answerable from the judgment cache: free")
    input_tokens: int = Field(description="Rendered prompt characters / 4, cache hits excluded")
    output_tokens: int = Field(
        description="Per call, the judge's mean output in this run so far, else its max_tokens"
    )
    cost_usd: float | None = Field(description="At the judges' prices; null if one has none")
    spent_usd: float = Field(description="Stored cost of the run's finished judgments")
    warnings: list[str] = Field(
        default_factory=list,
        description="Judges whose max_tokens is below what their calls in the project used",
    )


class RunCountsPublic(BaseModel):
    pairs: int
    judgments_expected: int
    judgments_done: int
    judgments_failed: int
    failed_by_reason: dict[str, int] = Field(
        description="Failed judge calls by error kind: rate_limited, timeout, parse_error, ..."
    )
    judgments_skipped: int = Field(
        default=0, description="Never judged: left when the run stopped once decided"
    )


class RunPublic(BaseModel):
    id: int
    name: str
    baseline: str
    candidate: str
    judges: list[str]
    swap: bool
    rubric: str
    rubric_version: int
    scale: Scale
    strong_weight: float
    mode: RunMode
    cache: bool
    budget_usd: float | None
    spent_usd: float = Field(description="Stored cost of its judge calls so far")
    status: str = Field(description="pending, running, done or budget_exhausted")
    counts: RunCountsPublic
    stop_when: StopWhen | None = None
    stopped_at: datetime | None = Field(default=None, description="When its stop rule held")
    stop_reason: str | None = None
    probe_of: int | None = Field(default=None, description="A probe run: the run it probes")
    probe: ProbeKind | None = Field(default=None, description="A probe run: its one change")
    created_at: datetime


DEFAULT_PROBE_SAMPLE = 50


class ProbesCreate(BaseModel):
    """Probe runs to make from a run: one per kind, over one seeded sample of its pairs."""

    model_config = ConfigDict(extra="forbid", strict=True)  # 0 is not false: as the schema says

    probes: list[Annotated[ProbeKind, Field(strict=False)]] = Field(
        min_length=1,
        max_length=len(ProbeKind),
        json_schema_extra={"uniqueItems": True},  # as `_once_each` checks
        description="Kinds: swap_answers, pad_length, drop_images, shuffle_rationale",
    )
    sample: WholeNumber = Field(
        default=DEFAULT_PROBE_SAMPLE,
        ge=1,
        le=MAX_PAIRS_PER_POST,
        description="Pairs to re-judge (at most the run's pairs)",
    )
    seed: Annotated[int, Field(ge=0, le=2**31 - 1), WHOLE] | None = Field(
        default=None, description="Draws the sample and the probes' choices"
    )

    @field_validator("probes")
    @classmethod
    def _once_each(cls, probes: list[ProbeKind]) -> list[ProbeKind]:
        twice = sorted({kind.value for kind in probes if probes.count(kind) > 1})
        if twice:
            raise ValueError(f"probe kinds listed twice: {twice}")
        return probes


class ProbesCreated(BaseModel):
    """The probe runs made (committed and queued), with the seed that drew the sample."""

    seed: int
    sample: int = Field(description="Pairs each probe run re-judges")
    runs: list[RunPublic]


class BatchPublic(BaseModel):
    """One provider batch of a batch-mode run."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    judge: str
    provider: str
    provider_batch_id: str | None = Field(description="The provider's id, once it accepted it")
    status: BatchStatus = Field(
        description="submitting, in_progress, ended, or lost (its judgments went back)"
    )
    provider_status: str | None = Field(description="The provider's last word on it")
    requests: int
    succeeded: int
    errored: int = Field(description="Not succeeded: back to pending, or failed after retries")
    error: str | None
    created_at: datetime
    submitted_at: datetime | None
    finished_at: datetime | None


class PairIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)  # 0 is not false: as the schema says

    external_id: Label = Field(description="Your id for the pair; resubmitting it is a no-op")
    question: Annotated[Text, Field(min_length=1, max_length=MAX_QUESTION_CHARS)]
    baseline_trace: Annotated[Text, Field(min_length=1, max_length=MAX_TRACE_CHARS)]
    candidate_trace: Annotated[Text, Field(min_length=1, max_length=MAX_TRACE_CHARS)]
    reference_answer: Annotated[Text, Field(max_length=MAX_QUESTION_CHARS)] | None = None
    image_urls: list[
        Annotated[
            str,
            Field(
                max_length=8_000_000,
                json_schema_extra={
                    "anyOf": [{"pattern": HTTPS_URL_PATTERN}, {"pattern": DATA_URI_PATTERN}]
                },
            ),
            AfterValidator(check_image_url),
        ]
    ] = Field(
        default_factory=list,
        max_length=MAX_IMAGES,
        description="https URLs (passed to the provider, never fetched here) or base64 data URIs",
    )
    metadata: dict[Annotated[Text, Field(min_length=1, max_length=100)], MetadataValue] = Field(
        default_factory=dict,
        max_length=MAX_METADATA_KEYS,
        description="Flat key/value labels such as modality, used for breakdowns",
    )


class PairsIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)  # 0 is not false: as the schema says

    pairs: list[PairIn] = Field(min_length=1, max_length=MAX_PAIRS_PER_POST)


class RetryAccepted(BaseModel):
    requeued: int = Field(description="Failed judge calls set back to pending")
    pairs: int = Field(description="Pairs they belong to")
    jobs: int = Field(
        description="Jobs queued for those pairs, with any that other requests queued at once"
    )


class PairsAccepted(BaseModel):
    accepted: int
    duplicates: int
    jobs: int = Field(
        description="Jobs queued for the accepted pairs, with any that other requests queued "
        "at once"
    )


class RubricPublic(RubricDefinition):
    version: int
    builtin: bool


class JudgePublic(BaseModel):
    name: str
    provider: str
    model: str


DEFAULT_TIE_SHARE = 0.2
DEFAULT_JUDGE_ERROR = 0.15


class PlanCreate(BaseModel):
    """What a plan is for, and what is expected of the judge (docs/statistics.md, Planning)."""

    model_config = ConfigDict(
        extra="forbid",
        strict=True,  # 0 is not false: as the schema says
        # Expected figures, or a pilot run's (its own tie share included).
        json_schema_extra={
            "oneOf": [
                {
                    "required": ["expected_win_rate"],
                    "properties": {
                        "expected_win_rate": {"type": "number"},
                        "pilot_run_id": {"type": "null"},
                    },
                },
                {
                    "required": ["pilot_run_id"],
                    "properties": {
                        "pilot_run_id": {"type": "integer"},
                        "expected_win_rate": {"type": "null"},
                        "tie_share": {"type": "null"},
                    },
                },
            ]
        },
    )

    half_width: float = Field(
        ge=0.001, le=0.5, description="Target half-width of the interval on the win rate, e.g. 0.03"
    )
    confidence: float = Field(default=0.95, ge=0.5, le=0.999)
    pilot_run_id: Annotated[int, Field(ge=1, le=MAX_ROW_ID), WHOLE] | None = Field(
        default=None,
        description="A finished run of this project whose figures stand in for the expected "
        "ones: win rate, tie and inconsistent shares, judge error (with 30+ labelled pairs) and "
        "tokens per call. Instead of expected_win_rate and tie_share",
    )
    expected_win_rate: float | None = Field(
        default=None,
        gt=0,
        lt=1,
        validate_default=True,
        description="Expected half-credit win rate (wins + half of ties and inconsistent pairs)",
    )
    tie_share: float | None = Field(
        default=None,
        ge=0,
        lt=1,
        validate_default=True,
        description=f"Expected share of ties and order-inconsistent pairs (default "
        f"{DEFAULT_TIE_SHARE})",
    )
    judge_error: float | None = Field(
        default=None,
        ge=0,
        le=1,
        description="The judge's mean squared error against people: the mean over pairs of "
        "(judge's credit - a person's credit)², credits being win 1, tie 1/2, loss 0. A "
        "decisive verdict a person calls a tie adds 0.25, one they reverse 1. Default "
        f"{DEFAULT_JUDGE_ERROR}, or the pilot run's measure; given, it replaces both",
    )
    judges: list[Annotated[str, Field(min_length=1, max_length=100)]] | None = Field(
        default=None,
        min_length=1,
        max_length=10,
        description="Names from GET /v1/judges; default: the pilot run's, else every one",
        json_schema_extra={"uniqueItems": True},
    )
    swap: bool = Field(default=True, description="Judge each pair in both orders")
    pairs_available: Annotated[int, Field(ge=1, le=1_000_000_000), WHOLE] | None = Field(
        default=None, description="Pairs in your dataset, if limited"
    )
    mean_prompt_tokens: float | None = Field(
        default=None,
        gt=0,
        le=10_000_000,
        description="Prompt tokens per call; default: the pilot run's mean",
    )
    mean_output_tokens: float | None = Field(
        default=None,
        gt=0,
        le=1_000_000,
        description="Output tokens per call; default: the pilot run's mean, else max_tokens",
    )

    @field_validator("expected_win_rate")
    @classmethod
    def _rate_or_pilot(cls, rate: float | None, info: ValidationInfo) -> float | None:
        if "pilot_run_id" not in info.data:  # refused itself: nothing to compare with
            return rate
        pilot = info.data["pilot_run_id"]
        if rate is None and pilot is None:
            raise ValueError("give expected_win_rate or pilot_run_id")
        if rate is not None and pilot is not None:
            raise ValueError("give expected_win_rate or pilot_run_id, not both")
        return rate

    @field_validator("tie_share")
    @classmethod
    def _share_fits_the_rate(cls, share: float | None, info: ValidationInfo) -> float | None:
        if share is not None and info.data.get("pilot_run_id") is not None:
            raise ValueError("the pilot run's figures give the tie share")
        rate = info.data.get("expected_win_rate")
        halves = DEFAULT_TIE_SHARE if share is None else share
        if rate is not None and not halves / 2 <= rate <= 1 - halves / 2:
            raise ValueError(
                f"a win rate of {rate} cannot have {halves} of the pairs at half credit: with "
                f"that share it lies between {halves / 2} and {1 - halves / 2}"
            )
        return share


class PlanTokens(BaseModel):
    input: int
    output: int


class PlanAssumptions(BaseModel):
    """What the plan's figures rest on, each with where it came from."""

    win_rate: float = Field(description="Half-credit win rate")
    tie_share: float = Field(description="Ties and order-inconsistent pairs")
    credit_variance: float = Field(description="Variance of a pair's credit")
    judge_error: float
    judge_error_source: str
    judge_weight: float = Field(description="PPI++ weight of the judge at the planned labels")
    pilot_run_id: int | None
    pilot_pairs: int | None = Field(description="Pilot pairs with a panel outcome")
    z: float
    judges: list[str]
    swap: bool
    mean_prompt_tokens: dict[str, float] | None = Field(
        description="Per judge; null when unknown (give mean_prompt_tokens or a pilot run)"
    )
    mean_output_tokens: dict[str, float]
    tokens_source: str


class PlanPublic(BaseModel):
    """Pairs, judge calls, cost and human labels that an interval of the asked width needs."""

    half_width: float
    confidence: float
    pairs: int = Field(description="Judged pairs for the judge-only interval on the win rate")
    judge_calls: int
    tokens: PlanTokens | None = Field(description="Of those calls; null without prompt tokens")
    cost_usd: float | None = Field(
        description="At the configured prices (live calls); null if a judge has none"
    )
    labels: int = Field(
        description="Human labels, on uniformly drawn pairs, for the calibrated interval"
    )
    labels_pairs: int = Field(
        description="Judged pairs the calibrated interval needs, more than `pairs`: it cannot "
        "be narrower than people labelling every judged pair"
    )
    enough_pairs: bool | None = Field(
        description="pairs_available covers `pairs` (null when not given)"
    )
    assumptions: PlanAssumptions
    summary: str


NO_DRIFT_REFERENCE = refused("No drift reference for the judge, or its configuration changed")


class DriftReferenceCreate(BaseModel):
    """A run's pairs (or a seeded sample of them) as the reference set of a judge's drift
    checks; the judge must have judged the run."""

    model_config = ConfigDict(extra="forbid", strict=True)  # 0 is not false: as the schema says

    run_id: WholeNumber = Field(ge=1, le=MAX_ROW_ID)
    judge: str = Field(min_length=1, max_length=100, description="A name from GET /v1/judges")
    sample: Annotated[int, Field(ge=2, le=100_000), WHOLE] | None = Field(
        default=None, description="Pairs drawn from the run (default: all)"
    )
    seed: Annotated[int, Field(ge=0, le=2**31 - 1), WHOLE] | None = Field(
        default=None, description="Seeds the sample"
    )


class DriftCheckCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)  # 0 is not false: as the schema says

    judge: str = Field(min_length=1, max_length=100, description="A name from GET /v1/judges")
