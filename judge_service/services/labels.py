"""People's labels: whom a caller's labels are recorded under, and recording one.

The API's label routes, its label queue and the dashboard's blind labelling all record
labels through here, so a key labels as its annotator whichever way it comes in.
"""

from sqlalchemy.orm import Session

from judge_service.db.human_labels import annotator_label, pair_labels
from judge_service.db.label_draws import has_draw
from judge_service.db.models import HumanLabel, LabelSource, Pair, Project
from judge_service.db.projects import key_annotator
from judge_service.judging.verdicts import Verdict


def key_identity(session: Session, key: str | None, project: Project) -> str | None:
    """Whom the caller's labels are recorded under; None when no key of the project was sent.

    A request reaches a project's pair without a key of that project only on an open
    server (no keys checked), where the body names the annotator.
    """
    return key_annotator(session, key, project.id) if key is not None else None


def record_label(
    session: Session, pair: Pair, annotator: str, label: Verdict
) -> tuple[HumanLabel, bool]:
    """Store the annotator's label on the pair, replacing theirs if any, and commit.

    Returns the label and whether it is new. It counts as a queue label (in the calibrated
    win rate) only if the label queue handed this annotator the pair.
    """
    stored = annotator_label(session, pair.id, annotator)
    created = stored is None
    if stored is None:
        stored = HumanLabel(pair_id=pair.id, run_id=pair.run_id, annotator=annotator)
        session.add(stored)
    stored.label = label
    queued = has_draw(session, pair.id, annotator)
    stored.source = LabelSource.QUEUE if queued else LabelSource.AD_HOC
    session.commit()
    return stored, created


def labels_of(session: Session, pair: Pair) -> list[HumanLabel]:
    """Every label of the pair, oldest first."""
    return pair_labels(session, pair.id)
