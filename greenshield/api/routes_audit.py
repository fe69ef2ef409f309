"""The audit log for auditors: signed checkpoints, the signing key, inclusion and consistency proofs.

A proof is served with the leaf's data, so a client can hash the entry itself
(``SHA-256(0x00 || data)``), walk the audit path to the root and check the signed
checkpoint with the public key it trusts: nothing of the answer needs to be taken
on the server's word. The auditor page does exactly that in the browser.
"""

from __future__ import annotations

import base64
from typing import Annotated, Any

from cryptography.hazmat.primitives import serialization
from fastapi import APIRouter, Depends, Path, Query, Request
from starlette.concurrency import run_in_threadpool

from greenshield.api.auth import Principal, require
from greenshield.api.errors import bad_request, not_found
from greenshield.api.models import Checkpoints, ConsistencyProof, InclusionProof, PublicKey
from greenshield.api.params import BAD, ERRORS, NOT_FOUND, Json
from greenshield.api.service import Service, service_of
from greenshield.store.audit_log import all_checkpoints, leaf_hashes, prove_consistency, prove_inclusion, root_at
from greenshield.store.stats import leaf_entry, tree_size
from greenshield.translog.checkpoint import DEFAULT_ORIGIN, key_id, verifier_key
from greenshield.translog.proofs import InclusionProof as Proof

router = APIRouter(tags=["audit log"])
MAX_U63 = (1 << 63) - 1


def _log(service: Service, principal: Principal, name: str, params: dict[str, Any], results: int) -> None:
    if principal.recorded:
        service.record(name, {**params, "asked_by": principal.who()}, results)


@router.get("/v1/audit/checkpoints", response_model=Checkpoints, responses=ERRORS)
async def checkpoints(request: Request, principal: Annotated[Principal, Depends(require("checkpoints"))],
                      limit: Annotated[int, Query(ge=1, le=1000)] = 20) -> Json:
    """The latest signed checkpoints (tree heads), newest first."""
    service = service_of(request)

    def read() -> dict[str, Any]:
        with service.store.snapshot() as conn:
            found = [cp.to_dict() for _, cp in all_checkpoints(conn)][::-1][:limit]
            return {"tree_size": tree_size(conn), "checkpoints": found}

    doc = await run_in_threadpool(read)
    await run_in_threadpool(_log, service, principal, "api.audit.checkpoints", {"limit": limit},
                            len(doc["checkpoints"]))
    return Json(doc)


@router.get("/v1/audit/public-key", response_model=PublicKey, responses=ERRORS)
async def public_key(request: Request, _: Annotated[Principal, Depends(require("checkpoints"))]) -> Json:
    """The key checkpoints are signed with. Pin it out of band: a key fetched here is only as good as the server."""
    key = service_of(request).sequencer.key.public_key()
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    pem = key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    return Json({"key_id": key_id(key), "pem": pem, "raw_base64": base64.b64encode(raw).decode(),
                 "verifier_key": verifier_key(DEFAULT_ORIGIN, key)})


@router.get("/v1/audit/proof/{n}", response_model=InclusionProof, responses={**ERRORS, **NOT_FOUND})
async def proof(request: Request, principal: Annotated[Principal, Depends(require("proofs"))],
                n: Annotated[int, Path(ge=0, le=MAX_U63, description="leaf index (an event's audit_entry)")]) -> Json:
    """Inclusion proof of leaf ``n`` in the tree of the latest checkpoint, with the leaf's data."""
    service = service_of(request)

    def read() -> dict[str, Any] | None:
        with service.store.snapshot() as conn:
            found = all_checkpoints(conn)
            if not found or n >= found[-1][1].tree_size:
                return None
            cp = max((c for _, c in found), key=lambda c: c.tree_size)
            entry = leaf_entry(conn, n)
            if entry is None:
                return None
            leaf = leaf_hashes(conn, n, n + 1)[0]
            path = prove_inclusion(conn, n, cp.tree_size)
        doc = Proof(n, cp.tree_size, leaf, tuple(path), cp.root_hash, cp.to_dict()).to_dict()
        return {**doc, "entry": {"kind": entry[0], "base64": base64.b64encode(entry[1]).decode()}}

    doc = await run_in_threadpool(read)
    await run_in_threadpool(_log, service, principal, "api.audit.proof", {"leaf_index": n}, int(doc is not None))
    if doc is None:
        raise not_found("no such leaf under the latest checkpoint")
    return Json(doc)


@router.get("/v1/audit/consistency", response_model=ConsistencyProof, responses={**ERRORS, **BAD})
async def consistency(request: Request, principal: Annotated[Principal, Depends(require("proofs"))],
                      first: Annotated[int, Query(ge=1, le=MAX_U63)],
                      second: Annotated[int, Query(ge=1, le=MAX_U63)]) -> Json:
    """RFC 9162 consistency proof from tree size ``first`` to ``second`` (with their checkpoints, if signed)."""
    service = service_of(request)

    def read() -> dict[str, Any] | None:
        with service.store.snapshot() as conn:
            size = tree_size(conn)
            if not first <= second <= size:
                return None
            signed = {cp.tree_size: cp.to_dict() for _, cp in all_checkpoints(conn)}
            doc: dict[str, Any] = {"first": first, "second": second, "first_root": root_at(conn, first).hex(),
                                   "second_root": root_at(conn, second).hex(),
                                   "proof": [h.hex() for h in prove_consistency(conn, first, second)]}
        for name, at in (("first_checkpoint", first), ("second_checkpoint", second)):
            if at in signed:
                doc[name] = signed[at]
        return doc

    doc = await run_in_threadpool(read)
    await run_in_threadpool(_log, service, principal, "api.audit.consistency",
                            {"first": first, "second": second}, int(doc is not None))
    if doc is None:
        raise bad_request("need 1 <= first <= second <= the tree size")
    return Json(doc)
