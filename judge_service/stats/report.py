"""A run's figures from its judgments as columns: per judge, for the panel, per stratum.

`build_report(frame)` is the single entry point the API, the client and the dashboard share.
Every figure is defined in docs/statistics.md. The work is a few vectorised passes over the
frame: a dense (judge, pair, order) grid of verdicts, then per entity (a judge or the panel)
counts, Wilson intervals, a multinomial bootstrap over kinds of pairs, and the bias fits.
"""

from dataclasses import dataclass, fields, replace

import numpy as np

from judge_service.stats.agreement import (
    Agreement,
    AgreementRate,
    HumanAgreement,
    JudgePairAgreement,
    human_agreement,
    judge_agreement,
)
from judge_service.stats.bias import (
    first_slot_rate,
    length_controlled,
    longer_preferred_rate,
)
from judge_service.stats.bootstrap import group, percentile_interval, resample
from judge_service.stats.calibrated import Calibrated, calibrate
from judge_service.stats.frame import (
    NO_VERDICT,
    NOT_JUDGED,
    PENDING,
    HumanLabels,
    LabelDraws,
    RunFrame,
)
from judge_service.stats.multiplicity import Adjusted, adjust
from judge_service.stats.preference import (
    INCONSISTENT,
    LOSS,
    NO_OUTCOME,
    TIE,
    WIN,
    PreferenceSummary,
    pair_outcomes,
    panel_outcomes,
    summarize_counts,
)

__all__ = [
    "Agreement",
    "AgreementRate",
    "Calibrated",
    "HumanAgreement",
    "JudgeFigures",
    "JudgePairAgreement",
    "OrderLevelFigures",
    "RunReport",
    "StratumReport",
    "build_report",
    "pair_credit",
    "pair_outcome_table",
]

_ABSENT = -127  # no row at all for this (judge, pair, order): counts as pending
_LEVELS = (-2, -1, 0, 1, 2)  # 5-level verdicts from the candidate's side; +-2 is strong


@dataclass(frozen=True)
class OrderLevelFigures:
    """Arena-Hard style: every order a game, a strong verdict worth `strong_weight` games.

    Counted on the same pairs as the pair-level figures; wins/losses/ties are weighted.
    """

    games: int  # verdicts counted (unweighted)
    wins: float
    losses: float
    ties: float
    win_rate: float | None  # (wins + ties / 2) / (wins + losses + ties)
    win_rate_ci: tuple[float, float] | None  # percentile bootstrap over pairs


@dataclass(frozen=True, kw_only=True)
class JudgeFigures(PreferenceSummary):
    """One judge's (or the panel's) figures: pair-level (inherited), order-level, bias."""

    order_level: OrderLevelFigures
    first_slot_rate: float | None
    first_slot_rate_ci: tuple[float, float] | None
    first_slot_n: int
    longer_preferred_rate: float | None
    longer_preferred_rate_ci: tuple[float, float] | None
    longer_preferred_n: int
    length_controlled_win_rate: float | None  # None with a reason below when extrapolated
    length_controlled_win_rate_ci: tuple[float, float] | None  # percentile bootstrap, pairs
    length_controlled_reason: str | None  # why the figure is None; None when it is given
    calibrated: Calibrated | None = None  # corrected by people's labels; None: not asked for


@dataclass(frozen=True, kw_only=True)
class StratumReport(Adjusted):
    """A stratum's figures; the inherited fields adjust its panel sign test across the strata."""

    panel: JudgeFigures
    per_judge: dict[str, JudgeFigures]


@dataclass(frozen=True)
class RunReport:
    panel: JudgeFigures
    per_judge: dict[str, JudgeFigures]
    agreement: Agreement
    human: HumanAgreement | None
    by_stratum: dict[str, StratumReport] | None


@dataclass(frozen=True)
class _Entity:
    """Per-pair columns of one judge or of the panel, the input of `_figures`."""

    outcome: np.ndarray  # int8 pair outcome, NO_OUTCOME when missing
    reason: np.ndarray  # int16 index into the report's reasons when missing, else -1
    games: np.ndarray  # int8 (pairs, k) 5-level verdicts of the games behind the outcome
    game_order: np.ndarray  # int8 (pairs, k) the order each game was judged in
    judged: np.ndarray  # int16 judges with an outcome on the pair (pooled consistency)
    consistent: np.ndarray  # int16 of those, how many had both orders agree


@dataclass(frozen=True)
class _Calibration:
    """What the calibrated figures need: the queue's draws and the population they came from."""

    draws: LabelDraws
    decided: np.ndarray  # bool per pair: has a panel outcome (the population)
    population: int


def pair_credit(outcome: np.ndarray) -> np.ndarray:
    """Each pair's credit for the candidate; NaN where there is no outcome."""
    has = outcome != NO_OUTCOME
    credit = np.full(outcome.size, np.nan)
    credit[has] = _CREDIT[outcome[has] + 1]
    return credit


@dataclass(frozen=True)
class _Settings:
    reasons: list[str]
    orders: int
    strong_weight: float
    rounds: int
    seed: int
    confidence: float


def _reason_table(names: list[str]) -> tuple[list[str], int, int, np.ndarray]:
    """The report's reason names (the frame's, plus pending and not-judged) and which fail."""
    reasons = list(names)
    for extra in (PENDING, NOT_JUDGED):
        if extra not in reasons:
            reasons.append(extra)
    failure = np.array([name not in (PENDING, NOT_JUDGED) for name in reasons])
    return reasons, reasons.index(PENDING), reasons.index(NOT_JUDGED), failure


def _grid(frame: RunFrame, pending: int) -> tuple[np.ndarray, np.ndarray]:
    """(judges, pairs, 2) 5-level verdicts and row reasons; no row = _ABSENT and pending."""
    shape = (len(frame.judges), frame.n_pairs, 2)
    verdicts = np.full(shape, _ABSENT, dtype=np.int8)
    reasons = np.full(shape, pending, dtype=np.int16)
    if frame.pair.size:
        flat = (
            frame.judge.astype(np.intp) * frame.n_pairs + frame.pair.astype(np.intp)
        ) * 2 + frame.order.astype(np.intp)
        verdict = frame.verdict.astype(np.int8)
        missing = verdict == NO_VERDICT
        level = np.where(missing, np.int8(NO_VERDICT), verdict * (1 + frame.strong.astype(np.int8)))
        verdicts.reshape(-1)[flat] = level
        row_reason = np.where(missing, frame.reason.astype(np.int16), np.int16(-1))
        row_reason[missing & (row_reason < 0)] = pending
        reasons.reshape(-1)[flat] = row_reason
    return verdicts, reasons


def _judge_entity(
    verdicts: np.ndarray,
    reasons: np.ndarray,
    orders: int,
    pending: int,
    not_judged: int,
    failure: np.ndarray,
) -> _Entity:
    """A judge's pair outcomes and missing reasons from its (pairs, 2) grid."""
    n = verdicts.shape[0]
    if orders == 1:
        # One judgment per pair, in whichever order it was made.
        use_second = verdicts[:, 0] == _ABSENT
        games = np.where(use_second, verdicts[:, 1], verdicts[:, 0])[:, None]
        game_order = use_second.astype(np.int8)[:, None]
        slot_reason = np.where(use_second, reasons[:, 1], reasons[:, 0])
        valid = games[:, 0] >= -2
        outcome = np.where(valid, np.sign(games[:, 0]), NO_OUTCOME).astype(np.int8)
        reason = np.where(valid, np.int16(-1), slot_reason).astype(np.int16)
    else:
        games = verdicts
        game_order = np.broadcast_to(np.array([0, 1], dtype=np.int8), (n, 2))
        valid = games >= -2
        signs = np.where(valid, np.sign(games), np.int8(NO_VERDICT)).astype(np.int8)
        outcome = pair_outcomes(signs[:, 0], signs[:, 1])
        fails = (reasons >= 0) & failure[np.maximum(reasons, 0)]
        reason = np.where(
            fails[:, 0],
            reasons[:, 0],
            np.where(
                fails[:, 1],
                reasons[:, 1],
                np.where((reasons == pending).any(axis=1), pending, not_judged),
            ),
        ).astype(np.int16)
        reason[outcome != NO_OUTCOME] = -1
    has = outcome != NO_OUTCOME
    return _Entity(
        outcome=outcome,
        reason=reason,
        games=games,
        game_order=game_order,
        judged=has.astype(np.int16),
        consistent=(has & (outcome != INCONSISTENT)).astype(np.int16),
    )


def _panel_entity(judges: list[_Entity], n_pairs: int, pending: int) -> _Entity:
    """Majority outcome per pair; the first judge's reason when any judge lacks an outcome."""
    if not judges:
        empty = np.zeros((n_pairs, 0), dtype=np.int8)
        return _Entity(
            outcome=np.full(n_pairs, NO_OUTCOME, dtype=np.int8),
            reason=np.full(n_pairs, pending, dtype=np.int16),
            games=empty,
            game_order=empty,
            judged=np.zeros(n_pairs, dtype=np.int16),
            consistent=np.zeros(n_pairs, dtype=np.int16),
        )
    outcome = panel_outcomes(np.stack([j.outcome for j in judges]))
    reason = np.full(n_pairs, -1, dtype=np.int16)
    for judge in reversed(judges):
        reason = np.where(judge.reason >= 0, judge.reason, reason)
    return _Entity(
        outcome=outcome,
        reason=reason,
        games=np.concatenate([j.games for j in judges], axis=1),
        game_order=np.concatenate([j.game_order for j in judges], axis=1),
        judged=np.stack([j.judged for j in judges]).sum(axis=0, dtype=np.int16),
        consistent=np.stack([j.consistent for j in judges]).sum(axis=0, dtype=np.int16),
    )


def _select(entity: _Entity, index: np.ndarray | None) -> _Entity:
    if index is None:
        return entity
    return _Entity(*(getattr(entity, f.name)[index] for f in fields(_Entity)))


@dataclass(frozen=True)
class _Kinds:
    """Pairs grouped by kind: outcome and how many of their games fell on each verdict level.

    Pairs of one kind are interchangeable in every figure, so sums over pairs are
    `counts @ value` and the bootstrap resamples `counts` (see bootstrap.py).
    """

    counts: np.ndarray  # pairs of each kind
    credit: np.ndarray  # pair-level credit: 1, 0.5, 0
    wins: np.ndarray  # weighted order-level wins, losses, ties of one pair of the kind
    losses: np.ndarray
    ties: np.ndarray
    games: np.ndarray  # wins + losses + ties


# Credit by outcome + 1, i.e. for LOSS, TIE, WIN, INCONSISTENT.
_CREDIT = np.array([0.0, 0.5, 1.0, 0.5])


def _pair_kinds(outcome: np.ndarray, games: np.ndarray, strong_weight: float) -> _Kinds:
    """Group pairs by kind; the key is outcome plus the count of games per level in base k+1."""
    base = games.shape[1] + 1
    # A game on level l adds base**l: the sum spells out the per-level counts in base `base`.
    powers = base ** np.arange(len(_LEVELS), dtype=np.int64)
    key = np.zeros(outcome.size, dtype=np.int64)
    for column in range(games.shape[1]):
        key += powers[games[:, column].astype(np.intp) + 2]
    _, counts, keys = group(key * 4 + (outcome.astype(np.int64) + 1))
    levels = [(keys // 4 // power) % base for power in powers]  # order of _LEVELS
    wins = strong_weight * levels[4] + levels[3]
    losses = strong_weight * levels[0] + levels[1]
    ties = levels[2].astype(np.float64)
    return _Kinds(
        counts=counts,
        credit=_CREDIT[keys % 4],
        wins=wins,
        losses=losses,
        ties=ties,
        games=wins + losses + ties,
    )


def _figures(
    entity: _Entity, baseline_len: np.ndarray, candidate_len: np.ndarray, cfg: _Settings
) -> JudgeFigures:
    outcome = entity.outcome
    has = outcome != NO_OUTCOME
    n = int(has.sum())
    # outcome + 1 maps LOSS, TIE, WIN, INCONSISTENT to 0..3.
    tally = np.bincount(outcome[has] + 1, minlength=4)
    wins, losses, ties, inconsistent = (
        int(tally[code + 1]) for code in (WIN, LOSS, TIE, INCONSISTENT)
    )
    missing_counts = np.bincount(entity.reason[~has], minlength=len(cfg.reasons))
    missing_reasons = {
        cfg.reasons[i]: int(count) for i, count in enumerate(missing_counts) if count
    }

    games = entity.games[has]
    game_order = entity.game_order[has]
    kinds = _pair_kinds(outcome[has], games, cfg.strong_weight)

    pair_ci = order_ci = None
    if cfg.rounds > 0 and n:
        draws = resample(kinds.counts, cfg.rounds, cfg.seed).astype(np.float64)
        pair_ci = percentile_interval(draws @ kinds.credit / n, cfg.confidence)
        order_ci = percentile_interval(
            (draws @ (kinds.wins + kinds.ties / 2)) / (draws @ kinds.games), cfg.confidence
        )

    judged = int(entity.judged.sum())
    summary = summarize_counts(
        wins,
        losses,
        ties,
        inconsistent,
        int((~has).sum()),
        swapped=cfg.orders == 2,
        confidence=cfg.confidence,
        bootstrap_ci=pair_ci,
        missing_reasons=missing_reasons,
    )
    # Pooled over the judges' own outcomes: a majority vote hides each judge's flips.
    consistency = int(entity.consistent.sum()) / judged if cfg.orders == 2 and judged else None

    total_wins = float(kinds.counts @ kinds.wins)
    total_losses = float(kinds.counts @ kinds.losses)
    total_ties = float(kinds.counts @ kinds.ties)
    total = total_wins + total_losses + total_ties
    order_level = OrderLevelFigures(
        games=int(games.size),
        wins=total_wins,
        losses=total_losses,
        ties=total_ties,
        win_rate=(total_wins + total_ties / 2) / total if total else None,
        win_rate_ci=order_ci,
    )

    first = first_slot_rate(np.sign(games).reshape(-1), game_order.reshape(-1), cfg.confidence)
    base_len, cand_len = baseline_len[has], candidate_len[has]
    longer = longer_preferred_rate(outcome[has], base_len, cand_len, cfg.confidence)
    controlled = length_controlled(
        _CREDIT[outcome[has] + 1],
        base_len,
        cand_len,
        rounds=cfg.rounds,
        seed=cfg.seed,
        confidence=cfg.confidence,
    )
    pair_level = {f.name: getattr(summary, f.name) for f in fields(PreferenceSummary)}
    pair_level["position_consistency"] = consistency
    return JudgeFigures(
        **pair_level,
        order_level=order_level,
        first_slot_rate=first.rate,
        first_slot_rate_ci=first.ci,
        first_slot_n=first.n,
        longer_preferred_rate=longer.rate,
        longer_preferred_rate_ci=longer.ci,
        longer_preferred_n=longer.n,
        length_controlled_win_rate=controlled.rate,
        length_controlled_win_rate_ci=controlled.ci,
        length_controlled_reason=controlled.reason,
    )


def _entity_figures(
    judges: list[str],
    entities: list[_Entity],
    panel: _Entity,
    index: np.ndarray | None,
    frame: RunFrame,
    cfg: _Settings,
    cal: _Calibration | None,
) -> tuple[JudgeFigures, dict[str, JudgeFigures]]:
    base_len = frame.baseline_len if index is None else frame.baseline_len[index]
    cand_len = frame.candidate_len if index is None else frame.candidate_len[index]

    def with_calibrated(figures: JudgeFigures, entity: _Entity) -> JudgeFigures:
        if cal is None:
            return figures
        members = np.flatnonzero(cal.decided) if index is None else index[cal.decided[index]]
        return replace(
            figures,
            calibrated=calibrate(
                pair_credit(entity.outcome), members, cal.draws, cal.population, cfg.confidence
            ),
        )

    per_judge = {
        name: with_calibrated(_figures(_select(entity, index), base_len, cand_len, cfg), entity)
        for name, entity in zip(judges, entities, strict=True)
    }
    if len(judges) == 1:
        # A panel of one is that judge: same outcomes, games and pooled consistency.
        return per_judge[judges[0]], per_judge
    panel_figures = _figures(_select(panel, index), base_len, cand_len, cfg)
    return with_calibrated(panel_figures, panel), per_judge


def _judge_entities(
    frame: RunFrame, pending: int, not_judged: int, failure: np.ndarray
) -> list[_Entity]:
    verdicts, row_reasons = _grid(frame, pending)
    return [
        _judge_entity(verdicts[j], row_reasons[j], frame.orders, pending, not_judged, failure)
        for j in range(len(frame.judges))
    ]


def _outcomes(entities: list[_Entity], n_pairs: int) -> np.ndarray:
    if not entities:
        return np.zeros((0, n_pairs), dtype=np.int8)
    return np.stack([e.outcome for e in entities])


def pair_outcome_table(frame: RunFrame) -> tuple[np.ndarray, np.ndarray]:
    """Each pair's outcome per judge (judges, pairs) and for the panel (pairs,).

    The codes `build_report` counts (WIN, LOSS, TIE, INCONSISTENT, NO_OUTCOME), for views
    that filter pairs by outcome and must agree with the figures.
    """
    _, pending, not_judged, failure = _reason_table(frame.reasons)
    entities = _judge_entities(frame, pending, not_judged, failure)
    per_judge = _outcomes(entities, frame.n_pairs)
    return per_judge, _panel_entity(entities, frame.n_pairs, pending).outcome


def build_report(
    frame: RunFrame,
    humans: HumanLabels | None = None,
    draws: LabelDraws | None = None,
    *,
    bootstrap_rounds: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
) -> RunReport:
    """Every figure of a run: panel, per judge, agreement, humans, and per stratum.

    With `draws` (the label queue's, possibly none yet) every entity also gets its
    calibrated figure; without, `calibrated` is None.

    Each bootstrap starts from `seed`, so a figure does not depend on what else is computed
    (a one-judge panel equals its judge, a stratum's interval is the same alone or not).
    """
    if frame.orders not in (1, 2):
        raise ValueError(f"orders must be 1 or 2, not {frame.orders}")
    reasons, pending, not_judged, failure = _reason_table(frame.reasons)
    cfg = _Settings(
        reasons=reasons,
        orders=frame.orders,
        strong_weight=float(frame.strong_weight),
        rounds=bootstrap_rounds,
        seed=seed,
        confidence=confidence,
    )
    entities = _judge_entities(frame, pending, not_judged, failure)
    panel_entity = _panel_entity(entities, frame.n_pairs, pending)
    cal = None
    if draws is not None:
        decided = panel_entity.outcome != NO_OUTCOME
        cal = _Calibration(draws=draws, decided=decided, population=int(decided.sum()))
    panel, per_judge = _entity_figures(frame.judges, entities, panel_entity, None, frame, cfg, cal)

    outcomes = _outcomes(entities, frame.n_pairs)
    agreement = judge_agreement(list(frame.judges), outcomes)
    human = (
        human_agreement(list(frame.judges), outcomes, panel_entity.outcome, humans, frame.n_pairs)
        if humans is not None
        else None
    )

    by_stratum = None
    if frame.stratum is not None:
        order = np.argsort(frame.stratum, kind="stable")
        bounds = np.searchsorted(frame.stratum[order], np.arange(len(frame.strata) + 1))
        strata = [
            _entity_figures(
                frame.judges,
                entities,
                panel_entity,
                order[bounds[s] : bounds[s + 1]],
                frame,
                cfg,
                cal,
            )
            for s in range(len(frame.strata))
        ]
        # The family is the table's rows: every stratum's panel sign test, alpha 1 - confidence.
        adjusted = adjust([s_panel.sign_test_p for s_panel, _ in strata], 1 - confidence)
        by_stratum = {
            name: StratumReport(panel=s_panel, per_judge=s_judges, **vars(row))
            for name, (s_panel, s_judges), row in zip(frame.strata, strata, adjusted, strict=True)
        }
    return RunReport(
        panel=panel, per_judge=per_judge, agreement=agreement, human=human, by_stratum=by_stratum
    )
