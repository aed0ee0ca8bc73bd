"""Operator configuration: judges from JSON and TOML, and what the settings refuse."""

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from judge_service.config import DEFAULT_DATABASE_URL, JudgeConfig, Settings

ISSUE_EXAMPLE = {
    "gpt4o": {"provider": "openai", "model": "gpt-4o", "api_key_env": "OPENAI_API_KEY"},
    "local": {
        "provider": "openai",
        "model": "qwen2.5-vl",
        "base_url": "http://127.0.0.1:8000/v1",
        "api_key_env": "LOCAL_KEY",
    },
}


def test_defaults_are_the_embedded_mode() -> None:
    settings = Settings()
    assert settings.database_url == DEFAULT_DATABASE_URL
    assert DEFAULT_DATABASE_URL.startswith("sqlite:///")
    assert settings.redis_url is None
    assert settings.all_judges == {}


def test_judges_from_env_json(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JUDGE_JUDGES", json.dumps(ISSUE_EXAMPLE))
    judges = Settings().all_judges
    assert set(judges) == {"gpt4o", "local"}
    assert judges["local"].base_url == "http://127.0.0.1:8000/v1"
    assert judges["gpt4o"].temperature == 0.0
    assert judges["gpt4o"].max_retries == 2


def test_judges_file_merges_with_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "judges.toml"
    path.write_text(
        '[judges.claude]\nprovider = "anthropic"\nmodel = "claude-x"\n'
        'api_key_env = "ANTHROPIC_API_KEY"\nmax_tokens = 2048\n'
    )
    monkeypatch.setenv("JUDGE_JUDGES_FILE", str(path))
    monkeypatch.setenv("JUDGE_JUDGES", json.dumps({"gpt4o": ISSUE_EXAMPLE["gpt4o"]}))
    judges = Settings().all_judges
    assert set(judges) == {"claude", "gpt4o"}
    assert judges["claude"].max_tokens == 2048


def test_same_name_defined_two_ways_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "judges.toml"
    path.write_text('[judges.gpt4o]\nprovider = "openai"\nmodel = "other"\napi_key_env = "K"\n')
    with pytest.raises(ValidationError, match="defined differently"):
        Settings(judges_file=path, judges={"gpt4o": ISSUE_EXAMPLE["gpt4o"]})


def test_unknown_judge_field_and_provider_are_refused() -> None:
    with pytest.raises(ValidationError, match="api_key"):
        JudgeConfig.model_validate({**ISSUE_EXAMPLE["gpt4o"], "api_key": "sk-inline"})
    with pytest.raises(ValidationError, match="provider"):
        JudgeConfig.model_validate({**ISSUE_EXAMPLE["gpt4o"], "provider": "cohere"})


def test_calls_must_fit_in_the_job_timeout() -> None:
    slow = {**ISSUE_EXAMPLE["gpt4o"], "timeout_s": 300, "max_retries": 2}
    with pytest.raises(ValidationError, match="job_timeout_s"):
        Settings(judges={"slow": slow}, job_timeout_s=900)
    assert Settings(judges={"slow": slow}, job_timeout_s=1000).all_judges["slow"].timeout_s == 300
    # Each retry may wait up to MAX_RETRY_WAIT_S for a retry-after: 11 x 60 s + 10 x 30 s.
    patient = {**ISSUE_EXAMPLE["gpt4o"], "timeout_s": 60, "max_retries": 10}
    assert JudgeConfig.model_validate(patient).worst_case_call_s == 960
    with pytest.raises(ValidationError, match="retry waits"):
        Settings(judges={"patient": patient}, job_timeout_s=960)


def test_rate_limits_are_optional_and_positive() -> None:
    assert JudgeConfig.model_validate(ISSUE_EXAMPLE["gpt4o"]).rpm_limit is None
    limited = JudgeConfig.model_validate(
        {**ISSUE_EXAMPLE["gpt4o"], "rpm_limit": 500, "tpm_limit": 9}
    )
    assert (limited.rpm_limit, limited.tpm_limit) == (500, 9)
    with pytest.raises(ValidationError, match="rpm_limit"):
        JudgeConfig.model_validate({**ISSUE_EXAMPLE["gpt4o"], "rpm_limit": 0})


def test_api_key_is_read_at_call_time(monkeypatch: pytest.MonkeyPatch) -> None:
    judge = JudgeConfig.model_validate(ISSUE_EXAMPLE["gpt4o"])
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(LookupError, match="OPENAI_API_KEY"):
        judge.api_key()
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    assert judge.api_key() == "sk-test"
    assert "sk-test" not in repr(judge)


def test_cost_needs_both_prices_and_is_not_part_of_the_fingerprint() -> None:
    judge = JudgeConfig(provider="openai", model="m", api_key_env="K")
    assert judge.cost_usd(1_000_000, 1_000_000) is None
    priced = judge.model_copy(update={"input_usd_per_mtok": 2.5, "output_usd_per_mtok": 10.0})
    assert priced.cost_usd(2_000_000, 500_000) == pytest.approx(5.0 + 5.0)
    assert judge.model_copy(update={"input_usd_per_mtok": 1.0}).cost_usd(1, 1) is None
    # A price change must not make a run's judges look changed (rerun / retry-failed checks).
    assert priced.fingerprint() == judge.fingerprint()
    with pytest.raises(ValidationError, match="input_usd_per_mtok"):
        JudgeConfig(provider="openai", model="m", api_key_env="K", input_usd_per_mtok=-1)


def test_cost_prices_cached_input_and_takes_the_batch_discount() -> None:
    judge = JudgeConfig(
        provider="anthropic",
        model="m",
        api_key_env="K",
        input_usd_per_mtok=3.0,
        output_usd_per_mtok=15.0,
        cached_input_usd_per_mtok=0.3,
    )
    # 1M prompt tokens, 400k of them read from the cache; 100k output tokens.
    full = 600_000 * 3.0 / 1e6 + 400_000 * 0.3 / 1e6 + 100_000 * 15.0 / 1e6
    assert judge.cost_usd(1_000_000, 100_000, cached_input=400_000) == pytest.approx(full)
    assert judge.cost_usd(1_000_000, 100_000, 400_000, batch=True) == pytest.approx(full / 2)
    # No cached price: cached input costs what other input does.
    plain = judge.model_copy(update={"cached_input_usd_per_mtok": None, "batch_discount": 0.25})
    assert plain.cost_usd(1_000_000, 0, cached_input=400_000) == pytest.approx(3.0)
    assert plain.cost_usd(1_000_000, 0, batch=True) == pytest.approx(3.0 * 0.75)
    with pytest.raises(ValidationError, match="batch_discount"):
        JudgeConfig(provider="openai", model="m", api_key_env="K", batch_discount=1.5)
