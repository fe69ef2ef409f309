"""Issue 14: the service bounds every body before reading it and times out slow or partial requests.

A real uvicorn server (``greenshield serve``'s configuration, :func:`greenshield.api.limits.server_config`)
on 127.0.0.1 and a free port, driven with raw sockets. Limits are small here so the tests are quick:
4 KiB bodies (64 KiB for POST /v1/events), 2 s for the headers, 2 s for the body.
"""

from __future__ import annotations

import dataclasses
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import uvicorn
from tests.api.apiworld import make_tokens
from tests.support.day import copy_store

from greenshield.api.app import create_app
from greenshield.api.limits import server_config
from greenshield.devtools.process import free_port
from greenshield.store.database import Store
from greenshield.settings import Settings

SMALL, INGEST, HEADER_S, BODY_S = 4096, 64 * 1024, 2, 2
MIB = 1 << 20


@dataclass
class Server:
    port: int
    tokens: dict[str, str]
    app: object

    def connect(self, timeout: float = 10.0) -> socket.socket:
        return socket.create_connection(("127.0.0.1", self.port), timeout=timeout)


@pytest.fixture
def server(seeded: Path, tmp_path: Path) -> Iterator[Server]:
    settings: Settings = dataclasses.replace(
        copy_store(seeded, tmp_path), api_small_body_bytes=SMALL, api_ingest_max_bytes=INGEST,
        api_header_timeout_seconds=HEADER_S, api_body_timeout_seconds=BODY_S, api_keepalive_seconds=5)
    store = Store.open(settings.db_url)
    tokens = make_tokens(store)
    app = create_app(settings, store, upkeep_seconds=0)
    port = free_port()
    uv = uvicorn.Server(server_config(app, settings, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=uv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not uv.started:
        assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield Server(port, tokens, app)
    finally:
        uv.should_exit = True
        thread.join(timeout=30)
        store.close()


def _status(sock: socket.socket, timeout: float = 10.0) -> int:
    """The status of the response on ``sock`` (reads the status line)."""
    sock.settimeout(timeout)
    data = b""
    while b"\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            raise ConnectionError(f"closed before a status line: {data!r}")
        data += chunk
    return int(data.split(b" ", 2)[1])


def _closed(sock: socket.socket, timeout: float) -> bool:
    """Whether the server closes ``sock`` within ``timeout`` (whatever it says first)."""
    sock.settimeout(timeout)
    try:
        while sock.recv(65536):
            pass
    except TimeoutError:
        return False
    except ConnectionResetError:
        return True
    return True


def _healthy(server: Server) -> bool:
    with server.connect(timeout=5) as s:
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        return _status(s, 5) == 200


def _rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def _post_head(path: str, token: str | None = None, length: int | None = None, chunked: bool = False,
               content_type: str = "application/json") -> bytes:
    lines = [f"POST {path} HTTP/1.1", "Host: x", f"Content-Type: {content_type}"]
    if token:
        lines.append(f"Authorization: Bearer {token}")
    if length is not None:
        lines.append(f"Content-Length: {length}")
    if chunked:
        lines.append("Transfer-Encoding: chunked")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


class TestBodies:
    @pytest.mark.parametrize("path, who", [("/login", None), ("/v1/senders/lookup", "auditor"),
                                           ("/v1/events", "enterprise")])
    def test_a_declared_300_mib_body_is_413_before_it_is_read(self, server: Server, path: str,
                                                              who: str | None) -> None:
        """Only the headers are sent: the 413 comes at once, the connection closes, memory stays put."""
        before = _rss_kib()
        with server.connect() as s:
            token = server.tokens[who] if who else None
            s.sendall(_post_head(path, token, length=300 * MIB, content_type="application/x-www-form-urlencoded"
                                 if path == "/login" else "application/json"))
            assert _status(s) == 413
            assert _closed(s, 5)
        assert _rss_kib() - before < 20 * 1024
        assert _healthy(server)

    @pytest.mark.parametrize("path, who, limit", [("/login", None, SMALL), ("/v1/senders/lookup", "auditor", SMALL),
                                                  ("/v1/events", "enterprise", INGEST)])
    def test_a_chunked_body_is_413_as_soon_as_it_passes_the_limit(self, server: Server, path: str,
                                                                  who: str | None, limit: int) -> None:
        """A chunked body (meant to be 300 MiB): refused (413) once it passes the route's limit, long before the
        client has sent 4 MiB more; the connection is closed, so the rest is never read."""
        before = _rss_kib()
        sent, chunk = 0, b"1000\r\n" + b"x" * 4096 + b"\r\n"
        with server.connect() as s:
            s.sendall(_post_head(path, server.tokens[who] if who else None, chunked=True))
            status = None
            try:
                while status is None and sent < limit + 4 * MIB:
                    s.sendall(chunk)
                    sent += 4096
                    try:
                        status = _status(s, 0.001 if sent <= limit else 0.05)
                    except TimeoutError:
                        continue
            except (BrokenPipeError, ConnectionResetError):
                status = _status(s)
            assert status == 413, f"no refusal after {sent} bytes"
            assert _closed(s, 5)
        assert _rss_kib() - before < 30 * 1024
        assert _healthy(server)

    def test_a_lookup_without_a_token_is_401_before_its_body(self, server: Server) -> None:
        """The token is checked first: a tokenless client cannot make the server wait for (or hold) a body."""
        with server.connect() as s:
            s.sendall(_post_head("/v1/senders/lookup", None, length=SMALL))
            assert _status(s, 5) == 401

    def test_a_normal_lookup_still_works(self, server: Server) -> None:
        body = b'{"id_type": "passport", "id_number": "E12345678"}'
        with server.connect() as s:
            s.sendall(_post_head("/v1/senders/lookup", server.tokens["auditor"], length=len(body)) + body)
            assert _status(s) == 200


class TestSlowClients:
    def test_slowloris_headers_are_closed_within_the_deadline(self, server: Server) -> None:
        """One header byte per second: closed (408) within the header deadline; others are served meanwhile."""
        start = time.monotonic()
        request = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 100
        closed_after = None
        with server.connect() as s:
            for i, byte in enumerate(request):
                try:
                    s.sendall(bytes([byte]))
                except (BrokenPipeError, ConnectionResetError):
                    closed_after = time.monotonic() - start
                    break
                if i == 1:
                    assert _healthy(server)
                if _closed_now(s):
                    closed_after = time.monotonic() - start
                    break
                time.sleep(1.0 if i else 0.0)
        assert closed_after is not None and closed_after < HEADER_S + 2.5, closed_after

    def test_half_a_body_then_silence_is_408_and_closed(self, server: Server) -> None:
        """Content-Length 2000, 1000 bytes sent, then nothing: 408 within the body deadline, connection closed."""
        start = time.monotonic()
        with server.connect() as s:
            s.sendall(_post_head("/login", length=2000, content_type="application/x-www-form-urlencoded")
                      + b"token=" + b"a" * 994)
            assert _healthy(server)
            assert _status(s, BODY_S + 5) == 408
            assert _closed(s, 5)
        assert time.monotonic() - start < BODY_S + 3

    def test_a_stalled_chunked_ingest_is_408(self, server: Server) -> None:
        with server.connect() as s:
            s.sendall(_post_head("/v1/events", server.tokens["enterprise"], chunked=True,
                                 content_type="application/x-ndjson") + b"10\r\n" + b"{" * 16 + b"\r\n")
            assert _status(s, BODY_S + 5) == 408

    def test_many_idle_connections_do_not_stop_a_normal_client(self, server: Server) -> None:
        idle = [server.connect() for _ in range(30)]
        try:
            for s in idle:
                s.sendall(b"POST /login HTTP/1.1\r\nHost: x\r\nContent-")
            assert _healthy(server)
            assert all(_closed(s, HEADER_S + 3) for s in idle)
        finally:
            for s in idle:
                s.close()


def _closed_now(sock: socket.socket) -> bool:
    """Whether the server has answered or closed: before the headers are complete, either is the refusal."""
    sock.settimeout(0.001)
    try:
        sock.recv(65536)
    except TimeoutError:
        return False
    except ConnectionResetError:
        pass
    return True


class TestServeConfig:
    def test_serve_passes_uvicorns_limits_from_the_settings(self, tmp_path: Path) -> None:
        settings = dataclasses.replace(Settings.from_env({}), api_keepalive_seconds=7, api_max_header_bytes=9000,
                                       api_max_connections=123, api_header_timeout_seconds=4)
        config = server_config(object(), settings)
        assert config.timeout_keep_alive == 7 and config.h11_max_incomplete_event_size == 9000
        assert config.limit_concurrency == 123
        assert config.http.header_timeout == 4.0
