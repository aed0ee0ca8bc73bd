"""Number formats for the pages: the terminal tables' own, so both read the same."""

from collections.abc import Callable
from typing import Any

from judge_service.tables import ci_level, ci_range, count, p_value, pct, usd

# A run's status as the API names it, in words where the name alone does not say what to do.
STATUS_LABELS = {"budget_exhausted": "budget reached"}


def status(value: str) -> str:
    return STATUS_LABELS.get(value, value)


def kappa(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def width(value: float | None) -> str:
    """A share as a CSS percentage, clamped, for bars."""
    return "0%" if value is None else f"{100 * min(max(value, 0.0), 1.0):.2f}%"


FILTERS: dict[str, Callable[..., Any]] = {
    "pct": pct,
    "ci": ci_range,
    "level": ci_level,
    "pvalue": p_value,
    "count": count,
    "usd": usd,
    "kappa": kappa,
    "width": width,
    "status": status,
}
