"""``/v1/subscriptions``: a department's webhooks (its own); the regulator sees and manages all of them."""

from __future__ import annotations

import time
from typing import Annotated, Any, Literal

import anyio
from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from greenshield.api.auth import Principal, require
from greenshield.api.errors import ApiError, bad_request, forbidden, not_found
from greenshield.api.params import BAD, ERRORS, Json
from greenshield.api.service import Service, service_of
from greenshield.share.scope import from_doc
from greenshield.share.webhooks import check_callback, headers
from greenshield.store import outbox, tokens

router = APIRouter(tags=["subscriptions"])
SUB_ID = r"^sub_[0-9a-f]{16}$"


class SubscriptionRequest(BaseModel):
    callback: str | None = Field(default=None, max_length=2000,
                                 description="https:// URL that receives the signed messages; none: a pull "
                                             "subscription, read with GET /v1/feed")
    filter: dict[str, list[str]] = Field(default_factory=dict, description="types, rules, severities, regions, "
                                         "enterprises: each inside the token's scope (left out: as the scope allows)")


def _owner(principal: Principal) -> str | None:
    """The token whose subscriptions a principal manages (None: the regulator, all of them)."""
    return principal.token_id if principal.role == "department" else None


@router.post("/v1/subscriptions", status_code=201, responses={**ERRORS, **BAD})
async def create(request: Request, body: SubscriptionRequest,
                 principal: Annotated[Principal, Depends(require("subscribe"))]) -> Json:
    """Subscribe this department token's callback; the answer holds the signing secret, shown only now."""
    service = service_of(request)
    try:
        callback = "" if body.callback is None else check_callback(body.callback,
                                                                  service.settings.notify_allow_local_http)
        wanted = from_doc(body.filter)
    except ValueError:
        raise bad_request("the callback must be https:// and the filter of known kinds and values") from None
    sub = await run_in_threadpool(_create, service, principal.token_id, callback, wanted)
    return Json({**sub.public(), "secret": sub.secret}, status_code=201)


def _create(service: Service, token_id: str, callback: str, wanted: Any) -> outbox.Subscription:
    with service.store.read() as conn:
        token = tokens.by_id(conn, token_id)
    if token is None:
        raise forbidden()
    try:
        return outbox.create(service.store, token, callback, wanted)
    except outbox.SubscriptionError:
        raise bad_request("the filter is outside this token's scope") from None


@router.get("/v1/subscriptions", responses=ERRORS)
async def list_subscriptions(request: Request,
                             principal: Annotated[Principal, Depends(require("subscriptions"))]) -> Json:
    """A department's own subscriptions, or (regulator) all; each with its backlog by state."""
    return Json({"items": await run_in_threadpool(_list, service_of(request), _owner(principal))})


def _list(service: Service, owner: str | None) -> list[dict[str, Any]]:
    with service.store.read() as conn:
        return [{**s.public(), "backlog": outbox.backlog(conn, s.id)} for s in outbox.listing(conn, owner)]


@router.post("/v1/subscriptions/{sub_id}/{action}", responses=ERRORS)
async def act(request: Request, sub_id: Annotated[str, Path(pattern=SUB_ID)],
              action: Literal["pause", "resume", "redrive"],
              principal: Annotated[Principal, Depends(require("subscriptions"))]) -> Json:
    """Pause (the backlog is kept), resume, or redrive (send the parked messages again)."""
    return Json((await run_in_threadpool(_change, service_of(request), sub_id, action, _owner(principal))).public())


@router.delete("/v1/subscriptions/{sub_id}", responses=ERRORS)
async def delete(request: Request, sub_id: Annotated[str, Path(pattern=SUB_ID)],
                 principal: Annotated[Principal, Depends(require("subscriptions"))]) -> Json:
    """Stop for good: the queue is dropped, the subscription and its delivery record are kept."""
    return Json((await run_in_threadpool(_change, service_of(request), sub_id, "delete", _owner(principal))).public())


def _change(service: Service, sub_id: str, action: str, owner: str | None) -> outbox.Subscription:
    try:
        return outbox.change(service.store, sub_id, action, owner)
    except outbox.SubscriptionError as err:
        if str(err).startswith("no subscription"):
            raise not_found("no such subscription") from None
        raise ApiError(409, "the subscription's state does not allow that") from None


@router.get("/v1/subscriptions/{sub_id}/deliveries", responses=ERRORS)
async def deliveries(request: Request, sub_id: Annotated[str, Path(pattern=SUB_ID)],
                     principal: Annotated[Principal, Depends(require("subscriptions"))]) -> Json:
    """Every delivery attempt to the subscription, in order: what was sent (the body's hash), when, the answer."""
    found = await run_in_threadpool(_attempts, service_of(request), sub_id, _owner(principal))
    return Json({"items": found})


def _attempts(service: Service, sub_id: str, owner: str | None) -> list[dict[str, Any]]:
    with service.store.read() as conn:
        sub = outbox.get(conn, sub_id)
        if sub is None or (owner is not None and sub.token_id != owner):
            raise not_found("no such subscription")
        return outbox.attempts_of(conn, sub_id)



@router.get("/v1/feed", responses=ERRORS)
async def feed(request: Request, principal: Annotated[Principal, Depends(require("subscribe"))],
               subscription: Annotated[str, Query(pattern=SUB_ID)],
               cursor: Annotated[int, Query(ge=0, description="next_cursor of the previous page; 0 at first")] = 0,
               limit: Annotated[int, Query(ge=1, le=1000)] = 100,
               wait: Annotated[float, Query(ge=0, le=25, description="long-poll: seconds to wait for one")] = 0,
               ) -> Json:
    """A pull subscription's messages after ``cursor``, in order, each as a webhook would carry it: ``id``,
    ``body`` (the exact JSON text) and ``headers`` (``webhook-id``, ``-timestamp``, ``-signature``, verifiable
    with the subscription's secret). Reading the same cursor again gives the same messages: at least once."""
    if principal.role != "department":
        raise forbidden("the feed is a department token's")
    service = service_of(request)
    sub = await run_in_threadpool(_get, service, subscription)
    if sub is None or sub.token_id != principal.token_id or not sub.pull:
        raise not_found("no such pull subscription")
    deadline = time.monotonic() + wait
    while True:
        rows = await run_in_threadpool(outbox.feed, service.store, sub, cursor, limit)
        if rows or time.monotonic() >= deadline:
            break
        await anyio.sleep(min(0.25, max(0.0, deadline - time.monotonic())))
    now = int(time.time())
    items = [{"cursor": row, "id": msg, "body": body, "headers": headers(sub.secret, msg, now, body.encode())}
             for row, msg, body in rows]
    return Json({"items": items, "next_cursor": rows[-1][0] if rows else cursor})


def _get(service: Service, sub_id: str) -> outbox.Subscription | None:
    with service.store.read() as conn:
        return outbox.get(conn, sub_id)
