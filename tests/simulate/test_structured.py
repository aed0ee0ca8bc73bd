"""Structured outputs (OpenAI json_schema, Anthropic forced tool use), labels and axes."""

from typing import Any

import httpx
import openai
import pytest

from judge_service.background import BackgroundServer
from judge_service.judging.prompt import render_prompt
from judge_service.judging.protocol import (
    SCHEMA_NAME,
    TOOL_NAME,
    Scale,
    parse_structured,
    verdict_schema,
)
from judge_service.judging.rubrics import GENERAL, REASONING_TRACE
from tests.simulate.helpers import (
    MIRROR_LABEL,
    QUESTION,
    RIGHT,
    WRONG,
    announced,
    ant,
    anthropic_message,
    fast,
    judged,
    labels,
    oai,
    openai_chat,
    random_pairs,
    stats,
    tool_input,
)

BOTH_MATCH_A = "Lobar consolidation.\nFinal answer: pneumonia"
BOTH_MATCH_B = "Air bronchograms, one lobe, fever.\nFinal answer: lobar pneumonia"


def test_openai_json_schema_reply(server: BackgroundServer) -> None:
    prompt = render_prompt(
        QUESTION,
        "pneumonia",
        RIGHT,
        WRONG,
        rubric=REASONING_TRACE,
        scale=Scale.FIVE,
        structured=True,
    )
    criteria, scale = announced(prompt)
    completion = openai_chat(oai(server), prompt, structured=True)
    choice = completion.choices[0]
    assert choice.finish_reason == "stop"
    verdict = parse_structured(choice.message.content, criteria, scale)
    assert (
        list(verdict.rulings)
        == criteria
        == ["perception", "knowledge", "rationale", "answer", "overall"]
    )
    assert verdict.overall.label == verdict.rulings["answer"].label == "A>>B"
    assert verdict.overall.rationale is not None
    assert verdict.overall.rationale.startswith("Simulated judge (not a real model):")
    assert all(
        (ruling.rationale or "").startswith("Simulated") for ruling in verdict.rulings.values()
    )


def test_anthropic_tool_use_reply(server: BackgroundServer) -> None:
    prompt = render_prompt(
        QUESTION, "pneumonia", WRONG, RIGHT, rubric=REASONING_TRACE, structured=True
    )
    criteria, scale = announced(prompt)
    message = anthropic_message(ant(server), prompt, structured=True)
    assert message.stop_reason == "tool_use"
    assert [block.type for block in message.content] == ["tool_use"]
    block = message.content[0]
    assert block.id.startswith("toolu_sim_")  # type: ignore[union-attr]
    verdict = parse_structured(tool_input(message), criteria, scale)
    assert verdict.overall.label == verdict.rulings["answer"].label == "B"


@pytest.mark.parametrize("route", ["openai", "anthropic"])
@pytest.mark.parametrize("rubric", [GENERAL, REASONING_TRACE])
@pytest.mark.parametrize("scale", [Scale.THREE, Scale.FIVE])
def test_structured_and_text_modes_agree(
    server: BackgroundServer, route: str, rubric: Any, scale: Scale
) -> None:
    """Without bias the verdict depends on the content only, not on the output mode."""
    client = oai(server) if route == "openai" else ant(server)
    for a, b in random_pairs(6, seed=12):
        for reference in (None, "pneumonia"):
            text = render_prompt(QUESTION, reference, a, b, rubric=rubric, scale=scale)
            structured = render_prompt(
                QUESTION, reference, a, b, rubric=rubric, scale=scale, structured=True
            )
            assert labels(judged(client, structured, structured=True)) == labels(
                judged(client, text)
            )


@pytest.mark.parametrize("structured", [False, True])
def test_every_criterion_mirrors_when_the_order_is_swapped(
    server: BackgroundServer, structured: bool
) -> None:
    for client in (oai(server), ant(server)):
        for a, b in [(RIGHT, WRONG), (BOTH_MATCH_A, BOTH_MATCH_B), *random_pairs(8, seed=4)]:
            for scale in (Scale.THREE, Scale.FIVE):
                kw: dict[str, Any] = {"rubric": REASONING_TRACE, "scale": scale}
                kw["structured"] = structured
                forward = labels(
                    judged(
                        client,
                        render_prompt(QUESTION, "pneumonia", a, b, **kw),
                        structured=structured,
                    )
                )
                backward = labels(
                    judged(
                        client,
                        render_prompt(QUESTION, "pneumonia", b, a, **kw),
                        structured=structured,
                    )
                )
                assert backward == {name: MIRROR_LABEL[label] for name, label in forward.items()}


def test_five_level_strength(make_server: Any) -> None:
    sim = make_server(fast(axis_tie_rate=0.0, tie_rate=0.0))
    client = oai(sim)

    def overall(reference: str | None, a: str, b: str, model: str = "simulated-judge") -> str:
        prompt = render_prompt(QUESTION, reference, a, b, scale=Scale.FIVE)
        return judged(client, prompt, model=model).overall.label

    assert overall("pneumonia", RIGHT, WRONG) == "A>>B"  # the reference rule is clear-cut
    assert overall("pneumonia", WRONG, RIGHT) == "B>>A"
    weak = overall(None, RIGHT, WRONG)  # only the hash decides: a weak preference
    assert weak in ("A>B", "B>A")
    assert overall(None, WRONG, RIGHT) == MIRROR_LABEL[weak]
    assert overall(None, RIGHT, WRONG, "simulated-judge@tie_rate=1") == "A=B"
    assert overall(None, RIGHT, RIGHT) == "A=B"


def test_answer_axis_and_axis_ties(make_server: Any) -> None:
    sim = make_server(fast(tie_rate=0.0))
    client = ant(sim)

    def rule(a: str, b: str, reference: str | None, model: str) -> dict[str, str]:
        prompt = render_prompt(QUESTION, reference, a, b, rubric=REASONING_TRACE, scale=Scale.FIVE)
        return labels(judged(client, prompt, model=model))

    # Both answers match the reference: answer is a tie, the rest follow the hash winner.
    both = rule(BOTH_MATCH_A, BOTH_MATCH_B, "pneumonia", "simulated-judge@axis_tie_rate=0")
    assert both["answer"] == "A=B"
    assert both["overall"] in ("A>B", "B>A")
    assert both["perception"] == both["knowledge"] == both["rationale"] == both["overall"]
    # Every non-answer axis ties at axis_tie_rate=1; overall and answer are untouched.
    tied = rule(RIGHT, WRONG, "pneumonia", "simulated-judge@axis_tie_rate=1")
    assert tied == {
        "perception": "A=B",
        "knowledge": "A=B",
        "rationale": "A=B",
        "answer": "A>>B",
        "overall": "A>>B",
    }
    # No reference: no answer criterion at all.
    assert set(rule(RIGHT, WRONG, None, "simulated-judge")) == {
        "perception",
        "knowledge",
        "rationale",
        "overall",
    }


def test_axis_ties_happen_at_about_the_default_rate(server: BackgroundServer) -> None:
    client = oai(server)
    ties = total = 0
    for a, b in random_pairs(60, seed=9):
        prompt = render_prompt(QUESTION, None, a, b, rubric=REASONING_TRACE, scale=Scale.FIVE)
        verdict = labels(judged(client, prompt, model="simulated-judge@tie_rate=0"))
        for axis in ("perception", "knowledge", "rationale"):
            total += 1
            ties += verdict[axis] == "A=B"
    assert 0.05 < ties / total < 0.3  # axis_tie_rate defaults to 0.15


def test_json_object_mode_and_tool_choice_any(server: BackgroundServer) -> None:
    prompt = render_prompt(QUESTION, "pneumonia", RIGHT, WRONG, structured=True)
    criteria, scale = announced(prompt)
    completion = oai(server).chat.completions.create(
        model="simulated-judge",
        messages=[
            {"role": "system", "content": prompt.system},
            {"role": "user", "content": prompt.user},
        ],
        response_format={"type": "json_object"},
    )
    assert (
        parse_structured(completion.choices[0].message.content, criteria, scale).overall.label
        == "A"
    )
    message = ant(server).messages.create(
        model="simulated-judge",
        system=prompt.system,
        messages=[{"role": "user", "content": prompt.user}],
        max_tokens=1024,
        tools=[
            {"name": "other_tool", "input_schema": {"type": "object", "properties": {}}},
            {"name": TOOL_NAME, "input_schema": verdict_schema(criteria, scale)},
        ],
        tool_choice={"type": "any"},
    )
    assert parse_structured(tool_input(message), criteria, scale).overall.label == "A"


def test_structured_requests_are_counted(make_server: Any) -> None:
    sim = make_server(fast())
    prompt = render_prompt(QUESTION, None, "a.", "b.", structured=True)
    judged(oai(sim), prompt, structured=True)
    judged(ant(sim), prompt, structured=True)
    judged(ant(sim), render_prompt(QUESTION, None, "a.", "b."))
    assert stats(sim)["structured_requests"] == 2


SCHEMA = verdict_schema(["overall"], Scale.THREE)
OPEN_SCHEMA = {**SCHEMA, "additionalProperties": True}
PARTLY_REQUIRED = {**SCHEMA, "required": []}


@pytest.mark.parametrize(
    "response_format",
    [
        "json",
        {"type": "xml"},
        {"type": "json_schema"},
        {"type": "json_schema", "json_schema": {"schema": SCHEMA}},
        {"type": "json_schema", "json_schema": {"name": "has space", "schema": SCHEMA}},
        {"type": "json_schema", "json_schema": {"name": SCHEMA_NAME, "schema": {"type": "array"}}},
        {
            "type": "json_schema",
            "json_schema": {"name": SCHEMA_NAME, "schema": SCHEMA, "strict": "yes"},
        },
        {
            "type": "json_schema",
            "json_schema": {"name": SCHEMA_NAME, "schema": OPEN_SCHEMA, "strict": True},
        },
        {
            "type": "json_schema",
            "json_schema": {"name": SCHEMA_NAME, "schema": PARTLY_REQUIRED, "strict": True},
        },
    ],
)
def test_malformed_response_format_is_a_400(server: BackgroundServer, response_format: Any) -> None:
    prompt = render_prompt(QUESTION, None, "a.", "b.", structured=True)
    with pytest.raises(openai.BadRequestError):
        oai(server).chat.completions.create(
            model="simulated-judge",
            messages=[{"role": "user", "content": prompt.user}],
            response_format=response_format,
        )


def test_a_non_strict_open_schema_is_accepted(server: BackgroundServer) -> None:
    prompt = render_prompt(QUESTION, None, "a.", "b.", structured=True)
    completion = oai(server).chat.completions.create(
        model="simulated-judge",
        messages=[
            {"role": "system", "content": prompt.system},
            {"role": "user", "content": prompt.user},
        ],
        response_format={
            "type": "json_schema",
            "json_schema": {"name": SCHEMA_NAME, "schema": OPEN_SCHEMA},
        },
    )
    assert parse_structured(completion.choices[0].message.content, ["overall"], Scale.THREE)


@pytest.mark.parametrize(
    ("tools", "tool_choice"),
    [
        ([{"name": TOOL_NAME, "input_schema": SCHEMA}], {"type": "tool", "name": "other"}),
        ([{"name": TOOL_NAME, "input_schema": SCHEMA}], {"type": "tool"}),
        ([{"name": TOOL_NAME, "input_schema": SCHEMA}], {"type": "sometimes"}),
        ([{"name": TOOL_NAME, "input_schema": {"type": "array"}}], {"type": "any"}),
        ([{"name": TOOL_NAME}], {"type": "tool", "name": TOOL_NAME}),
        ([{"name": "bad name!", "input_schema": SCHEMA}], {"type": "any"}),
        ([{"name": TOOL_NAME, "input_schema": SCHEMA}] * 2, {"type": "any"}),
        ([], {"type": "any"}),
        (None, {"type": "tool", "name": TOOL_NAME}),
    ],
)
def test_malformed_tool_setup_is_a_400(
    server: BackgroundServer, tools: Any, tool_choice: Any
) -> None:
    prompt = render_prompt(QUESTION, None, "a.", "b.", structured=True)
    body: dict[str, Any] = {
        "model": "simulated-judge",
        "max_tokens": 64,
        "messages": [{"role": "user", "content": prompt.user}],
        "tool_choice": tool_choice,
    }
    if tools is not None:
        body["tools"] = tools
    response = httpx.post(server.url + "/v1/messages", json=body)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["type"] == "invalid_request_error"


def test_tool_choice_none_means_a_text_reply(server: BackgroundServer) -> None:
    prompt = render_prompt(QUESTION, "pneumonia", RIGHT, WRONG)
    message = ant(server).messages.create(
        model="simulated-judge",
        system=prompt.system,
        messages=[{"role": "user", "content": prompt.user}],
        max_tokens=1024,
        tools=[{"name": TOOL_NAME, "input_schema": SCHEMA}],
        tool_choice={"type": "none"},
    )
    assert [block.type for block in message.content] == ["text"]
    assert message.stop_reason == "end_turn"


def test_a_schema_that_is_not_a_verdict_schema_gets_no_verdict(server: BackgroundServer) -> None:
    prompt = render_prompt(QUESTION, None, "a.", "b.", structured=True)
    schema = {
        "type": "object",
        "properties": {"score": {"type": "integer"}},
        "required": ["score"],
        "additionalProperties": False,
    }
    completion = oai(server).chat.completions.create(
        model="simulated-judge",
        messages=[
            {"role": "system", "content": prompt.system},
            {"role": "user", "content": prompt.user},
        ],
        response_format={
            "type": "json_schema",
            "json_schema": {"name": "x", "schema": schema, "strict": True},
        },
    )
    content = completion.choices[0].message.content or ""
    assert content.startswith("Simulated judge (not a real model):")
    assert "[[" not in content
