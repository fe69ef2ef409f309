"""``GET /v1/violations``: filtered, cursor-paged violations (contract §5 + status)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request
from starlette.concurrency import run_in_threadpool

from greenshield.api.auth import Principal, require
from greenshield.api.models import ViolationPage
from greenshield.api.params import (
    BAD,
    ERRORS,
    RFC3339,
    Json,
    decode_cursor,
    encode_cursor,
    instant,
    since_text,
    until_text,
)
from greenshield.api.service import Service, service_of
from greenshield.store.stats import ViolationFilter, violation_page

router = APIRouter(tags=["violations"])
MAX_LIMIT = 1000


@router.get("/v1/violations", response_model=ViolationPage, responses={**ERRORS, **BAD})
async def list_violations(
    request: Request,
    principal: Annotated[Principal, Depends(require("violations"))],
    enterprise_id: Annotated[str | None, Query(pattern=r"^E[0-9]{7}$")] = None,
    rule_id: Annotated[str | None, Query(pattern=r"^[A-Z]{2}-[0-9]{1,2}$")] = None,
    status: Literal["open", "retracted"] | None = None,
    since: Annotated[str | None, Query(pattern=RFC3339, description="occurred_at at or after (RFC 3339)")] = None,
    until: Annotated[str | None, Query(pattern=RFC3339, description="occurred_at at or before (RFC 3339)")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 100,
    cursor: Annotated[str | None, Query(max_length=400)] = None,
) -> Json:
    """Violations by (waybill, enterprise, rule), ``limit`` at a time; an enterprise token sees only its own.

    The cursor is the last key of the page (keyset paging): paging is stable while
    violations are added, each stored violation appears once.
    """
    where = ViolationFilter(principal.enterprise_scope(enterprise_id), rule_id, status,
                            since_text(instant("since", since)), until_text(instant("until", until)))
    after = decode_cursor(cursor)
    page, last = await run_in_threadpool(_page, service_of(request), where, after, limit)
    return Json({"items": page, "next_cursor": encode_cursor(last)})


def _page(service: Service, where: ViolationFilter, after: tuple[str, str, str] | None,
          limit: int) -> tuple[list[dict[str, object]], tuple[str, str, str] | None]:
    with service.store.read() as conn:
        return violation_page(conn, where, after, limit)
