"""The audit log as a C2SP tiled transparency log (tlog-tiles), for any standard client.

``GET /checkpoint`` is the latest signed checkpoint as a C2SP signed note; ``GET
/tile/<L>/<N>[.p/<W>]`` the hash tiles, both public (hashes only, no token). ``GET
/tile/entries/<N>[.p/<W>]`` serves entry bundles (the leaf data) to auditor tokens.
Everything is cut at the latest checkpoint's tree size: a tile is served when all its
hashes are complete subtrees of that tree, so a client sees one tree, the signed one.
A tile's bytes never change, whatever its width; only the checkpoint moves.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from greenshield.api.auth import Principal, require
from greenshield.api.errors import ApiError, bad_request, not_found
from greenshield.api.service import Service, service_of
from greenshield.store.audit_log import latest_checkpoint
from greenshield.store.tile_reads import leaf_entries, tile_hashes
from greenshield.translog.checkpoint import Checkpoint, key_id
from greenshield.translog.tiles import Tile, TilePathError, entry_bundle, parse_path

router = APIRouter(tags=["transparency log (C2SP tlog-tiles)"])
NOTE_TYPE = "text/plain; charset=utf-8"
TILE_TYPE = "application/octet-stream"
CHECKPOINT_CACHE = "public, max-age=5"
TILE_CACHE = "public, max-age=31536000, immutable"
ENTRIES_CACHE = "private, max-age=31536000, immutable"


def _latest(service: Service) -> Checkpoint:
    with service.store.read() as conn:
        cp = latest_checkpoint(conn)
    if cp is None:
        raise not_found("no checkpoint has been signed yet")
    return cp


@router.get("/checkpoint", response_class=Response, responses={200: {"content": {NOTE_TYPE: {}}}})
async def checkpoint(request: Request) -> Response:
    """The latest signed checkpoint, a C2SP signed note (verifier key: ``/v1/audit/public-key``)."""
    service = service_of(request)
    cp = await run_in_threadpool(_latest, service)
    key = service.sequencer.key.public_key()
    if cp.key_id != key_id(key):
        raise ApiError(503, "the latest checkpoint is signed by a key this service does not hold")
    return Response(cp.to_note(key), media_type=NOTE_TYPE, headers={"Cache-Control": CHECKPOINT_CACHE})


def _tile(rest: str, want_entries: bool) -> Tile:
    try:
        tile = parse_path(rest)
    except TilePathError as err:
        raise bad_request(str(err)) from None
    if (tile.level is None) != want_entries:
        raise not_found("no such tile")
    return tile


def _read(service: Service, tile: Tile) -> bytes | None:
    with service.store.snapshot() as conn:
        cp = latest_checkpoint(conn)
        if cp is None or not tile.within(cp.tree_size):
            return None
        if tile.level is not None:
            return tile_hashes(conn, tile)
        return entry_bundle(leaf_entries(conn, *tile.leaves()))


@router.get("/tile/entries/{rest:path}", response_class=Response,
            responses={200: {"content": {TILE_TYPE: {}}}})
async def entries(request: Request, rest: str,
                  principal: Annotated[Principal, Depends(require("proofs"))]) -> Response:
    """An entry bundle: the leaves' data, each prefixed with its big-endian uint16 length (auditors)."""
    service = service_of(request)
    tile = _tile("entries/" + rest, want_entries=True)
    try:
        body = await run_in_threadpool(_read, service, tile)
    except ValueError:
        raise ApiError(422, "an entry of this bundle is longer than 65,535 bytes") from None
    if principal.recorded:
        await run_in_threadpool(service.record, "api.tlog.entries",
                                {"tile": tile.path(), "asked_by": principal.who()}, int(body is not None))
    if body is None:
        raise not_found("the bundle lies beyond the latest checkpoint")
    return Response(body, media_type=TILE_TYPE, headers={"Cache-Control": ENTRIES_CACHE})


@router.get("/tile/{rest:path}", response_class=Response, responses={200: {"content": {TILE_TYPE: {}}}})
async def tile(request: Request, rest: str) -> Response:
    """A hash tile: ``W`` (256 when full) concatenated 32-byte hashes of tree level ``8 * L``."""
    found = _tile(rest, want_entries=False)
    body = await run_in_threadpool(_read, service_of(request), found)
    if body is None:
        raise not_found("the tile lies beyond the latest checkpoint")
    return Response(body, media_type=TILE_TYPE, headers={"Cache-Control": TILE_CACHE})
