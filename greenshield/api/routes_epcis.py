"""``GET /v1/epcis/events``: parcels' traces as an EPCIS 2.0 JSON-LD document (docs/epcis.md); each read is logged.

Scope as the trace routes: an enterprise token sees only its own parcels (contract
§8.1); another enterprise's waybill is ``404`` exactly like one that does not
exist, and naming another ``enterprise_id`` is ``403``. A window is paged: at most
``perPage`` events, the next page linked (``Link: <…>; rel="next"``, as the EPCIS
2.0 REST binding pages) by ``nextPageToken``.
"""

from __future__ import annotations

import time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from starlette.concurrency import run_in_threadpool

from greenshield.api.auth import Principal, require
from greenshield.api.errors import bad_request, forbidden, not_found
from greenshield.api.params import BAD, ERRORS, NOT_FOUND, RFC3339, Json, instant
from greenshield.api.service import Service, service_of
from greenshield.epcis.mapping import document
from greenshield.rules.timestamps import format_utc, format_utc_exact
from greenshield.store import epcis_events

router = APIRouter(tags=["epcis"])
MEDIA = "application/ld+json"


def _scope(principal: Principal, asked: str | None) -> str | None:
    if principal.role != "enterprise":
        return asked
    if asked is not None and asked != principal.enterprise_id:
        raise forbidden("an enterprise token reads only its own parcels")
    return principal.enterprise_id


def _read(service: Service, principal: Principal, waybill: str | None, window: Any, enterprise: str | None,
          after: int, per_page: int) -> tuple[list[dict[str, Any]], int | None, dict[str, Any]]:
    with service.store.read() as conn:
        if waybill is not None:
            events = epcis_events.parcel_events(conn, waybill, enterprise)
            params: dict[str, Any] = {"waybill_no": waybill, "enterprise_id": enterprise}
            nxt = None
        else:
            page = epcis_events.window_page(conn, window[0], window[1], enterprise, after, per_page)
            events, nxt = page.events, page.next_after
            params = {"from": format_utc_exact(window[0]), "to": format_utc_exact(window[1]),
                      "enterprise_id": enterprise, "after": after}
    service.record("api.epcis.events", {**params, "asked_by": principal.who()}, len(events))
    return events, nxt, params


@router.get("/v1/epcis/events", responses={**ERRORS, **BAD, **NOT_FOUND})
async def epcis_events_route(
        request: Request, principal: Annotated[Principal, Depends(require("trace"))],
        waybill: Annotated[str | None, Query(pattern=r"^[A-Z0-9]{8,32}$", description="one waybill's parcels")] = None,
        since: Annotated[str | None, Query(pattern=RFC3339, description="events at or after")] = None,
        until: Annotated[str | None, Query(pattern=RFC3339, description="events at or before")] = None,
        enterprise_id: Annotated[str | None, Query(pattern=r"^E[0-9]{7}$")] = None,
        per_page: Annotated[int, Query(alias="perPage", ge=1, le=epcis_events.MAX_PAGE)] = epcis_events.MAX_PAGE,
        token: Annotated[str | None, Query(alias="nextPageToken", pattern=r"^[0-9]{1,18}$")] = None) -> Json:
    """可追溯 in EPCIS 2.0: ``waybill=``, or ``since=`` and ``until=`` (paged), as ObjectEvents with hash IDs."""
    if (waybill is None) == (since is None and until is None) or (since is None) != (until is None):
        raise bad_request("give waybill, or both since and until")
    if waybill is not None and token is not None:
        raise bad_request("nextPageToken pages a since/until window only")
    window = (instant("since", since), instant("until", until)) if since else None
    enterprise = _scope(principal, enterprise_id)
    events, nxt, _ = await run_in_threadpool(_read, service_of(request), principal, waybill, window, enterprise,
                                             int(token or 0), per_page)
    if waybill is not None and not events:
        raise not_found()
    doc = document(events, format_utc((int(time.time()), "")))
    headers = {}
    if nxt is not None:
        url = request.url.include_query_params(nextPageToken=str(nxt))
        headers["Link"] = f'<{url.path}?{url.query}>; rel="next"'
    return Json(doc, media_type=MEDIA, headers=headers)
