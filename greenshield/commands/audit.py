"""``greenshield audit verify|checkpoint|rebuild-nodes|proof|consistency|check-proof|purge``: the log's tools.

Trust must not come from the store being checked: ``audit checkpoint --out FILE``
exports the latest signed checkpoint for the auditor to keep elsewhere, and
``audit verify --trusted FILE`` (or ``GREENSHIELD_TRUSTED_CHECKPOINT=FILE``) proves the
store extends it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from greenshield.errors import USAGE_ERROR


def register(sub: Any) -> None:
    p = sub.add_parser("audit", help="verify the audit log, print or check proofs, purge personal data",
                       description="Tools of the tamper-evident audit log (RFC 6962 Merkle tree, signed checkpoints).")
    cmds = p.add_subparsers(dest="audit_command", metavar="ACTION")
    cmds.required = True

    v = cmds.add_parser("verify", help="re-derive every leaf from the stored rows and check every checkpoint",
                        description="Exit 0 when the store is intact; otherwise exit 1 and name the first bad entry.")
    _db(v)
    v.add_argument("--public-key", type=Path, metavar="FILE", help="trusted Ed25519 public key (PEM); default: "
                                                                   "the configured signing key's")
    v.add_argument("--trusted", type=Path, metavar="CHECKPOINT",
                   help="a signed checkpoint kept outside the store (the signed note of `audit checkpoint`, its "
                        "--json form, or a proof document); the store must extend it. Default: "
                        "GREENSHIELD_TRUSTED_CHECKPOINT")
    v.add_argument("--json", action="store_true")
    v.set_defaults(func=verify)

    cp = cmds.add_parser("checkpoint", help="print (or save) the latest signed checkpoint, to keep outside the store",
                         description="The C2SP signed note of the latest checkpoint (--json: its JSON form). Keep it "
                                     "where the store's operators cannot write, and pass it to `audit verify "
                                     "--trusted`.")
    _db(cp)
    cp.add_argument("--out", type=Path, metavar="FILE", help="write it to FILE (refuses to overwrite)")
    cp.add_argument("--json", action="store_true")
    cp.set_defaults(func=checkpoint)

    rn = cmds.add_parser("rebuild-nodes", help="recompute the cached subtree hashes (audit_nodes) from the leaves",
                         description="Repairs a lost or damaged cache of perfect subtrees; run `audit verify` "
                                     "afterwards: the leaves are still checked against the signed checkpoints.")
    _db(rn)
    rn.set_defaults(func=rebuild_nodes)

    pr = cmds.add_parser("proof", help="inclusion proof of entry N against the latest checkpoint")
    pr.add_argument("index", type=int, metavar="N")
    _db(pr)
    pr.add_argument("--json", action="store_true")
    pr.set_defaults(func=proof)

    c = cmds.add_parser("consistency", help="consistency proof from tree size M to tree size N")
    c.add_argument("first", type=int, metavar="M")
    c.add_argument("second", type=int, metavar="N")
    _db(c)
    c.add_argument("--json", action="store_true")
    c.set_defaults(func=consistency)

    k = cmds.add_parser("check-proof", help="verify a proof document offline (exit 0 valid, 1 not)")
    k.add_argument("file", type=Path, metavar="FILE.json")
    k.add_argument("--public-key", type=Path, metavar="FILE", help="also check the checkpoint's signature")
    k.set_defaults(func=check_proof)

    g = cmds.add_parser("purge", help="erase personal-data fields of events older than the retention period")
    _db(g)
    g.add_argument("--older-than", type=int, metavar="DAYS", help="default: GREENSHIELD_RETENTION_DAYS (365)")
    g.set_defaults(func=purge)


def _db(p: argparse.ArgumentParser) -> None:
    p.add_argument("--db", metavar="URL", help="SQLAlchemy URL of the store (default: GREENSHIELD_DB_URL)")


def _fail(what: str, err: object) -> int:
    print(f"greenshield audit {what}: {err}", file=sys.stderr)
    return USAGE_ERROR


def _dump(doc: Any) -> None:
    import orjson

    sys.stdout.buffer.write(orjson.dumps(doc, option=orjson.OPT_INDENT_2 | orjson.OPT_APPEND_NEWLINE))


def verify(args: argparse.Namespace) -> int:
    from greenshield.settings import Settings
    from greenshield.store.audit_log import Policy
    from greenshield.store.database import SchemaError, Store
    from greenshield.store.verify import verify as check
    from greenshield.translog.checkpoint import CheckpointError, load_checkpoint_file
    from greenshield.translog.keys import KeyConfigError, public_key

    try:
        settings = Settings.from_env()
        pinned = args.trusted or settings.trusted_checkpoint_file
        key = public_key(settings, args.public_key)
        trusted = load_checkpoint_file(pinned) if pinned is not None else None
        policy = Policy(settings.checkpoint_every_entries, settings.checkpoint_every_seconds)
        store = Store.open(args.db or settings.db_url, create=False)
    except (ValueError, OSError, KeyConfigError, SchemaError, CheckpointError) as err:
        return _fail("verify", err)
    try:
        report = check(store, key, trusted, policy)
    finally:
        store.close()
    _print_report(report, args.json)
    return 0 if report.ok else 1


def _print_report(report: Any, as_json: bool) -> None:
    first = report.first()
    if as_json:
        _dump({"ok": report.ok, "tree_size": report.tree_size, "signed_size": report.signed_size,
               "checkpoints": report.checkpoints, "trusted_size": report.trusted_size,
               "first_bad": first.message if first else None,
               "findings": [f.message for f in sorted(report.findings)], "notes": report.notes,
               "warnings": report.warnings})
        return
    for warning in report.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    for note in report.notes:
        print(f"note: {note}")
    if first is None:
        trusted = (f"; extends the trusted checkpoint of tree size {report.trusted_size}"
                   if report.trusted_size is not None else "")
        print(f"OK: {report.tree_size} entries re-derived from the stored rows; {report.checkpoints} "
              f"checkpoint(s) verified, signed through tree size {report.signed_size}{trusted}")
    else:
        print(f"FAIL: first bad entry: {first.message}")
        for more in sorted(report.findings)[1:20]:
            print(f"  also: {more.message}")
        if len(report.findings) > 20:
            print(f"({len(report.findings) - 20} more finding(s))")


def checkpoint(args: argparse.Namespace) -> int:
    from greenshield.settings import Settings
    from greenshield.store.audit_log import latest_checkpoint
    from greenshield.store.database import SchemaError, Store
    from greenshield.translog.keys import KeyConfigError, public_key

    try:
        settings = Settings.from_env()
        store = Store.open(args.db or settings.db_url, create=False)
    except (ValueError, OSError, SchemaError) as err:
        return _fail("checkpoint", err)
    try:
        with store.snapshot() as conn:
            cp = latest_checkpoint(conn)
    finally:
        store.close()
    if cp is None:
        print("greenshield audit checkpoint: the store has no checkpoint yet", file=sys.stderr)
        return 1
    try:
        import orjson

        text = (orjson.dumps(cp.to_dict(), option=orjson.OPT_INDENT_2 | orjson.OPT_APPEND_NEWLINE).decode()
                if args.json else cp.to_note(public_key(settings)))
    except KeyConfigError as err:
        return _fail("checkpoint", f"{err} (or use --json, which needs no key)")
    if args.out is None:
        sys.stdout.write(text)
        return 0
    try:
        with open(args.out, "x", encoding="utf-8") as f:
            f.write(text)
    except OSError as err:
        return _fail("checkpoint", f"cannot write {args.out}: {err.strerror or err}")
    print(f"saved checkpoint of tree size {cp.tree_size} to {args.out}", file=sys.stderr)
    return 0


def rebuild_nodes(args: argparse.Namespace) -> int:
    from greenshield.settings import Settings
    from greenshield.store.audit_log import rebuild_nodes as rebuild
    from greenshield.store.database import SchemaError, Store

    try:
        store = Store.open(args.db or Settings.from_env().db_url, create=False)
    except (ValueError, OSError, SchemaError) as err:
        return _fail("rebuild-nodes", err)
    try:
        written, differing = rebuild(store)
    finally:
        store.close()
    print(f"rebuilt {written} cached subtree(s) from the leaves; {differing} were missing or different",
          file=sys.stderr)
    return 0


def proof(args: argparse.Namespace) -> int:
    from greenshield.settings import Settings
    from greenshield.store.audit_log import latest_checkpoint, leaf_hashes, prove_inclusion
    from greenshield.store.database import SchemaError, Store
    from greenshield.translog.proofs import InclusionProof

    try:
        store = Store.open(args.db or Settings.from_env().db_url, create=False)
    except (ValueError, OSError, SchemaError) as err:
        return _fail("proof", err)
    try:
        with store.snapshot() as conn:
            cp = latest_checkpoint(conn)
            if cp is None or not 0 <= args.index < cp.tree_size:
                size = cp.tree_size if cp else 0
                print(f"greenshield audit proof: entry {args.index} is not covered by the latest checkpoint "
                      f"(tree size {size})", file=sys.stderr)
                return 1
            leaf = leaf_hashes(conn, args.index, args.index + 1)
            path = prove_inclusion(conn, args.index, cp.tree_size)
    finally:
        store.close()
    doc = InclusionProof(args.index, cp.tree_size, leaf[0], tuple(path), cp.root_hash, cp.to_dict()).to_dict()
    if args.json:
        _dump(doc)
    else:
        print(f"entry {args.index} of {cp.tree_size}: leaf hash {doc['leaf_hash']}")
        print(f"root {doc['root_hash']} (checkpoint at {cp.timestamp}, key {cp.key_id[:16]}…)")
        for i, h in enumerate(doc["audit_path"]):
            print(f"  path[{i}] {h}")
    return 0


def consistency(args: argparse.Namespace) -> int:
    from greenshield.settings import Settings
    from greenshield.store.audit_log import prove_consistency, root_at
    from greenshield.store.database import SchemaError, Store

    try:
        store = Store.open(args.db or Settings.from_env().db_url, create=False)
    except (ValueError, OSError, SchemaError) as err:
        return _fail("consistency", err)
    try:
        with store.snapshot() as conn:
            size = int(conn.exec_driver_sql("SELECT tree_size FROM audit_state").scalar_one())
            if not 0 < args.first <= args.second <= size:
                print(f"greenshield audit consistency: need 0 < M <= N <= {size} (the tree size)", file=sys.stderr)
                return 1
            doc = {"first": args.first, "second": args.second,
                   "first_root": root_at(conn, args.first).hex(), "second_root": root_at(conn, args.second).hex(),
                   "proof": [h.hex() for h in prove_consistency(conn, args.first, args.second)]}
    finally:
        store.close()
    if args.json:
        _dump(doc)
    else:
        print(f"tree {args.first} (root {doc['first_root']}) is a prefix of tree {args.second} "
              f"(root {doc['second_root']})")
        for i, h in enumerate(doc["proof"]):
            print(f"  proof[{i}] {h}")
    return 0


def check_proof(args: argparse.Namespace) -> int:
    from greenshield.translog.proofs import check_proof_file

    valid, message = check_proof_file(args.file, args.public_key)
    print(message)
    return 0 if valid else 1


def purge(args: argparse.Namespace) -> int:
    from greenshield.settings import Settings
    from greenshield.store.database import SchemaError
    from greenshield.store.pipeline import open_audit
    from greenshield.store.retention import purge as erase
    from greenshield.translog.keys import KeyConfigError

    try:
        settings = Settings.from_env()
        days = settings.retention_days if args.older_than is None else args.older_than
        audit = open_audit(settings, args.db, create=False)
    except (ValueError, OSError, KeyConfigError, SchemaError) as err:
        return _fail("purge", err)
    try:
        count = erase(audit.store, days)
    except ValueError as err:
        return _fail("purge", err)
    finally:
        audit.close()
    print(f"purged the personal data of {count} event(s) older than {days} day(s)", file=sys.stderr)
    return 0
