"""The run page's chart of its confidence sequence narrowing, as SVG geometry.

Drawn on the server as inline SVG with presentation attributes only: the dashboard's CSP
allows no inline script or style, and a chart needs neither.
"""

from dataclasses import dataclass

import numpy as np

from judge_service.jobs.stopping import RunSequence

WIDTH, HEIGHT = 640, 200  # the viewBox; the CSS scales it to the column
LEFT, RIGHT, TOP, BOTTOM = 40, 20, 10, 28  # margins for the axis labels
MAX_POINTS = 400  # enough for a smooth line, however many pairs


@dataclass(frozen=True)
class Tick:
    position: float  # x or y in the viewBox
    label: str


@dataclass(frozen=True)
class SequenceChart:
    band: str  # polygon points: the upper bound forwards, then the lower bound back
    lower: str  # polyline points
    upper: str
    x_ticks: list[Tick]
    y_ticks: list[Tick]
    value_y: float | None  # the value the rule must exclude, if it is that kind of rule
    stop_x: float | None  # where the run stopped, if it has
    stopped_pairs: int | None
    pairs: int
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    right: float = WIDTH - RIGHT
    top: int = TOP
    bottom: float = HEIGHT - BOTTOM


def _x(pairs: np.ndarray | float, total: int) -> np.ndarray:
    return LEFT + np.asarray(pairs, dtype=np.float64) / max(total, 1) * (WIDTH - LEFT - RIGHT)


def _y(values: np.ndarray | float) -> np.ndarray:
    return TOP + (1 - np.asarray(values, dtype=np.float64)) * (HEIGHT - TOP - BOTTOM)


def _points(xs: np.ndarray, ys: np.ndarray) -> str:
    return " ".join(f"{x:.1f},{y:.1f}" for x, y in zip(xs.tolist(), ys.tolist(), strict=True))


def sequence_chart(state: RunSequence | None) -> SequenceChart | None:
    """Bounds against pairs judged; None for a run without a stop rule or before any pair."""
    if state is None or state.sequence.pairs == 0:
        return None
    total = state.sequence.pairs
    index = np.unique(np.linspace(0, total - 1, min(total, MAX_POINTS)).round().astype(int))
    xs = _x(index + 1, total)
    lower = _y(state.sequence.lower[index])
    upper = _y(state.sequence.upper[index])
    steps = sorted({round(total * f) for f in (0.25, 0.5, 0.75, 1.0)} - {0})
    rule = state.rule
    return SequenceChart(
        band=_points(np.concatenate([xs, xs[::-1]]), np.concatenate([upper, lower[::-1]])),
        lower=_points(xs, lower),
        upper=_points(xs, upper),
        x_ticks=[Tick(float(_x(step, total)), str(step)) for step in steps],
        y_ticks=[Tick(float(_y(v)), f"{v:.0%}") for v in (0.0, 0.25, 0.5, 0.75, 1.0)],
        value_y=float(_y(rule.excludes)) if rule.excludes is not None else None,
        stop_x=float(_x(state.stopped_pairs, total)) if state.stopped_pairs else None,
        stopped_pairs=state.stopped_pairs,
        pairs=total,
    )
