"""Pairwise LLM-as-a-judge service for comparing a fine-tuned model with its base."""

__version__ = "0.1.0"
