"""Verdicts written straight into PostgreSQL, so every figure built on them is known exactly."""

import numpy as np
from sqlalchemy import update

from judge_service.db.engine import session_factory
from judge_service.db.models import Judgment, JudgmentStatus, Pair

# external_id -> judge -> order -> verdict ("failed": the call failed)
Plan = dict[str, dict[str, dict[str, str]]]
B, C = "baseline_first", "candidate_first"
OUTCOMES = ("candidate", "baseline", "tie")


def apply_plan(pg_url: str, run_id: int, plan: Plan) -> None:
    """Write each planned verdict into its judgment row; a judgment left out stays pending."""
    with session_factory(pg_url)() as session:
        ids = dict(
            session.execute(
                Pair.__table__.select()
                .with_only_columns(Pair.external_id, Pair.id)
                .where(Pair.run_id == run_id)
            ).all()
        )
        for external_id, judges in plan.items():
            for judge, orders in judges.items():
                for order, verdict in orders.items():
                    failed = verdict == "failed"
                    session.execute(
                        update(Judgment)
                        .where(
                            Judgment.pair_id == ids[external_id],
                            Judgment.judge == judge,
                            Judgment.order == order,
                        )
                        .values(
                            status=JudgmentStatus.FAILED if failed else JudgmentStatus.DONE,
                            verdict=None if failed else verdict,
                            error_kind="provider_error" if failed else None,
                        )
                    )
        session.commit()


def random_plan(
    n: int, seed: int, p_candidate: float = 0.6, judges: tuple[str, ...] = ("sim", "sim-anthropic")
) -> Plan:
    """Judges that each flip with the order now and then; ~5% failed calls."""
    rng = np.random.default_rng(seed)
    plan: Plan = {}
    for i in range(n):
        truth = rng.choice(OUTCOMES, p=[p_candidate, 0.9 - p_candidate, 0.1])
        verdicts = {}
        for judge in judges:
            orders = {}
            for order in (B, C):
                if rng.random() < 0.05:
                    orders[order] = "failed"
                elif rng.random() < 0.15:
                    orders[order] = str(rng.choice(OUTCOMES))
                else:
                    orders[order] = str(truth)
            verdicts[judge] = orders
        plan[f"med-{i + 1:04d}"] = verdicts
    return plan
