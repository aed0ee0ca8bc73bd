"""The `image_grounded` knob (rule step 7): sent no image, every criterion but answer ties."""

from typing import Any

import pytest

from judge_service.background import BackgroundServer
from judge_service.judging.prompt import render_prompt
from judge_service.judging.protocol import Scale
from judge_service.judging.rubrics import REASONING_TRACE
from judge_service.simulate.config import SimulatorConfig
from tests.simulate.helpers import (
    MODEL,
    PNG_DATA_URL,
    QUESTION,
    RIGHT,
    WRONG,
    ant,
    fast,
    judged,
    labels,
    oai,
    random_pairs,
)

GROUNDED = f"{MODEL}@image_grounded=true"


def _openai_images(user: str) -> list[dict[str, Any]]:
    return [
        {"type": "text", "text": user},
        {"type": "image_url", "image_url": {"url": PNG_DATA_URL}},
    ]


def _anthropic_images(user: str) -> list[dict[str, Any]]:
    image = {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}
    return [{"type": "image", "source": image}, {"type": "text", "text": user}]


@pytest.mark.parametrize("structured", [False, True])
def test_grounded_judge_sent_no_image_ties_all_but_the_answer(
    make_server: Any, structured: bool
) -> None:
    sim = make_server(fast())
    prompt = render_prompt(
        QUESTION,
        "pneumonia",
        WRONG,
        RIGHT,
        rubric=REASONING_TRACE,
        scale=Scale.FIVE,
        structured=structured,
        image_count=1,
    )
    for client, images in ((oai(sim), _openai_images), (ant(sim), _anthropic_images)):
        seeing = labels(
            judged(
                client,
                prompt,
                structured=structured,
                model=GROUNDED,
                user_content=images(prompt.user),
            )
        )
        blind = labels(judged(client, prompt, structured=structured, model=GROUNDED))
        # With the image it judges as the rule says: B's answer matches the reference.
        assert seeing["overall"] == seeing["answer"] == "B>>A"
        assert blind["answer"] == "B>>A"
        assert {name: label for name, label in blind.items() if name != "answer"} == {
            name: "A=B" for name in blind if name != "answer"
        }


def test_without_the_knob_images_change_no_verdict(make_server: Any) -> None:
    """Every existing verdict stays: the default judge reads the same with or without images."""
    sim: BackgroundServer = make_server(fast(seed=5))
    for first, second in random_pairs(12, seed=2):
        prompt = render_prompt(QUESTION, None, first, second, rubric=REASONING_TRACE)
        with_image = labels(judged(oai(sim), prompt, user_content=_openai_images(prompt.user)))
        assert labels(judged(oai(sim), prompt)) == with_image


def test_the_knob_is_set_per_server_or_per_model_name() -> None:
    assert SimulatorConfig(image_grounded=True).knobs_for(MODEL).image_grounded
    assert SimulatorConfig().knobs_for(GROUNDED).image_grounded
    assert not SimulatorConfig().knobs_for(MODEL).image_grounded
