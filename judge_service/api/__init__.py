"""The HTTP API (`/v1`): one router per resource, request and response schemas, the pair
writer and `/metrics`. The app factory (`judge_service/app.py`) mounts it beside the dashboard."""
