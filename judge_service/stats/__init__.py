"""Statistics: pure functions over verdicts, shared by the API, the client and the dashboard."""
