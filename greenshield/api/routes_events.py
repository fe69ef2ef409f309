"""``POST /v1/events``: batch ingest for enterprises without Kafka (see :mod:`greenshield.api.intake`)."""

from __future__ import annotations

import logging
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request
from starlette.concurrency import run_in_threadpool

from greenshield.api.auth import Principal, require
from greenshield.api.errors import ApiError
from greenshield.api.intake import ingest, split_body
from greenshield.api.models import Error, IngestAnswer
from greenshield.api.params import ERRORS, Json
from greenshield.api.service import Service, service_of

router = APIRouter(tags=["ingest"])
log = logging.getLogger("greenshield.api")

_BODY = {
    "required": True,
    "content": {
        "application/x-ndjson": {"schema": {"type": "string"},
                                 "example": '{"v":1,"type":"sort_scan","event_id":"s-1","enterprise_id":"E3100001",'
                                            '"occurred_at":"2026-11-11T08:00:00+08:00","waybill_no":"YT0000000001",'
                                            '"site_id":"S10000001","staff_id":"P10000001"}\n'},
        "application/json": {"schema": {"type": "array", "items": {"type": "object"}}},
    },
}
DOCS = {**ERRORS,
        403: {"model": Error, "description": "the role may not ingest, or the batch holds a line the role may not "
                                             "state: registry records from an enterprise token, parcel events from "
                                             "a registrar or regulator token. The message names the lines (counted "
                                             "from 1); the whole batch is refused, in either mode: nothing stored"},
        413: {"model": Error, "description": "over the batch limit"},
        415: {"model": Error, "description": "not JSON Lines or a JSON array"},
        400: {"model": Error, "description": "not JSON, or no events"},
        503: {"model": Error, "description": "streaming mode: Kafka did not acknowledge; send again"}}


@router.post("/v1/events", response_model=IngestAnswer, openapi_extra={"requestBody": _BODY},
             responses={**DOCS, 422: {"model": IngestAnswer, "description": "rollback: a rejection, nothing stored"}})
async def post_events(request: Request, principal: Annotated[Principal, Depends(require("ingest"))],
                      mode: Annotated[Literal["rollback", "proceed"], Query()] = "rollback") -> Json:
    """Ingest a batch of contract events (JSON Lines, or a JSON array): at most
    ``GREENSHIELD_API_INGEST_MAX_EVENTS`` (1000) events and ``GREENSHIELD_API_INGEST_MAX_BYTES`` (1 MiB).

    Each event is answered ``accepted``, ``duplicate`` (an exact duplicate: dropped),
    ``rejected`` with the contract's reason, or ``rolled_back``. ``rollback`` (the
    default) stores nothing unless every event is valid, and then answers 422;
    ``proceed`` stores the valid ones and the rejects.

    Who states what: an enterprise token sends only its own enterprise's parcel
    events; registry records (``"type": "registry"``) come only from a ``registrar``
    token (the registry feed) or a ``regulator`` token, which send no parcel events.
    A batch holding any line its token may not state is answered 403, naming the
    lines, and nothing of it is stored, whatever the mode.

    Embedded mode stores straight into the audit store and evaluates the verdicts
    before answering; streaming mode publishes to Kafka.
    """
    service = service_of(request)
    limit = service.settings.api_ingest_max_bytes
    body = await _read(request, limit)
    lines = split_body(body, request.headers.get("content-type", ""), service.settings.api_ingest_max_events)
    source = f"api:{principal.token_id}"
    answer, committed = await run_in_threadpool(ingest, service, lines, mode, principal, source)
    if committed and answer["counts"]["accepted"]:
        await run_in_threadpool(_evaluate, service)
    service.metrics.ingested(answer["counts"])
    return Json(answer, status_code=200 if committed else 422)


async def _read(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise ApiError(413, f"the body is over {limit} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise ApiError(413, f"the body is over {limit} bytes")
    return bytes(body)


def _evaluate(service: Service) -> None:
    try:
        service.evaluate()
    except Exception as err:  # stored already: the next ingest or upkeep evaluates again
        log.warning("event=evaluation_failed type=%s", type(err).__name__)
