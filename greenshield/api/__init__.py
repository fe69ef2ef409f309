"""The regulator and auditor service: the ``/v1`` API, the dashboard pages, tokens and roles.

Run it with ``greenshield serve --db URL [--host H --port P] [--ingest embedded|streaming]``
and sign in at ``http://H:P/`` (or ``/auditor``) with a token from ``greenshield tokens create``.
Modules: :mod:`~greenshield.api.app` (the one wiring function), :mod:`~greenshield.api.auth`
(roles), :mod:`~greenshield.api.service` (state and upkeep), :mod:`~greenshield.api.intake`,
one ``routes_*`` module per resource. Paths, roles and what is audited:
docs/adr/0023-api-access.md; the OpenAPI document is ``GET /openapi.json``.
"""
