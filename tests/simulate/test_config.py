"""Simulator knobs, per-model overrides and the rate-limit bucket."""

import pydantic
import pytest

from judge_service.simulate.config import (
    JudgeKnobs,
    ModelOverrideError,
    SimulatorConfig,
    parse_model,
)
from judge_service.simulate.server import TokenBucket, _openai_duration


def test_defaults_and_frozen() -> None:
    config = SimulatorConfig()
    assert (config.latency_mean_s, config.latency_jitter_s) == (0.02, 0.01)
    assert (config.rpm_limit, config.error_rate, config.position_bias) == (None, 0.0, 0.0)
    assert (config.tie_rate, config.seed, config.axis_tie_rate) == (0.1, 0, 0.15)
    assert (config.malformed_rate, config.truncate_rate) == (0.0, 0.0)
    assert (config.persistent_faults, config.echo, config.obedient) == (False, False, False)
    assert config.bucket_capacity is None
    with pytest.raises(pydantic.ValidationError):
        config.seed = 3  # type: ignore[misc]


@pytest.mark.parametrize(
    "bad",
    [
        {"error_rate": 1.5},
        {"position_bias": -0.1},
        {"tie_rate": 2},
        {"axis_tie_rate": 1.01},
        {"malformed_rate": -0.5},
        {"truncate_rate": 3},
        {"echo": "perhaps"},
        {"rpm_limit": 0},
        {"latency_mean_s": -1},
        {"nonsense": 1},
    ],
)
def test_bad_values_are_refused(bad: dict[str, float]) -> None:
    with pytest.raises(pydantic.ValidationError):
        SimulatorConfig(**bad)


@pytest.mark.parametrize(
    ("rpm", "burst", "capacity"), [(60, None, 2), (600, None, 20), (10, None, 1), (60, 5, 5)]
)
def test_bucket_capacity(rpm: int, burst: int | None, capacity: int) -> None:
    assert SimulatorConfig(rpm_limit=rpm, rpm_burst=burst).bucket_capacity == capacity


def test_model_overrides() -> None:
    config = SimulatorConfig(position_bias=0.1, tie_rate=0.2, seed=9)
    assert config.knobs_for("simulated-judge") == JudgeKnobs(0.1, 0.2, 9)
    assert config.knobs_for("judge@position_bias=0.3, tie_rate=0.05") == JudgeKnobs(0.3, 0.05, 9)
    assert config.knobs_for("judge@seed=4") == JudgeKnobs(0.1, 0.2, 4)
    assert parse_model("judge@tie_rate=1") == ("judge", {"tie_rate": 1.0})


def test_new_knobs_override_per_model() -> None:
    config = SimulatorConfig(truncate_rate=0.2)
    knobs = config.knobs_for(
        "judge@axis_tie_rate=0,malformed_rate=0.5,persistent_faults=1,echo=true,obedient=1"
    )
    assert knobs == JudgeKnobs(
        position_bias=0.0,
        tie_rate=0.1,
        seed=0,
        axis_tie_rate=0.0,
        malformed_rate=0.5,
        truncate_rate=0.2,
        persistent_faults=True,
        echo=True,
        obedient=True,
    )
    plain = config.knobs_for("judge")
    assert (plain.axis_tie_rate, plain.truncate_rate, plain.echo) == (0.15, 0.2, False)


@pytest.mark.parametrize(
    ("model", "names"),
    [
        ("judge@temperature=1", "'temperature'"),
        ("judge@position_bias=1.5", "'position_bias'"),
        ("judge@tie_rate=abc", "'tie_rate'"),
        ("judge@seed=1.5", "'seed'"),
        ("judge@axis_tie_rate=2", "'axis_tie_rate'"),
        ("judge@truncate_rate=-1", "'truncate_rate'"),
        ("judge@echo=maybe", "'echo'"),
        ("judge@obedient=2", "'obedient'"),
        ("judge@seed=1,seed=2", "twice"),
        ("judge@position_bias", "knob=value"),
        ("judge@", "knob=value"),
        ("@seed=1", "empty"),
    ],
)
def test_bad_model_overrides_name_the_problem(model: str, names: str) -> None:
    with pytest.raises(ModelOverrideError, match=names):
        SimulatorConfig().knobs_for(model)


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_token_bucket_refills_continuously() -> None:
    clock = FakeClock()
    bucket = TokenBucket(rpm=60, capacity=3, clock=clock)
    assert [bucket.try_take() for _ in range(4)] == [True, True, True, False]
    assert bucket.remaining == 0
    assert bucket.seconds_until_token() == pytest.approx(1.0)
    assert bucket.seconds_until_full() == pytest.approx(3.0)
    clock.now += 0.5
    assert not bucket.try_take()
    assert bucket.seconds_until_token() == pytest.approx(0.5)
    clock.now += 0.5
    assert bucket.try_take()
    clock.now += 1000
    assert bucket.remaining == 3  # never above capacity


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0.0, "0ms"), (0.1204, "121ms"), (0.9999, "1s"), (1.2, "2s"), (61, "1m1s")],
)
def test_openai_reset_format(seconds: float, text: str) -> None:
    assert _openai_duration(seconds) == text
