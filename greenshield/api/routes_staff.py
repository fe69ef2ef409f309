"""``GET /v1/staff/{id}/record``: a staff integrity record (contract revision 2 §8.2); each request is logged.

An enterprise token sees only its own staff ids' entries; a staff id it never
registered is ``404``, exactly as one that does not exist. Regulators and auditors
see the whole record. The person appears only masked, with its keyed hash.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from pydantic import BaseModel, ConfigDict
from starlette.concurrency import run_in_threadpool

from greenshield.api.auth import Principal, require
from greenshield.api.errors import not_found
from greenshield.api.params import BAD, ERRORS, NOT_FOUND, Json
from greenshield.api.service import Service, service_of
from greenshield.store.staff_record import staff_record

router = APIRouter(tags=["traces"])


class StaffRecord(BaseModel):
    """The person behind a staff id (masked, with its keyed hash), every staff id that person held,
    their registry history and every violation any of them was responsible for."""

    model_config = ConfigDict(extra="allow")
    staff_id: str
    person: dict[str, Any] | None = None
    staff_ids: list[dict[str, Any]] = []
    registry: list[dict[str, Any]] = []
    violations: list[dict[str, Any]] = []


def _run(service: Service, principal: Principal, staff: str) -> dict[str, Any] | None:
    enterprise = principal.enterprise_id if principal.role == "enterprise" else None
    with service.store.read() as conn:
        result = staff_record(conn, staff, enterprise)
    found = len(result["violations"]) if result is not None else 0
    service.record("api.staff.record", {"staff_id": staff, "asked_by": principal.who()}, found)
    return result


@router.get("/v1/staff/{staff_id}/record", response_model=StaffRecord, responses={**ERRORS, **BAD, **NOT_FOUND})
async def staff_integrity_record(request: Request, principal: Annotated[Principal, Depends(require("trace"))],
                                 staff_id: Annotated[str, Path(pattern=r"^P[0-9]{8}$")]) -> Json:
    """可倒查 across enterprises: the person behind a staff id and everything any of its staff ids did wrong."""
    result = await run_in_threadpool(_run, service_of(request), principal, staff_id)
    if result is None:
        raise not_found()
    return Json(result)
