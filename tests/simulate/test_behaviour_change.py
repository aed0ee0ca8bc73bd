"""`POST /simulator/behaviour`: the SIMULATED judge moves under the same model name, as a
provider's model does, and says so in its replies' model and system fingerprint."""

from typing import Any

import httpx

from judge_service.judging.prompt import render_prompt
from judge_service.judging.verdicts import SlotLabel, parse_label
from tests.simulate.helpers import (
    MODEL,
    QUESTION,
    RIGHT,
    WRONG,
    ant,
    anthropic_message,
    fast,
    oai,
    openai_chat,
    text_of,
)


def test_the_judge_moves_and_reports_a_new_version_under_the_same_name(make_server: Any) -> None:
    server = make_server(fast(seed=3))
    prompt = render_prompt(QUESTION, "pneumonia", WRONG, RIGHT)  # B alone is right
    before = openai_chat(oai(server), prompt)
    assert parse_label(before.choices[0].message.content or "") is SlotLabel.B
    assert (before.model, before.system_fingerprint) == (MODEL, "simulated-judge")

    changed = httpx.post(
        f"{server.url}/simulator/behaviour",
        json={"knobs": {"position_bias": 1.0}, "version": "2026-12"},
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["knobs"]["position_bias"] == 1.0

    after = openai_chat(oai(server), prompt)  # the same request, model name included
    assert parse_label(after.choices[0].message.content or "") is SlotLabel.A
    assert (after.model, after.system_fingerprint) == (
        f"{MODEL}-2026-12",
        "simulated-judge-2026-12",
    )
    message = anthropic_message(ant(server), prompt)
    assert message.model == f"{MODEL}-2026-12"
    assert parse_label(text_of(message)) is SlotLabel.A


def test_unknown_or_out_of_bounds_knobs_are_a_400(make_server: Any) -> None:
    server = make_server(fast())
    for knobs, named in (({"temperature": 0.5}, "temperature"), ({"tie_rate": 2}, "tie_rate")):
        refused = httpx.post(f"{server.url}/simulator/behaviour", json={"knobs": knobs})
        assert refused.status_code == 400 and named in refused.json()["error"]
    prompt = render_prompt(QUESTION, "pneumonia", WRONG, RIGHT)
    assert openai_chat(oai(server), prompt).model == MODEL  # nothing changed
