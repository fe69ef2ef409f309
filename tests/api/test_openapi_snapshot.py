"""The OpenAPI document is the API's contract with its users: byte-identical to the one kept here.

After an intended change of the API, regenerate it with
``python tests/api/test_openapi_snapshot.py > tests/api/data/openapi.json`` and review the diff.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

SNAPSHOT = Path(__file__).parent / "data" / "openapi.json"


def openapi_text() -> str:
    from greenshield.api.app import create_app
    from greenshield.settings import Settings

    with tempfile.TemporaryDirectory() as d:
        settings = Settings.from_env({"GREENSHIELD_DATA_DIR": d, "GREENSHIELD_DB_URL": f"sqlite:///{d}/g.db"})
        return json.dumps(create_app(settings).openapi(), ensure_ascii=False, indent=1)


def test_the_openapi_document_is_unchanged() -> None:
    got, kept = openapi_text(), SNAPSHOT.read_text(encoding="utf-8")
    assert len(kept) > 50_000 and '"/v1/events"' in kept  # the snapshot is the whole document
    assert got == kept


if __name__ == "__main__":
    sys.stdout.write(openapi_text())
