"""The dashboard's pages and files, served from the package; signing in and out with a token.

A page load cannot carry a bearer header, so ``POST /login`` takes a token from a
form, checks it, and keeps it in an HttpOnly, SameSite=Strict cookie (see
:mod:`greenshield.api.auth`). Without a valid token every page and file answers
401 with the sign-in form (which loads nothing and runs no script); with a token
whose role has no such page, 403. The risk page is the regulator's and an enterprise's: it shows
what ``/v1/risk``, ``/v1/credit`` and ``/v1/warnings`` answer the token, so an enterprise sees its own.
"""

from __future__ import annotations

import html
import mimetypes
from importlib import resources
from typing import Annotated
from urllib.parse import parse_qs

from fastapi import APIRouter, Depends, Request
from fastapi.security import HTTPAuthorizationCredentials
from starlette.concurrency import run_in_threadpool
from starlette.responses import HTMLResponse, RedirectResponse, Response

from greenshield.api.auth import COOKIE, Principal, authenticate, bearer, presented_token
from greenshield.api.errors import ApiError
from greenshield.api.service import service_of

router = APIRouter(include_in_schema=False)
PAGES = {"/": ("index.html", "dashboard"), "/auditor": ("auditor.html", "auditor_page"), "/risk": ("risk.html", "risk")}
HOME = {"regulator": "/", "auditor": "/auditor", "enterprise": "/risk"}
LOGIN_CSP = "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
MAX_FORM = 4096


def _files() -> dict[str, bytes]:
    """Every file of ``greenshield/web`` by its path there (``app.js``, ``vendor/chart.umd.min.js``)."""
    root = resources.files("greenshield") / "web"
    out: dict[str, bytes] = {}
    stack = [("", root)]
    while stack:
        prefix, node = stack.pop()
        for child in node.iterdir():
            name = prefix + child.name
            if child.is_dir():
                stack.append((name + "/", child))
            elif not child.name.startswith("."):
                out[name] = child.read_bytes()
    return out


FILES = _files()


def login_page(status: int, message: str = "", next_path: str = "/") -> HTMLResponse:
    text = FILES["login.html"].decode().replace("{{message}}", html.escape(message))
    text = text.replace("{{next}}", html.escape(next_path if next_path in PAGES else "/"))
    return HTMLResponse(text, status, headers={"Content-Security-Policy": LOGIN_CSP})


def refused_page(role: str) -> HTMLResponse:
    home = HOME.get(role)
    link = f'<p><a href="{home}">→ {home}</a></p>' if home else ""
    body = (f"<!doctype html><meta charset=utf-8><title>403</title><h1>403 无权访问 Not allowed</h1>"
            f"<p>The {html.escape(role)} role has no such page.</p>{link}"
            f'<form method="post" action="/logout"><button>退出 Sign out</button></form>')
    return HTMLResponse(body, 403)


async def _principal(request: Request, credentials: HTTPAuthorizationCredentials | None) -> Principal | None:
    try:
        token = presented_token(request, credentials, page=True)
        return await run_in_threadpool(authenticate, service_of(request), token)
    except ApiError:
        return None


def _page(path: str) -> object:
    name, permission = PAGES[path]

    async def page(request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None,
                                                            Depends(bearer)]) -> Response:
        principal = await _principal(request, credentials)
        if principal is None:
            return login_page(401, next_path=path)
        if not principal.may(permission):
            return refused_page(principal.role)
        return HTMLResponse(FILES[name])

    return page


for _path in PAGES:
    router.add_api_route(_path, _page(_path), methods=["GET"])  # type: ignore[arg-type]


@router.get("/static/{name:path}")
async def static(request: Request, name: str,
                 credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]) -> Response:
    if await _principal(request, credentials) is None:
        return login_page(401)
    data = FILES.get(name)
    if data is None or name.endswith(".html"):
        return Response(b"not found", 404, media_type="text/plain")
    kind = mimetypes.guess_type(name)[0] or "application/octet-stream"
    return Response(data, media_type="text/javascript" if name.endswith(".js") else kind)


@router.post("/login")
async def login(request: Request) -> Response:
    body = await request.body()
    form = parse_qs(body[:MAX_FORM].decode("utf-8", "replace"))
    token, next_path = form.get("token", [""])[0].strip(), form.get("next", ["/"])[0]
    try:
        principal = await run_in_threadpool(authenticate, service_of(request), token)
    except ApiError:
        return login_page(401, "令牌无效或已撤销 The token is unknown or revoked.", next_path)
    target = next_path if next_path in PAGES else HOME.get(principal.role, "/")
    if principal.role in HOME and not principal.may(PAGES[target][1]):
        target = HOME[principal.role]
    response = RedirectResponse(target, 303)
    response.set_cookie(COOKIE, token, httponly=True, samesite="strict", path="/",
                        secure=request.url.scheme == "https")
    return response


@router.post("/logout")
async def logout() -> Response:
    response = RedirectResponse("/", 303)
    response.delete_cookie(COOKIE, path="/")
    return response
