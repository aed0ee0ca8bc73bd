"""Request and response bodies. Limits here are what a 422 names when input is refused."""

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from judge_service.db.models import BatchStatus, RunMode
from judge_service.judging.images import MAX_IMAGES, check_image_url
from judge_service.judging.protocol import Scale
from judge_service.judging.rubrics import DEFAULT_RUBRIC, RubricDefinition
from judge_service.text import Text, storable

MAX_TRACE_CHARS = 200_000
MAX_QUESTION_CHARS = 50_000
MAX_METADATA_KEYS = 50
MAX_PAIRS_PER_POST = 10_000
# Ids are bigint columns and rubric versions integer ones: larger numbers are no id or
# version, and PostgreSQL refuses to compare a column with them.
MAX_ROW_ID = 2**63 - 1
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


class StopWhen(BaseModel):
    """When a run stops, decided: a rule on the anytime-valid confidence sequence of a figure
    (docs/statistics.md, "Stopping when decided"). Exactly one of `excludes`, `half_width`."""

    model_config = ConfigDict(extra="forbid")

    excludes: float | None = Field(
        default=None,
        gt=0,
        lt=1,
        allow_inf_nan=False,
        description="Stop once the sequence excludes this value (0.5: a preference either way)",
    )
    half_width: float | None = Field(
        default=None,
        gt=0,
        lt=0.5,
        allow_inf_nan=False,
        description="Stop once the sequence's half-width is at most this",
    )
    figure: Literal["win_rate"] = Field(
        default="win_rate", description="The panel's half-credit win rate (the one supported)"
    )
    confidence: float = Field(default=0.95, ge=0.5, le=0.999, allow_inf_nan=False)

    @model_validator(mode="after")
    def _one_rule(self) -> "StopWhen":
        if (self.excludes is None) == (self.half_width is None):
            raise ValueError("give exactly one of excludes and half_width")
        return self


class RunCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Label
    baseline: Label = Field(description="Label of the base model")
    candidate: Label = Field(description="Label of the fine-tuned model")
    judges: list[Annotated[str, Field(min_length=1, max_length=100)]] = Field(
        min_length=1, max_length=10, description="Names from GET /v1/judges"
    )
    swap: bool = Field(default=True, description="Judge each pair in both orders")
    rubric: Text = Field(
        default=DEFAULT_RUBRIC, max_length=60, description="A name from GET /v1/rubrics"
    )
    rubric_version: int | None = Field(
        default=None, ge=1, le=MAX_VERSION, description="Default: the latest"
    )
    scale: Scale = Field(default=Scale.THREE, description="3-way (A/B/C) or 5-level (A>>B..B>>A)")
    strong_weight: float = Field(
        default=3.0, ge=1.0, le=10.0, description="Games a strong 5-level verdict counts as"
    )
    mode: RunMode = Field(
        default=RunMode.LIVE,
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
    model_config = ConfigDict(extra="forbid")

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
    created_at: datetime


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
    model_config = ConfigDict(extra="forbid")

    external_id: Label = Field(description="Your id for the pair; resubmitting it is a no-op")
    question: Annotated[Text, Field(min_length=1, max_length=MAX_QUESTION_CHARS)]
    baseline_trace: Annotated[Text, Field(min_length=1, max_length=MAX_TRACE_CHARS)]
    candidate_trace: Annotated[Text, Field(min_length=1, max_length=MAX_TRACE_CHARS)]
    reference_answer: Annotated[Text, Field(max_length=MAX_QUESTION_CHARS)] | None = None
    image_urls: list[
        Annotated[str, Field(max_length=8_000_000), AfterValidator(check_image_url)]
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
    model_config = ConfigDict(extra="forbid")

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


Interval = tuple[float, float]
_STATS = ConfigDict(from_attributes=True)


class OrderLevelStats(BaseModel):
    model_config = _STATS

    games: int = Field(description="Order-level verdicts counted (each order of a pair is a game)")
    wins: float = Field(description="Weighted: a strong verdict counts strong_weight games")
    losses: float
    ties: float
    win_rate: float | None = Field(description="(wins + ties / 2) / (wins + losses + ties)")
    win_rate_ci: Interval | None = Field(description="Percentile bootstrap over pairs")


class CalibratedStats(BaseModel):
    """The win rate corrected by people's labels from the label queue (docs/statistics.md)."""

    model_config = _STATS

    estimate: float | None = Field(
        description="Prediction-powered (PPI++) mean credit; null with `reason` when too few "
        "queue labels"
    )
    ci: Interval | None = Field(description="Normal interval of the PPI++ estimate")
    labels_used: int = Field(description="Label-queue draws with a label (the correction's n)")
    labels_excluded: int = Field(description="Labels that do not count here")
    excluded_reasons: dict[str, int] = Field(
        description="ad_hoc: labelled outside the queue; population_changed: drawn while the "
        "run had other decided pairs"
    )
    draws_waiting: int = Field(description="Pairs the queue handed out that are not labelled yet")
    method: str
    lam: float | None = Field(description="PPI++ weight of the judge (0: labels alone)")
    human_only_estimate: float | None = Field(description="The same labels without the judge")
    human_only_ci: Interval | None
    judge_estimate: float | None = Field(description="The judge's mean credit on these pairs")
    residual_variance: float | None = Field(
        description="Variance of the weighted label-minus-judge terms (for planning more labels)"
    )
    label_variance: float | None = Field(
        description="Variance of people's credit, from the draws (the pairs' own term)"
    )
    judge_variance: float | None = Field(description="Variance of the judge's credit")
    population: int = Field(description="Pairs with a panel outcome: what the estimate is about")
    confusion: dict[str, dict[str, int]] = Field(
        description="The judge against people on the draws used: judge outcome (a tie or an "
        "order-inconsistent pair is `tie`) -> person's label -> draws"
    )
    judge_error: float | None = Field(
        description="Weighted mean of (label credit - judge credit)^2: the judge_error of "
        "POST /v1/plan"
    )
    reason: str | None = Field(description="Why `estimate` is null; null when it is given")


class PreferenceStats(BaseModel):
    """One judge's or the panel's figures; every one is defined in docs/statistics.md."""

    model_config = _STATS

    n: int = Field(description="Pairs with a usable outcome")
    wins: int
    losses: int
    ties: int
    inconsistent: int = Field(description="Pairs whose two orders disagreed")
    missing: int = Field(description="Pairs with a failed or unfinished judge call")
    missing_reasons: dict[str, int] = Field(
        description="Why pairs lack an outcome: parse_error, rate_limited, pending, ..."
    )
    win_rate: float | None = Field(description="(wins + 0.5 x (ties + inconsistent)) / n")
    win_rate_ci: Interval | None = Field(
        description="Agresti-Coull interval on the credits' own variance (z²/2 pseudo-wins "
        "and pseudo-losses added)"
    )
    win_rate_bootstrap_ci: Interval | None = Field(
        description="Seeded percentile bootstrap over pairs"
    )
    preferred_rate: float | None = Field(description="wins / n")
    preferred_rate_ci: Interval | None = Field(description="Wilson interval")
    decisive_win_rate: float | None = Field(description="wins / (wins + losses)")
    decisive_win_rate_ci: Interval | None = Field(description="Wilson interval")
    sign_test_p: float | None = Field(
        description="Two-sided exact sign test on decisive pairs (H0: wins as likely as losses)"
    )
    position_consistency: float | None = Field(
        description="Share of pairs whose two orders agree (null without swap)"
    )
    order_level: OrderLevelStats = Field(description="Arena-Hard style: every order a game")
    first_slot_rate: float | None = Field(
        description="Decisive order-level verdicts for the trace shown first (0.5: unbiased)"
    )
    first_slot_rate_ci: Interval | None = Field(description="Wilson interval")
    first_slot_n: int
    longer_preferred_rate: float | None = Field(
        description="Share of decisive pairs of unequal length won by the longer trace"
    )
    longer_preferred_rate_ci: Interval | None = Field(description="Wilson interval")
    longer_preferred_n: int
    length_controlled_win_rate: float | None = Field(
        description="Logistic fit on the standardised length difference, predicted at zero "
        "(null with length_controlled_reason when that is an extrapolation)"
    )
    length_controlled_win_rate_ci: Interval | None = Field(
        description="Percentile bootstrap over pairs, refitting the model each round"
    )
    length_controlled_reason: str | None = Field(
        description="Why length_controlled_win_rate is null (too few pairs on the minority "
        "side of equal length); null when the figure is given"
    )
    calibrated: CalibratedStats | None = Field(
        default=None,
        description="Corrected by people's labels from the label queue; null for a rubric axis "
        "(people label the overall preference)",
    )


class JudgePairAgreementStats(BaseModel):
    model_config = _STATS

    judge_a: str
    judge_b: str
    n: int = Field(description="Pairs where both judges have an outcome")
    agreement: float | None
    kappa: float | None = Field(description="Cohen's kappa over candidate / baseline / tie")


class AgreementStats(BaseModel):
    model_config = _STATS

    pairs: list[JudgePairAgreementStats]
    fleiss_kappa: float | None = Field(description="Over pairs every judge decided (3+ judges)")
    fleiss_n: int


class AgreementRateStats(BaseModel):
    model_config = _STATS

    agree_with_ties: int
    n_with_ties: int
    with_ties: float | None
    agree_without_ties: int
    n_without_ties: int
    without_ties: float | None = Field(description="Counting only votes where neither side tied")


class HumanAgreementStats(BaseModel):
    model_config = _STATS

    labels: int
    pairs: int
    annotators: int
    per_judge: dict[str, AgreementRateStats]
    panel: AgreementRateStats
    human_human: AgreementRateStats


class AdjustedStats(BaseModel):
    """A table row's panel sign test adjusted across the table's rows (docs/statistics.md)."""

    model_config = _STATS

    sign_test_p_holm: float | None = Field(
        description="Holm adjusted across the rows with a sign test (null: no decisive pair)"
    )
    sign_test_p_bh: float | None = Field(description="Benjamini-Hochberg adjusted likewise")
    significant_holm: bool | None = Field(
        description="sign_test_p_holm <= 1 - confidence: survives family-wise error control"
    )
    significant_bh: bool | None = Field(
        description="sign_test_p_bh <= 1 - confidence: survives false discovery rate control"
    )


class StratumStats(AdjustedStats):
    """One stratum's figures; the adjustment's family is the strata of `by_stratum`."""

    panel: PreferenceStats
    per_judge: dict[str, PreferenceStats]


class AxisStats(AdjustedStats):
    """One rubric axis's panel figures; the adjustment's family is the rubric's axes."""

    panel: PreferenceStats


class SequentialStats(BaseModel):
    """A run's anytime-valid confidence sequence for its stop rule's figure, over every pair
    with a panel outcome, in the order they got it (overall, whatever `axis` or `by`)."""

    rule: StopWhen
    confidence: float
    pairs: int = Field(description="Pairs in the sequence so far")
    lower: float | None = Field(description="The sequence's bounds now; null before any pair")
    upper: float | None
    stopped: bool
    stopped_at: datetime | None
    stopped_pairs: int | None = Field(description="Pairs in the sequence when the run stopped")
    reason: str | None = Field(description="Why it stopped; null while it runs")


class RunStats(PreferenceStats):
    """Top-level figures repeat `panel`: each pair's majority outcome across judges.

    The panel's `position_consistency` pools every judge's pairs (a majority
    vote hides flips). With one judge, `panel` equals that judge's figures.
    """

    run_id: int
    baseline: str
    candidate: str
    judges: list[str]
    rubric: str
    rubric_version: int
    scale: Scale
    axis: str | None = Field(description="The rubric axis these figures are about (null: overall)")
    by: str | None = Field(description="The metadata key of `by_stratum` (null: no breakdown)")
    confidence: float
    bootstrap_rounds: int
    seed: int
    panel: PreferenceStats
    per_judge: dict[str, PreferenceStats]
    agreement: AgreementStats = Field(description="Between the run's judges")
    human: HumanAgreementStats | None = Field(description="With human labels (null without any)")
    by_stratum: dict[str, StratumStats] | None = Field(
        description="Every figure per value of metadata key `by`; pairs without it: '(none)'"
    )
    sequential: SequentialStats | None = Field(
        default=None, description="The run's stop rule and its sequence (null without a rule)"
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

    model_config = ConfigDict(extra="forbid")

    half_width: float = Field(
        ge=0.001, le=0.5, description="Target half-width of the interval on the win rate, e.g. 0.03"
    )
    confidence: float = Field(default=0.95, ge=0.5, le=0.999)
    pilot_run_id: int | None = Field(
        default=None,
        ge=1,
        le=MAX_ROW_ID,
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
    )
    swap: bool = Field(default=True, description="Judge each pair in both orders")
    pairs_available: int | None = Field(
        default=None, ge=1, le=1_000_000_000, description="Pairs in your dataset, if limited"
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
