"""Times a run's statistics from PostgreSQL: loading the columns, then `build_report`.

Fills a scratch database (`judge_bench_stats`, dropped and made anew) with one run of
500,000 pairs x 2 orders x 1 judge, written by SQL `generate_series`, then times
`load_run_frame` (trace lengths stored at insert, verdict codes computed by the database: only
small integers cross the wire) and `build_report` with 1,000 bootstrap rounds and a 7-way
breakdown. The issue-4 target is the latter under one second once the data is loaded.
Run: `.venv/bin/python bench/stats_db_bench.py`; the last lines are the figures.
"""

import argparse
import time

from scratch import fresh_database
from sqlalchemy import text

from judge_service.db.engine import session_factory
from judge_service.db.models import Run
from judge_service.db.projects import default_project
from judge_service.db.run_frame import load_run_frame
from judge_service.stats.report import build_report

TARGET_S = 1.0
DATABASE = "judge_bench_stats"

FILL = """
INSERT INTO pairs (run_id, external_id, question, image_urls, metadata,
                   baseline_trace, candidate_trace, baseline_chars, candidate_chars, created_at)
SELECT :run, 'p' || i, 'question ' || i, '[]', jsonb_build_object('modality', 'm' || i % 7),
       repeat('b', b), repeat('c', c), b, c, now()
FROM generate_series(1::bigint, :pairs) AS i,
     LATERAL (SELECT (200 + i * 7919 % 3000)::int AS b, (300 + i * 104729 % 3000)::int AS c) n;

INSERT INTO judgments (run_id, pair_id, judge, "order", status, attempts, verdict, strong,
                       error_kind, created_at)
SELECT p.run_id, p.id, 'judge', o.name,
       CASE WHEN r.x < 0.01 THEN 'failed' ELSE 'done' END, 1,
       CASE WHEN r.x < 0.01 THEN NULL WHEN r.x < 0.10 THEN 'tie'
            WHEN r.x < 0.62 THEN 'candidate' ELSE 'baseline' END,
       r.x > 0.8,
       CASE WHEN r.x < 0.01 THEN 'parse_error' END, now()
FROM pairs p
CROSS JOIN (VALUES ('baseline_first'), ('candidate_first')) AS o(name)
CROSS JOIN LATERAL (SELECT random() + 0 * p.id AS x) AS r
WHERE p.run_id = :run;
ANALYZE pairs;
ANALYZE judgments;
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pairs", type=int, default=500_000)
    parser.add_argument("--rounds", type=int, default=1000)
    args = parser.parse_args()
    sessions = session_factory(fresh_database(DATABASE))
    with sessions() as session:
        run = Run(
            project_id=default_project(session).id,
            name="bench",
            baseline="base",
            candidate="tuned",
            judges=["judge"],
        )
        session.add(run)
        session.flush()
        start = time.perf_counter()
        for statement in FILL.split(";"):
            if statement.strip():
                session.execute(text(statement), {"run": run.id, "pairs": args.pairs})
        session.commit()
        print(f"filled {args.pairs} pairs x 2 orders in {time.perf_counter() - start:.1f} s")

    with sessions() as session:
        run = session.get(Run, run.id)
        assert run is not None
        start = time.perf_counter()
        frame, _ = load_run_frame(session, run, by="modality")
        loaded = time.perf_counter() - start
    start = time.perf_counter()
    report = build_report(frame, bootstrap_rounds=args.rounds)
    computed = time.perf_counter() - start
    panel = report.panel
    print(f"n={panel.n} win_rate={panel.win_rate:.4f} strata={len(report.by_stratum or {})}")
    print(f"stats_db_bench: load {frame.pair.size} judgments: {loaded:.2f} s")
    print(
        f"stats_db_bench: build_report, {args.rounds} rounds, by 7 strata: {computed:.2f} s "
        f"({computed / TARGET_S:.2f} x the {TARGET_S:g} s target)"
    )


if __name__ == "__main__":
    main()
