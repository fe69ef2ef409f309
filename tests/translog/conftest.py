"""Fixtures of the tlog-tiles tests: a log of its own behind the app (in-process or a real uvicorn), Go's client."""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from fastapi.testclient import TestClient

from greenshield.api.limits import server_config
from greenshield.devtools.process import free_port
from tests.translog.tlogworld import Log, open_log

GOCLIENT = Path(__file__).parent / "goclient"


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes", "on")


@pytest.fixture
def log(tmp_path: Path) -> Iterator[Log]:
    found = open_log(tmp_path)
    try:
        yield found
    finally:
        found.store.close()


@pytest.fixture
def client(log: Log) -> Iterator[TestClient]:
    with TestClient(log.app) as c:
        yield c


@pytest.fixture
def server(log: Log) -> Iterator[str]:
    """The app on a real uvicorn server on 127.0.0.1; its base URL."""
    port = free_port()
    uv = uvicorn.Server(server_config(log.app, log.settings, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=uv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not uv.started:
        assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        uv.should_exit = True
        thread.join(timeout=30)


def _go() -> str | None:
    return shutil.which("go") or next((p for p in ("/usr/local/go/bin/go", "/usr/lib/go/bin/go")
                                       if os.access(p, os.X_OK)), None)


@pytest.fixture(scope="session")
def goclient(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Go's sumdb/note + sumdb/tlog client (tests/translog/goclient), built once; modules from the Go proxy."""
    go = _go()
    if go is None:
        if _in_ci():
            pytest.fail("no Go toolchain (CI=true: .ci/run installs one)", pytrace=False)
        pytest.skip("no Go toolchain")
    out = tmp_path_factory.mktemp("go") / "tlogclient"
    env = {**os.environ, "GOFLAGS": "-mod=readonly", "GOTOOLCHAIN": "local", "GOWORK": "off", "CGO_ENABLED": "0"}
    if not env.get("HOME") and not env.get("GOPATH"):  # Go keeps its module and build caches under HOME
        env["GOPATH"] = str(tmp_path_factory.getbasetemp() / "gopath")
        env["GOCACHE"] = str(tmp_path_factory.getbasetemp() / "gocache")
    done = subprocess.run([go, "build", "-o", str(out), "."], cwd=GOCLIENT, env=env, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return out
