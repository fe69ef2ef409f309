"""``check`` on several cores: forked workers each take the lines of their enterprises; one verdict, exactly.

Every worker reads every input and skips the lines of other workers' enterprises
(:func:`~greenshield.rules.batch.route`); an idempotency key and a parcel lie within one
enterprise, so each worker de-duplicates and judges its lines as one process would. The
registry is shared: the workers swap the records they accepted and each adds all of
them in input order, then all judge at one cut (``--as-of`` or the latest parcel event
of any worker). Worker 0 (this process) merges rejects by position and violations in
:func:`~greenshield.rules.batch.violation_order`: the output equals the one-process output
byte for byte. Enterprises are spread over the workers by their share of a sample.
"""

from __future__ import annotations

import os
import pickle
import re
import signal
import zlib
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from typing import IO, Any

from greenshield.errors import RulesError
from greenshield.rules.batch import BatchChecker, Position, RejectedLine, Shard, Stats, violation_order
from greenshield.rules.engine import PackFor
from greenshield.rules.model import RegistryRecord, Violation
from greenshield.rules.pack import RulePack
from greenshield.rules.timestamps import Instant

#: opens one input for reading (``-`` is not splittable: the caller runs those in one process)
Opener = Callable[[str, ExitStack], IO[bytes]]

_ENTERPRISE = re.compile(rb'"enterprise_id":"(E[0-9]{7})"')
_SAMPLES, _SAMPLE_BYTES = 128, 32 * 1024


@dataclass
class Outcome:
    """A run's verdict as ``check`` prints it: violations in output order, counts, rejects in input order."""

    violations: list[Violation]
    stats: Stats
    rejects: list[RejectedLine]


def _sample(path: str, opener: Opener) -> Counter[bytes]:
    """Enterprise ids counted in evenly spaced pieces of a file (the first 4 MiB of a compressed one)."""
    seen: Counter[bytes] = Counter()
    try:
        _read_sample(path, opener, seen)
    except (OSError, EOFError, zlib.error):
        pass  # an unreadable input: reading it again in the run reports it
    return seen


def _read_sample(path: str, opener: Opener, seen: Counter[bytes]) -> None:
    with ExitStack() as stack:
        f = opener(path, stack)
        try:
            size = os.fstat(f.fileno()).st_size if f.seekable() and not hasattr(f, "fileobj") else 0
        except (OSError, ValueError):
            size = 0
        if size <= _SAMPLES * _SAMPLE_BYTES:
            seen.update(_ENTERPRISE.findall(f.read(_SAMPLES * _SAMPLE_BYTES)))
        else:
            for i in range(_SAMPLES):
                f.seek(i * (size - _SAMPLE_BYTES) // (_SAMPLES - 1))
                seen.update(_ENTERPRISE.findall(f.read(_SAMPLE_BYTES)))


def plan(paths: Sequence[str], opener: Opener, workers: int) -> dict[bytes, int]:
    """Enterprises to workers by their share of a sample: for two workers and up to 16 enterprises the
    best split (worker 0, which also merges, the lighter side), else the biggest first to the least
    loaded. An enterprise not in the sample goes by hash (:meth:`Shard.owner`)."""
    seen: Counter[bytes] = Counter()
    for path in paths:
        seen += _sample(path, opener)
    ranked = sorted(seen.items(), key=lambda kv: (-kv[1], kv[0]))
    if workers == 2 and 1 < len(ranked) <= 16:
        total = sum(n for _, n in ranked)
        best = min(range(1 << (len(ranked) - 1)),  # the smallest is never in the mask: half the search
                   key=lambda mask: abs(total - 2 * sum(n for i, (_, n) in enumerate(ranked) if mask >> i & 1)))
        light = {e for i, (e, _) in enumerate(ranked) if best >> i & 1}
        if 2 * sum(seen[e] for e in light) > total:
            light = set(seen) - light
        return {e: 0 if e in light else 1 for e in seen}
    load = [0] * workers
    owners: dict[bytes, int] = {}
    for enterprise, n in ranked:
        w = min(range(workers), key=lambda i: (load[i], i))
        owners[enterprise] = w
        load[w] += n
    return owners


def _send(fd: int, message: Any) -> None:
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    view = memoryview(len(data).to_bytes(8, "big") + data)
    while view:
        view = view[os.write(fd, view):]


def _recv(fd: int) -> Any:
    def exactly(n: int) -> bytes:
        parts, left = [], n
        while left:
            chunk = os.read(fd, min(left, 1 << 20))
            if not chunk:
                raise RuntimeError("a check worker ended without its result")
            parts.append(chunk)
            left -= len(chunk)
        return b"".join(parts)

    return pickle.loads(exactly(int.from_bytes(exactly(8), "big")))


class InputError(RulesError):
    """An input could not be read (``check`` says which and why, as in one process)."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(path, reason)
        self.path, self.reason = path, reason


def _feed(checker: BatchChecker, paths: Iterable[str], opener: Opener) -> None:
    with ExitStack() as stack:
        for path in paths:
            try:
                checker.feed(iter(opener(path, stack)), source=path)
            except (OSError, EOFError, zlib.error) as err:
                raise InputError(path, str(getattr(err, "strerror", None) or err)) from None


def _cut(as_of: Instant | None, latest: Iterable[Instant | None]) -> Instant | None:
    if as_of is not None:
        return as_of
    known = [t for t in latest if t is not None]
    return max(known) if known else None


def _worker(index: int, count: int, owners: dict[bytes, int], pack: RulePack, pack_for: PackFor | None,
            paths: Sequence[str], opener: Opener, out: int, inbox: int) -> None:
    """A forked worker: feed, send its records, take everyone's and the cut, judge, send the rest."""
    checker = BatchChecker(pack, None, pack_for, Shard(index, count, owners))
    try:
        _feed(checker, paths, opener)
        _send(out, ("fed", checker.records, checker.latest))
        records, cut = _recv(inbox)
        checker.add_records(records)
        found = checker.verdict(cut)
        _send(out, ("done", found, checker.rejects, checker.stats))
    except BaseException as err:  # the parent reports it; a worker never prints
        _send(out, ("error", f"{type(err).__name__}: {err}", err if isinstance(err, InputError) else None))


def check_split(pack: RulePack, pack_for: PackFor | None, paths: Sequence[str], opener: Opener,
                as_of: Instant | None, workers: int = 2) -> Outcome:
    """The verdict of ``check`` over ``paths`` on ``workers`` processes (this one and forks).

    Raises :class:`InputError` for an input that cannot be read (``OSError``, ``EOFError``,
    ``zlib.error``), as the one-process run reports it; anything else a worker raised is a
    ``RuntimeError``.
    """
    owners = plan(paths, opener, workers)
    children: list[tuple[int, int, int]] = []  # (pid, its results, its inbox)
    finished = False
    try:
        for index in range(1, workers):
            up_r, up_w = os.pipe()
            down_r, down_w = os.pipe()
            pid = os.fork()
            if pid == 0:  # the worker: never returns into the caller's code
                code = 0
                try:
                    os.close(up_r)
                    os.close(down_w)
                    for _, r, w in children:
                        os.close(r)
                        os.close(w)
                    _worker(index, workers, owners, pack, pack_for, paths, opener, up_w, down_r)
                except BaseException:
                    code = 1
                finally:
                    os._exit(code)
            os.close(up_w)
            os.close(down_r)
            children.append((pid, up_r, down_w))
        mine = BatchChecker(pack, None, pack_for, Shard(0, workers, owners))
        _feed(mine, paths, opener)
        fed = [_expect(_recv(r), "fed") for _, r, _ in children]
        records: list[tuple[Position, RegistryRecord]] = list(mine.records)
        for got in fed:
            records.extend(got[1])
        cut = _cut(as_of, [mine.latest] + [got[2] for got in fed])
        for _, _, w in children:
            _send(w, (records, cut))
        mine.add_records(records)
        found = mine.verdict(cut)
        done = [_expect(_recv(r), "done") for _, r, _ in children]
        finished = True
    finally:
        for pid, r, w in children:
            for fd in (r, w):
                try:
                    os.close(fd)
                except OSError:
                    pass
        for pid, _, _ in children:
            if not finished:  # this process failed: its workers are stopped, not left running
                try:
                    os.kill(pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
            os.waitpid(pid, 0)
    stats = mine.stats
    rejects = list(mine.rejects)
    for _, more, theirs, their_stats in done:
        found.extend(more)
        rejects.extend(theirs)
        _add(stats, their_stats)
    found.sort(key=violation_order)
    rejects.sort(key=lambda r: r[0])
    return Outcome(found, stats, [r for _, r in rejects])


def _expect(message: Any, kind: str) -> Any:
    if message[0] == "error":
        if message[2] is not None:
            raise message[2]
        raise RuntimeError(f"a check worker failed: {message[1]}")
    assert message[0] == kind
    return message


def _add(stats: Stats, other: Stats) -> None:
    stats.lines += other.lines
    stats.accepted += other.accepted
    stats.rejected += other.rejected
    stats.duplicates += other.duplicates
    stats.parcels += other.parcels
    stats.violations.update(other.violations)


__all__ = ["InputError", "Outcome", "check_split", "plan"]
