"""Traces (可追溯 parcel, 可追踪 vehicle, 可倒查 staff, machine) and the auditor's sender lookup; each is logged.

An enterprise token sees only its own enterprise's events and violations in a
trace (of a waybill: only its own parcel, contract §8.1); a waybill with none of
them is ``404``, exactly as one that does not exist.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from starlette.concurrency import run_in_threadpool

from greenshield.api.auth import Principal, require
from greenshield.api.errors import not_found
from greenshield.api.models import SenderQuery, Trace
from greenshield.api.params import BAD, ERRORS, NOT_FOUND, RFC3339, Json, instant
from greenshield.api.service import Service, service_of
from greenshield.rules.documents import trim
from greenshield.rules.privacy import id_hash, mask_id_number
from greenshield.rules.timestamps import format_utc_exact
from greenshield.store import queries, stats

router = APIRouter(tags=["traces"])
DOCS = {**ERRORS, **BAD, **NOT_FOUND}
From = Annotated[str | None, Query(alias="from", pattern=RFC3339, description="events at or after")]
To = Annotated[str | None, Query(alias="to", pattern=RFC3339, description="events at or before")]


def _run(service: Service, principal: Principal, name: str, params: dict[str, Any],
         query: Callable[[Any], dict[str, Any]]) -> dict[str, Any]:
    with service.store.read() as conn:
        result = _scoped(query(conn), principal.enterprise_id if principal.role == "enterprise" else None)
    count = len(result.get("events", result.get("legs", [])))
    service.record(name, {**params, "asked_by": principal.who()}, count)
    return result


def _scoped(result: dict[str, Any], enterprise: str | None) -> dict[str, Any]:
    """An enterprise's view of a trace: only its own events, legs and violations."""
    if enterprise is None:
        return result
    out = dict(result)
    if "events" in out:
        out["events"] = [ev for ev in out["events"] if ev["enterprise_id"] == enterprise]
    if "violations" in out:
        out["violations"] = [v for v in out["violations"] if v["enterprise_id"] == enterprise]
    if "parcels" in out:  # a waybill's parcels (contract §8.1): only the enterprise's own
        out["parcels"] = [p for p in out["parcels"] if p["enterprise_id"] == enterprise]
    if "waybills" in out and "events" in out:
        out["waybills"] = sorted({ev["waybill_no"] for ev in out["events"]})
    return out


def _window(start: str | None, end: str | None) -> tuple[Any, dict[str, str | None]]:
    lo, hi = instant("from", start), instant("to", end)
    span = {"from": format_utc_exact(lo) if lo else None, "to": format_utc_exact(hi) if hi else None}
    return (lo, hi), span


async def _windowed(request: Request, principal: Principal, name: str, key: str, ident: str,
                    start: str | None, end: str | None, query: Callable[[Any, str, Any], dict[str, Any]]) -> Json:
    """The trace ``query(conn, ident, window)`` of a vehicle, person or machine over ``from``/``to``.

    Logged as ``name`` with ``{key: ident, "from": …, "to": …}``.
    """
    window, span = _window(start, end)
    result = await run_in_threadpool(_run, service_of(request), principal, name, {key: ident, **span},
                                     lambda conn: query(conn, ident, window))
    return Json(result)


@router.get("/v1/parcels/{waybill}/trace", response_model=Trace, responses=DOCS)
async def trace_parcel(request: Request, principal: Annotated[Principal, Depends(require("trace"))],
                       waybill: Annotated[str, Path(pattern=r"^[A-Z0-9]{8,32}$")]) -> Json:
    """可追溯: the waybill's parcels (one per enterprise, contract §8.1), each with its events in
    contract §3.1 order and its violations; an enterprise token sees only its own parcel."""
    result = await run_in_threadpool(_run, service_of(request), principal, "api.trace.waybill",
                                     {"waybill_no": waybill}, lambda conn: queries.trace_waybill(conn, waybill))
    if not result["events"] and not result["violations"]:
        raise not_found()
    return Json(result)


@router.get("/v1/vehicles/{vehicle_id}/trace", response_model=Trace, responses=DOCS)
async def trace_vehicle(request: Request, principal: Annotated[Principal, Depends(require("trace"))],
                        vehicle_id: Annotated[str, Path(pattern=r"^V[0-9]{8}$")],
                        start: From = None, end: To = None) -> Json:
    """可追踪: the parcels a vehicle carried and each leg (depart → arrive) on it."""

    def query(conn: Any, vehicle: str, window: Any) -> dict[str, Any]:
        return _own_legs(conn, queries.trace_vehicle(conn, vehicle, window), principal, vehicle)

    return await _windowed(request, principal, "api.trace.vehicle", "vehicle_id", vehicle_id, start, end, query)


def _own_legs(conn: Any, result: dict[str, Any], principal: Principal, vehicle: str) -> dict[str, Any]:
    """An enterprise's view of a vehicle: the legs whose depart and arrive are its own events."""
    if principal.role != "enterprise" or principal.enterprise_id is None:
        return result
    own = stats.device_events_of(conn, vehicle, principal.enterprise_id)

    def mine(leg: dict[str, Any]) -> bool:
        ids = [i for i in (leg["depart_event_id"], leg["arrive_event_id"]) if i is not None]
        return all((leg["waybill_no"], i) in own for i in ids)

    legs = [g for g in result["legs"] if mine(g)]
    return {**result, "legs": legs, "waybills": sorted({g["waybill_no"] for g in legs})}


@router.get("/v1/staff/{staff_id}/trace", response_model=Trace, responses=DOCS)
async def trace_staff(request: Request, principal: Annotated[Principal, Depends(require("trace"))],
                      staff_id: Annotated[str, Path(pattern=r"^P[0-9]{8}$")],
                      start: From = None, end: To = None) -> Json:
    """可倒查: every event a person handled, as ``staff_id`` or as the acceptance's inspector."""
    return await _windowed(request, principal, "api.trace.staff", "staff_id", staff_id, start, end,
                           queries.trace_staff)


@router.get("/v1/machines/{machine_id}/trace", response_model=Trace, responses=DOCS)
async def trace_machine(request: Request, principal: Annotated[Principal, Depends(require("trace"))],
                        machine_id: Annotated[str, Path(pattern=r"^X[0-9]{8}$")],
                        start: From = None, end: To = None) -> Json:
    """The parcels screened on an X-ray machine, with each screening."""
    return await _windowed(request, principal, "api.trace.machine", "machine_id", machine_id, start, end,
                           queries.trace_machine)


@router.post("/v1/senders/lookup", response_model=Trace, responses=DOCS)
async def lookup_sender(request: Request, principal: Annotated[Principal, Depends(require("sender"))],
                        sender: SenderQuery) -> Json:
    """A sender's parcels, found by the keyed hash (HMAC) of the ID number: in the body, never in a URL or log.

    The answer and the audit log show the number only masked, and the log keeps its HMAC.
    """
    service = service_of(request)
    kind = trim(sender.id_type)
    hashed = id_hash(service.audit.hmac_key, sender.id_type, sender.id_number)
    masked = mask_id_number(trim(sender.id_number))
    result = await run_in_threadpool(_run, service, principal, "api.trace.sender",
                                     {"id_type": kind, "id_hash": hashed},
                                     lambda conn: queries.trace_sender(conn, kind, hashed, masked))
    return Json(result)
