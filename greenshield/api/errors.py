"""One error form for every failure: ``{"error": {"status": int, "message": str}}``, nothing else.

Messages are fixed texts chosen here, never built from stored data, so an error
cannot tell one enterprise about another. Validation errors say which parameter
is wrong but never echo the value given (it may be an ID number, contract §6).
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse, Response

from greenshield.errors import GreenShieldError

log = logging.getLogger("greenshield.api")


class ApiError(GreenShieldError):
    """An expected failure with its HTTP status and a message safe to show to anyone."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.headers = status, message, headers or {}


def unauthorized(message: str = "a valid token is required") -> ApiError:
    return ApiError(401, message, {"WWW-Authenticate": 'Bearer realm="greenshield"'})


def forbidden(message: str = "this token does not grant that") -> ApiError:
    return ApiError(403, message)


def not_found(message: str = "not found") -> ApiError:
    return ApiError(404, message)


def bad_request(message: str) -> ApiError:
    return ApiError(400, message)


def error_response(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    return JSONResponse({"error": {"status": status, "message": message}}, status, headers=headers)


def _location(loc: tuple[object, ...]) -> str:
    return ".".join(str(part) for part in loc if part not in ("body", "query", "path", "header", "cookie"))


def install(app: FastAPI) -> None:
    """Route every error through :func:`error_response`."""

    @app.exception_handler(ApiError)
    async def api_error(_: Request, err: ApiError) -> Response:
        return error_response(err.status, err.message, err.headers)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, err: StarletteHTTPException) -> Response:
        message = {404: "not found", 405: "method not allowed"}.get(err.status_code, "request refused")
        message = getattr(err, "message", message)  # limits.BodyRefused: a fixed text of its own
        return error_response(err.status_code, message, dict(err.headers or {}))

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, err: RequestValidationError) -> Response:
        where = sorted({_location(tuple(e.get("loc", ()))) or "request" for e in err.errors()})
        return error_response(422, f"invalid parameter(s): {', '.join(where)}")

    @app.exception_handler(Exception)
    async def unexpected(_: Request, err: Exception) -> Response:
        log.error("event=unhandled_error type=%s", type(err).__name__)
        return error_response(500, "internal error")
