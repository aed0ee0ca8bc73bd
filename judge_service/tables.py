"""Terminal rendering of a run's figures, shared by the demo and the CLI.

Each table keeps to 80 columns with ordinary judge names: a report's figures are split
over stacked tables (counts, then rates) rather than squeezed into one that rich would
have to cut. Figure columns never wrap; only the name column gives way.
"""

from collections.abc import Collection
from typing import Any

from rich.console import Group, RenderableType
from rich.markup import escape
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


def _table(title: str, name: str, figures: tuple[str, ...]) -> Table:
    """A name column that may wrap, then figure columns that never do (no "69…" at 80):
    a long header is given its own line breaks."""
    table = Table(title=title)
    table.add_column(name, overflow="fold")
    for column in figures:
        table.add_column(column, justify="right", no_wrap=True)
    return table


def stats_tables(stats: dict[str, Any], title: str | None = None) -> list[Table]:
    """Preference per judge and for the panel: the verdict counts, then the rates."""
    level = ci_level(stats)
    title = title or f"Run {stats['run_id']}: {stats['candidate']} vs {stats['baseline']}"
    counts = _table(title, "judge", ("n", "wins", "ties", "incons.", "losses", "missing"))
    rates = _table(
        f"{title}: win rates",
        "judge",
        ("win rate", f"{level} CI", "decisive", f"{level} CI ", "sign test"),
    )
    for name, figures in _rows(stats):
        counts.add_row(
            name,
            *(
                str(figures[key])
                for key in ("n", "wins", "ties", "inconsistent", "losses", "missing")
            ),
        )
        rates.add_row(
            name,
            pct(figures["win_rate"]),
            ci_range(figures["win_rate_ci"]),
            pct(figures["decisive_win_rate"]),
            ci_range(figures["decisive_win_rate_ci"]),
            p_value(figures["sign_test_p"]),
        )
    return [counts, rates]


def bias_tables(stats: dict[str, Any]) -> list[Table]:
    """Per judge: did the order or the length of a trace sway the verdicts, and the win
    rates that allow for it?"""
    level = ci_level(stats)
    swayed = _table(
        "Bias diagnostics (0.5 is unbiased for first slot and longer)",
        "judge",
        (
            "position\nconsistency",
            "first\nslot",
            f"{level} CI",
            "longer\npreferred",
            f"{level} CI ",
        ),
    )
    adjusted = _table(
        "Win rates allowing for length and order",
        "judge",
        ("length-controlled\nwin rate", f"{level} CI", "order-level\nwin rate"),
    )
    for name, figures in _rows(stats):
        swayed.add_row(
            name,
            pct(figures["position_consistency"]),
            pct(figures["first_slot_rate"]),
            ci_range(figures["first_slot_rate_ci"]),
            pct(figures["longer_preferred_rate"]),
            ci_range(figures["longer_preferred_rate_ci"]),
        )
        adjusted.add_row(
            name,
            pct(figures["length_controlled_win_rate"]),
            ci_range(figures["length_controlled_win_rate_ci"]),
            pct(figures["order_level"]["win_rate"]),
        )
    return [swayed, adjusted]


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


def calibrated_part(stats: dict[str, Any]) -> Group | str | None:
    """The win rate corrected by people's labels, beside the judge's, then the labels
    behind it; None without it."""
    panel = stats.get("calibrated")
    if panel is None:
        return None
    if panel["estimate"] is None:
        return f"calibrated win rate: none yet ({panel['reason']})"
    level = ci_level(stats)
    corrected = _table(
        "Win rate corrected by labels from the label queue (PPI++)",
        "judge",
        ("judge's", f"{level} CI", "calibrated", f"{level} CI "),
    )
    labels = _table(
        "The labels behind it",
        "judge",
        ("labels", "left out", f"labels alone, {level} CI"),
    )
    for name, figures in _rows(stats):
        cal = figures["calibrated"]
        corrected.add_row(
            name,
            pct(figures["win_rate"]),
            ci_range(figures["win_rate_ci"]),
            pct(cal["estimate"]),
            ci_range(cal["ci"]),
        )
        labels.add_row(
            name,
            str(cal["labels_used"]),
            str(cal["labels_excluded"]),
            ci_range(cal["human_only_ci"]),
        )
    return Group(corrected, labels)


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _adjusted(p: float | None, survives: bool | None) -> str:
    """An adjusted p-value, starred when it survives (docs/statistics.md, Many comparisons)."""
    return p_value(p) + (" *" if survives else "")


def breakdown_tables(title: str, label: str, by_name: dict[str, dict[str, Any]]) -> list[Table]:
    """One row per rubric axis or stratum, from panel figures: the counts, then the rates.

    Rows that carry the adjusted sign test (a `by_stratum` row's fields merged into its
    panel's) add Holm and BH columns to the rates.
    """
    adjusted = any("sign_test_p_holm" in figures for figures in by_name.values())
    counts = _table(title, label, ("n", "wins", "ties", "incons.", "losses"))
    rates = _table(
        f"{title}: win rates",
        label,
        ("win rate", "95% CI", "sign test", *(("Holm", "BH") if adjusted else ())),
    )
    for name, figures in by_name.items():
        counts.add_row(
            name, *(str(figures[key]) for key in ("n", "wins", "ties", "inconsistent", "losses"))
        )
        rates.add_row(
            name,
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
    return [counts, rates]


def report(stats: dict[str, Any]) -> list[RenderableType]:
    """Everything a stats body says, in print order, from preference to strata."""
    parts: list[RenderableType] = [
        *stats_tables(stats),
        *bias_tables(stats),
        *agreement_lines(stats),
    ]
    calibrated = calibrated_part(stats)
    if calibrated is not None:
        parts.append(calibrated)
    if stats.get("by_stratum"):
        strata = {
            name: {**s["panel"], **{k: v for k, v in s.items() if k not in ("panel", "per_judge")}}
            for name, s in stats["by_stratum"].items()
        }
        parts.extend(breakdown_tables(f"By {stats['by']} (panel)", stats["by"], strata))
    return parts


def probe_tables(
    table: dict[str, Any], label: str = "", axes: Collection[str | None] | None = None
) -> list[RenderableType]:
    """Per probe kind of a `GET /v1/runs/{id}/probes` body: each judge's share of changed
    verdicts per axis (overall first; only `axes` when given, None for overall), with its
    interval and the direction of the changes; then the reading of each judge's overall
    verdict. `label` ends each title."""
    level = f"{100 * table.get('confidence', 0.95):g}%"
    parts: list[RenderableType] = []
    for probe in table["probes"]:
        rows = [row for row in table["rows"] if row["probe_run_id"] == probe["run_id"]]
        printed = _table(
            escape(
                f"Probe {probe['probe']} (run {probe['run_id']}, {probe['pairs']} pairs, "
                f"{probe['status']}){label}"
            ),
            "judge",
            ("axis", "n", "changed", f"{level} CI", "toward\ncand.", "toward\nbase."),
        )
        previous = None
        for row in rows:
            if axes is not None and row["axis"] not in axes:
                continue
            printed.add_row(
                "" if row["judge"] == previous else row["judge"],
                row["axis"] or "overall",
                str(row["n"]),
                pct(row["changed_share"]),
                ci_range(row["changed_ci"]),
                str(row["toward_candidate"]),
                str(row["toward_baseline"]),
            )
            previous = row["judge"]
        parts.append(printed)
        parts.extend(row["reading"] for row in rows if row["axis"] is None)
    return parts
