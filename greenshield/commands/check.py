"""``greenshield check``: the contract's verdict over JSON Lines files (no Kafka, no store)."""

from __future__ import annotations

import argparse
import gc
import os
import sys
import zlib
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from greenshield.commands.inputs import lines, open_input
from greenshield.commands.startup import risk_model
from greenshield.errors import USAGE_ERROR


def register(sub: Any) -> None:
    p = sub.add_parser("check", help="print the verdict of the contract's rules over event files",
                       description="Validate, de-duplicate and check events (JSON Lines; '-' is stdin; "
                                   ".gz read transparently). Violations go to stdout, one summary line to stderr.")
    p.add_argument("files", nargs="+", metavar="FILE")
    p.add_argument("--as-of", help="RFC 3339 instant of the verdict (default: latest parcel event)")
    p.add_argument("--rules", type=Path, metavar="PACK.toml", help="rule pack (default: greenshield-default@1)")
    p.add_argument("--grades", type=Path, metavar="GRADES.jsonl",
                   help="enterprises' credit grades as `greenshield credit --json` prints them: a graded "
                        "enterprise's later parcels get the pack its grade tightens (the risk model's "
                        "[credit.tighten]; docs/credit.md)")
    p.add_argument("--model", type=Path, metavar="MODEL.toml", help="risk model for --grades (default: the shipped one)")
    p.add_argument("--rejects", type=Path, metavar="OUT.jsonl", help="write rejected lines with reasons here")
    p.add_argument("--format", choices=("jsonl", "table"), default="jsonl")
    p.add_argument("--fail-on-violation", action="store_true", help="exit 1 when any violation exists")
    p.add_argument("--jobs", type=int, metavar="N", default=0,
                   help="worker processes (default: one per core, up to 2, for inputs of 8 MiB or more; 1: one "
                        "process). Each worker takes some enterprises' lines; the output is the same either way")
    p.set_defaults(func=run)


SPLIT_FROM = 8 * 1024 * 1024  # bytes of input from which the default splits the work


def jobs_for(requested: int, files: list[str]) -> int:
    """How many workers: ``requested`` when given; else 2 for large named files on a machine with 2+ cores."""
    if "-" in files:  # standard input is read once: one process
        return 1
    if requested > 0:
        return requested
    try:
        cores = len(os.sched_getaffinity(0))
        size = sum(os.path.getsize(f) for f in files)
    except OSError:
        return 1  # an unreadable input: the one-process run says so
    return 2 if cores >= 2 and size >= SPLIT_FROM else 1


def grade_book(pack: Any, grades: Path | None, model_file: Path | None) -> Any:
    """The per-enterprise pack of ``--grades`` (None without it); ``ValueError`` or ``OSError`` says what is wrong."""
    if grades is None:
        if model_file is not None:
            raise ValueError("--model applies to --grades: give both")
        return None
    from greenshield.risk.credit import GradeBook, read_grades

    model = risk_model(model_file)
    with open(grades, "rb") as f:
        return GradeBook(pack, model, read_grades(f, str(grades)))


def run(args: argparse.Namespace) -> int:
    # check holds every open parcel's events (acyclic values) until the verdict; the cyclic
    # collector would only re-scan that growing heap (about 8 % of the run), and the process ends after
    gc.disable()
    try:
        return _run(args)
    finally:
        gc.enable()


def _run(args: argparse.Namespace) -> int:
    from greenshield.rules.batch import BatchChecker, RejectedLine
    from greenshield.rules.output import reject_record, render_table, violation_lines
    from greenshield.rules.pack import default_pack, load_pack
    from greenshield.rules.timestamps import TimestampError, parse_instant

    try:
        pack = load_pack(args.rules) if args.rules else default_pack()
        book = grade_book(pack, args.grades, args.model)
    except (ValueError, OSError) as err:
        print(f"greenshield check: {err}", file=sys.stderr)
        return USAGE_ERROR
    try:
        as_of = parse_instant(args.as_of) if args.as_of else None
    except TimestampError as err:  # the message does not echo the text: the caller's own argument is shown
        print(f"greenshield check: --as-of {args.as_of!r}: {err}", file=sys.stderr)
        return USAGE_ERROR
    with ExitStack() as stack:
        try:
            rejects = stack.enter_context(open(args.rejects, "wb")) if args.rejects else None
        except OSError as err:
            print(f"greenshield check: cannot write rejects to {args.rejects}: {err.strerror}", file=sys.stderr)
            return USAGE_ERROR

        def on_reject(r: RejectedLine) -> None:
            if rejects is not None:
                rejects.write(reject_record(r))

        jobs = jobs_for(args.jobs, args.files)
        if jobs > 1:
            from greenshield.rules.parallel import InputError, check_split
            try:
                outcome = check_split(pack, book, args.files, open_input, as_of, jobs)
            except InputError as err:
                print(f"greenshield check: cannot read {err.path}: {err.reason}", file=sys.stderr)
                return USAGE_ERROR
            for r in outcome.rejects:
                on_reject(r)
            found, stats = outcome.violations, outcome.stats
        else:
            checker = BatchChecker(pack, on_reject, book)
            for path in args.files:
                try:
                    checker.feed(lines(open_input(path, stack)), source=path)
                except (OSError, EOFError, zlib.error) as err:
                    print(f"greenshield check: cannot read {path}: {getattr(err, 'strerror', None) or err}",
                          file=sys.stderr)
                    return USAGE_ERROR
            found, stats = checker.verdict(as_of), checker.stats
    out = sys.stdout.buffer
    if args.format == "table":
        out.write(render_table(found).encode())
    else:
        out.writelines(violation_lines(found))
    out.flush()
    print(stats.summary(), file=sys.stderr)
    return 1 if args.fail_on_violation and found else 0
