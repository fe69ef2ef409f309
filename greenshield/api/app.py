"""The one wiring function of the service: :func:`create_app` (settings in, a FastAPI app out).

Tests call it with a store of their own; ``greenshield serve`` with the configured
one. Nothing connects at import time. Every response carries a strict Content
Security Policy (scripts, styles and connections only from this origin: the
dashboard's chart library is vendored, there is no CDN) and ``Cache-Control: no-store``.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

import anyio.to_thread
from fastapi import Depends, FastAPI
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

import greenshield
from greenshield.api import (
    errors,
    routes_audit,
    routes_epcis,
    routes_events,
    routes_risk,
    routes_staff,
    routes_stats,
    routes_subscriptions,
    routes_tlog,
    routes_trace,
    routes_violations,
    routes_web,
)
from greenshield.api.auth import Principal, any_token
from greenshield.api.limits import BodyGuard
from greenshield.api.models import Health
from greenshield.api.params import ERRORS, Json
from greenshield.api.service import INGEST_MODES, Service, Upkeep
from greenshield.rules.pack import RulePack, default_pack
from greenshield.settings import Settings
from greenshield.store import stats, tokens
from greenshield.store.audit_log import Policy, Sequencer
from greenshield.store.database import Store
from greenshield.store.pipeline import Audit, open_audit
from greenshield.translog.keys import hmac_key, signing_key

ROUTERS = (routes_violations.router, routes_stats.router, routes_trace.router, routes_audit.router,
           routes_events.router, routes_web.router, routes_risk.router, routes_staff.router, routes_epcis.router,
           routes_tlog.router, routes_subscriptions.router)
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'")
HEADERS = [(b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"no-referrer"),
           (b"x-frame-options", b"DENY"), (b"cache-control", b"no-store")]
DESCRIPTION = """Green Shield (绿盾) for regulators, auditors and express enterprises.

Every path needs a token (`Authorization: Bearer gs_...`, from `greenshield tokens create`)
except `/healthz`, `/checkpoint` and the hash tiles `/tile/<L>/...` (C2SP tlog-tiles): **401** without a valid one, **403** when its role lacks the right.
Roles: `enterprise` (its own violations, statistics, traces; batch ingest),
`regulator` (every enterprise, personal data masked; the dashboard at `/`),
`auditor` (traces, sender lookup, proofs; the page at `/auditor`; every request logged)."""


def check(settings: Settings) -> None:
    """Validate the service's settings once, at start."""
    if settings.api_ingest_mode not in INGEST_MODES:
        raise ValueError(f"GREENSHIELD_API_INGEST_MODE={settings.api_ingest_mode!r}: one of {', '.join(INGEST_MODES)}")
    if settings.api_ingest_max_events < 1 or settings.api_ingest_max_bytes < 1 or settings.api_threads < 1:
        raise ValueError("GREENSHIELD_API_INGEST_MAX_EVENTS, _MAX_BYTES and GREENSHIELD_API_THREADS must be >= 1")
    positive = {"GREENSHIELD_API_SMALL_BODY_BYTES": settings.api_small_body_bytes,
                "GREENSHIELD_API_HEADER_TIMEOUT_SECONDS": settings.api_header_timeout_seconds,
                "GREENSHIELD_API_BODY_TIMEOUT_SECONDS": settings.api_body_timeout_seconds,
                "GREENSHIELD_API_KEEPALIVE_SECONDS": settings.api_keepalive_seconds,
                "GREENSHIELD_API_MAX_HEADER_BYTES": settings.api_max_header_bytes,
                "GREENSHIELD_API_KAFKA_ACK_SECONDS": settings.api_kafka_ack_seconds}
    for name, value in positive.items():
        if value < 1:
            raise ValueError(f"{name}={value}: must be >= 1")
    if settings.risk_warm_seconds < 0:
        raise ValueError("GREENSHIELD_RISK_WARM_SECONDS must be >= 0 (0: off)")
    if settings.api_max_connections < 0:
        raise ValueError("GREENSHIELD_API_MAX_CONNECTIONS must be >= 0 (0: no limit)")


def _audit(settings: Settings, store: Store | None) -> Audit:
    if store is None:
        return open_audit(settings)
    policy = Policy(settings.checkpoint_every_entries, settings.checkpoint_every_seconds)
    return Audit(store, Sequencer(store, signing_key(settings), policy), hmac_key(settings))


def create_app(settings: Settings, store: Store | None = None, *, producer: Any = None,
               pack: RulePack | None = None, upkeep_seconds: float = 5.0) -> FastAPI:
    """The service over ``store`` (default: open ``settings.db_url``; then the app closes it on shutdown).

    ``producer`` replaces streaming mode's Kafka producer (tests); ``upkeep_seconds`` is the
    period of the background work (0: none; tests call ``app.state.service.upkeep()`` and
    ``app.state.risk_warmer.step()``, the warm risk rankings, kept unless ``risk_warm_seconds`` is 0).
    """
    check(settings)
    audit = _audit(settings, store)
    tokens.ensure_tables(audit.store)
    stats.ensure_tables(audit.store)
    service = Service(settings, audit, pack or default_pack(), owns_store=store is None, producer=producer)
    warmer = routes_risk.RiskWarmer(service, settings.risk_warm_seconds) if settings.risk_warm_seconds > 0 else None

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        # few threads run the store's queries, so dozens of them cannot starve the event loop of the GIL
        anyio.to_thread.current_default_thread_limiter().total_tokens = settings.api_threads
        upkeep = Upkeep(service, upkeep_seconds) if upkeep_seconds > 0 else None
        if upkeep is not None:
            upkeep.start()
            if warmer is not None:
                warmer.start()
        try:
            yield
        finally:
            if upkeep is not None:
                upkeep.stop()
            if warmer is not None:
                warmer.stop()
            await run_in_threadpool(service.close)

    app = FastAPI(title="Green Shield 绿盾", version=greenshield.__version__, description=DESCRIPTION,
                  docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan)
    app.state.service = service
    app.state.risk_warmer = warmer
    errors.install(app)
    for router in ROUTERS:
        app.include_router(router)
    _meta_routes(app)
    routes = [*app.routes, *(r for router in ROUTERS for r in router.routes)]  # included routers keep theirs
    service.metrics.known_routes(path for r in routes if isinstance(path := getattr(r, "path", None), str))
    app.add_middleware(BodyGuard, service=service)  # inside Guard: its refusals get the headers and metrics
    app.add_middleware(Guard, service=service)
    return app


def _meta_routes(app: FastAPI) -> None:
    @app.get("/healthz", response_model=Health, tags=["service"])
    async def healthz() -> Json:
        """Liveness: open without a token, tells nothing about the data."""
        return Json({"status": "ok"})

    @app.get("/openapi.json", tags=["service"], responses=ERRORS)
    async def openapi(_: Annotated[Principal, Depends(any_token())]) -> Json:
        """This API's OpenAPI document (any valid token)."""
        return Json(app.openapi())


class Guard:
    """ASGI middleware: security headers on every response, and the request metrics."""

    def __init__(self, app: ASGIApp, service: Service) -> None:
        self.app, self.service = app, service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start, status = time.perf_counter(), [500]

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
                headers = list(message.get("headers", []))
                names = {k.lower() for k, _ in headers}
                headers += [h for h in HEADERS if h[0] not in names]
                if b"content-security-policy" not in names:
                    headers.append((b"content-security-policy", CSP.encode()))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            self.service.metrics.observe(template, scope.get("method", ""), status[0], time.perf_counter() - start)
