"""The batch checker: a thin shell that feeds lines to the rule core and collects the verdict."""

from __future__ import annotations

import zlib
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from greenshield.rules.dedup import CanonicalError, Deduplicator, Seen, conflict_reason
from greenshield.rules.engine import PackFor, RuleCore
from greenshield.rules.model import Event, RegistryRecord, Rejection, Violation
from greenshield.rules.pack import RulePack
from greenshield.rules.parse import is_blank, parse_line_plain
from greenshield.rules.privacy import redact_rejected
from greenshield.rules.timestamps import Instant

BOM = b"\xef\xbb\xbf"


@dataclass
class Stats:
    """Counts for the summary line."""

    lines: int = 0
    accepted: int = 0
    rejected: int = 0
    duplicates: int = 0
    parcels: int = 0
    violations: Counter[str] = field(default_factory=Counter)

    def summary(self) -> str:
        per_rule = " ".join(f"{r}={n}" for r, n in sorted(self.violations.items()))
        return (f"lines={self.lines} accepted={self.accepted} rejected={self.rejected} "
                f"duplicates={self.duplicates} parcels={self.parcels} "
                f"violations={sum(self.violations.values())}" + (f" {per_rule}" if per_rule else ""))


@dataclass(frozen=True, slots=True)
class RejectedLine:
    """Where a rejected line was, and the rejection."""

    source: str
    line: int
    rejection: Rejection


OnReject = Callable[[RejectedLine], None]


#: where a line is: (index of its input, line number)
Position = tuple[int, int]


class Shard:
    """One of ``count`` workers of a split run (:mod:`greenshield.rules.parallel`): the enterprises it owns.

    An idempotency key and a parcel both lie within one enterprise (contract §2, §8.1), so
    a worker that owns an enterprise's lines de-duplicates and judges them exactly as one
    process would; registry records are shared (:meth:`BatchChecker.add_records`).
    """

    def __init__(self, index: int, count: int, owners: dict[bytes, int]) -> None:
        self.index, self.count, self.owners = index, count, owners

    def owner(self, enterprise: bytes) -> int:
        """The worker of an enterprise: as assigned, else by a stable hash."""
        found = self.owners.get(enterprise)
        return found if found is not None else zlib.crc32(enterprise) % self.count


_KEY = b'"enterprise_id"'


def route(line: bytes) -> bytes | None:
    """The ``enterprise_id`` an accepted line certainly has, read from its bytes; None when they cannot tell.

    Without a backslash every quote of a JSON text delimits a string, so a single
    ``"enterprise_id"`` followed by ``:"`` (or ``: "``) is the top-level member (if the
    line is accepted at all) and the eight bytes after it its value, unescaped.
    """
    i = line.find(_KEY)
    if i < 0 or b"\\" in line or line.find(_KEY, i + 15) >= 0:
        return None
    i += 17 if line[i + 15:i + 17] == b':"' else 18 if line[i + 15:i + 18] == b': "' else len(line)
    return line[i:i + 8] if line[i + 8:i + 9] == b'"' else None


class BatchChecker:
    """Validate, de-duplicate and feed lines; then compute the verdict ``V(events, as_of)``."""

    def __init__(self, pack: RulePack, on_reject: OnReject | None = None, pack_for: PackFor | None = None,
                 shard: Shard | None = None) -> None:
        """``pack_for`` chooses a parcel's pack (an enterprise's graded pack); else ``pack`` for all.

        With ``shard``, only the lines of the shard's enterprises are taken (worker 0 also
        counts every line and takes the rejects that name no enterprise); rejects and
        registry records are kept with their :data:`Position` instead (:attr:`rejects`,
        :attr:`records`), for :mod:`greenshield.rules.parallel` to combine.
        """
        self.core = RuleCore(pack, track_references=False, pack_for=pack_for)
        self.dedup = Deduplicator()
        self.stats = Stats()
        self.latest: Instant | None = None
        self._on_reject = on_reject or (lambda r: None)
        self.shard = shard
        self.rejects: list[tuple[Position, RejectedLine]] = []
        self.records: list[tuple[Position, RegistryRecord]] = []
        self._inputs = 0

    def add_records(self, records: Iterable[tuple[Position, RegistryRecord]]) -> None:
        """Registry records accepted by the workers of a split run, in input order (their arrival order)."""
        for _, record in sorted(records, key=lambda r: r[0]):
            self.core.add_record(record)

    def feed(self, lines: Iterable[bytes], source: str = "-") -> None:
        """Take every line of one input; rejections go to ``on_reject`` and never stop the run."""
        self._inputs += 1
        if self.shard is not None:
            return self._feed_shard(lines, source, self.shard)
        stats, dedup = self.stats, self.dedup
        for number, line in enumerate(lines, 1):
            stats.lines += 1
            if number == 1 and line.startswith(BOM):
                line = line[3:]
            if is_blank(line):
                continue
            obj, item, plain = parse_line_plain(line)
            if type(item) is Rejection:
                self._reject(source, number, item)
                continue
            try:
                seen = dedup.check(item.enterprise_id, item.event_id, obj, plain)  # type: ignore[union-attr]
            except CanonicalError as err:
                self._reject(source, number, Rejection(str(err)))
                continue
            if seen is Seen.EXACT:
                stats.duplicates += 1
            elif seen is Seen.CONFLICT:
                key = (item.enterprise_id, item.event_id)  # type: ignore[union-attr]
                self._reject(source, number, Rejection(
                    conflict_reason(key),
                    item_payload(obj), key))
            else:
                stats.accepted += 1
                self._take(item)

    def _feed_shard(self, lines: Iterable[bytes], source: str, shard: Shard) -> None:
        """:meth:`feed` of one worker: the same steps, for the lines its enterprises own."""
        stats, dedup, me, owner, here = self.stats, self.dedup, shard.index, shard.owner, self._inputs
        owners, number, tag = shard.owners.get, 0, _KEY
        for number, line in enumerate(lines, 1):
            if number == 1 and line.startswith(BOM):
                line = line[3:]
            # route(line), inline, with the commonest case first: a known enterprise's key, written tight
            i = line.find(tag)
            if i >= 0 and line[i + 15:i + 17] == b':"' and line[i + 25:i + 26] == b'"':
                routed: bytes | None = line[i + 17:i + 25]
                if b"\\" in line or line.find(tag, i + 15) >= 0:
                    routed = None
            else:
                routed = route(line) if i >= 0 else None
            if routed is not None:
                w = owners(routed)
                if (w if w is not None else owner(routed)) != me:
                    continue  # another worker's line: skipped at the cost of a few searches of its bytes
            elif is_blank(line):
                continue
            obj, item, plain = parse_line_plain(line)
            if type(item) is Rejection:
                if routed is not None or me == 0:  # a line naming no enterprise is worker 0's
                    self._keep((here, number), RejectedLine(source, number, item))
                continue
            enterprise: str = item.enterprise_id  # type: ignore[union-attr]
            if routed is None and owner(enterprise.encode()) != me:
                continue
            try:
                seen = dedup.check(enterprise, item.event_id, obj, plain)  # type: ignore[union-attr]
            except CanonicalError as err:
                self._keep((here, number), RejectedLine(source, number, Rejection(str(err))))
                continue
            if seen is Seen.EXACT:
                stats.duplicates += 1
            elif seen is Seen.CONFLICT:
                key = (enterprise, item.event_id)  # type: ignore[union-attr]
                self._keep((here, number), RejectedLine(source, number, Rejection(
                    conflict_reason(key),
                    item_payload(obj), key)))
            else:
                stats.accepted += 1
                if type(item) is Event:
                    self._take(item)
                else:
                    self.records.append(((here, number), item))  # type: ignore[arg-type]
        if me == 0:
            stats.lines += number

    def _keep(self, at: Position, rejected: RejectedLine) -> None:
        self.stats.rejected += 1
        self.rejects.append((at, rejected))

    def _take(self, item: Event | object) -> None:
        if type(item) is Event:
            self.core.add_event(item)
            if self.latest is None or item.at > self.latest:
                self.latest = item.at
        else:
            self.core.add_record(item)  # type: ignore[arg-type]

    def _reject(self, source: str, line: int, rejection: Rejection) -> None:
        self.stats.rejected += 1
        self._on_reject(RejectedLine(source, line, rejection))

    def verdict(self, as_of: Instant | None = None) -> list[Violation]:
        """All violations at ``as_of`` (default: the latest accepted parcel event), in :func:`violation_order`."""
        cut = as_of if as_of is not None else self.latest
        if cut is None:
            return []
        found: list[Violation] = []
        for parcel in list(self.core.parcels):
            found.extend(self.core.evaluate(parcel, cut).values())
            self.core.release(parcel)
        self.stats.parcels = len(self.core.finalised)
        self.stats.violations.update(v.rule_id for v in found)
        found.sort(key=violation_order)
        return found


def violation_order(v: Violation) -> tuple[str, str, str]:
    """``check``'s output order: ``(waybill_no, enterprise_id, rule_id)``.

    The waybill leads, so an input whose waybills each have one enterprise is
    ordered exactly as before contract §8.1; two enterprises' parcels of one
    waybill follow each other, by enterprise.
    """
    return (v.waybill_no, v.enterprise_id, v.rule_id)


def item_payload(obj: object) -> dict[str, object] | None:
    """The payload of a rejected (here: conflicting) line: its contract fields, each plain only if well-formed."""
    payload: dict[str, object] | None = redact_rejected(obj) if isinstance(obj, dict) else None
    return payload
