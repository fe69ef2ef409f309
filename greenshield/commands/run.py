"""``greenshield run``: the embedded pipeline - check event files and keep everything in the audit store."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from greenshield.commands.startup import STARTUP_ERRORS, risk_model, setup_logging
from greenshield.errors import USAGE_ERROR


def register(sub: Any) -> None:
    p = sub.add_parser("run", help="check event files and store events, verdicts and audit entries",
                       description="Validate, de-duplicate and check events like `check`, then store events, "
                                   "violations, rejects and audit entries. Idempotent by (enterprise_id, event_id): "
                                   "running a file twice adds nothing. A summary line goes to stderr.")
    p.add_argument("files", nargs="+", metavar="FILE", help="JSON Lines ('-' is stdin; .gz read transparently)")
    add_db_argument(p)
    p.add_argument("--as-of", help="RFC 3339 instant of the verdict (default: latest stored parcel event)")
    p.add_argument("--rules", type=Path, metavar="PACK.toml", help="rule pack (default: greenshield-default@1)")
    p.add_argument("--model", type=Path, metavar="MODEL.toml",
                   help="risk model whose [credit.tighten] a stored grade applies (default: GREENSHIELD_RISK_MODEL, "
                        "else the shipped one)")
    p.set_defaults(func=run)


def add_db_argument(p: argparse.ArgumentParser) -> None:
    p.add_argument("--db", metavar="URL", help="SQLAlchemy URL of the store (default: GREENSHIELD_DB_URL, "
                                               "else a SQLite file in the data directory)")


def run(args: argparse.Namespace) -> int:
    from contextlib import ExitStack

    from greenshield.commands.inputs import lines, open_input
    from greenshield.rules.pack import default_pack, load_pack
    from greenshield.rules.timestamps import parse_instant
    from greenshield.settings import Settings
    from greenshield.store.pipeline import open_audit, run as run_pipeline

    try:
        settings = Settings.from_env()
        setup_logging(settings.log_level)
        pack = load_pack(args.rules) if args.rules else default_pack()
        model = risk_model(args.model or settings.risk_model_file)
        as_of = parse_instant(args.as_of) if args.as_of else None
        audit = open_audit(settings, args.db)
    except STARTUP_ERRORS as err:
        print(f"greenshield run: {err}", file=sys.stderr)
        return USAGE_ERROR
    try:
        with ExitStack() as stack:
            sources = ((_source_name(path), lines(open_input(path, stack))) for path in args.files)
            report = run_pipeline(audit, sources, pack, as_of, model)
    except OSError as err:
        print(f"greenshield run: cannot read input: {err.strerror or err}", file=sys.stderr)
        return USAGE_ERROR
    finally:
        done = audit.close()
    print(f"{report.summary()} tree_size={done.tree_size}", file=sys.stderr)
    return 0


def _source_name(path: str) -> str:
    return "<stdin>" if path == "-" else str(Path(path).resolve())
