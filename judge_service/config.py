"""One Settings object for every process (API, worker, CLI), read from `JUDGE_*`.

Judges are operator configuration: the API only ever names them, so a caller
can never point the server at an address of their choosing.
"""

import os
import re
import tomllib
from collections import Counter
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal, Self
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEFAULT_DATABASE_URL = "sqlite:///judge_service.db"
# A host name, optionally with a port: what a Content-Security-Policy source names after https://.
IMAGE_HOST = re.compile(
    r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*(:[0-9]{1,5})?$"
)
# One pair at every per-field limit (8 images x 8,000,000 characters, plus its texts) fits;
# so do 10,000 pairs of ~2 KB traces (~25 MB). The client splits its requests at this size.
DEFAULT_MAX_BODY_BYTES = 64 * 1024 * 1024
# The longest wait between two attempts of one judge call: the retry backoff's cap (8 s), or
# a provider's `retry-after` (and the shared pause it sets), honoured up to this long.
MAX_RETRY_WAIT_S = 30.0
# OpenAI's reasoning families (o1, o3, o4-mini, gpt-5, gpt-5-mini, gpt-5.1, ...): they take
# `max_completion_tokens` and refuse a temperature other than their default.
REASONING_MODEL = re.compile(r"^(o[1-9][0-9]*|gpt-5)([-.@].*)?$")
# What a run's record says of a temperature the judge was never sent.
PROVIDER_DEFAULT = "provider default"
ReasoningEffort = Literal["minimal", "low", "medium", "high"]
# Anthropic's smallest thinking budget.
MIN_THINKING_BUDGET = 1024
# The fields a judge of one endpoint gives at its top level, and each of `endpoints` gives.
ENDPOINT_FIELDS = ("base_url", "api_key_env", "rpm_limit", "tpm_limit")
# Where the SDKs send a judge given no base_url.
DEFAULT_HOSTS = {"openai": "api.openai.com:443", "anthropic": "api.anthropic.com:443"}


class JudgeEndpoint(BaseModel):
    """One replica of a judge: where its calls go, with which key, at which limits."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    base_url: str | None = None
    api_key_env: str = Field(min_length=1)
    # The provider's limits for this key and model, shared by every worker (through Redis).
    rpm_limit: int | None = Field(default=None, ge=1, description="Requests per minute")
    tpm_limit: int | None = Field(default=None, ge=1, description="Tokens per minute")

    def api_key(self) -> str:
        """The key, read at call time so it never sits in a config dump or a log."""
        value = os.environ.get(self.api_key_env)
        if not value:
            raise LookupError(f"environment variable {self.api_key_env} is not set")
        return value

    def host(self, provider: str) -> str:
        """`host:port` of the endpoint: a label for logs and `/metrics` that names no key."""
        if self.base_url is None:
            return DEFAULT_HOSTS[provider]
        url = urlsplit(self.base_url)
        port = url.port or (443 if url.scheme == "https" else 80)
        return f"{url.hostname}:{port}"


class JudgeConfig(BaseModel):
    """One judge model behind one provider endpoint, or several (`endpoints`): replicas of
    the judge, each with its own key and limits, whose verdicts all count as the judge's."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    provider: Literal["openai", "anthropic"]
    model: str = Field(min_length=1)
    # One endpoint, given at the top level (`ENDPOINT_FIELDS`); or `endpoints`, not both.
    base_url: str | None = None
    api_key_env: str | None = Field(default=None, min_length=1)
    endpoints: tuple[JudgeEndpoint, ...] | None = Field(default=None, min_length=1)
    # Sent to OpenAI-format endpoints only: the Anthropic SDK takes no sampling settings.
    # Unset: 0.0, or nothing at all for a judge that refuses it (`omits_temperature`).
    temperature: float | None = Field(default=None, ge=0.0, le=2.0)
    # The output cap, thinking included: `max_completion_tokens` on the wire to OpenAI
    # reasoning models, `max_tokens` elsewhere.
    max_tokens: int = Field(default=1024, ge=1)
    # An OpenAI-format reasoning model (no temperature, `max_completion_tokens`); unset, read
    # from the model name (`REASONING_MODEL`).
    reasoning: bool | None = None
    # Sent as `reasoning_effort` to OpenAI-format endpoints (reasoning models, gpt-oss on vLLM).
    reasoning_effort: ReasoningEffort | None = None
    # Anthropic extended thinking: tokens the judge may think before it answers.
    thinking_budget_tokens: int | None = None
    # Store the judge's thinking text with each judgment (Anthropic returns it; it can be
    # larger than the verdict), off unless the operator asks for it.
    keep_thinking: bool = False
    timeout_s: float = Field(default=60.0, gt=0)
    max_retries: int = Field(default=2, ge=0, le=10)
    # A cap on the calls one job keeps in flight; unset, they follow the judge's rate limit
    # at the latency observed (`judging/concurrency.py`), up to 1,024.
    max_concurrency: int | None = Field(default=None, ge=1, le=1024)
    # The provider's limits for this key and model, shared by every worker (through Redis).
    rpm_limit: int | None = Field(default=None, ge=1, description="Requests per minute")
    tpm_limit: int | None = Field(default=None, ge=1, description="Tokens per minute")
    structured: bool = Field(
        default=True,
        description="JSON-schema / forced-tool verdicts; false for servers without them",
    )
    vision: bool = Field(default=False, description="Send the pair's images to this judge")
    seed: int | None = Field(default=None, description="Sampling seed (OpenAI-format only)")
    # Prices make cost visible and budgets possible; unset, tokens are shown without a cost.
    input_usd_per_mtok: float | None = Field(default=None, ge=0)
    output_usd_per_mtok: float | None = Field(default=None, ge=0)
    # Input read from the provider's prompt cache; unset, it is priced as ordinary input.
    cached_input_usd_per_mtok: float | None = Field(default=None, ge=0)
    # Fraction off for calls made through a provider batch API (both charge half price).
    batch_discount: float = Field(default=0.5, ge=0, le=1)

    @model_validator(mode="before")
    @classmethod
    def _default_temperature(cls, data: Any) -> Any:
        """An unset temperature is 0.0, except for judges that refuse one (left unset)."""
        if not isinstance(data, dict) or data.get("temperature") is not None:
            return data
        refused = _refuses_temperature(
            data.get("provider"),
            data.get("model"),
            data.get("reasoning"),
            data.get("thinking_budget_tokens"),
        )
        return data if refused else {**data, "temperature": 0.0}

    @model_validator(mode="after")
    def _one_form_of_endpoints(self) -> Self:
        """Endpoints at the top level or in `endpoints`, never both, and none given twice."""
        if self.endpoints is None:
            if self.api_key_env is None:
                raise ValueError("api_key_env: required (or list the judge's endpoints)")
            return self
        given = [name for name in ENDPOINT_FIELDS if getattr(self, name) is not None]
        if given:
            raise ValueError(
                f"endpoints: give {', '.join(given)} in each of the judge's endpoints, "
                "not beside them"
            )
        twice = Counter((e.base_url, e.api_key_env) for e in self.endpoints)
        for (url, key_env), count in twice.items():
            if count > 1:
                raise ValueError(
                    f"endpoints: base_url {url!r} with api_key_env {key_env!r} is listed "
                    f"{count} times"
                )
        return self

    @model_validator(mode="after")
    def _reasoning_settings_fit(self) -> Self:
        """Refuse what the provider would refuse on every call, naming the setting."""
        openai_only = {"reasoning": self.reasoning, "reasoning_effort": self.reasoning_effort}
        for name, value in openai_only.items():
            if value is not None and self.provider != "openai":
                raise ValueError(
                    f"{name}: OpenAI-format judges only; an Anthropic judge thinks when "
                    "thinking_budget_tokens is set"
                )
        budget = self.thinking_budget_tokens
        if budget is not None:
            if self.provider != "anthropic":
                raise ValueError(
                    "thinking_budget_tokens: Anthropic judges only; an OpenAI-format judge "
                    "takes reasoning_effort"
                )
            if budget < MIN_THINKING_BUDGET:
                raise ValueError(
                    f"thinking_budget_tokens ({budget}) must be at least {MIN_THINKING_BUDGET}"
                )
            if budget >= self.max_tokens:
                raise ValueError(
                    f"thinking_budget_tokens ({budget}) must be below max_tokens "
                    f"({self.max_tokens}), which caps thinking and answer together"
                )
        if self.omits_temperature and self.temperature is not None:
            raise ValueError(
                f"temperature: {self.model!r} takes only its provider's default temperature "
                "(a reasoning model, or extended thinking); leave temperature unset"
                + (", or set reasoning = false" if self.provider == "openai" else "")
            )
        return self

    @property
    def reasoning_model(self) -> bool:
        """An OpenAI-format reasoning model: said so, or named like one."""
        return self.provider == "openai" and _refuses_temperature(
            self.provider, self.model, self.reasoning, None
        )

    @property
    def omits_temperature(self) -> bool:
        """The judge is sent no temperature: it runs at its provider's default."""
        return _refuses_temperature(
            self.provider, self.model, self.reasoning, self.thinking_budget_tokens
        )

    @property
    def replicas(self) -> tuple[JudgeEndpoint, ...]:
        """The judge's endpoints: `endpoints`, or the one its top-level fields describe."""
        if self.endpoints is not None:
            return self.endpoints
        assert self.api_key_env is not None  # checked by `_one_form_of_endpoints`
        return (
            JudgeEndpoint(
                base_url=self.base_url,
                api_key_env=self.api_key_env,
                rpm_limit=self.rpm_limit,
                tpm_limit=self.tpm_limit,
            ),
        )

    def endpoint_labels(self) -> list[str]:
        """A short label per endpoint (`host:port`, `#index` added where two share one):
        what `/metrics` and the logs name an endpoint by, never its key."""
        hosts = [endpoint.host(self.provider) for endpoint in self.replicas]
        repeated = {host for host, count in Counter(hosts).items() if count > 1}
        return [f"{h}#{i}" if h in repeated else h for i, h in enumerate(hosts)]

    def fingerprint(self) -> dict[str, object]:
        """What decides the verdicts, for a run's record: no key, endpoint or timeouts.

        A temperature never sent is recorded as the provider's default; the reasoning
        settings appear only when set, so a judge without them keeps the record it had.
        Endpoints are replicas of one model with one configuration, so adding, removing or
        moving one is no change of judge: a run may be resumed or rerun on more replicas
        (or fewer, when one is retired) without being refused as judged by another judge.
        """
        record = self.model_dump(
            include={
                "provider",
                "model",
                "temperature",
                "max_tokens",
                "structured",
                "vision",
                "seed",
            }
        )
        if self.omits_temperature:
            record["temperature"] = PROVIDER_DEFAULT
        if self.reasoning_effort is not None:
            record["reasoning_effort"] = self.reasoning_effort
        if self.thinking_budget_tokens is not None:
            record["thinking_budget_tokens"] = self.thinking_budget_tokens
        return record

    def cost_usd(
        self, input_tokens: int, output_tokens: int, cached_input: int = 0, batch: bool = False
    ) -> float | None:
        """What a call's tokens cost at the configured prices; None when a price is not set.

        `input_tokens` counts every prompt token, `cached_input` those of them read from the
        provider's prompt cache; a provider batch takes `batch_discount` off the whole call.
        """
        if self.input_usd_per_mtok is None or self.output_usd_per_mtok is None:
            return None
        cached_price = self.cached_input_usd_per_mtok
        if cached_price is None:
            cached_price = self.input_usd_per_mtok
        usd = (
            (input_tokens - cached_input) * self.input_usd_per_mtok
            + cached_input * cached_price
            + output_tokens * self.output_usd_per_mtok
        ) / 1e6
        return usd * (1 - self.batch_discount) if batch else usd

    def api_key(self) -> str:
        """The first endpoint's key (batch mode sends its batches there), read at call time."""
        return self.replicas[0].api_key()

    @property
    def worst_case_call_s(self) -> float:
        """How long one call's attempts may take, with the longest wait before each retry.

        An attempt that finds its endpoint down fails over to each other endpoint once
        (`judging/endpoints.py`), so each attempt may time out once per endpoint. Waiting
        for the shared rate budget comes on top: that is queueing, not the call.
        """
        attempt_s = self.timeout_s * len(self.replicas)
        return attempt_s * (self.max_retries + 1) + MAX_RETRY_WAIT_S * self.max_retries


def _refuses_temperature(
    provider: object, model: object, reasoning: object, thinking: object
) -> bool:
    """Whether a judge runs at its provider's default temperature: an OpenAI-format reasoning
    model (said so, or named like one), or an Anthropic judge with extended thinking.

    Takes raw values too: the judge's default temperature is decided before validation.
    """
    if provider == "anthropic":
        return thinking is not None
    if isinstance(reasoning, bool):
        return reasoning
    return isinstance(model, str) and bool(REASONING_MODEL.match(model.rsplit("/", 1)[-1]))


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="JUDGE_", extra="ignore")

    database_url: str = DEFAULT_DATABASE_URL
    redis_url: str | None = None
    queue_name: str = "judge"
    judges_file: Path | None = None
    judges: dict[str, JudgeConfig] = Field(default_factory=dict)

    # Pairs per job: large enough that a job's set-up (~180 ms of CPU) is a small share of
    # its judgments' CPU; a job whose calls have all gone out claims more of its runs' work
    # (`jobs/judge_pairs.py`), so a large chunk leaves no worker idle behind another.
    chunk_size: int = Field(default=100, ge=1, le=1000)
    job_timeout_s: int = Field(default=900, ge=10)
    # A queued row's lease (`lease_s`) outlives a job's timeout by this much: the reconciler
    # takes a pending row for lost (its job gone with Redis) only once the job that carries it
    # could have been taken from the queue and run to its timeout.
    lease_margin_s: int = Field(default=60, ge=1)
    # A claim's lease: a job renews its claims every `heartbeat_s` while it runs
    # (`jobs/heartbeat.py`), so a live job keeps them (two beats may be missed) and a dead
    # worker's lapse, to be queued again by the next reconcile: within claim_lease_s +
    # reconcile_interval_s (20 s) of the kill.
    claim_lease_s: float = Field(default=10.0, gt=0)
    heartbeat_s: float = Field(default=3.0, gt=0)
    # How often each RQ worker queues again what was left pending or claimed past its lease.
    reconcile_interval_s: int = Field(default=10, ge=1)
    inprocess_workers: int = Field(default=4, ge=1, le=64)
    # Batch mode: judgments per provider batch (OpenAI takes 50,000, Anthropic 100,000), and
    # how many batches a judgment may go in before an error or unreadable reply is final.
    batch_max_requests: int = Field(default=10_000, ge=1, le=50_000)
    batch_max_attempts: int = Field(default=3, ge=1, le=20)
    max_body_bytes: int = Field(default=DEFAULT_MAX_BODY_BYTES, ge=1024)
    # Groups of pair posts an API process writes at once (`api/pair_writer.py`); posts that
    # arrive meanwhile wait and go in the next group. Fewer writers make larger groups, and
    # a second one keeps small posts moving while a 10,000-pair post is written.
    ingest_concurrency: int = Field(default=2, ge=1, le=40)
    # Which requests for a project's data need an API key, decided per request by the app
    # itself (api/auth.py), however it is launched: "required": every one; "auto": all but
    # those from this machine (loopback client and Host, no proxy's headers); "off": none,
    # and a request from beyond this machine is refused.
    auth: Literal["auto", "required", "off"] = "auto"
    # Requests per minute per API key (an open server has no keys, so no limit); 0: no limit.
    rate_limit_per_minute: int = Field(default=1200, ge=0)
    # Log lines on stderr: "text" for people, "json" (one object a line) for a log pipeline.
    log_format: Literal["text", "json"] = "text"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"
    # Hosts whose https images the pair page shows; any other image is a link the viewer
    # opens, so a pair cannot make every viewer's browser call a host of the submitter's.
    # Comma-separated in the environment: `JUDGE_IMAGE_HOSTS=img.example.com,cdn.example.org`.
    image_hosts: Annotated[list[str], NoDecode] = Field(default_factory=list)

    @cached_property
    def all_judges(self) -> dict[str, JudgeConfig]:
        """Judges from `JUDGE_JUDGES` and the judges file, merged."""
        merged = dict(self.judges)
        for name, judge in load_judges_file(self.judges_file).items():
            if name in merged and merged[name] != judge:
                raise ValueError(f"judge {name!r} is defined differently in JUDGE_JUDGES and file")
            merged[name] = judge
        return merged

    @field_validator("log_level", mode="before")
    @classmethod
    def _level_in_any_case(cls, value: object) -> object:
        """`JUDGE_LOG_LEVEL=info` means INFO, as it does to `logging`."""
        return value.upper() if isinstance(value, str) else value

    @field_validator("image_hosts", mode="before")
    @classmethod
    def _hosts_from_a_list(cls, value: object) -> object:
        if isinstance(value, str):
            value = [host for host in value.split(",") if host.strip()]
        if isinstance(value, list):
            value = [host.strip().lower() if isinstance(host, str) else host for host in value]
        return value

    @field_validator("image_hosts")
    @classmethod
    def _plain_hosts(cls, hosts: list[str]) -> list[str]:
        """Host names only: a scheme, path or wildcard would widen the policy unseen."""
        for host in hosts:
            if not IMAGE_HOST.match(host):
                raise ValueError(f"image host {host!r} must be a host name, optionally with :port")
        return hosts

    @property
    def lease_s(self) -> int:
        """How long a queued row waits for its job before the reconciler queues it again."""
        return self.job_timeout_s + self.lease_margin_s

    @model_validator(mode="after")
    def _beats_fit_in_a_lease(self) -> Self:
        """A lease outlasts two beats: one late beat (a busy machine) loses no claim."""
        if 2 * self.heartbeat_s > self.claim_lease_s:
            raise ValueError(
                f"heartbeat_s ({self.heartbeat_s} s) must be at most half of claim_lease_s "
                f"({self.claim_lease_s} s)"
            )
        return self

    @model_validator(mode="after")
    def _calls_fit_in_a_job(self) -> Self:
        for name, judge in self.all_judges.items():
            if judge.worst_case_call_s >= self.job_timeout_s:
                raise ValueError(
                    f"judge {name!r}: timeout_s x (max_retries + 1) plus retry waits "
                    f"({judge.worst_case_call_s:.0f} s) must stay below job_timeout_s "
                    f"({self.job_timeout_s} s)"
                )
        return self


def load_judges_file(path: Path | None) -> dict[str, JudgeConfig]:
    """Read `[judges.NAME]` tables from a TOML file."""
    if path is None:
        return {}
    with path.open("rb") as fh:
        data = tomllib.load(fh)
    tables = data.get("judges", {})
    if not isinstance(tables, dict):
        raise ValueError(f"{path}: [judges] must be a table of judge tables")
    return {name: JudgeConfig.model_validate(table) for name, table in tables.items()}
