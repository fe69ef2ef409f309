"""``greenshield tokens create|revoke|list``: the service's access tokens (only their SHA-256 is stored)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from greenshield.commands.startup import STARTUP_ERRORS
from greenshield.errors import USAGE_ERROR

ROLES = ("enterprise", "regulator", "registrar", "auditor", "department")  # = greenshield.store.tokens.ROLES (a test checks)


def register(sub: Any) -> None:
    p = sub.add_parser("tokens", help="create, revoke or list API tokens",
                       description="Tokens of `greenshield serve`. The token is printed once, as the last line "
                                   "of `create`; the store keeps only its SHA-256.")
    cmds = p.add_subparsers(dest="tokens_command", metavar="ACTION")
    cmds.required = True
    c = cmds.add_parser("create", help="issue a token; prints it as the last line")
    c.add_argument("--role", required=True, choices=ROLES,
                   help="enterprise: its own parcel events and verdicts; regulator: every verdict, the dashboard "
                        "and registry records; registrar: registry records only (the registry feed); "
                        "auditor: proofs and sender lookups; department: subscriptions to the messages of its "
                        "--scope (docs/sharing.md)")
    c.add_argument("--enterprise", metavar="E", help="the enterprise an enterprise token is limited to")
    c.add_argument("--scope", metavar="SCOPE",
                   help="a department's scope: 'rules=PH-1,PH-2;severities=critical;regions=320500;"
                        "enterprises=E3100001' (a kind left out: all of it), or 'all'")
    c.add_argument("--label", default="", help="who or what holds it (kept with the token)")
    _db(c)
    c.set_defaults(func=create)
    r = cmds.add_parser("revoke", help="withdraw a token at once, by its id or the token itself")
    r.add_argument("ident", metavar="ID|TOKEN")
    _db(r)
    r.set_defaults(func=revoke)
    ls = cmds.add_parser("list", help="every token's id, role, enterprise, label and state (never the token)")
    _db(ls)
    ls.set_defaults(func=list_)


def _db(p: argparse.ArgumentParser) -> None:
    p.add_argument("--db", metavar="URL", help="SQLAlchemy URL of the store (default: GREENSHIELD_DB_URL)")


def _open(args: argparse.Namespace, action: str) -> Any:
    from greenshield.settings import Settings
    from greenshield.store import tokens
    from greenshield.store.database import Store

    try:
        store = Store.open(args.db or Settings.from_env().db_url)
        tokens.ensure_tables(store)
    except STARTUP_ERRORS + (RuntimeError,) as err:
        print(f"greenshield tokens {action}: {err}", file=sys.stderr)
        return None
    return store


def create(args: argparse.Namespace) -> int:
    from greenshield.share.scope import parse
    from greenshield.store import tokens

    try:
        scope = parse(args.scope) if args.scope is not None else None
        tokens.validate_grant(args.role, args.enterprise, scope)
    except ValueError as err:
        print(f"greenshield tokens create: {err}", file=sys.stderr)
        return USAGE_ERROR
    store = _open(args, "create")
    if store is None:
        return USAGE_ERROR
    try:
        record, text = tokens.create(store, args.role, args.enterprise, args.label, scope=scope)
    finally:
        store.close()
    whom = f" for {record.enterprise_id}" if record.enterprise_id else ""
    whom += f" with scope {record.scope.describe()}" if record.scope is not None else ""
    print(f"created {record.role} token{whom}, id {record.id}; it is shown only now:")
    print(text)
    return 0


def revoke(args: argparse.Namespace) -> int:
    from greenshield.store import tokens

    store = _open(args, "revoke")
    if store is None:
        return USAGE_ERROR
    try:
        found = tokens.revoke(store, args.ident)
    finally:
        store.close()
    if found is None:
        print("greenshield tokens revoke: no such token", file=sys.stderr)
        return 1
    print(f"revoked token {found.id} ({found.role})")
    return 0


def list_(args: argparse.Namespace) -> int:
    from greenshield.commands.tables import render
    from greenshield.store import tokens

    store = _open(args, "list")
    if store is None:
        return USAGE_ERROR
    try:
        with store.read() as conn:
            found = tokens.list_tokens(conn)
    finally:
        store.close()
    rows = [[t.id, t.role, t.enterprise_id or (t.scope.describe() if t.scope else "-"),
             "active" if t.active else "revoked", t.label or "-"] for t in found]
    print(render(("id", "role", "enterprise/scope", "state", "label"), rows))
    return 0
