"""Tile paths, tiles and entry bundles as served: canonical paths only, cut at the signed tree, entries for auditors."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from tests.translog.tlogworld import Log, open_log

from greenshield.translog.checkpoint import parse_note, verify_checkpoint
from greenshield.translog.keys import signing_key
from greenshield.store.audit_log import latest_checkpoint, leaf_hashes, root_at
from greenshield.translog.merkle import root
from tests.support.store import isolated_schema
from greenshield.translog.tiles import Tile, TilePathError, encode_index, entry_bundle, parse_entry_bundle, parse_path, tiles_of


class TestPaths:
    def test_the_specs_index_encoding(self) -> None:
        """C2SP's example: 1234067 is x001/x234/067; small indices are one zero-padded group."""
        assert encode_index(1234067) == "x001/x234/067"
        assert encode_index(0) == "000" and encode_index(5) == "005" and encode_index(1000) == "x001/000"
        assert parse_path("0/x001/x234/067") == Tile(0, 1234067)
        assert parse_path("3/x001/x234/067.p/5") == Tile(3, 1234067, 5)
        assert parse_path("entries/012.p/255") == Tile(None, 12, 255)

    @pytest.mark.parametrize("n", [0, 1, 255, 256, 999, 1000, 65_535, 1_000_000, 2**64 - 1])
    def test_paths_round_trip(self, n: int) -> None:
        for tile in (Tile(0, n), Tile(7, n, 1), Tile(None, n, 200)):
            assert parse_path(tile.path().removeprefix("tile/")) == tile

    @pytest.mark.parametrize("bad", [
        "0", "00/000", "01/000", "64/000", "-1/000", "a/000", "0/0", "0/0000", "0/x000/001", "0/001/002",
        "0/x001", "0/x1/001", "0/000.p/0", "0/000.p/256", "0/000.p/01", "0/000.p/", "0/000.p", "0/000.q/5",
        "0/000/", "0//000", "entries", "entries/x000/000", "0/" + "x001/" * 7 + "001", "0/٠٠١",
    ])
    def test_non_canonical_paths_are_refused(self, bad: str) -> None:
        with pytest.raises(TilePathError):
            parse_path(bad)

    def test_the_specs_tree_of_70000(self) -> None:
        """70,000 leaves: 273 full level-0 tiles, one of width 112, one full level-1, one of 17, a level-2 of 1."""
        tiles = tiles_of(70_000)
        assert [t for t in tiles if t.partial] == [Tile(0, 273, 112), Tile(1, 1, 17), Tile(2, 0, 1)]
        assert sum(1 for t in tiles if t.level == 0 and not t.partial) == 273
        assert [t for t in tiles if t.level == 1 and not t.partial] == [Tile(1, 0)]
        assert [t for t in tiles_of(256) if t.level == 1] == [Tile(1, 0, 1)]
        assert all(t.within(70_000) for t in tiles) and not Tile(0, 273).within(70_000)

    def test_entry_bundles_are_uint16_length_prefixed(self) -> None:
        entries = [b"", b"a", b"x" * 300, b"\x00\xff" * 100]
        data = entry_bundle(entries)
        assert data[:5] == b"\x00\x00\x00\x01a" and data[5:7] == (300).to_bytes(2, "big")
        assert parse_entry_bundle(data) == entries
        with pytest.raises(ValueError):
            entry_bundle([b"x" * 65_536])
        with pytest.raises(ValueError):
            parse_entry_bundle(b"\x00\x05abc")


SIZE = 70_000  # signed; the tree grows on to SIZE + 300 unsigned


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Log, TestClient]]:
    """One log for the module: SIZE leaves signed, 300 more sequenced beyond the latest checkpoint."""
    log = open_log(tmp_path_factory.mktemp("tiles"))
    log.grow(SIZE)
    log.grow(300, close=False)
    with log.store.read() as conn:
        cp = latest_checkpoint(conn)
    assert cp is not None and cp.tree_size == SIZE
    try:
        with TestClient(log.app) as client:
            yield log, client
    finally:
        log.store.close()


@pytest.fixture
def grown(served: tuple[Log, TestClient]) -> Log:
    return served[0]


@pytest.fixture
def client(served: tuple[Log, TestClient]) -> TestClient:
    return served[1]


class TestServing:
    def test_the_checkpoint_is_the_latest_signed_note(self, grown: Log, client: TestClient) -> None:
        r = client.get("/checkpoint")
        assert r.status_code == 200 and r.headers["content-type"] == "text/plain; charset=utf-8"
        assert r.headers["cache-control"] == "public, max-age=5"
        cp = parse_note(r.text)
        verify_checkpoint(signing_key(grown.settings).public_key(), cp)
        assert cp.tree_size == SIZE

    def test_no_checkpoint_yet_is_404(self, log: Log) -> None:
        with TestClient(log.app) as empty:
            assert empty.get("/checkpoint").status_code == 404
            assert empty.get("/tile/0/000.p/1").status_code == 404

    def test_tiles_hold_the_tree_levels_hashes(self, grown: Log, client: TestClient) -> None:
        """Level 0 holds leaf hashes; level 1 the roots of 256-leaf subtrees; a partial tile is a prefix."""
        with grown.store.read() as conn:
            leaves = leaf_hashes(conn, 0, SIZE)
            signed_root = root_at(conn, SIZE)
        assert client.get("/tile/0/x001/017").status_code == 404  # tile 1017: beyond the tree
        full = client.get("/tile/0/017")
        assert full.status_code == 200 and full.content == b"".join(leaves[17 * 256:18 * 256])
        assert full.headers["content-type"] == "application/octet-stream"
        assert full.headers["cache-control"] == "public, max-age=31536000, immutable"
        level1 = client.get("/tile/1/000").content
        assert level1[32 * 5:32 * 6] == root(leaves[5 * 256:6 * 256])
        part = client.get("/tile/1/001.p/17").content
        assert len(part) == 17 * 32 and part[:32] == root(leaves[256 * 256:257 * 256])
        assert client.get("/tile/1/001.p/3").content == part[:96]  # any width within the tree: a prefix
        top = client.get("/tile/2/000.p/1").content
        assert top == root(leaves[:65_536])
        last = client.get("/tile/0/273.p/112").content
        assert root([*leaves[:273 * 256], *(last[i:i + 32] for i in range(0, len(last), 32))]) == signed_root

    @pytest.mark.parametrize("path", ["/tile/0/273", "/tile/0/273.p/113", "/tile/0/274.p/1", "/tile/1/001",
                                      "/tile/1/001.p/18", "/tile/2/000", "/tile/3/000.p/1", "/tile/63/x999/999"])
    def test_tiles_beyond_the_signed_tree_are_404(self, grown: Log, client: TestClient, path: str) -> None:
        """Although the tree has grown past the checkpoint, nothing beyond its size is served."""
        r = client.get(path)
        assert r.status_code == 404 and r.headers["cache-control"] == "no-store"

    @pytest.mark.parametrize("path", ["/tile/0/0", "/tile/00/000", "/tile/64/000", "/tile/0/x000/017",
                                      "/tile/0/017.p/0", "/tile/0/017.p/256", "/tile/x/000", "/tile/0",
                                      "/tile/0/%00", "/tile/0/017.p/5/6", "/tile/entries/0"])
    def test_malformed_paths_are_400_never_500(self, grown: Log, client: TestClient, path: str) -> None:
        headers = {"Authorization": f"Bearer {grown.auditor}"}
        r = client.get(path, headers=headers)
        assert r.status_code == 400 and set(r.json()) == {"error"}, (path, r.status_code)

    def test_entry_bundles_need_an_auditor_token(self, grown: Log, client: TestClient) -> None:
        assert client.get("/tile/entries/017").status_code == 401
        regulator = {"Authorization": f"Bearer {grown.regulator}"}
        assert client.get("/tile/entries/017", headers=regulator).status_code == 403
        r = client.get("/tile/entries/017", headers={"Authorization": f"Bearer {grown.auditor}"})
        assert r.status_code == 200 and r.headers["cache-control"].startswith("private")
        assert parse_entry_bundle(r.content) == [b'{"n":%d}' % n for n in range(17 * 256, 18 * 256)]
        auditor = {"Authorization": f"Bearer {grown.auditor}"}
        part = parse_entry_bundle(client.get("/tile/entries/273.p/112", headers=auditor).content)
        assert part[-1] == b'{"n":%d}' % (SIZE - 1) and len(part) == 112
        assert client.get("/tile/entries/273", headers=auditor).status_code == 404

    def test_entries_are_not_a_hash_level(self, grown: Log, client: TestClient) -> None:
        """The public route never serves a bundle, whatever the spelling."""
        assert client.get("/tile/entries/017").status_code == 401
        assert client.get("/tile/./entries/017").status_code == 401  # the client resolves the dot segment
        assert client.get("/tile//entries/017").status_code == 400  # the tile route: not a level


@pytest.mark.postgres
def test_tiles_on_postgresql(pg_url: str, tmp_path: Path) -> None:
    """The same reads on PostgreSQL: leaf hashes at level 0, stored subtree roots at level 1, entries."""
    with isolated_schema(pg_url) as url:
        log = open_log(tmp_path, url)
        try:
            log.grow(5_000)
            with log.store.read() as conn:
                leaves = leaf_hashes(conn, 0, 5_000)
            with TestClient(log.app) as client:
                assert parse_note(client.get("/checkpoint").text).tree_size == 5_000
                assert client.get("/tile/0/019.p/136").content == b"".join(leaves[19 * 256:])
                level1 = client.get("/tile/1/000.p/19").content
                assert [level1[i * 32:(i + 1) * 32] for i in range(19)] == [
                    root(leaves[i * 256:(i + 1) * 256]) for i in range(19)]
                assert client.get("/tile/1/000.p/20").status_code == 404
                bundle = client.get("/tile/entries/003", headers={"Authorization": f"Bearer {log.auditor}"})
                assert parse_entry_bundle(bundle.content) == [b'{"n":%d}' % n for n in range(768, 1024)]
        finally:
            log.store.close()
