"""The time-versioned registry (contract §1.3): the status of an entity at any instant.

Persons (revision 2 §8.2) are versioned by their keyed hash, not by a record's id:
the status of a person at ``t`` is that of the latest ``person`` record with that hash.
"""

from __future__ import annotations

import bisect

from greenshield.rules.model import RegistryRecord
from greenshield.rules.timestamps import Instant

UNREGISTERED = "unregistered"
_AFTER = 1 << 62  # a seq above every arrival: bisect past every version of one instant

# (occurred_at, arrival, status, person hash or decision reference)
Version = tuple[Instant, int, str, "str | None"]


def _latest(versions: list[Version] | None, at: Instant) -> Version | None:
    """The version in force at ``at``: the latest ``occurred_at <= at``, the later arrival on a tie."""
    if not versions:
        return None
    last = versions[-1]
    if last[0] <= at:  # the common case: the latest version is in force (on a tie, it is the latest arrival)
        return last
    i = bisect.bisect_right(versions, (at, _AFTER, "", None))
    return versions[i - 1] if i else None


class Registry:
    """Every version of every entity, so a past status stays answerable.

    The status at ``t`` is that of the record with the latest ``occurred_at <= t``;
    records of the same instant are ordered by arrival (``seq``), the later wins.
    """

    def __init__(self) -> None:
        self._versions: dict[tuple[str, str], list[Version]] = {}
        self._persons: dict[str, list[Version]] = {}  # person hash -> its person records (decision refs)
        self._holders: dict[str, set[str]] = {}       # person hash -> staff ids any staff record gave it
        self._seq = 0
        self._blacklisted: set[str] = set()           # person hashes some person record blacklists
        self._suspects: set[str] = set()              # staff ids any staff record gave such a person

    def __len__(self) -> int:
        return sum(len(v) for v in self._versions.values())

    def add(self, record: RegistryRecord) -> tuple[str, str]:
        """Insert a version; returns the ``(entity, id)`` it touched."""
        self._seq += 1
        key = (record.entity, record.id)
        bisect.insort(self._versions.setdefault(key, []), (record.at, self._seq, record.status, record.person))
        if record.person is not None:
            if record.entity == "person":
                bisect.insort(self._persons.setdefault(record.person, []),
                              (record.at, self._seq, record.status, record.id))
                if record.status == "blacklisted":
                    self._blacklisted.add(record.person)
                    self._suspects.update(self._holders.get(record.person, ()))
            elif record.entity == "staff":
                self._holders.setdefault(record.person, set()).add(record.id)
                if record.person in self._blacklisted:
                    self._suspects.add(record.id)
        return key

    def reach(self, record: RegistryRecord) -> list[tuple[str, str]]:
        """The entities whose verdicts a record may change: its own, and for a person every staff id it held."""
        if record.entity == "person" and record.person is not None:
            return [("staff", staff) for staff in sorted(self._holders.get(record.person, ()))]
        return [(record.entity, record.id)]

    def status(self, entity: str, ident: str | None, at: Instant) -> str:
        """``active``, ``suspended``, ``revoked``, ``blacklisted`` or ``unregistered``."""
        versions = self._versions.get((entity, ident)) if ident is not None else None
        if not versions:
            return UNREGISTERED
        last = versions[-1]
        if last[0] <= at:  # as in _latest, inline: the latest version is in force
            return last[2]
        found = _latest(versions, at)
        return found[2] if found is not None else UNREGISTERED

    def suspects(self) -> set[str]:
        """The staff ids that may be held by a blacklisted person at some time: those a staff record
        gave a person hash that some person record blacklists. No other staff id ever is (PR-3).
        (Read only; it only grows.)"""
        return self._suspects

    def is_active(self, entity: str, ident: str | None, at: Instant) -> bool:
        return self.status(entity, ident, at) == "active"

    def person_of(self, staff: str, at: Instant) -> str | None:
        """The person hash of the staff id's latest staff record at ``at`` (None: that record names none)."""
        found = _latest(self._versions.get(("staff", staff)), at)
        return found[3] if found is not None else None

    def blacklisting(self, person: str, at: Instant) -> str | None:
        """The decision reference of the person record that has ``person`` blacklisted at ``at``, if any."""
        found = _latest(self._persons.get(person), at)
        return found[3] if found is not None and found[2] == "blacklisted" else None

    def holders(self, person: str) -> list[str]:
        """Every staff id whose staff records named this person, sorted."""
        return sorted(self._holders.get(person, ()))
