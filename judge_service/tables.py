"""Terminal rendering of a run's figures, shared by the demo and the CLI."""

from typing import Any

from rich.table import Table


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def _ci(ci: list[float] | None) -> str:
    return "-" if not ci else f"{100 * ci[0]:.1f} - {100 * ci[1]:.1f}"


def headline(stats: dict[str, Any]) -> str:
    """The sentence a paper would print, from a `GET /v1/runs/{id}/stats` body."""
    if not stats["n"]:
        return "No pair has a complete verdict yet."
    judges = ", ".join(stats["judges"])
    return (
        f"{stats['candidate']} preferred over {stats['baseline']} with a win rate of "
        f"{_pct(stats['win_rate'])} over {stats['n']:,} pairs "
        f"(95% CI {_ci(stats['win_rate_ci'])}; judges: {judges})"
    )


def stats_table(stats: dict[str, Any]) -> Table:
    table = Table(title=f"Run {stats['run_id']}: {stats['candidate']} vs {stats['baseline']}")
    for column in ("judge", "n", "wins", "ties", "inconsistent", "losses", "missing"):
        table.add_column(column, justify="left" if column == "judge" else "right")
    table.add_column("win rate", justify="right")
    table.add_column("95% CI", justify="right")
    table.add_column("position consistency", justify="right")
    rows = [(name, figures) for name, figures in stats["per_judge"].items()]
    if len(rows) > 1:
        rows.append(("panel (majority)", stats))
    for name, figures in rows:
        table.add_row(
            name,
            *(
                str(figures[key])
                for key in ("n", "wins", "ties", "inconsistent", "losses", "missing")
            ),
            _pct(figures["win_rate"]),
            _ci(figures["win_rate_ci"]),
            _pct(figures["position_consistency"]),
        )
    return table


def axis_table(by_axis: dict[str, dict[str, Any]]) -> Table:
    """One row per rubric axis, from `GET /stats?axis=...` bodies (panel figures)."""
    table = Table(title="Per-axis win rates (panel)")
    for column in ("axis", "n", "wins", "ties", "inconsistent", "losses", "win rate", "95% CI"):
        table.add_column(column, justify="left" if column == "axis" else "right")
    for axis, stats in by_axis.items():
        table.add_row(
            axis,
            *(str(stats[key]) for key in ("n", "wins", "ties", "inconsistent", "losses")),
            _pct(stats["win_rate"]),
            _ci(stats["win_rate_ci"]),
        )
    return table
