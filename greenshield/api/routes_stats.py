"""``GET /v1/stats``: counts by rule, enterprise, prefecture city and hour; compliance per safety system."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from starlette.concurrency import run_in_threadpool

from greenshield.api.auth import Principal, require
from greenshield.api.models import Stats
from greenshield.api.params import BAD, ERRORS, RFC3339, Json, instant, since_text, until_text
from greenshield.api.regions import prefecture_name
from greenshield.api.service import Service, service_of
from greenshield.rules.catalog import SYSTEMS
from greenshield.store import stats

router = APIRouter(tags=["statistics"])


@router.get("/v1/stats", response_model=Stats, responses={**ERRORS, **BAD})
async def get_stats(
    request: Request,
    principal: Annotated[Principal, Depends(require("stats"))],
    enterprise_id: Annotated[str | None, Query(pattern=r"^E[0-9]{7}$")] = None,
    since: Annotated[str | None, Query(pattern=RFC3339)] = None,
    until: Annotated[str | None, Query(pattern=RFC3339)] = None,
) -> Json:
    """The dashboard's figures. ``since``/``until`` bound violations by ``occurred_at`` and parcels by
    acceptance time; an enterprise token gets its own enterprise's figures only.

    Compliance rate of a system = share of the accepted parcels in scope with no open
    violation of that system's rules (实名收寄 RN, 收寄验视 IN, 过机安检 XR, ...).
    """
    lo, hi = instant("since", since), instant("until", until)
    scope = stats.Scope(principal.enterprise_scope(enterprise_id), since_text(lo), until_text(hi),
                        (lo[0] + (1 if lo[1].strip("0") else 0)) if lo else None, hi[0] if hi else None)
    figures = await run_in_threadpool(_figures, service_of(request), scope)
    figures["scope"] = {"enterprise_id": scope.enterprise_id, "since": scope.since, "until": scope.until}
    return Json(figures)


def _figures(service: Service, scope: stats.Scope) -> dict[str, Any]:
    found, rate = service.statistics(scope)
    named = _named(found)
    return {"events": {"total": named.pop("events_total"), "per_second": round(rate, 3)}, **named}


def _named(found: dict[str, Any]) -> dict[str, Any]:
    """A copy with display names: a city's, a rule's and a system's label (Chinese with English)."""
    return {**found,
            "by_prefecture": [{**r, "name": prefecture_name(r["prefecture"])} for r in found["by_prefecture"]],
            "by_rule": [{**r, "system": SYSTEMS.get(r["rule_id"][:2], r["rule_id"][:2])} for r in found["by_rule"]],
            "systems": [{**r, "label": SYSTEMS.get(r["system"], r["system"])} for r in found["systems"]]}
