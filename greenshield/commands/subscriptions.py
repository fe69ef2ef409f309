"""``greenshield subscriptions create|list|pause|resume|delete|redrive``: the departments' webhooks (the regulator's view)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from greenshield.commands.startup import STARTUP_ERRORS
from greenshield.errors import USAGE_ERROR

ACTIONS = ("pause", "resume", "delete", "redrive")


def register(sub: Any) -> None:
    p = sub.add_parser("subscriptions", help="the departments' webhook subscriptions",
                       description="Subscriptions of department tokens (see docs/sharing.md). `create` prints the "
                                   "signing secret once, as its last line.")
    cmds = p.add_subparsers(dest="subscriptions_command", metavar="ACTION")
    cmds.required = True
    c = cmds.add_parser("create", help="subscribe a department token's callback; prints the secret last")
    c.add_argument("--token", required=True, metavar="ID", help="the department token's id (tokens list)")
    where = c.add_mutually_exclusive_group(required=True)
    where.add_argument("--callback", metavar="URL", help="an https:// URL that receives the messages")
    where.add_argument("--pull", action="store_true", help="no callback: the department reads GET /v1/feed")
    c.add_argument("--filter", default="all", metavar="FILTER",
                   help="'types=violation.opened,...;rules=...;severities=...;regions=...;enterprises=...' inside the "
                        "token's scope (a kind left out: as the scope allows); default all")
    _db(c)
    c.set_defaults(func=create)
    ls = cmds.add_parser("list", help="every subscription with its state and backlog (never the secret)")
    ls.add_argument("--token", metavar="ID", help="only this token's")
    ls.add_argument("--json", action="store_true", help="one JSON object per line")
    _db(ls)
    ls.set_defaults(func=list_)
    for action in ACTIONS:
        a = cmds.add_parser(action, help={"pause": "stop sending (the backlog is kept)", "resume": "send again",
                                          "delete": "stop for good (the queue is dropped, the record kept)",
                                          "redrive": "send the parked messages again"}[action])
        a.add_argument("id", metavar="SUBSCRIPTION")
        _db(a)
        a.set_defaults(func=change, action=action)


def _db(p: argparse.ArgumentParser) -> None:
    p.add_argument("--db", metavar="URL", help="SQLAlchemy URL of the store (default: GREENSHIELD_DB_URL)")


def _open(args: argparse.Namespace, action: str) -> Any:
    from greenshield.settings import Settings
    from greenshield.store import tokens
    from greenshield.store.database import Store

    try:
        settings = Settings.from_env()
        store = Store.open(args.db or settings.db_url)
        tokens.ensure_tables(store)
    except STARTUP_ERRORS + (RuntimeError,) as err:
        print(f"greenshield subscriptions {action}: {err}", file=sys.stderr)
        return None, None
    return store, settings


def create(args: argparse.Namespace) -> int:
    from greenshield.share.scope import parse
    from greenshield.share.webhooks import check_callback
    from greenshield.store import outbox, tokens

    store, settings = _open(args, "create")
    if store is None:
        return USAGE_ERROR
    try:
        with store.read() as conn:
            token = tokens.by_id(conn, args.token)
        if token is None:
            raise ValueError(f"no token {args.token}")
        callback = "" if args.pull else check_callback(args.callback, settings.notify_allow_local_http)
        sub = outbox.create(store, token, callback, parse(args.filter))
    except ValueError as err:
        print(f"greenshield subscriptions create: {err}", file=sys.stderr)
        return USAGE_ERROR
    finally:
        store.close()
    print(f"created subscription {sub.id} for token {sub.token_id} ({sub.filter.describe()}); its signing secret "
          f"is shown only now:")
    print(sub.secret)
    return 0


def list_(args: argparse.Namespace) -> int:
    from greenshield.commands.tables import render
    from greenshield.store import outbox

    store, _ = _open(args, "list")
    if store is None:
        return USAGE_ERROR
    try:
        with store.read() as conn:
            subs = [(s, outbox.backlog(conn, s.id)) for s in outbox.listing(conn, args.token)]
    finally:
        store.close()
    if args.json:
        for s, counts in subs:
            print(json.dumps({**s.public(), "backlog": counts}, ensure_ascii=False, sort_keys=True))
        return 0
    rows = [[s.id, s.token_id, s.state, s.callback or "(pull: GET /v1/feed)", s.filter.describe(),
             " ".join(f"{k}={v}" for k, v in sorted(c.items())) or "-", s.reason or "-"] for s, c in subs]
    print(render(("id", "token", "state", "callback", "filter", "messages", "reason"), rows))
    return 0


def change(args: argparse.Namespace) -> int:
    from greenshield.store import outbox

    store, _ = _open(args, args.action)
    if store is None:
        return USAGE_ERROR
    try:
        sub = outbox.change(store, args.id, args.action)
    except outbox.SubscriptionError as err:
        print(f"greenshield subscriptions {args.action}: {err}", file=sys.stderr)
        return 1
    finally:
        store.close()
    print(f"subscription {sub.id}: {sub.state}")
    return 0
