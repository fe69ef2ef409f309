"""The decisions of intake, one per input line that is not blank, each with its ``source`` and ``position``.

:class:`Fresh` (a new key: store it), :class:`Duplicate` (an exact copy of a known
key's first accepted content, or of a purged one: counted, dropped, contract §2),
:class:`Conflict` (the same key with other content: a reject) and :class:`Rejected`
(the line is no valid event: a reject with its reason).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar, Union

from greenshield.rules.dedup import conflict_reason as conflict_reason  # the one reason text, re-exported
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


@dataclass(frozen=True, slots=True)
class _Decided(Generic[C]):
    """A decision on one candidate: where it was is the candidate's."""

    candidate: C

    @property
    def source(self) -> str:
        return self.candidate.source

    @property
    def position(self) -> int:
        return self.candidate.position


@dataclass(frozen=True, slots=True)
class Fresh(_Decided[C]):
    """The first copy of a new key: to be stored."""


@dataclass(frozen=True, slots=True)
class Duplicate(_Decided[C]):
    """An exact duplicate (or a copy of a purged key, which cannot be told apart): counted and dropped."""


@dataclass(frozen=True, slots=True)
class Conflict(_Decided[C]):
    """The same key as a known one with other content: rejected with :func:`conflict_reason`."""

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
