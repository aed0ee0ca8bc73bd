"""Terminal rendering of a run's figures, shared by the demo and the CLI."""

from typing import Any

from rich.table import Table


def pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def count(value: int | float | None) -> str:
    return "-" if value is None else f"{value:,.0f}"


def usd(value: float | None) -> str:
    return "no price set" if value is None else f"${value:,.2f}" if value >= 1 else f"${value:.4f}"


def ci_range(ci: list[float] | None) -> str:
    return "-" if not ci else f"{100 * ci[0]:.1f} - {100 * ci[1]:.1f}"


def p_value(p: float | None) -> str:
    """As a paper prints it: exact down to 0.001, a bound below."""
    if p is None:
        return "-"
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"


def ci_level(stats: dict[str, Any]) -> str:
    return f"{100 * stats.get('confidence', 0.95):g}%"


def headline(stats: dict[str, Any]) -> str:
    """The sentence a paper would print, from a `GET /v1/runs/{id}/stats` body."""
    if not stats["n"]:
        return "No pair has a complete verdict yet."
    judges = ", ".join(stats["judges"])
    return (
        f"{stats['candidate']} preferred over {stats['baseline']} with a win rate of "
        f"{pct(stats['win_rate'])} over {stats['n']:,} pairs "
        f"({ci_level(stats)} CI {ci_range(stats['win_rate_ci'])}; sign test "
        f"{p_value(stats.get('sign_test_p'))}; judges: {judges})"
    )


def _rows(stats: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    rows = list(stats["per_judge"].items())
    if len(rows) > 1:
        rows.append(("panel (majority)", stats["panel"]))
    return rows


def stats_table(stats: dict[str, Any], title: str | None = None) -> Table:
    """Preference per judge and for the panel: counts, rates, intervals, sign test."""
    level = ci_level(stats)
    table = Table(
        title=title or f"Run {stats['run_id']}: {stats['candidate']} vs {stats['baseline']}"
    )
    for column in ("judge", "n", "wins", "ties", "incons.", "losses", "missing"):
        table.add_column(column, justify="left" if column == "judge" else "right")
    for column in ("win rate", f"{level} CI", "decisive", f"{level} CI ", "sign test"):
        table.add_column(column, justify="right")
    for name, figures in _rows(stats):
        table.add_row(
            name,
            *(
                str(figures[key])
                for key in ("n", "wins", "ties", "inconsistent", "losses", "missing")
            ),
            pct(figures["win_rate"]),
            ci_range(figures["win_rate_ci"]),
            pct(figures["decisive_win_rate"]),
            ci_range(figures["decisive_win_rate_ci"]),
            p_value(figures["sign_test_p"]),
        )
    return table


def bias_table(stats: dict[str, Any]) -> Table:
    """Per judge: did the order or the length of a trace sway the verdicts?"""
    level = ci_level(stats)
    table = Table(title="Bias diagnostics (0.5 is unbiased for first slot and longer)")
    table.add_column("judge")
    for column in (
        "position consistency",
        "first slot",
        f"{level} CI",
        "longer preferred",
        f"{level} CI ",
        "length-controlled win rate",
        f"{level} CI  ",
        "order-level win rate",
    ):
        table.add_column(column, justify="right")
    for name, figures in _rows(stats):
        table.add_row(
            name,
            pct(figures["position_consistency"]),
            pct(figures["first_slot_rate"]),
            ci_range(figures["first_slot_rate_ci"]),
            pct(figures["longer_preferred_rate"]),
            ci_range(figures["longer_preferred_rate_ci"]),
            pct(figures["length_controlled_win_rate"]),
            ci_range(figures["length_controlled_win_rate_ci"]),
            pct(figures["order_level"]["win_rate"]),
        )
    return table


def agreement_lines(stats: dict[str, Any]) -> list[str]:
    """Judge-judge agreement, and judge-human agreement when people labelled pairs."""
    lines = [
        f"{p['judge_a']} vs {p['judge_b']}: agree on {pct(p['agreement'])} of {p['n']} pairs, "
        f"Cohen's kappa {_num(p['kappa'])}"
        for p in stats["agreement"]["pairs"]
    ]
    if stats["agreement"]["fleiss_kappa"] is not None:
        lines.append(
            f"all judges: Fleiss' kappa {_num(stats['agreement']['fleiss_kappa'])} "
            f"over {stats['agreement']['fleiss_n']} pairs"
        )
    human = stats.get("human")
    if human:
        panel = human["panel"]
        lines.append(
            f"humans ({human['labels']} labels on {human['pairs']} pairs): panel agrees "
            f"{pct(panel['with_ties'])} with ties, {pct(panel['without_ties'])} without; "
            f"human-human {pct(human['human_human']['with_ties'])}"
        )
    return lines


def calibrated_part(stats: dict[str, Any]) -> Table | str | None:
    """The win rate corrected by people's labels, beside the judge's; None without it."""
    panel = stats.get("calibrated")
    if panel is None:
        return None
    if panel["estimate"] is None:
        return f"calibrated win rate: none yet ({panel['reason']})"
    level = ci_level(stats)
    table = Table(title="Win rate corrected by labels from the label queue (PPI++)")
    table.add_column("judge")
    for column in ("judge's", f"{level} CI", "calibrated", f"{level} CI ", "labels alone"):
        table.add_column(column, justify="right")
    for column in ("labels", "left out"):
        table.add_column(column, justify="right")
    for name, figures in _rows(stats):
        cal = figures["calibrated"]
        table.add_row(
            name,
            pct(figures["win_rate"]),
            ci_range(figures["win_rate_ci"]),
            pct(cal["estimate"]),
            ci_range(cal["ci"]),
            ci_range(cal["human_only_ci"]),
            str(cal["labels_used"]),
            str(cal["labels_excluded"]),
        )
    return table


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _adjusted(p: float | None, survives: bool | None) -> str:
    """An adjusted p-value, starred when it survives (docs/statistics.md, Many comparisons)."""
    return p_value(p) + (" *" if survives else "")


def breakdown_table(title: str, label: str, by_name: dict[str, dict[str, Any]]) -> Table:
    """One row per rubric axis or stratum, from panel figures.

    Rows that carry the adjusted sign test (a `by_stratum` row's fields merged into its
    panel's) add Holm and BH columns.
    """
    table = Table(title=title)
    columns = ("n", "wins", "ties", "incons.", "losses", "win rate", "95% CI", "sign test")
    adjusted = any("sign_test_p_holm" in figures for figures in by_name.values())
    table.add_column(label)
    for column in (*columns, *(("Holm", "BH") if adjusted else ())):
        table.add_column(column, justify="right")
    for name, figures in by_name.items():
        table.add_row(
            name,
            *(str(figures[key]) for key in ("n", "wins", "ties", "inconsistent", "losses")),
            pct(figures["win_rate"]),
            ci_range(figures["win_rate_ci"]),
            p_value(figures["sign_test_p"]),
            *(
                (
                    _adjusted(figures["sign_test_p_holm"], figures["significant_holm"]),
                    _adjusted(figures["sign_test_p_bh"], figures["significant_bh"]),
                )
                if adjusted
                else ()
            ),
        )
    return table


def report(stats: dict[str, Any]) -> list[Table | str]:
    """Everything a stats body says, in print order, from preference to strata."""
    parts: list[Table | str] = [stats_table(stats), bias_table(stats), *agreement_lines(stats)]
    calibrated = calibrated_part(stats)
    if calibrated is not None:
        parts.append(calibrated)
    if stats.get("by_stratum"):
        strata = {
            name: {**s["panel"], **{k: v for k, v in s.items() if k not in ("panel", "per_judge")}}
            for name, s in stats["by_stratum"].items()
        }
        parts.append(breakdown_table(f"By {stats['by']} (panel)", stats["by"], strata))
    return parts
