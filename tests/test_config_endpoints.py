"""A judge of several endpoints: one form or the other, no endpoint twice, and a fingerprint
that a replica does not change."""

import json

import pytest
from pydantic import ValidationError

from judge_service.config import JudgeConfig, Settings

ONE = {
    "provider": "openai",
    "model": "qwen2.5-vl",
    "base_url": "http://10.0.0.1:8000/v1",
    "api_key_env": "VLLM_KEY",
    "rpm_limit": 600,
}
TWO = {
    "provider": "openai",
    "model": "qwen2.5-vl",
    "endpoints": [
        {"base_url": "http://10.0.0.1:8000/v1", "api_key_env": "VLLM_KEY", "rpm_limit": 600},
        {"base_url": "http://10.0.0.2:8000/v1", "api_key_env": "VLLM_KEY", "rpm_limit": 1800},
    ],
}


def test_endpoints_replace_the_top_level_endpoint() -> None:
    judge = JudgeConfig.model_validate(TWO)
    assert [e.rpm_limit for e in judge.replicas] == [600, 1800]
    assert judge.endpoint_labels() == ["10.0.0.1:8000", "10.0.0.2:8000"]
    single = JudgeConfig.model_validate(ONE)
    assert [(e.base_url, e.api_key_env, e.rpm_limit) for e in single.replicas] == [
        ("http://10.0.0.1:8000/v1", "VLLM_KEY", 600)
    ]


@pytest.mark.parametrize("field", ["base_url", "api_key_env", "rpm_limit", "tpm_limit"])
def test_both_forms_are_refused_naming_the_field(field: str) -> None:
    value = 5 if field.endswith("limit") else "http://elsewhere/v1"
    with pytest.raises(ValidationError, match=rf"endpoints: give {field} in each"):
        JudgeConfig.model_validate({**TWO, field: value})


def test_an_endpoint_listed_twice_is_refused() -> None:
    twice = {**TWO, "endpoints": [TWO["endpoints"][0], {**TWO["endpoints"][0], "rpm_limit": 5}]}
    with pytest.raises(
        ValidationError, match=r"endpoints: base_url .*10\.0\.0\.1.* listed 2 times"
    ):
        JudgeConfig.model_validate(twice)
    # The same server with another key is another endpoint (its own limits): accepted.
    keys = {**TWO, "endpoints": [TWO["endpoints"][0], {**TWO["endpoints"][0], "api_key_env": "K2"}]}
    assert JudgeConfig.model_validate(keys).endpoint_labels() == [
        "10.0.0.1:8000#0",
        "10.0.0.1:8000#1",
    ]


def test_a_judge_needs_a_key_or_endpoints() -> None:
    with pytest.raises(ValidationError, match="api_key_env: required"):
        JudgeConfig.model_validate({"provider": "openai", "model": "m"})
    with pytest.raises(ValidationError, match="endpoints"):
        JudgeConfig.model_validate({**TWO, "endpoints": []})
    with pytest.raises(ValidationError, match="api_key"):
        JudgeConfig.model_validate({**TWO, "endpoints": [{"base_url": "http://x/v1"}]})


def test_a_replica_is_no_change_of_judge() -> None:
    """The fingerprint guards a rerun against a changed judge: adding a replica of the same
    model and settings is not one; changing the model still is."""
    single, replicated = JudgeConfig.model_validate(ONE), JudgeConfig.model_validate(TWO)
    assert single.fingerprint() == replicated.fingerprint()
    other_model = JudgeConfig.model_validate({**TWO, "model": "qwen3-vl"})
    assert other_model.fingerprint() != replicated.fingerprint()


def test_endpoints_survive_the_environment_a_worker_reads(monkeypatch: pytest.MonkeyPatch) -> None:
    """Workers get their judges as `JUDGE_JUDGES`, a dump of the configs with every field."""
    dumped = {"j": JudgeConfig.model_validate(TWO).model_dump()}
    monkeypatch.setenv("JUDGE_JUDGES", json.dumps(dumped))
    assert Settings().all_judges["j"] == JudgeConfig.model_validate(TWO)


def test_labels_name_the_default_hosts_and_never_the_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KEY_A", "sk-secret-a")
    judge = JudgeConfig.model_validate(
        {
            "provider": "anthropic",
            "model": "claude-x",
            "endpoints": [{"api_key_env": "KEY_A"}, {"api_key_env": "KEY_B"}],
        }
    )
    assert judge.endpoint_labels() == ["api.anthropic.com:443#0", "api.anthropic.com:443#1"]
    assert judge.api_key() == "sk-secret-a"  # batch mode's key: the first endpoint's


def test_each_endpoint_may_time_out_once_per_attempt() -> None:
    """A failover tries each endpoint once per attempt, so the worst case counts them all."""
    single, replicated = JudgeConfig.model_validate(ONE), JudgeConfig.model_validate(TWO)
    assert single.worst_case_call_s == 60 * 3 + 30 * 2
    assert replicated.worst_case_call_s == 2 * 60 * 3 + 30 * 2
