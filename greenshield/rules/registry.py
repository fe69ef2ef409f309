"""The time-versioned registry (contract §1.3): the status of an entity at any instant."""

from __future__ import annotations

import bisect

from greenshield.rules.model import RegistryRecord
from greenshield.rules.timestamps import Instant

UNREGISTERED = "unregistered"


class Registry:
    """Every version of every entity, so a past status stays answerable.

    The status at ``t`` is that of the record with the latest ``occurred_at <= t``;
    records of the same instant are ordered by arrival (``seq``), the later wins.
    """

    def __init__(self) -> None:
        self._versions: dict[tuple[str, str], list[tuple[Instant, int, str]]] = {}
        self._seq = 0

    def __len__(self) -> int:
        return sum(len(v) for v in self._versions.values())

    def add(self, record: RegistryRecord) -> tuple[str, str]:
        """Insert a version; returns the ``(entity, id)`` it touched."""
        self._seq += 1
        key = (record.entity, record.id)
        versions = self._versions.setdefault(key, [])
        bisect.insort(versions, (record.at, self._seq, record.status))
        return key

    def status(self, entity: str, ident: str | None, at: Instant) -> str:
        """``active``, ``suspended``, ``revoked``, ``blacklisted`` or ``unregistered``."""
        versions = self._versions.get((entity, ident)) if ident is not None else None
        if not versions:
            return UNREGISTERED
        i = bisect.bisect_right(versions, (at, 1 << 62, ""))
        return versions[i - 1][2] if i else UNREGISTERED

    def is_active(self, entity: str, ident: str | None, at: Instant) -> bool:
        return self.status(entity, ident, at) == "active"
