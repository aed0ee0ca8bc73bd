"""The HTTP API: app factory, one router per resource, request and response schemas."""
