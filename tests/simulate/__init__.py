"""Tests of the simulated days: formats, journeys, faults, determinism, the CLI."""
