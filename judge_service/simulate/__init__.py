"""Simulated judge provider (NOT a real model) speaking the OpenAI and Anthropic wire formats."""
