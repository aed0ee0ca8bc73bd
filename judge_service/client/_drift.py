"""The drift check as one flow (`judge-service drift`): register a reference if asked, start
a check, wait for its run, read the comparison (docs/drift.md)."""

from typing import Any

from judge_service.client import _flows
from judge_service.client._http import Call, Flow


def drift_check(
    judge: str,
    reference_run: int | None = None,
    progress: bool = True,
    timeout: float | None = None,
) -> Flow[dict[str, Any]]:
    """`GET /v1/drift/checks/{id}` of a new check of `judge`, once its run is finished.

    With `reference_run`, that run's pairs become the judge's reference first.
    """
    if reference_run is not None:
        body = {"run_id": reference_run, "judge": judge}
        yield Call("POST", "/v1/drift/references", json=body, idempotent=False)
    check = yield Call("POST", "/v1/drift/checks", json={"judge": judge}, idempotent=False)
    yield from _flows.wait(int(check["run_id"]), progress, timeout)
    report: dict[str, Any] = yield Call("GET", f"/v1/drift/checks/{int(check['id'])}")
    return report


def drift_lines(report: dict[str, Any]) -> list[str]:
    """The check's comparison in a few lines, for a terminal."""
    before = (
        f"check {report['previous_check_id']}"
        if report["compared_with"] == "previous_check"
        else "the reference run's own verdicts"
    )
    lines = [
        f"drift check {report['id']} of {report['judge']} (reference {report['reference_id']}, "
        f"run {report['run_id']}), compared with {before} (run {report['previous_run_id']})"
    ]
    versions = (
        f"versions: {', '.join(report['versions_before']) or '-'} -> "
        f"{', '.join(report['versions_after']) or '-'}"
    )
    lines.append(versions + (" (changed)" if report["version_changed"] else ""))
    result = report.get("comparison")
    if result is None:
        lines.append(f"not compared: the check run is {report['status']}")
        return lines
    level = f"{100 * result['confidence']:g}%"
    change, ci = result["win_rate_change"], result["win_rate_change_ci"]
    lines.append(
        f"{result['pairs']} pairs compared; agreement {_pct(result['agreement'])}, "
        f"Cohen's kappa {_num(result['kappa'])}"
    )
    lines.append(
        f"win rate {_pct(result['win_rate_before'])} -> {_pct(result['win_rate_after'])}: "
        f"change {_points(change)} points ({level} CI "
        + ("-" if ci is None else f"{_points(ci[0])} to {_points(ci[1])}")
        + ", paired)"
    )
    lines.append(
        f"DRIFTED: the {level} interval of the change excludes 0"
        if result["drifted"]
        else f"no drift detected: the {level} interval of the change holds 0"
    )
    return lines


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _points(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:+.1f}"
