from judge_service.judging.prompt import (
    SYSTEM_PROMPT,
    TEMPLATE_SHA256,
    render_prompt,
    split_prompt,
)


def test_round_trip_with_reference() -> None:
    prompt = render_prompt(
        "What does the CT show?",
        "appendicitis",
        "Step 1...\nFinal answer: appendicitis",
        "Step 1...\nFinal answer: colitis",
    )
    parts = split_prompt(prompt.user)
    assert parts.question == "What does the CT show?"
    assert parts.reference_answer == "appendicitis"
    assert parts.trace_a.endswith("Final answer: appendicitis")
    assert parts.trace_b.endswith("Final answer: colitis")
    assert prompt.system == SYSTEM_PROMPT


def test_round_trip_without_reference() -> None:
    parts = split_prompt(render_prompt("Q", None, "first", "second").user)
    assert parts.reference_answer is None
    assert (parts.trace_a, parts.trace_b) == ("first", "second")
    assert "[Reference answer]" not in render_prompt("Q", None, "a", "b").user


def test_prompt_hash_depends_on_order_and_content() -> None:
    ab = render_prompt("Q", "r", "one", "two")
    ba = render_prompt("Q", "r", "two", "one")
    assert ab.sha256 != ba.sha256
    assert ab.sha256 == render_prompt("Q", "r", "one", "two").sha256
    assert len(TEMPLATE_SHA256) == 64


def test_system_prompt_asks_for_the_three_labels() -> None:
    for label in ("[[A]]", "[[B]]", "[[C]]"):
        assert label in SYSTEM_PROMPT
