"""Probe transforms: one controlled change to a pair, to see what a judge looks at.

A probe run (services/probes.py) copies a sample of a run's pairs through one of these pure
functions and has the same judges judge them again; where the verdict moves, the judge was
looking at what changed. Each change touches one thing and keeps the rest byte for byte:

- `swap_answers`: the two traces' final answers exchanged, the reasoning left as is;
- `pad_length`: one trace (seeded choice, recorded in the pair's metadata under
  `probe_padded`) padded with neutral sentences to twice its length, before its final answer;
- `drop_images`: the pair's images removed, so a vision judge is sent none;
- `shuffle_rationale`: each trace's reasoning steps put in a seeded order, the final answer
  kept last.

A trace's final answer is everything from its last line that starts with `Final answer:`
(the line the simulated judge reads, simulate/decision.py); what comes before is reasoning.
Every random choice is drawn from the seed and the pair's external id, so the same seed
gives the same probe pair in any process.
"""

import random
import re
from enum import StrEnum
from typing import Any

PairRow = dict[str, Any]

FINAL_ANSWER_LINE = re.compile(r"^[\s*_#>]*final answer[*_\s]*:(.*)$", re.IGNORECASE)
PADDED_KEY = "probe_padded"
# Sentences that say nothing about the case: neither trace's evidence, no answer.
NEUTRAL_SENTENCES = (
    "This note restates the task and adds no finding.",
    "The following line gives the answer reached above.",
    "No further observation is made in this paragraph.",
    "The steps above are the basis of the answer.",
)


class ProbeKind(StrEnum):
    """The one change a probe run makes to every pair it copies."""

    SWAP_ANSWERS = "swap_answers"
    PAD_LENGTH = "pad_length"
    DROP_IMAGES = "drop_images"
    SHUFFLE_RATIONALE = "shuffle_rationale"


def split_trace(trace: str) -> tuple[str, str]:
    """(reasoning, final answer part): the split at the last `Final answer:` line.

    The final answer part runs from that line to the end (an answer may continue on the
    next lines); a trace without such a line is all reasoning.
    """
    lines = trace.splitlines(keepends=True)
    for index in range(len(lines) - 1, -1, -1):
        if FINAL_ANSWER_LINE.match(lines[index].rstrip("\r\n")):
            return "".join(lines[:index]), "".join(lines[index:])
    return trace, ""


def _rng(kind: ProbeKind, seed: int, row: PairRow) -> random.Random:
    """A generator of its own per (kind, seed, pair): choices do not depend on the sample."""
    return random.Random(f"{kind.value}:{seed}:{row['external_id']}")


def swap_answers(row: PairRow, seed: int = 0) -> PairRow:
    """The baseline's reasoning with the candidate's final answer, and the other way round."""
    base_reasoning, base_answer = split_trace(row["baseline_trace"])
    cand_reasoning, cand_answer = split_trace(row["candidate_trace"])
    return row | {
        "baseline_trace": _joined(base_reasoning, cand_answer),
        "candidate_trace": _joined(cand_reasoning, base_answer),
    }


def _joined(reasoning: str, answer: str) -> str:
    """`reasoning` then `answer` on a line of its own."""
    if reasoning and answer and not reasoning.endswith("\n"):
        return f"{reasoning}\n{answer}"
    return reasoning + answer


def neutral_text(length: int) -> str:
    """`length` characters of the neutral sentences, in order, cut to fit."""
    text, index = "", 0
    while len(text) < length:
        text += NEUTRAL_SENTENCES[index % len(NEUTRAL_SENTENCES)] + " "
        index += 1
    return text[:length]


def pad_trace(trace: str) -> str:
    """`trace` with neutral text before its final answer, twice its length in all."""
    reasoning, answer = split_trace(trace)
    if reasoning and not reasoning.endswith("\n"):
        reasoning += "\n"
    room = 2 * len(trace) - len(reasoning) - len(answer) - 1  # the filler's own line break
    if room <= 0:
        return trace
    return f"{reasoning}{neutral_text(room)}\n{answer}"


def pad_length(row: PairRow, seed: int = 0) -> PairRow:
    """One trace, chosen by the seed, padded to twice its length; which one is recorded."""
    side = _rng(ProbeKind.PAD_LENGTH, seed, row).choice(("baseline", "candidate"))
    column = f"{side}_trace"
    return row | {column: pad_trace(row[column]), "meta": {**row["meta"], PADDED_KEY: side}}


def drop_images(row: PairRow, seed: int = 0) -> PairRow:
    """The pair without its images (the seed is unused: nothing is chosen)."""
    return row | {"image_urls": []}


def reasoning_steps(reasoning: str) -> list[str]:
    """Paragraphs when the reasoning has blank lines between them, else its lines."""
    if re.search(r"\n\s*\n", reasoning.strip()):
        return [step for step in re.split(r"\n\s*\n", reasoning.strip()) if step.strip()]
    return [line for line in reasoning.splitlines() if line.strip()]


def shuffle_trace(trace: str, rng: random.Random) -> str:
    """The trace's reasoning steps in a new order (another when one exists), answer last."""
    reasoning, answer = split_trace(trace)
    steps = reasoning_steps(reasoning)
    order = steps[:]
    rng.shuffle(order)
    if order == steps and len(set(steps)) > 1:
        order = steps[1:] + steps[:1]  # the draw left them in place: move them anyway
    separator = "\n\n" if re.search(r"\n\s*\n", reasoning.strip()) else "\n"
    return _joined(separator.join(order), answer) if order else trace


def shuffle_rationale(row: PairRow, seed: int = 0) -> PairRow:
    """Both traces' reasoning steps reordered by a seeded permutation each."""
    rng = _rng(ProbeKind.SHUFFLE_RATIONALE, seed, row)
    return row | {
        "baseline_trace": shuffle_trace(row["baseline_trace"], rng),
        "candidate_trace": shuffle_trace(row["candidate_trace"], rng),
    }


TRANSFORMS = {
    ProbeKind.SWAP_ANSWERS: swap_answers,
    ProbeKind.PAD_LENGTH: pad_length,
    ProbeKind.DROP_IMAGES: drop_images,
    ProbeKind.SHUFFLE_RATIONALE: shuffle_rationale,
}
