"""Helpers the tests and benchmarks share: a PostgreSQL schema of one's own, test topics, a seeded day."""
