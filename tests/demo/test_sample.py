"""The bundled synthetic sample: its shape matches the API and its statistics match its promise.

The demo's headline ("candidate preferred in X% of pairs") is only meaningful if
the sample really has a better candidate, answers the simulated judge can
check, and no length difference a biased judge could ride on.
"""

import json
import statistics
from pathlib import Path
from typing import Any

import pytest

from judge_service.demo.sample import CASES, MODALITIES, SOURCE, sample_pairs, write_jsonl

EXPECTED_KEYS = {
    "external_id",
    "question",
    "reference_answer",
    "baseline_trace",
    "candidate_trace",
    "image_urls",
    "metadata",
}
FINAL_PREFIX = "Final answer:"


def _normalise(text: str) -> str:
    return text.strip().lower().rstrip(".!?;:, ")


def _final_answer(trace: str) -> str:
    return trace.splitlines()[-1].removeprefix(FINAL_PREFIX)


def _is_correct(trace: str, reference: str) -> bool:
    """The simulated judge's rule: equal after normalising, or the reference contained."""
    answer, ref = _normalise(_final_answer(trace)), _normalise(reference)
    return answer == ref or ref in answer


@pytest.fixture(scope="module")
def pairs() -> list[dict[str, Any]]:
    return sample_pairs()


def test_same_arguments_give_identical_output() -> None:
    assert sample_pairs() == sample_pairs()
    assert sample_pairs(50, seed=3) == sample_pairs(50, seed=3)
    assert sample_pairs(50, seed=3) != sample_pairs(50, seed=4)


def test_smaller_sample_is_a_prefix_of_a_larger_one() -> None:
    assert sample_pairs(30) == sample_pairs(240)[:30]


def test_default_size_and_unique_ids(pairs: list[dict[str, Any]]) -> None:
    assert len(pairs) >= 200
    ids = [p["external_id"] for p in pairs]
    assert len(set(ids)) == len(ids)
    assert ids[0] == "med-0001"


def test_large_sample_keeps_ids_unique_and_texts_varied() -> None:
    big = sample_pairs(2000)
    assert len(big) == 2000
    assert len({p["external_id"] for p in big}) == 2000
    assert len({p["question"] for p in big}) > 1900


def test_zero_pairs_and_negative_n() -> None:
    assert sample_pairs(0) == []
    with pytest.raises(ValueError):
        sample_pairs(-1)


def test_keys_and_types(pairs: list[dict[str, Any]]) -> None:
    for pair in pairs:
        assert set(pair) == EXPECTED_KEYS
        for key in ("external_id", "question", "reference_answer"):
            assert isinstance(pair[key], str) and pair[key].strip()
        for key in ("baseline_trace", "candidate_trace"):
            assert isinstance(pair[key], str) and pair[key].strip()
        assert pair["image_urls"] == []
        meta = pair["metadata"]
        assert isinstance(meta, dict)
        assert meta["source"] == SOURCE
        assert meta["modality"] in MODALITIES
        assert isinstance(meta["topic"], str) and meta["topic"]
        assert isinstance(meta["body_region"], str) and meta["body_region"]
        json.dumps(pair)  # the API takes JSON


def test_every_trace_ends_with_a_final_answer_line(pairs: list[dict[str, Any]]) -> None:
    for pair in pairs:
        for key in ("baseline_trace", "candidate_trace"):
            lines = pair[key].splitlines()
            assert len(lines) >= 3, "a trace should be several steps, not one line"
            assert lines[-1].startswith(FINAL_PREFIX)
            assert _final_answer(pair[key]).strip()


def test_correctness_rates(pairs: list[dict[str, Any]]) -> None:
    candidate = [_is_correct(p["candidate_trace"], p["reference_answer"]) for p in pairs]
    baseline = [_is_correct(p["baseline_trace"], p["reference_answer"]) for p in pairs]
    assert 0.75 <= sum(candidate) / len(pairs) <= 0.9
    assert 0.45 <= sum(baseline) / len(pairs) <= 0.6


def test_correct_traces_state_the_reference_exactly(pairs: list[dict[str, Any]]) -> None:
    for pair in pairs:
        for key in ("baseline_trace", "candidate_trace"):
            if _is_correct(pair[key], pair["reference_answer"]):
                assert pair[key].splitlines()[-1] == f"{FINAL_PREFIX} {pair['reference_answer']}"


def test_distractors_never_match_the_reference() -> None:
    """A distractor containing the answer (e.g. "non-X" for "X") would be scored correct."""
    assert len(CASES) >= 30
    assert len({case.key for case in CASES}) == len(CASES)
    for case in CASES:
        assert 2 <= len(case.distractors) <= 3
        for distractor in case.distractors:
            trace = f"reasoning\n{FINAL_PREFIX} {distractor.name}"
            assert not _is_correct(trace, case.answer), (case.key, distractor.name)


def test_all_modalities_appear(pairs: list[dict[str, Any]]) -> None:
    assert {p["metadata"]["modality"] for p in pairs} == set(MODALITIES)
    assert {case.modality for case in CASES} == set(MODALITIES)


def test_trace_lengths_overlap(pairs: list[dict[str, Any]]) -> None:
    candidate = [len(p["candidate_trace"]) for p in pairs]
    baseline = [len(p["baseline_trace"]) for p in pairs]
    ratio = statistics.median(candidate) / statistics.median(baseline)
    assert 0.75 <= ratio <= 1.25
    # Overlap, not just equal medians: each side has many traces longer than the other's median.
    assert sum(c > statistics.median(baseline) for c in candidate) > len(pairs) // 4
    assert sum(b > statistics.median(candidate) for b in baseline) > len(pairs) // 4


def test_write_jsonl_round_trips(tmp_path: Path, pairs: list[dict[str, Any]]) -> None:
    path = tmp_path / "sample.jsonl"
    write_jsonl(path, pairs[:20])
    lines = path.read_text(encoding="utf-8").splitlines()
    assert [json.loads(line) for line in lines] == pairs[:20]
