"""Container files agree with the code: commands exist, start order is safe, no root.

No Docker engine is needed: docker-compose.yml is read as YAML and the
Dockerfile as text, and every command is checked against the real CLI.
"""

import json
import shlex
from pathlib import Path
from typing import Any

import pytest
import typer.main
import yaml

from judge_service.cli import app, serving_auth
from judge_service.web.auth import access

REPO = Path(__file__).resolve().parents[1]
IMAGE = "judge-service:local"
# Services that do not wait for the schema: the migration itself, and the
# simulated provider, which never touches the database.
NO_MIGRATE_DEPENDENCY = {"migrate", "simulator"}


def parse_dockerfile(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, with comments dropped and continuations joined."""
    instructions: list[tuple[str, str]] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1].strip() + " "
            continue
        logical = pending + line
        pending = ""
        keyword, _, args = logical.partition(" ")
        instructions.append((keyword.upper(), args.strip()))
    if pending:
        raise ValueError("Dockerfile ends inside a line continuation")
    return instructions


def _words(command: str | list[str]) -> list[str]:
    """Compose accepts a command as a list or as one shell-like string."""
    return shlex.split(command) if isinstance(command, str) else list(command)


def _exec_form(args: str) -> list[str]:
    value = json.loads(args)
    assert isinstance(value, list), f"expected exec (JSON array) form, got {args!r}"
    return value


@pytest.fixture(scope="module")
def subcommands() -> set[str]:
    return set(typer.main.get_command(app).commands)  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load((REPO / "docker-compose.yml").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def dockerfile() -> list[tuple[str, str]]:
    return parse_dockerfile((REPO / "Dockerfile").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def judge_services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    services = compose["services"]
    ours = {name: svc for name, svc in services.items() if svc.get("image") == IMAGE}
    assert ours, f"no service uses {IMAGE}"
    return ours


def test_parse_dockerfile_joins_continuations_and_skips_comments() -> None:
    text = "# c\nFROM x\nRUN a \\\n    && b\n\nUSER app\n"
    assert parse_dockerfile(text) == [("FROM", "x"), ("RUN", "a && b"), ("USER", "app")]


def test_every_service_command_is_a_cli_subcommand(
    judge_services: dict[str, dict[str, Any]], subcommands: set[str]
) -> None:
    for name, service in judge_services.items():
        assert "command" in service, f"{name}: no command; the image default would run"
        words = _words(service["command"])
        assert words and words[0] in subcommands, f"{name}: {words[:1]} not in {subcommands}"


def test_expected_roles_are_present(judge_services: dict[str, dict[str, Any]]) -> None:
    roles = {name: _words(svc["command"])[0] for name, svc in judge_services.items()}
    assert roles == {
        "migrate": "migrate",
        "api": "serve",
        "worker": "worker",
        "simulator": "simulate",
    }


def test_image_is_built_once(judge_services: dict[str, dict[str, Any]]) -> None:
    builders = [name for name, svc in judge_services.items() if "build" in svc]
    assert builders == ["migrate"]


def test_dockerfile_entrypoint_and_default_command(
    dockerfile: list[tuple[str, str]], subcommands: set[str]
) -> None:
    entrypoints = [args for keyword, args in dockerfile if keyword == "ENTRYPOINT"]
    commands = [args for keyword, args in dockerfile if keyword == "CMD"]
    assert _exec_form(entrypoints[-1]) == ["judge-service"]
    assert _exec_form(commands[-1])[0] in subcommands


def test_dockerfile_runs_as_non_root(dockerfile: list[tuple[str, str]]) -> None:
    users = [args for keyword, args in dockerfile if keyword == "USER"]
    assert users, "no USER instruction: the container would run as root"
    user = users[-1].split(":")[0]
    assert user not in {"root", "0"}


def test_dockerfile_has_a_healthcheck(dockerfile: list[tuple[str, str]]) -> None:
    checks = [args for keyword, args in dockerfile if keyword == "HEALTHCHECK"]
    assert checks and "/healthz" in checks[-1]
    assert "curl" not in checks[-1], "python:*-slim has no curl"


def test_services_wait_for_migrations(judge_services: dict[str, dict[str, Any]]) -> None:
    for name, service in judge_services.items():
        if name in NO_MIGRATE_DEPENDENCY:
            continue
        depends_on = service.get("depends_on")
        assert isinstance(depends_on, dict), f"{name}: depends_on must name conditions"
        assert depends_on.get("migrate", {}).get("condition") == (
            "service_completed_successfully"
        ), name


def test_migrate_is_one_shot_after_postgres(compose: dict[str, Any]) -> None:
    migrate = compose["services"]["migrate"]
    assert migrate["restart"] == "no"
    assert migrate["depends_on"]["postgres"]["condition"] == "service_healthy"


def test_simulator_is_demo_only(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert services["simulator"]["profiles"] == ["demo"]
    assert any("SIMULATED" in str(value) for value in services["simulator"]["labels"].values())
    for name, service in services.items():
        if name == "simulator":
            continue
        assert "profiles" not in service, f"{name} should run without a profile"
        # Depending on a service outside the active profiles breaks a plain `up`.
        assert "simulator" not in (service.get("depends_on") or {}), name


def test_redis_never_evicts_and_persists(compose: dict[str, Any]) -> None:
    words = _words(compose["services"]["redis"]["command"])
    assert words[words.index("--maxmemory-policy") + 1] == "noeviction"
    assert words[words.index("--appendonly") + 1] == "yes"


def test_every_healthcheck_has_a_test(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        if "healthcheck" in service:
            assert service["healthcheck"].get("test"), f"{name}: healthcheck without test"


def test_shared_environment_names_the_simulated_judge(
    judge_services: dict[str, dict[str, Any]],
) -> None:
    for name, service in judge_services.items():
        env = service["environment"]
        assert env["JUDGE_DATABASE_URL"].startswith("postgresql+psycopg://"), name
        assert env["JUDGE_REDIS_URL"].startswith("redis://"), name
        judges = json.loads(env["JUDGE_JUDGES"])
        simulated = judges["simulated"]
        assert simulated["base_url"] == "http://simulator:9000/v1"
        assert env[simulated["api_key_env"]], f"{name}: the judge's key variable is unset"


def test_the_api_requires_keys(
    judge_services: dict[str, dict[str, Any]], dockerfile: list[tuple[str, str]]
) -> None:
    """Compose and the image serve beyond loopback, so they must not run open (issues 6, 20).

    `required`, not `auto`: a request from inside the container would be open under `auto`.
    """
    api = judge_services["api"]
    assert api["environment"]["JUDGE_AUTH"] == "required"
    env = " ".join(args for keyword, args in dockerfile if keyword == "ENV")
    assert "JUDGE_AUTH=required" in env.split()
    host = _words(api["command"])[_words(api["command"]).index("--host") + 1]
    assert serving_auth(api["environment"]["JUDGE_AUTH"], host).startswith("API keys required (")
    with pytest.raises(ValueError, match="JUDGE_AUTH=required"):
        serving_auth("off", host)
    inside = {"type": "http", "client": ("127.0.0.1", 5000), "headers": [(b"host", b"localhost")]}
    assert access("auto", inside) == "open"
    assert access(api["environment"]["JUDGE_AUTH"], inside) == "key"
