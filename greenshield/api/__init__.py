"""The regulator and auditor service: the ``/v1`` API, the dashboard pages, tokens and roles.

Run it::

    greenshield run day.jsonl --db sqlite:///var/gs.db            # or a store fed by the stream worker
    greenshield tokens create --role regulator --db sqlite:///var/gs.db   # the token is the last line
    greenshield serve --db sqlite:///var/gs.db [--host H --port P] [--ingest embedded|streaming]

then open ``http://H:P/`` (regulator dashboard) or ``/auditor`` and sign in with the token.
Every path needs a token except ``/healthz`` and the C2SP transparency log's ``/checkpoint``
and hash tiles ``/tile/<L>/...`` (docs/tlog.md) (401 without a valid one, 403 without the
right); the OpenAPI document is ``GET /openapi.json`` (any token).

=========================================  =====================  ==============================================
path                                       roles                  what
=========================================  =====================  ==============================================
GET  /v1/violations                        regulator, enterprise  filters, ``limit`` + ``cursor`` (keyset paging)
GET  /v1/stats                             regulator, enterprise  by rule, enterprise, prefecture city, hour;
                                                                  compliance rate per safety system; events/s
GET  /v1/parcels/{waybill}/trace           all but registrar      可追溯 (enterprise: own events only, else 404)
GET  /v1/vehicles|staff|machines/{id}/trace all but registrar     可追踪 / 可倒查 / X-ray machine
POST /v1/senders/lookup                    auditor                a sender by ID number (body; HMAC match only)
GET  /v1/audit/checkpoints, /public-key    all but registrar      signed tree heads; the signing key
GET  /v1/audit/proof/{n}, /consistency     auditor                RFC 9162 proofs, with the leaf's data
GET  /checkpoint, /tile/<L>/<N>[.p/<W>]    anyone (no token)      C2SP signed note and hash tiles
GET  /tile/entries/<N>[.p/<W>]             auditor                C2SP entry bundles (the leaves' data)
POST /v1/events                            enterprise, registrar, batch ingest, ``mode=rollback|proceed``: an
                                           regulator              enterprise its own parcel events only; the
                                                                  registrar and regulator registry records only
GET  /, /auditor, /static/...              regulator / auditor    the pages (sign in: ``POST /login``)
=========================================  =====================  ==============================================

Trace, sender and proof queries are written to the audit log (every request of an
auditor token, and every trace). Modules: :mod:`~greenshield.api.app` (the one wiring
function), :mod:`~greenshield.api.auth` (roles), :mod:`~greenshield.api.service` (state
and upkeep), :mod:`~greenshield.api.intake`, one ``routes_*`` module per resource.
"""
