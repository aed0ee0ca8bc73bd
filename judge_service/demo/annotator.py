"""The demo's SIMULATED annotator: a transparent rule that stands in for a person's label.

No person labels anything in the demo. The rule reads what the bundled sample knows: the
trace whose final answer matches the reference answer is preferred (the same check the
simulated judge makes, `simulate/decision.py`), both or neither matching is a tie, and a
seeded share of labels is wrong, as people are now and then. The judges differ from it
where both or neither trace is right (they then decide by a hash, rarely a tie) and where
their position bias names slot A, so its labels move the calibrated figure away from the
judges' own.
"""

import random
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from judge_service.client import JudgeClient
from judge_service.simulate.decision import answer_matches, final_answer, normalise_answer

NAME = "simulated-annotator"
ERROR_RATE = 0.05  # share of labels that name one of the two other outcomes
SEED = 7
LABELS = ("baseline", "candidate", "tie")
CREDIT = {"candidate": 1.0, "tie": 0.5, "baseline": 0.0}  # a label's credit to the candidate


def simulated_label(
    pair: Mapping[str, Any], error_rate: float = ERROR_RATE, seed: int = SEED
) -> str:
    """The simulated person's label; the same pair always gets the same one (seeded by its id)."""
    reference = normalise_answer(pair["reference_answer"])
    candidate = answer_matches(final_answer(pair["candidate_trace"]), reference)
    baseline = answer_matches(final_answer(pair["baseline_trace"]), reference)
    label = "tie" if candidate == baseline else "candidate" if candidate else "baseline"
    rng = random.Random(f"{seed}:{pair['external_id']}")
    if rng.random() < error_rate:
        return rng.choice([other for other in LABELS if other != label])
    return label


def rule_win_rate(pairs: Sequence[Mapping[str, Any]]) -> float:
    """The candidate's mean credit under the rule over every pair: what people labelling all of
    them would report, known here only because the annotator is simulated."""
    return sum(CREDIT[simulated_label(pair)] for pair in pairs) / len(pairs)


def label_through_queue(
    client: JudgeClient,
    run_id: int,
    pairs: Mapping[int, Mapping[str, Any]],
    target: int,
    batch: int = 10,
) -> Iterator[int]:
    """Label what the run's label queue hands out (active strategy), `batch` pairs a request,
    until `target` pairs are labelled or the queue has none left; yields the count so far.

    `pairs` maps the run's pair ids to the sample's pairs. Labels are given in the queue's
    order and none is skipped, as the calibrated estimate asks of people.
    """
    labelled = 0
    while labelled < target:
        handed = client.label_queue(
            run_id, n=min(batch, target - labelled), strategy="active", annotator=NAME
        )
        if not handed:
            return
        for pair_id in handed:
            client.label(pair_id, simulated_label(pairs[pair_id]), annotator=NAME)
            labelled += 1
            yield labelled
