"""An independent client reads the log: Go's sumdb/note verifies /checkpoint, sumdb/tlog reads the tiles.

The Go program (tests/translog/goclient) fetches everything over HTTP from a real uvicorn
server, checks every tile it reads against the signed root, proves leaves' inclusion
(from their entry bundles' data) and the consistency of an earlier checkpoint with the
current one. A forged old checkpoint and a wrong key must make it fail.
"""

from __future__ import annotations

import base64
import json
import subprocess
from pathlib import Path
from typing import Any

from tests.translog.tlogworld import Log

from greenshield.translog.checkpoint import DEFAULT_ORIGIN, sign_checkpoint, verifier_key
from greenshield.translog.keys import signing_key
from greenshield.store.audit_log import latest_checkpoint, leaf_hashes
from greenshield.store.tile_reads import leaf_entries

FIRST, SECOND = 66_000, 70_123  # a level-2 tile (partial), then growth past a full level-1 tile


def run(goclient: Path, url: str, vkey: str, *args: str) -> tuple[int, list[dict[str, Any]]]:
    done = subprocess.run([str(goclient), "-url", url, "-vkey", vkey, *args], capture_output=True, text=True,
                          timeout=120)
    return done.returncode, [json.loads(line) for line in done.stdout.splitlines() if line.strip()]


def steps(out: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    return [d for d in out if d["step"] == name]


def test_go_reads_checkpoint_and_tiles_proves_inclusion_and_consistency(
        log: Log, server: str, goclient: Path, tmp_path: Path) -> None:
    key = signing_key(log.settings)
    vkey = verifier_key(DEFAULT_ORIGIN, key.public_key())
    log.grow(FIRST)
    leaves = [0, 255, 256, 12_345, 65_535, 65_536, FIRST - 1]
    code, out = run(goclient, server, vkey, "-token", log.auditor, *(f"-leaf={n}" for n in leaves))
    assert code == 0, out
    (cp,) = steps(out, "checkpoint")
    with log.store.read() as conn:
        signed = latest_checkpoint(conn)
        assert signed is not None
        want = {n: (leaf_hashes(conn, n, n + 1)[0].hex(), leaf_entries(conn, n, n + 1)[0]) for n in leaves}
    assert (cp["size"], cp["root"], cp["origin"]) == (FIRST, signed.root_hash.hex(), DEFAULT_ORIGIN)
    proved = {d["leaf"]: d for d in steps(out, "inclusion")}
    assert sorted(proved) == leaves and all(d["ok"] for d in proved.values())
    for n, (leaf_hash, entry) in want.items():
        assert proved[n]["record_hash"] == leaf_hash  # tlog.RecordHash(entry) == our RFC 6962 leaf hash
        assert base64.b64decode(proved[n]["entry_sha256_input"]) == entry == b'{"n":%d}' % n
    fetched = steps(out, "done")[0]["fetched"]
    assert "tile/2/000.p/1" in fetched and "tile/1/001.p/1" in fetched and "tile/1/000" in fetched
    old = tmp_path / "old.note"
    old.write_text(cp["note"], encoding="utf-8")

    log.grow(SECOND - FIRST)  # after the auditor's bundle reads, each one recorded as a leaf
    size = SECOND + len(leaves)
    code, out = run(goclient, server, vkey, "-old", str(old), f"-leaf={size - 1}", "-leaf=3")
    assert code == 0, out
    assert steps(out, "checkpoint")[0]["size"] == size
    (consistent,) = steps(out, "consistency")
    assert consistent["ok"] and (consistent["old"], consistent["new"]) == (FIRST, size)
    assert [d["leaf"] for d in steps(out, "inclusion")] == [size - 1, 3]

    forged = sign_checkpoint(key, FIRST, bytes(32), timestamp=signed.timestamp_ms)  # our key, another tree
    old.write_text(forged.to_note(key.public_key()), encoding="utf-8")
    code, out = run(goclient, server, vkey, "-old", str(old))
    assert code == 1 and out[-1]["step"] == "consistency" and not out[-1]["ok"]


def test_go_rejects_a_checkpoint_under_another_key(log: Log, server: str, goclient: Path) -> None:
    from greenshield.translog.checkpoint import generate_private_key

    log.grow(10)
    other = verifier_key(DEFAULT_ORIGIN, generate_private_key().public_key())
    code, out = run(goclient, server, other)
    assert code == 1 and out == [{"step": "checkpoint", "ok": False, "error": out[0]["error"]}]
    assert "unknown key" in out[0]["error"] or "verif" in out[0]["error"]
