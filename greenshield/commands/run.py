"""``greenshield run``: the embedded pipeline - check event files and keep everything in the audit store."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

USAGE_ERROR = 2


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

    from greenshield.audit.keys import KeyConfigError
    from greenshield.audit.pipeline import open_audit
    from greenshield.audit.pipeline import run as run_pipeline
    from greenshield.audit.store import SchemaError
    from greenshield.commands.check import _lines, _open
    from greenshield.rules.pack import default_pack, load_pack
    from greenshield.rules.timestamps import TimestampError, parse_instant
    from greenshield.settings import Settings

    try:
        settings = Settings.from_env()
        setup_logging(settings.log_level)
        pack = load_pack(args.rules) if args.rules else default_pack()
        model = risk_model(args.model or settings.risk_model_file)
        as_of = parse_instant(args.as_of) if args.as_of else None
        audit = open_audit(settings, args.db)
    except (ValueError, OSError, TimestampError, KeyConfigError, SchemaError) as err:
        print(f"greenshield run: {err}", file=sys.stderr)
        return USAGE_ERROR
    try:
        with ExitStack() as stack:
            sources = ((_source_name(path), _lines(_open(path, stack))) for path in args.files)
            report = run_pipeline(audit, sources, pack, as_of, model)
    except OSError as err:
        print(f"greenshield run: cannot read input: {err.strerror or err}", file=sys.stderr)
        return USAGE_ERROR
    finally:
        done = audit.close()
    print(f"{report.summary()} tree_size={done.tree_size}", file=sys.stderr)
    return 0


def risk_model(path: Path | None) -> Any:
    """The risk model at ``path``, else the shipped one (``ValueError`` says what is wrong)."""
    from greenshield.risk.model import default_model, load_model

    return load_model(path) if path else default_model()


def _source_name(path: str) -> str:
    return "<stdin>" if path == "-" else str(Path(path).resolve())


def setup_logging(level: str) -> None:
    """Structured ``key=value`` log lines on stderr (never personal data: the store never holds any)."""
    import logging

    logging.basicConfig(level=getattr(logging, level, logging.WARNING), stream=sys.stderr,
                        format="ts=%(asctime)s level=%(levelname)s logger=%(name)s %(message)s")
