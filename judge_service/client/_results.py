"""Typed views of the API's bodies that keep every field the server sent.

The API grows (preferred_rate, p-values, breakdowns): each view types the
fields known today and keeps the whole body in `raw`, and `view["field"]` or
`view.field` reaches fields this client version does not know yet.
"""

import html
import io
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "Estimate",
    "Figures",
    "HumanLabel",
    "Judge",
    "Plan",
    "RunCounts",
    "RunInfo",
    "Stats",
    "UploadResult",
]


class _RawView:
    """Item and attribute access to `raw`, for fields newer than this client."""

    raw: dict[str, Any]

    def __getitem__(self, key: str) -> Any:
        return self.raw[key]

    def get(self, key: str, default: Any = None) -> Any:
        return self.raw.get(key, default)

    def __getattr__(self, name: str) -> Any:
        # Only called when normal lookup fails; guard against recursion while unpickling.
        if name.startswith("_") or name == "raw":
            raise AttributeError(name)
        try:
            return self.raw[name]
        except KeyError:
            raise AttributeError(f"{type(self).__name__} has no field {name!r}") from None

    def to_dict(self) -> dict[str, Any]:
        return dict(self.raw)


@dataclass(frozen=True)
class Judge(_RawView):
    name: str
    provider: str
    model: str
    raw: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_dict(cls, body: Mapping[str, Any]) -> "Judge":
        return cls(body["name"], body["provider"], body["model"], dict(body))


@dataclass(frozen=True)
class RunCounts:
    pairs: int
    judgments_expected: int
    judgments_done: int
    judgments_failed: int
    failed_by_reason: dict[str, int] = field(default_factory=dict)
    # Never judged: left when the run stopped once decided (`stop_when`).
    judgments_skipped: int = 0

    @property
    def judgments_finished(self) -> int:
        """Done, failed or skipped: nothing more will happen to them."""
        return self.judgments_done + self.judgments_failed + self.judgments_skipped

    @classmethod
    def from_dict(cls, body: Mapping[str, Any]) -> "RunCounts":
        return cls(
            body.get("pairs", 0),
            body.get("judgments_expected", 0),
            body.get("judgments_done", 0),
            body.get("judgments_failed", 0),
            dict(body.get("failed_by_reason", {})),
            body.get("judgments_skipped", 0),
        )


@dataclass(frozen=True)
class RunInfo(_RawView):
    """A snapshot of `GET /v1/runs/{id}`."""

    id: int
    name: str
    baseline: str
    candidate: str
    judges: list[str]
    swap: bool
    status: str
    counts: RunCounts
    created_at: datetime | None
    raw: dict[str, Any] = field(repr=False, compare=False)

    @property
    def finished(self) -> bool:
        """Every judgment is done or failed (or there is nothing to judge)."""
        expected = self.counts.judgments_expected
        return self.status == "done" or expected == self.counts.judgments_finished

    @classmethod
    def from_dict(cls, body: Mapping[str, Any]) -> "RunInfo":
        created = body.get("created_at")
        return cls(
            id=int(body["id"]),
            name=body["name"],
            baseline=body["baseline"],
            candidate=body["candidate"],
            judges=list(body["judges"]),
            swap=bool(body.get("swap", True)),
            status=body.get("status", "pending"),
            counts=RunCounts.from_dict(body.get("counts", {})),
            created_at=datetime.fromisoformat(created) if isinstance(created, str) else None,
            raw=dict(body),
        )


class RunFields:
    """The fields of a run handle's last snapshot (`self.info`), as typed properties."""

    info: RunInfo

    @property
    def id(self) -> int:
        return self.info.id

    @property
    def name(self) -> str:
        return self.info.name

    @property
    def baseline(self) -> str:
        return self.info.baseline

    @property
    def candidate(self) -> str:
        return self.info.candidate

    @property
    def judges(self) -> list[str]:
        return self.info.judges

    @property
    def status(self) -> str:
        return self.info.status

    @property
    def counts(self) -> RunCounts:
        return self.info.counts

    def __repr__(self) -> str:
        c = self.info.counts
        return (
            f"<{type(self).__name__} {self.id} {self.name!r}: {self.candidate} vs "
            f"{self.baseline}, {self.status}, {c.pairs} pairs, {c.judgments_done}/"
            f"{c.judgments_expected} judged, {c.judgments_failed} failed>"
        )


@dataclass(frozen=True)
class Estimate(_RawView):
    """`POST /v1/runs/{id}/estimate`: what the run's unfinished judgments should take.

    Predicted by the server without a provider call (docs/cost.md): tokens are estimates,
    `cost_usd` is None when a judge has no price, `spent_usd` is what the run has spent so far.
    """

    judgments: int  # unfinished (pending or running)
    cache_hits: int  # of them, answerable from the judgment cache: free
    input_tokens: int
    output_tokens: int
    cost_usd: float | None
    spent_usd: float
    raw: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_dict(cls, body: Mapping[str, Any]) -> "Estimate":
        cost = body.get("cost_usd")
        return cls(
            judgments=int(body["judgments"]),
            cache_hits=int(body.get("cache_hits", 0)),
            input_tokens=int(body["input_tokens"]),
            output_tokens=int(body["output_tokens"]),
            cost_usd=None if cost is None else float(cost),
            spent_usd=float(body.get("spent_usd", 0.0)),
            raw=dict(body),
        )


@dataclass(frozen=True)
class Plan(_RawView):
    """`POST /v1/plan`: what an interval of the asked half-width on the win rate needs.

    `pairs` to judge for the judge-only interval, with its `judge_calls`, `tokens` and
    `cost_usd` (None when unknown); `labels`: people's labels on `labels_pairs` judged pairs
    for the calibrated interval. `summary` says it in a sentence, `assumptions` what it rests
    on (docs/statistics.md, "Planning").
    """

    pairs: int
    judge_calls: int
    input_tokens: int | None
    output_tokens: int | None
    cost_usd: float | None
    labels: int
    labels_pairs: int
    enough_pairs: bool | None
    summary: str
    raw: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_dict(cls, body: Mapping[str, Any]) -> "Plan":
        tokens = body.get("tokens") or {}
        cost = body.get("cost_usd")
        return cls(
            pairs=int(body["pairs"]),
            judge_calls=int(body["judge_calls"]),
            input_tokens=tokens.get("input"),
            output_tokens=tokens.get("output"),
            cost_usd=None if cost is None else float(cost),
            labels=int(body["labels"]),
            labels_pairs=int(body.get("labels_pairs", body["pairs"])),
            enough_pairs=body.get("enough_pairs"),
            summary=body.get("summary", ""),
            raw=dict(body),
        )

    def __str__(self) -> str:
        return self.summary


@dataclass(frozen=True)
class HumanLabel(_RawView):
    """`POST /v1/pairs/{id}/human-labels`: a person's label as the server stored it.

    `source` is `queue` when the label queue handed this annotator the pair (the label counts
    in the calibrated win rate), `ad_hoc` otherwise (it counts for agreement only).
    """

    pair_id: int
    run_id: int
    annotator: str
    label: str
    source: str
    raw: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_dict(cls, body: Mapping[str, Any]) -> "HumanLabel":
        return cls(
            pair_id=int(body["pair_id"]),
            run_id=int(body["run_id"]),
            annotator=body["annotator"],
            label=body["label"],
            source=body["source"],
            raw=dict(body),
        )


@dataclass(frozen=True)
class UploadResult:
    """What one upload did; after a resumed upload, `already_present` is what was kept."""

    pairs: int  # distinct pairs in the input
    already_present: int  # on the server before this upload started
    # Inserted by this upload, as the server confirmed. A request whose answer was lost
    # and that was repeated shows up under `duplicates` instead.
    accepted: int
    duplicates: int  # sent but already there (a repeated request, a concurrent upload)
    requests: int  # upload requests that succeeded
    dropped_duplicates: int = 0  # identical input rows judged once


@dataclass(frozen=True)
class Figures(_RawView):
    """Preference figures from the candidate's side (one judge, or the panel)."""

    n: int
    wins: int
    losses: int
    ties: int
    inconsistent: int
    missing: int
    win_rate: float | None
    win_rate_ci: tuple[float, float] | None
    position_consistency: float | None
    raw: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_dict(cls, body: Mapping[str, Any]) -> "Figures":
        return cls(**_figure_fields(body), raw=dict(body))


def _figure_fields(body: Mapping[str, Any]) -> dict[str, Any]:
    ci = body.get("win_rate_ci")
    return {
        "n": body.get("n", 0),
        "wins": body.get("wins", 0),
        "losses": body.get("losses", 0),
        "ties": body.get("ties", 0),
        "inconsistent": body.get("inconsistent", 0),
        "missing": body.get("missing", 0),
        "win_rate": body.get("win_rate"),
        "win_rate_ci": (float(ci[0]), float(ci[1])) if ci else None,
        "position_consistency": body.get("position_consistency"),
    }


def _flatten(figures: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Scalar columns from one figures dict; `[low, high]` intervals become two columns.

    Nested figures (`order_level`, `calibrated`) become prefixed columns:
    `order_level_win_rate`, `calibrated_estimate`, `calibrated_ci_low`.
    """
    row: dict[str, Any] = {}
    for key, value in figures.items():
        name = prefix + key
        if isinstance(value, list | tuple) and len(value) == 2 and name.endswith("_ci"):
            row[f"{name}_low"], row[f"{name}_high"] = value
        elif key in ("order_level", "calibrated") and isinstance(value, Mapping):
            row.update(_flatten(value, f"{name}_"))
        elif value is None or isinstance(value, str | int | float | bool):
            row[name] = value
    return row


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


@dataclass(frozen=True, repr=False)
class Stats(Figures):
    """`GET /v1/runs/{id}/stats`: the panel's figures at the top, and each judge's."""

    run_id: int = 0
    baseline: str = ""
    candidate: str = ""
    judges: list[str] = field(default_factory=list)
    panel: Figures | None = None
    per_judge: dict[str, Figures] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, body: Mapping[str, Any]) -> "Stats":
        panel = body.get("panel")
        return cls(
            **_figure_fields(body),
            raw=dict(body),
            run_id=int(body["run_id"]),
            baseline=body["baseline"],
            candidate=body["candidate"],
            judges=list(body["judges"]),
            panel=Figures.from_dict(panel) if isinstance(panel, Mapping) else None,
            per_judge={
                name: Figures.from_dict(figures)
                for name, figures in body.get("per_judge", {}).items()
            },
        )

    def rows(self) -> list[dict[str, Any]]:
        """One flat row per judge, then the panel's: what `to_frame` and the HTML show."""
        rows = [{"judge": name, **_flatten(f.raw)} for name, f in self.per_judge.items()]
        panel = self.raw.get("panel") or {
            k: v for k, v in self.raw.items() if k not in ("per_judge", "panel")
        }
        rows.append({"judge": "panel", **_flatten(panel)})
        return rows

    def to_frame(self) -> "pd.DataFrame":
        """Figures per judge plus a `panel` row, indexed by judge (needs pandas)."""
        from judge_service.client._frames import require_pandas

        return require_pandas().DataFrame(self.rows()).set_index("judge")

    def strata_frame(self) -> "pd.DataFrame":
        """With `stats(by=key)`: figures per stratum and judge (plus `panel`), a 2-level index.

        The `panel` rows also carry the sign test adjusted across the strata (Holm, BH).
        """
        from judge_service.client._frames import require_pandas

        strata = self.raw.get("by_stratum")
        if not strata:
            raise ValueError("these stats have no breakdown: ask for them with stats(by=key)")
        rows = []
        for name, stratum in strata.items():
            rows += [
                {"stratum": name, "judge": judge, **_flatten(figures)}
                for judge, figures in stratum["per_judge"].items()
            ]
            adjusted = {k: v for k, v in stratum.items() if k not in ("panel", "per_judge")}
            rows.append(
                {"stratum": name, "judge": "panel", **_flatten(stratum["panel"]), **adjusted}
            )
        return require_pandas().DataFrame(rows).set_index(["stratum", "judge"])

    def headline(self) -> str:
        from judge_service.tables import headline

        return headline(self.raw)

    def __repr__(self) -> str:
        from rich.console import Console

        from judge_service.tables import report

        buffer = io.StringIO()
        console = Console(file=buffer, width=140, color_system=None, force_terminal=False)
        console.print(self.headline())
        for part in report(self.raw):
            console.print(part)
        return buffer.getvalue().rstrip()

    def _repr_html_(self) -> str:
        """The notebook view: the headline sentence and one row per judge."""
        from judge_service.tables import p_value

        shown = (
            "n",
            "wins",
            "ties",
            "inconsistent",
            "losses",
            "missing",
            "win_rate",
            "win_rate_ci",
            "decisive_win_rate",
            "sign_test_p",
            "position_consistency",
            "first_slot_rate",
        )
        head = "".join(f"<th>{html.escape(c.replace('_', ' '))}</th>" for c in ("judge", *shown))
        body = []
        for row in self.rows():
            cells = [f"<td>{html.escape(str(row['judge']))}</td>"]
            for key in shown:
                if key == "win_rate_ci":
                    low, high = row.get("win_rate_ci_low"), row.get("win_rate_ci_high")
                    text = (
                        "-"
                        if low is None or high is None
                        else f"{100 * low:.1f} - {100 * high:.1f}"
                    )
                elif key == "sign_test_p":
                    text = p_value(row.get(key))
                elif key.endswith("_rate") or key == "position_consistency":
                    text = _pct(row.get(key))
                else:
                    text = str(row.get(key, "-"))
                cells.append(f"<td>{html.escape(text)}</td>")
            body.append("<tr>" + "".join(cells) + "</tr>")
        return (
            f"<p><b>{html.escape(self.headline())}</b></p>"
            f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"
        )
