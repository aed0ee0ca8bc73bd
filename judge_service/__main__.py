"""`python -m judge_service` is the `judge-service` command."""

from judge_service.cli import app

app()
