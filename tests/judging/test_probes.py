"""Probe transforms: each makes its one change and keeps everything else."""

from collections import Counter
from typing import Any

import pytest

from judge_service.judging.probes import (
    NEUTRAL_SENTENCES,
    PADDED_KEY,
    TRANSFORMS,
    ProbeKind,
    drop_images,
    pad_length,
    reasoning_steps,
    shuffle_rationale,
    split_trace,
    swap_answers,
)
from judge_service.simulate.decision import final_answer

BASELINE = (
    "Image findings:\n- A wedge-shaped opacity\nRelevant facts:\n- Emboli cause infarcts\n"
    "Reasoning: the opacity is peripheral.\nFinal answer: pulmonary infarct"
)
CANDIDATE = (
    "The lobe is consolidated.\n\nAir bronchograms are present.\n\n"
    "The heart is normal in size.\n\n**Final answer:**\nlobar pneumonia\n"
)


def _row(**changes: Any) -> dict[str, Any]:
    row = {
        "external_id": "p-1",
        "question": "What is the diagnosis?",
        "reference_answer": "pneumonia",
        "image_urls": ["https://img.example/1.png"],
        "meta": {"modality": "X-ray"},
        "baseline_trace": BASELINE,
        "candidate_trace": CANDIDATE,
    }
    return row | changes


def test_split_trace_cuts_at_the_last_final_answer_line() -> None:
    reasoning, answer = split_trace(CANDIDATE)
    assert answer == "**Final answer:**\nlobar pneumonia\n"
    assert reasoning + answer == CANDIDATE
    assert split_trace("no answer here") == ("no answer here", "")


def test_swap_answers_exchanges_the_final_answers_and_keeps_the_reasoning() -> None:
    row = _row()
    swapped = swap_answers(row)
    assert final_answer(swapped["baseline_trace"]) == "lobar pneumonia"
    assert final_answer(swapped["candidate_trace"]) == "pulmonary infarct"
    assert split_trace(swapped["baseline_trace"])[0] == split_trace(BASELINE)[0]
    assert split_trace(swapped["candidate_trace"])[0] == split_trace(CANDIDATE)[0]
    assert {k: v for k, v in swapped.items() if not k.endswith("_trace")} == {
        k: v for k, v in row.items() if not k.endswith("_trace")
    }
    assert row["baseline_trace"] == BASELINE  # pure: the input is left alone


@pytest.mark.parametrize("seed", range(6))
def test_pad_length_doubles_one_trace_and_keeps_its_final_answer(seed: int) -> None:
    row = _row()
    padded = pad_length(row, seed)
    side = padded["meta"][PADDED_KEY]
    other = "candidate" if side == "baseline" else "baseline"
    before, after = row[f"{side}_trace"], padded[f"{side}_trace"]
    assert len(after) == 2 * len(before)
    assert final_answer(after) == final_answer(before)
    assert split_trace(after)[1] == split_trace(before)[1]  # the answer stays last
    assert after.lower().count("final answer") == before.lower().count("final answer")
    filler = after[len(split_trace(before)[0]) :]
    assert NEUTRAL_SENTENCES[0][:20] in filler
    assert padded[f"{other}_trace"] == row[f"{other}_trace"]
    assert padded["meta"]["modality"] == "X-ray"
    assert pad_length(row, seed) == padded  # the choice is the seed's


def test_pad_length_pads_both_sides_across_pairs() -> None:
    sides = Counter(
        pad_length(_row(external_id=f"p-{i}"), 1)["meta"][PADDED_KEY] for i in range(40)
    )
    assert set(sides) == {"baseline", "candidate"}


def test_drop_images_empties_the_images_only() -> None:
    row = _row()
    assert drop_images(row) == row | {"image_urls": []}


@pytest.mark.parametrize("seed", range(6))
def test_shuffle_keeps_the_steps_and_the_final_answer_last(seed: int) -> None:
    row = _row()
    shuffled = shuffle_rationale(row, seed)
    for column in ("baseline_trace", "candidate_trace"):
        before, after = row[column], shuffled[column]
        assert after != before
        assert Counter(reasoning_steps(split_trace(after)[0])) == Counter(
            reasoning_steps(split_trace(before)[0])
        )
        assert split_trace(after)[1] == split_trace(before)[1]
        assert final_answer(after) == final_answer(before)
    assert shuffle_rationale(row, seed) == shuffled


def test_steps_are_paragraphs_when_there_are_blank_lines_else_lines() -> None:
    assert reasoning_steps(split_trace(CANDIDATE)[0]) == [
        "The lobe is consolidated.",
        "Air bronchograms are present.",
        "The heart is normal in size.",
    ]
    assert len(reasoning_steps(split_trace(BASELINE)[0])) == 5


def test_every_kind_has_a_transform() -> None:
    assert set(TRANSFORMS) == set(ProbeKind)
