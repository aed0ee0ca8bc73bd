"""The shapes of a run's figures (`GET /v1/runs/{id}/stats`), as the stats service returns
them: the API serves them and the dashboard renders them, so both read one object.

`StopWhen` is here too: a run's stop rule, given when the run is created and reported
back inside its figures (`SequentialStats.rule`).
"""

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from judge_service.judging.protocol import Scale


def _given(name: str, instead_of: str) -> dict[str, Any]:
    """JSON Schema for "`name` is a number and `instead_of` is absent or null"."""
    return {
        "required": [name],
        "properties": {name: {"type": "number"}, instead_of: {"type": "null"}},
    }


class StopWhen(BaseModel):
    """When a run stops, decided: a rule on the anytime-valid confidence sequence of a figure
    (docs/statistics.md, "Stopping when decided"). Exactly one of `excludes`, `half_width`."""

    model_config = ConfigDict(
        extra="forbid",
        strict=True,  # 0 is not false: as the schema says
        json_schema_extra={
            "oneOf": [_given("excludes", "half_width"), _given("half_width", "excludes")]
        },
    )

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
    judge_versions: dict[str, list[str]] = Field(
        default_factory=dict,
        description="Per judge, the versions its replies reported: the reply's model, with "
        "its system fingerprint in parentheses when sent; more than one: it changed mid-run",
    )
    warnings: list[str] = Field(
        default_factory=list, description="What makes these figures less than they seem"
    )
