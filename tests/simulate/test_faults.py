"""Malformed and truncated replies: they fail the service's parsers once, then a retry works.

Faults hit the first attempt at a pair (per route and model name) unless
`persistent_faults=1`, in which case every attempt fails the same way. Text mode
retries with a follow-up turn; structured mode repeats the identical request.
"""

from typing import Any

import pytest

from judge_service.background import BackgroundServer
from judge_service.judging.prompt import Prompt, render_prompt
from judge_service.judging.protocol import (
    ParsedVerdict,
    VerdictParseError,
    parse_structured,
    parse_text,
)
from judge_service.judging.rubrics import REASONING_TRACE
from tests.simulate.helpers import (
    FOLLOW_UP,
    QUESTION,
    RIGHT,
    WRONG,
    announced,
    ant,
    anthropic_message,
    fast,
    labels,
    oai,
    openai_chat,
    random_pairs,
    stats,
    text_of,
    tool_input,
)

ROUTES = ["openai", "anthropic"]
SEED_0 = "simulated-judge@seed=0"


def text_call(
    server: BackgroundServer, route: str, prompt: Prompt, extra: list[dict[str, Any]] | None = None
) -> tuple[str, str]:
    """(reply text, finish reason in the route's own words) for a text-mode call."""
    if route == "openai":
        choice = openai_chat(oai(server), prompt, extra=extra).choices[0]
        return choice.message.content or "", str(choice.finish_reason)
    message = anthropic_message(ant(server), prompt, extra=extra)
    return text_of(message), str(message.stop_reason)


def structured_call(server: BackgroundServer, route: str, prompt: Prompt) -> tuple[Any, str]:
    """(what the service parses, finish reason) for a structured-mode call."""
    if route == "openai":
        choice = openai_chat(oai(server), prompt, structured=True).choices[0]
        return choice.message.content, str(choice.finish_reason)
    message = anthropic_message(ant(server), prompt, structured=True)
    return tool_input(message), str(message.stop_reason)


def retry_turns(previous: str) -> list[dict[str, Any]]:
    return [{"role": "assistant", "content": previous}, {"role": "user", "content": FOLLOW_UP}]


def parse(reply: Any, prompt: Prompt, structured: bool) -> ParsedVerdict:
    criteria, scale = announced(prompt)
    if structured:
        return parse_structured(reply, criteria, scale)
    return parse_text(reply, criteria, scale)


def honest(prompt: Prompt, structured: bool, server: BackgroundServer) -> dict[str, str]:
    """The verdict a fault-free judge with the same knobs (seed 0) gives."""
    if structured:
        reply = openai_chat(oai(server), prompt, structured=True, model=SEED_0)
        return labels(parse(reply.choices[0].message.content, prompt, True))
    reply = openai_chat(oai(server), prompt, model=SEED_0)
    return labels(parse(reply.choices[0].message.content, prompt, False))


def prompt_for(structured: bool) -> Prompt:
    return render_prompt(
        QUESTION, "pneumonia", RIGHT, WRONG, rubric=REASONING_TRACE, structured=structured
    )


@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize("fault", ["malformed_rate", "truncate_rate"])
def test_text_fault_then_follow_up_succeeds(
    make_server: Any, server: BackgroundServer, route: str, fault: str
) -> None:
    sim = make_server(fast(**{fault: 1.0}))
    prompt = prompt_for(structured=False)
    reply, finish = text_call(sim, route, prompt)
    assert reply.startswith("Simulated judge (not a real model):")
    with pytest.raises(VerdictParseError):
        parse(reply, prompt, structured=False)
    if fault == "truncate_rate":
        assert finish in ("length", "max_tokens")
        assert "[[" not in reply
    else:
        assert finish in ("stop", "end_turn")
    followup, finish = text_call(sim, route, prompt, extra=retry_turns(reply))
    assert finish in ("stop", "end_turn")
    assert all("[[" in line for line in followup.splitlines())  # the verdict lines only
    assert labels(parse(followup, prompt, False)) == honest(prompt, False, server)
    counters = stats(sim)
    assert counters["followups"] == 1
    assert counters["malformed_sent" if fault == "malformed_rate" else "truncated_sent"] == 1
    assert counters["verdicts"]["none"] == 1


@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize("fault", ["malformed_rate", "truncate_rate"])
def test_structured_fault_then_repeat_succeeds(
    make_server: Any, server: BackgroundServer, route: str, fault: str
) -> None:
    sim = make_server(fast(**{fault: 1.0}))
    prompt = prompt_for(structured=True)
    reply, finish = structured_call(sim, route, prompt)
    with pytest.raises(VerdictParseError):
        parse(reply, prompt, structured=True)
    if fault == "truncate_rate":
        assert finish in ("length", "max_tokens")
    elif route == "anthropic":
        assert (reply, finish) == ({}, "tool_use")
    else:
        assert isinstance(reply, str) and reply.startswith("Simulated malformed reply")
    again, finish = structured_call(sim, route, prompt)
    assert finish in ("stop", "tool_use")
    assert labels(parse(again, prompt, True)) == honest(prompt, True, server)
    assert stats(sim)["followups"] == 0


@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize("structured", [False, True])
@pytest.mark.parametrize("fault", ["malformed_rate", "truncate_rate"])
def test_persistent_faults_fail_every_attempt(
    make_server: Any, route: str, structured: bool, fault: str
) -> None:
    sim = make_server(fast(**{fault: 1.0, "persistent_faults": True}))
    prompt = prompt_for(structured)
    for _ in range(3):
        if structured:
            reply, _finish = structured_call(sim, route, prompt)
        else:
            first, _finish = text_call(sim, route, prompt)
            reply, _finish = text_call(sim, route, prompt, extra=retry_turns(first))
        with pytest.raises(VerdictParseError):
            parse(reply, prompt, structured)
    counters = stats(sim)
    assert counters["malformed_sent"] + counters["truncated_sent"] == (3 if structured else 6)


def test_persistent_faults_can_be_set_per_model(make_server: Any) -> None:
    sim = make_server(fast())
    prompt = prompt_for(structured=True)
    model = "simulated-judge@malformed_rate=1,persistent_faults=1"
    for _ in range(2):
        with pytest.raises(VerdictParseError):
            parse(structured_call_model(sim, prompt, model), prompt, True)
    assert parse(structured_call_model(sim, prompt, "simulated-judge"), prompt, True)


def structured_call_model(server: BackgroundServer, prompt: Prompt, model: str) -> Any:
    return openai_chat(oai(server), prompt, structured=True, model=model).choices[0].message.content


def test_each_judge_and_route_gets_its_own_first_attempt(make_server: Any) -> None:
    sim = make_server(fast(malformed_rate=1.0))
    prompt = prompt_for(structured=True)
    with pytest.raises(VerdictParseError):
        parse(structured_call(sim, "openai", prompt)[0], prompt, True)
    with pytest.raises(VerdictParseError):
        parse(structured_call(sim, "anthropic", prompt)[0], prompt, True)
    with pytest.raises(VerdictParseError):
        parse(structured_call_model(sim, prompt, "simulated-judge@seed=0"), prompt, True)
    assert parse(structured_call(sim, "openai", prompt)[0], prompt, True)
    # A fresh render of the same pair (new boundary code) is the same pair: no new fault.
    assert parse(structured_call(sim, "openai", prompt_for(structured=True))[0], prompt, True)


def test_fault_draws_are_deterministic_and_near_the_rate(make_server: Any) -> None:
    def faulty(server: BackgroundServer) -> list[bool]:
        outcome = []
        for a, b in random_pairs(80, seed=17):
            prompt = render_prompt(QUESTION, None, a, b, structured=True)
            try:
                parse(structured_call(server, "openai", prompt)[0], prompt, True)
                outcome.append(False)
            except VerdictParseError:
                outcome.append(True)
        return outcome

    first = faulty(make_server(fast(malformed_rate=0.3, truncate_rate=0.2, seed=8)))
    second = faulty(make_server(fast(malformed_rate=0.3, truncate_rate=0.2, seed=8)))
    assert first == second
    # Malformed at 0.3, else truncated at 0.2: about 0.3 + 0.7 * 0.2 = 0.44 of first attempts.
    assert 0.25 < sum(first) / len(first) < 0.65
