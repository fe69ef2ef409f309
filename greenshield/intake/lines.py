"""A line in, a candidate or a rejection out: the step ``run``, ``POST /v1/events`` and ``check`` share.

Per line (contract §2, §7): the BOM of a file's first line is dropped, a blank line
is skipped, the line is parsed and validated (:func:`greenshield.rules.parse.parse_line_plain`),
and a valid one gets the digest of its original content. Personal data is redacted on
demand, before anything is stored (:meth:`Line.doc`) or rejected (:meth:`Line.rejected_payload`).
The worker reads Kafka messages with its own decoder (:mod:`greenshield.stream.decode`:
headers, control messages, tombstones, topics), whose candidates the same classifier takes.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from greenshield.intake.decisions import Conflict, Digest, Key, Rejected
from greenshield.intake.digest import Digester, keyed_digester, unkeyed_digest
from greenshield.rules.dedup import CanonicalError
from greenshield.rules.model import Event, RegistryRecord, Rejection
from greenshield.rules.parse import is_blank, parse_line_plain
from greenshield.rules.privacy import redact_event, redact_rejected

BOM = b"\xef\xbb\xbf"


@dataclass(slots=True)
class Line:
    """A valid line at ``source``:``position``, not yet classified; it holds the plain value until redacted."""

    source: str
    position: int
    raw: bytes = field(repr=False)  # plain content: never in a log line
    obj: Any = field(repr=False)
    item: Event | RegistryRecord
    digest: Digest
    hmac_key: bytes | None = field(default=None, repr=False)  # for the keyed hash of an ID number

    @property
    def key(self) -> Key:
        return (self.item.enterprise_id, self.item.event_id)

    def doc(self) -> Any:
        """The stored form: contract fields only, sender and person masked and hashed."""
        return redact_event(self.obj, self.hmac_key)

    def rejected_payload(self) -> Any:
        """The masked payload a reject of this line carries."""
        return redact_rejected(self.obj, self.hmac_key)

    def rejection(self, reason: str) -> Rejection:
        """A rejection of this valid line, with its masked payload and its key."""
        return Rejection(reason, self.rejected_payload(), self.key)


def conflict_rejected(conflict: Conflict[Line]) -> Rejected:
    """A conflicting duplicate as the reject it is stored as."""
    line = conflict.candidate
    return Rejected(line.source, line.position, line.rejection(conflict.reason))


class Reader:
    """Reads lines into candidates; ``hmac_key`` None (``check``): nothing is hashed with a key."""

    __slots__ = ("hmac_key", "digester")

    def __init__(self, hmac_key: bytes | None, digester: Digester | None = None) -> None:
        self.hmac_key = hmac_key
        self.digester: Digester = digester or (keyed_digester(hmac_key) if hmac_key is not None else unkeyed_digest)

    def line(self, raw: bytes, source: str, position: int) -> tuple[Any, Line | Rejected]:
        """One non-blank line: its parsed value (None if it is no JSON) and the candidate or the rejection."""
        obj, item, plain = parse_line_plain(raw)
        if isinstance(item, Rejection):
            return obj, Rejected(source, position, item)
        try:
            digest = self.digester(obj, raw, plain)
        except CanonicalError as err:  # never for a parsed value; kept total all the same
            return obj, Rejected(source, position, Rejection(str(err)))
        return obj, Line(source, position, raw, obj, item, digest, self.hmac_key)

    def lines(self, lines: Iterable[bytes], source: str) -> Iterator[Line | Rejected | None]:
        """Each line of one file, numbered from 1: None for a blank one (skipped, contract §7)."""
        for number, raw in enumerate(lines, 1):
            if number == 1 and raw.startswith(BOM):
                raw = raw[3:]
            if is_blank(raw):
                yield None
                continue
            yield self.line(raw, source, number)[1]
