"""Tests of the service: routes, auth and scope, ingest, limits, the dashboard."""
