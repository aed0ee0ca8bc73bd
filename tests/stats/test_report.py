from judge_service.stats.report import VerdictRow, build_report

B, C = "baseline_first", "candidate_first"


def rows(judge: str, table: dict[int, tuple[str | None, str | None]]) -> list[VerdictRow]:
    out = []
    for pair_id, (first, second) in table.items():
        out.append(VerdictRow(pair_id, judge, B, first))
        out.append(VerdictRow(pair_id, judge, C, second))
    return out


CC = ("candidate", "candidate")


def test_per_judge_and_panel() -> None:
    j1 = rows("j1", {1: CC, 2: ("baseline", "candidate"), 3: ("tie", "tie")})
    j2 = rows("j2", {1: CC, 2: CC, 3: (None, "tie")})
    j3 = rows("j3", {1: ("baseline", "baseline"), 2: CC, 3: ("tie", "tie")})
    report = build_report([1, 2, 3], [*j1, *j2, *j3], ["j1", "j2", "j3"], orders=2)

    one = report.per_judge["j1"]
    assert (one.n, one.wins, one.inconsistent, one.ties) == (3, 1, 1, 1)
    assert one.position_consistency == 2 / 3
    # j2's pair 3 lacks an order: missing for j2, and so for the panel.
    two = report.per_judge["j2"]
    assert (two.n, two.wins, two.missing) == (2, 2, 1)
    panel = report.panel
    assert (panel.n, panel.wins, panel.missing) == (2, 2, 1)
    # Pooled over judges: 3 + 2 + 3 outcomes, one of them (j1, pair 2) inconsistent.
    assert panel.position_consistency == 7 / 8


def test_single_order_runs() -> None:
    single = [VerdictRow(1, "j", B, "candidate"), VerdictRow(2, "j", B, "baseline")]
    report = build_report([1, 2, 3], single, ["j"], orders=1)
    assert (report.panel.n, report.panel.wins, report.panel.losses) == (2, 1, 1)
    assert report.panel.missing == 1
    assert report.panel.position_consistency is None


def test_missing_reasons_name_the_cause() -> None:
    rows = [
        VerdictRow(1, "j", B, "candidate"),
        VerdictRow(1, "j", C, "candidate"),
        VerdictRow(2, "j", B, None, "failed", "parse_error"),
        VerdictRow(2, "j", C, "candidate"),
        VerdictRow(3, "j", B, None, "pending"),
        VerdictRow(4, "j", B, None),  # done, but no verdict on the criterion asked for
        VerdictRow(4, "j", C, None),
    ]
    report = build_report([1, 2, 3, 4, 5], rows, ["j"], orders=2)
    assert report.per_judge["j"].n == 1
    assert report.per_judge["j"].missing_reasons == {
        "parse_error": 1,
        "pending": 2,
        "criterion_not_judged": 1,
    }
    assert report.panel.missing_reasons == report.per_judge["j"].missing_reasons
