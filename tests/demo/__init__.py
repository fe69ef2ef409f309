"""Tests of the demo: its parts, the embedded run, the dashboard screenshot."""
