"""Risk sources, enterprise credit, warnings (预警) and the regulator's sanctions.

An enterprise token sees only its own: the sources whose parcels are all its own
(never senders or cities, which span enterprises), its own grade and the warnings
about it or its sources. The regulator sees all and alone records sanctions; an
auditor reads the grades, to prove one with ``/v1/audit/proof/{n}``. The latest rankings
come from a warm snapshot (:class:`RiskWarmer`) when one fits, so a dashboard's poll on a live
store costs no computation.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from starlette.concurrency import run_in_threadpool

from greenshield.api.auth import Principal, require
from greenshield.api.errors import ApiError, bad_request, forbidden, not_found
from greenshield.api.models import Grades, RiskReport, SanctionAnswer, SanctionIn, Warnings
from greenshield.api.params import BAD, ERRORS, NOT_FOUND, RFC3339, Json, instant
from greenshield.api.service import Service, service_of
from greenshield.risk.credit import period_bounds, period_of
from greenshield.risk.model import KINDS, RiskModel, default_model, load_model, parse_span
from greenshield.rules.timestamps import format_utc
from greenshield.store import risk_index
from greenshield.store.credit_log import list_warnings, store_sanction, stored_grades
from greenshield.store.database import Store
from greenshield.store.positions import last_entry_id, latest_event_id
from greenshield.store.risk_report import record_credit, risk_report
from greenshield.store.verdicts import latest_parcel_instant

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

router = APIRouter(tags=["risk and credit"])
Kind = Literal["enterprise", "site", "staff", "sender", "machine", "vehicle", "city"]
CROSS_ENTERPRISE = ("sender", "city")
CACHE_SIZE = 64
SYNC_BACKLOG = 5_000  # a request catches up at most this many entry ids itself (well under 1 s)
BEHIND_MAX = 100_000  # ranking from tables this far behind (a busy worker's half minute), else from events
MAX_TOP = 1000  # the largest ``top`` a request may ask
RETRY_S = 5.0  # a failed warm step is retried this soon
EVERY = 10**9  # ``top`` of a warm ranking an enterprise's view is cut from: all its sources
log = logging.getLogger(__name__)
_GUARD_LOCK = threading.Lock()
AsOf = Annotated[str | None, Query(pattern=RFC3339, description="RFC 3339 (default: the latest parcel event)")]


def model_of(service: Service) -> RiskModel:
    path = service.settings.risk_model_file
    return load_model(path) if path is not None else default_model()


def _cache(request: Request) -> dict[tuple[Any, ...], dict[str, Any]]:
    """Rankings computed per state of the store and side tables (their last entry ids): a poll costs one computation."""
    cache: dict[tuple[Any, ...], dict[str, Any]] | None = getattr(request.app.state, "risk_cache", None)
    if cache is None:
        cache = request.app.state.risk_cache = {}
    return cache


def keep_up(store: Store, guard: threading.Lock) -> threading.Thread | None:
    """Catch the risk side tables up before a ranking without making the request wait on a long catch-up.

    A small backlog is caught up here; a larger one (a live worker writes thousands of
    events a second, or the tables were never built) by one background thread at a time,
    returned, while the request ranks from the tables as they stand (:func:`usable_behind`).
    """
    with store.read() as conn:
        at = risk_index.position(conn)
    if at is None or at[1] - at[0] <= SYNC_BACKLOG:
        risk_index.refresh(store)
        return None
    if not guard.acquire(blocking=False):
        return None  # one is running already

    def run() -> None:
        try:
            risk_index.refresh(store)
        except Exception:
            log.exception("event=risk_refresh_failed")
        finally:
            guard.release()

    thread = threading.Thread(target=run, name="risk-refresh", daemon=True)
    thread.start()
    return thread


def usable_behind(conn: Connection) -> bool:
    """Whether a ranking may come from side tables behind the store: by at most ``BEHIND_MAX`` entry ids.

    Further behind (being built, or after a long pause) the slow exact path from ``events`` answers.
    """
    at = risk_index.position(conn)
    return at is not None and at[1] - at[0] <= BEHIND_MAX


def _guard(request: Request) -> threading.Lock:
    with _GUARD_LOCK:
        guard: threading.Lock | None = getattr(request.app.state, "risk_refresh_guard", None)
        if guard is None:
            guard = request.app.state.risk_refresh_guard = threading.Lock()
        return guard


def _scope(principal: Principal) -> str | None:
    return principal.enterprise_id if principal.role == "enterprise" else None


@dataclass(frozen=True)
class Ranking:
    """A warm ranking of the regulator's scope: the report for the first ``top`` sources, and its log position."""

    doc: dict[str, Any]
    top: int
    window_s: int
    entry: int | None


class RiskWarmer:
    """The latest ranking of each kind at the default window, kept warm by :meth:`step`.

    A thread (:meth:`start`) steps every ``interval`` seconds; a step computes only when
    the store changed (its last audit entry or event). Kinds an enterprise may see are kept
    whole (every source), so each enterprise's view is cut from them exactly as
    :func:`risk_report` filters it: the sources whose owner is that enterprise alone.
    """

    def __init__(self, service: Service, interval: float) -> None:
        self.service, self.interval = service, interval
        self.rankings: dict[str, Ranking] = {}
        self.marker: tuple[Any, ...] | None = None
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._loop, name="greenshield-risk-warm", daemon=True)

    def _marker(self) -> tuple[Any, ...]:
        with self.service.store.read() as conn:
            return last_entry_id(conn), latest_event_id(conn)

    def step(self) -> bool:
        """Recompute every kind's latest ranking if the store changed since the last step; whether it did."""
        marker = self._marker()
        if marker == self.marker:
            return False
        risk_index.refresh(self.service.store)
        model = model_of(self.service)
        for kind in KINDS:
            if self.stopped.is_set():
                return False
            ranking = self._compute(kind, model)
            fresh = {k: v for k, v in self.rankings.items() if k != kind}
            self.rankings = fresh if ranking is None else {**fresh, kind: ranking}
        self.marker = marker
        log.info("event=risk_warmed entry=%s kinds=%d", marker[0], len(self.rankings))
        return True

    def _compute(self, kind: str, model: RiskModel) -> Ranking | None:
        top = MAX_TOP if kind in CROSS_ENTERPRISE else EVERY
        with self.service.store.read() as conn:
            cut = latest_parcel_instant(conn)
            if cut is None:
                return None
            entry = last_entry_id(conn)
            doc = risk_report(conn, kind, cut[0], model, None, top, None, behind=usable_behind(conn))
        return Ranking(doc, top, model.window_s, entry)

    def lookup(self, kind: str, scope: str | None, span: int | None, top: int) -> dict[str, Any] | None:
        """The warm ranking for this request, sliced to ``top`` (an enterprise's: its own sources), or None."""
        found = self.rankings.get(kind)
        if found is None or (span is not None and span != found.window_s) or top > found.top:
            return None
        doc, results = found.doc, found.doc["results"]
        if scope is not None:
            if found.top != EVERY:
                return None
            results = [{**x, "rank": k} for k, x in enumerate((x for x in results if x["enterprise_id"] == scope), 1)]
            doc = {**doc, "sources": len(results)}
        return {**doc, "results": results[:top], "snapshot": True, "computed_for_entry": found.entry}

    def _loop(self) -> None:
        while not self.stopped.is_set():
            wait = self.interval
            try:
                self.step()
            except Exception as err:  # retried soon: the store may be restarting, or busy
                log.warning("event=risk_warm_failed type=%s", type(err).__name__)
                wait = min(wait, RETRY_S)
            if self.stopped.wait(wait):
                return

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.stopped.set()
        if self.thread.is_alive():
            self.thread.join(timeout=60)


def warmer_of(request: Request) -> RiskWarmer | None:
    warmer: RiskWarmer | None = getattr(request.app.state, "risk_warmer", None)
    return warmer


@router.get("/v1/risk/{kind}", response_model=RiskReport, responses={**ERRORS, **BAD, **NOT_FOUND})
async def risk(request: Request, principal: Annotated[Principal, Depends(require("risk"))],
               kind: Annotated[Kind, Path()], as_of: AsOf = None,
               window: Annotated[str | None, Query(pattern=r"^([0-9]{1,5}[dhm]){1,3}$")] = None,
               top: Annotated[int, Query(ge=1, le=1000)] = 20) -> Json:
    """The sources of ``kind`` ranked by score (docs/credit.md), with interval, level, trend and violation ids.

    Without ``as_of`` (the latest parcel event) and at the default window, the answer is the
    warm snapshot when there is one (``snapshot: true``): exact for the store as it was at
    ``computed_for_entry``, at most ``GREENSHIELD_RISK_WARM_SECONDS`` (and one computation) old.
    Otherwise it is computed now (once per state of the store), ``snapshot: false``.
    """
    if principal.role == "enterprise" and kind in CROSS_ENTERPRISE:
        raise forbidden(f"{kind} risk spans enterprises: the regulator's")
    service, at = service_of(request), instant("as_of", as_of)
    span = parse_span(window, "window") if window else None
    warmer = warmer_of(request)
    warm = warmer.lookup(kind, _scope(principal), span, top) if warmer is not None and at is None else None
    if warm is not None:
        return Json(warm)

    def read() -> dict[str, Any] | None:
        keep_up(service.store, _guard(request))
        with service.store.read() as conn:
            cut = at if at is not None else latest_parcel_instant(conn)
            if cut is None:
                return None
            version = last_entry_id(conn)
            behind = usable_behind(conn)
            key = (kind, cut[0], span, top, _scope(principal), version, risk_index.position(conn), behind)
            cache = _cache(request)
            if key not in cache:
                if len(cache) >= CACHE_SIZE:
                    cache.clear()
                doc = risk_report(conn, kind, cut[0], model_of(service), span, top, _scope(principal), behind=behind)
                cache[key] = {**doc, "snapshot": False, "computed_for_entry": version}
            return cache[key]

    doc = await run_in_threadpool(read)
    if doc is None:
        raise not_found("the store holds no parcel events")
    return Json(doc)


def _period(period: str | None, at: tuple[int, str] | None, service: Service) -> str:
    if period is not None:
        try:
            period_bounds(period)
        except ValueError as err:
            raise bad_request(str(err)) from None
        return period
    if at is not None:
        return period_of(at[0])
    with service.store.read() as conn:
        latest = latest_parcel_instant(conn)
    if latest is None:
        raise not_found("the store holds no parcel events")
    return period_of(latest[0])


@router.get("/v1/credit", response_model=Grades, responses={**ERRORS, **BAD, **NOT_FOUND})
async def credit(request: Request, principal: Annotated[Principal, Depends(require("credit"))],
                 period: Annotated[str | None, Query(pattern=r"^[0-9]{4}(-[0-9]{2}|Q[1-4])$")] = None,
                 as_of: Annotated[str | None, Query(pattern=RFC3339, description="default: the period's end")] = None
                 ) -> Json:
    """Each enterprise's credit score and grade for the period (an enterprise token: its own), as stored leaves.

    A regulator's request computes the period's grades first and stores those that differ from the
    latest stored ones (idempotent). Every other role reads the stored grades only: a stored D grade
    tightens the rule pack, so the graded party must not be able to store one (say, at an ``as_of``
    before its violations).
    """
    service, at = service_of(request), instant("as_of", as_of)
    computes = principal.role == "regulator"
    if at is not None and not computes:
        raise forbidden("as_of computes grades: the regulator's; other roles read the stored grades")

    def compute() -> dict[str, Any]:
        chosen = _period(period, at, service)
        if computes:
            record_credit(service.store, chosen, model_of(service), at[0] if at is not None else None)
            service.sequencer.integrate(close=True)
        with service.store.read() as conn:
            found = stored_grades(conn, chosen, _scope(principal))
        if principal.recorded:
            service.record("api.credit", {"period": chosen, "as_of": as_of, "asked_by": principal.who()}, len(found))
        return {"period": chosen, "grades": found}

    return Json(await run_in_threadpool(compute))


@router.get("/v1/warnings", response_model=Warnings, responses=ERRORS)
async def warnings(request: Request, principal: Annotated[Principal, Depends(require("warnings"))],
                   kind: Annotated[str | None, Query(pattern=r"^[a-z]{1,16}$")] = None,
                   limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> Json:
    """Stored warnings, newest first (an enterprise token: those about it or its own sources)."""
    service = service_of(request)

    def read() -> list[dict[str, Any]]:
        with service.store.read() as conn:
            return list_warnings(conn, _scope(principal), kind, limit)

    return Json({"items": await run_in_threadpool(read)})


@router.post("/v1/sanctions", response_model=SanctionAnswer, status_code=201, responses={**ERRORS, **BAD})
async def sanction(request: Request, _: Annotated[Principal, Depends(require("sanctions"))],
                   body: SanctionIn) -> Json:
    """Record a sanction (行政处罚 or the like) against an enterprise; it lowers the credit of its period."""
    at = instant("occurred_at", body.occurred_at)
    assert at is not None
    doc = {"enterprise_id": body.enterprise_id, "decision_ref": body.decision_ref, "at_s": at[0],
           "occurred_at": format_utc(at), "points": body.points, "reason_code": body.reason_code}
    service = service_of(request)
    try:
        entry_id, created = await run_in_threadpool(store_sanction, service.store, doc)
    except ValueError as err:
        raise ApiError(409, str(err)) from None
    return Json({"entry_id": entry_id, "created": created}, status_code=201 if created else 200)
