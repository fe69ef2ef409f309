"""What one client can make the service hold: request bodies, slow requests, connections.

* :class:`BodyGuard` (pure ASGI middleware): per-route body limits (413), the token before
  the body (401), the body deadline (408).
* :class:`GuardedH11Protocol` (uvicorn's h11 protocol): the header deadline (408).
* :func:`server_config`: uvicorn with that protocol, keep-alive, header size and connection limits.

The limits and why they are enforced this way: docs/adr/0024-request-limits.md.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

import anyio
import h11
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.protocols.http.h11_impl import H11Protocol

from greenshield.api.auth import authenticate, presented_token
from greenshield.api.errors import ApiError, error_response
from greenshield.api.service import Service
from greenshield.settings import Settings

log = logging.getLogger("greenshield.api")
CLOSE = {"Connection": "close"}
BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_TIMEOUT_BODY = b'{"error":{"status":408,"message":"the request headers did not arrive in time"}}'
REQUEST_TIMEOUT = (b"HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\nconnection: close\r\n"
                   b"content-length: %d\r\n\r\n%s" % (len(_TIMEOUT_BODY), _TIMEOUT_BODY))


class BodyRefused(HTTPException):
    """Raised from ``receive`` when a body passes its limit (413) or its deadline (408); closes the connection."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(status, message, dict(CLOSE))
        self.message = message


def body_limit(settings: Settings, method: str, path: str) -> int:
    """The most bytes the body of ``method path`` may hold."""
    if method == "POST" and path == "/v1/events":
        return settings.api_ingest_max_bytes
    return settings.api_small_body_bytes


def _declared(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            return int(value) if value.isdigit() else None  # h11 has refused anything else already
    return None


def _has_body(scope: Scope) -> bool:
    names = {name for name, _ in scope.get("headers", ())}
    return b"transfer-encoding" in names or (_declared(scope) or 0) > 0


@dataclass
class _Reading:
    limit: int
    deadline: float
    seen: int = 0
    done: bool = False


class BodyGuard:
    """ASGI middleware: body limits per route, token before body on ``/v1``, a deadline for the body."""

    def __init__(self, app: ASGIApp, service: Service) -> None:
        self.app, self.service = app, service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        s = self.service.settings
        method, path = scope.get("method", ""), scope.get("path", "")
        limit = body_limit(s, method, path)
        declared = _declared(scope)
        if declared is not None and declared > limit:
            await _refuse(scope, receive, send, 413, f"the request body is over {limit} bytes")
            return
        if path.startswith("/v1/") and method in BODY_METHODS and _has_body(scope):
            refusal = await self._unauthenticated(scope)
            if refusal is not None:
                await refusal(scope, receive, send)
                return
        reading = _Reading(limit, anyio.current_time() + s.api_body_timeout_seconds)
        started = [False]

        async def guarded_receive() -> Message:
            return await _receive(receive, reading)

        async def tracked_send(message: Message) -> None:
            started[0] = started[0] or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, guarded_receive, tracked_send)
        except BodyRefused as err:  # raised where no exception handler answered it
            if started[0]:
                raise
            await _refuse(scope, receive, send, err.status_code, err.message)

    async def _unauthenticated(self, scope: Scope) -> Any:
        """None when the request carries a valid token, else the 401 response (the body is never read)."""
        request = Request(scope)
        header = request.headers.get("authorization", "")
        scheme, _, credentials = header.partition(" ")
        token = credentials.strip() if scheme.lower() == "bearer" else None
        token = token or presented_token(request, None, False)  # the cookie counts with X-Greenshield-Web: 1
        try:
            await run_in_threadpool(authenticate, self.service, token)
        except ApiError as err:
            return error_response(err.status, err.message, {**err.headers, **CLOSE})
        return None


async def _receive(receive: Receive, reading: _Reading) -> Message:
    """One message of the body, counted against the limit, within the deadline."""
    if reading.done:
        return await receive()
    try:
        with anyio.fail_after(max(reading.deadline - anyio.current_time(), 0.0)):
            message = await receive()
    except TimeoutError:
        log.warning("event=request_refused status=408 why=body_deadline bytes=%d", reading.seen)
        raise BodyRefused(408, "the request body did not arrive in time") from None
    if message["type"] != "http.request":
        reading.done = True
        return message
    reading.seen += len(message.get("body", b""))
    if reading.seen > reading.limit:
        log.warning("event=request_refused status=413 why=body_over_limit limit=%d", reading.limit)
        raise BodyRefused(413, f"the request body is over {reading.limit} bytes")
    reading.done = not message.get("more_body", False)
    return message


async def _refuse(scope: Scope, receive: Receive, send: Send, status: int, message: str) -> None:
    await error_response(status, message, dict(CLOSE))(scope, receive, send)


class GuardedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with a deadline for each request's line and headers."""

    header_timeout: float = 10.0
    _header_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self.conn.their_state is not h11.IDLE:
            self._disarm()  # the headers are in: the body has BodyGuard's deadline

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing() and self.conn.their_state is h11.IDLE:
            self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        if self._header_timer is None:
            self._header_timer = self.loop.call_later(self.header_timeout, self._expired)

    def _disarm(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _expired(self) -> None:
        self._header_timer = None
        if self.transport.is_closing() or self.conn.their_state is not h11.IDLE:
            return
        if self.conn.trailing_data[0]:  # part of a request came: say why the connection ends
            log.warning("event=request_refused status=408 why=header_deadline")
            self.transport.write(REQUEST_TIMEOUT)
        self.transport.close()


def guarded_protocol(header_timeout: float) -> type[GuardedH11Protocol]:
    """:class:`GuardedH11Protocol` with its header deadline (uvicorn builds the protocol from a class)."""
    return type("GuardedH11Protocol", (GuardedH11Protocol,), {"header_timeout": float(header_timeout)})


def server_config(app: Any, settings: Settings, **overrides: Any) -> Any:
    """The ``uvicorn.Config`` of ``greenshield serve`` (tests run the same server on a free port)."""
    import uvicorn

    options: dict[str, Any] = {
        "host": settings.api_host, "port": settings.api_port, "log_level": settings.log_level.lower(),
        "access_log": False, "server_header": False, "ws": "none", "lifespan": "on",
        "http": guarded_protocol(settings.api_header_timeout_seconds),
        "timeout_keep_alive": settings.api_keepalive_seconds,
        "h11_max_incomplete_event_size": settings.api_max_header_bytes,
        "limit_concurrency": settings.api_max_connections or None,
    }
    options.update(overrides)
    return uvicorn.Config(app, **options)
