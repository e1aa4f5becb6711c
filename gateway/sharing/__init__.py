"""Answers shared between requests: the response cache, single-flight, and answers stored as bytes."""
