"""The decisions of intake, one per input line that is not blank, each with its ``source`` and ``position``.

:class:`Fresh` (a new key: store it), :class:`Duplicate` (an exact copy of a known
key's first accepted content, or of a purged one: counted, dropped, contract §2),
:class:`Conflict` (the same key with other content: a reject) and :class:`Rejected`
(the line is no valid event: a reject with its reason).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar, Union

from greenshield.rules.dedup import conflict_reason as _reason
from greenshield.rules.model import Rejection

Key = tuple[str, str]  # the idempotency key (enterprise_id, event_id)
Digest = bytes | int   # of a line's original content; only digests of one key are compared


class Candidate(Protocol):
    """A valid line, not yet classified: where it was, its key and its digest."""

    @property
    def source(self) -> str: ...

    @property
    def position(self) -> int: ...

    @property
    def key(self) -> Key: ...

    @property
    def digest(self) -> Digest: ...


C = TypeVar("C", bound=Candidate)


def conflict_reason(key: Key) -> str:
    """The reject reason of a conflicting duplicate (contract §7), the same for every entry point."""
    return _reason(key)


@dataclass(frozen=True, slots=True)
class Fresh(Generic[C]):
    """The first copy of a new key: to be stored."""

    candidate: C

    @property
    def source(self) -> str:
        return self.candidate.source

    @property
    def position(self) -> int:
        return self.candidate.position


@dataclass(frozen=True, slots=True)
class Duplicate(Generic[C]):
    """An exact duplicate (or a copy of a purged key, which cannot be told apart): counted and dropped."""

    candidate: C

    @property
    def source(self) -> str:
        return self.candidate.source

    @property
    def position(self) -> int:
        return self.candidate.position


@dataclass(frozen=True, slots=True)
class Conflict(Generic[C]):
    """The same key as a known one with other content: rejected with :func:`conflict_reason`."""

    candidate: C

    @property
    def source(self) -> str:
        return self.candidate.source

    @property
    def position(self) -> int:
        return self.candidate.position

    @property
    def reason(self) -> str:
        return conflict_reason(self.candidate.key)


@dataclass(frozen=True, slots=True)
class Rejected:
    """A line that is no valid event (or may not be taken): rejected with ``rejection``."""

    source: str
    position: int
    rejection: Rejection


Decision = Union[Fresh[C], Duplicate[C], Conflict[C], Rejected]
