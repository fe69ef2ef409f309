"""Fixtures of the service tests: the app over a copy of a seeded store, with tokens of each role (tests.api.apiworld)."""

from __future__ import annotations

from tests.api.apiworld import seeded as seeded  # noqa: F401  (fixtures)
from tests.api.apiworld import world as world  # noqa: F401
