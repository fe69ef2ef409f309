"""Classify candidates against the keys already known: new, exact duplicate, conflicting duplicate.

The first copy of a key wins: its digest is what later copies are compared with (a
conflicting copy does not replace it). A known key whose digest is None was purged:
a copy cannot be told apart and counts as a duplicate. Order is preserved: one
decision per candidate, in the order given. :class:`Classifier` does it one
candidate at a time (``check`` streams a file); :func:`classify` over a batch.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping
from typing import Generic

from greenshield.intake.decisions import C, Conflict, Digest, Duplicate, Fresh, Key
from greenshield.rules.dedup import Seen, first_copy


class Classifier(Generic[C]):
    """What has been seen so far: the first accepted digest of each key (None: purged, cannot tell)."""

    __slots__ = ("seen",)

    def __init__(self, known: Mapping[Key, Digest | None] | None = None) -> None:
        self.seen: dict[Hashable, Digest | None] = {k: v for k, v in known.items()} if known else {}

    def __len__(self) -> int:
        return len(self.seen)

    def decide(self, candidate: C, key: Hashable | None = None) -> Fresh[C] | Duplicate[C] | Conflict[C]:
        """The decision of one candidate; a fresh one's digest is remembered. ``key``: a compact form of
        ``candidate.key`` to remember instead (e.g. ``"E/ID"``), the same for every copy of the key."""
        seen = first_copy(self.seen, candidate.key if key is None else key, candidate.digest)
        if seen is Seen.NEW:
            return Fresh(candidate)
        return Duplicate(candidate) if seen is Seen.EXACT else Conflict(candidate)


def classify(candidates: Iterable[C], known: Mapping[Key, Digest | None]
             ) -> list[Fresh[C] | Duplicate[C] | Conflict[C]]:
    """One decision per candidate, in order, against ``known`` (the stored digests of their keys)."""
    decide = Classifier[C](known).decide
    return [decide(c) for c in candidates]
