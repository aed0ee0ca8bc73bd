"""Verdicts written straight into PostgreSQL, so every figure built on them is known exactly."""

from sqlalchemy import update

from judge_service.db.engine import session_factory
from judge_service.db.models import Judgment, JudgmentStatus, Pair

# external_id -> judge -> order -> verdict ("failed": the call failed)
Plan = dict[str, dict[str, dict[str, str]]]


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
