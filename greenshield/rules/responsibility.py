"""可倒查 responsibility traceable back: rules PR-1, PR-2 and PR-3."""

from __future__ import annotations

from collections.abc import Iterator

from greenshield.rules.model import Event
from greenshield.rules.registry import UNREGISTERED
from greenshield.rules.view import Hit, ParcelView


def _responsible(e: Event) -> Iterator[tuple[str, str | None]]:
    """Each (role, staff id) the event names: its staff, and an acceptance's inspector."""
    yield "staff_id", e.staff_id
    a = e.acceptance
    if a is not None and a.inspected:
        yield "inspector_id", a.inspector_id


def pr1_unknown_person(view: ParcelView) -> Hit | None:
    """PR-1: an event names no staff (or no inspector), or one unregistered at its time.

    Yangtze Delta plan (2017): every person's responsibility is traceable back (人员可倒查).
    """
    for e in view.events:
        for role, staff in _responsible(e):
            if staff is None:
                return Hit(e.at, (e.event_id,), f"{e.type} without {role}")
            if view.staff_status(staff, e.at) == UNREGISTERED:
                return Hit(e.at, (e.event_id,), f"{role} {staff} is not registered")
    return None


def pr2_inactive_person(view: ParcelView) -> Hit | None:
    """PR-2: a registered staff member (or inspector) not active at the event's time.

    快递暂行条例: only licensed, active personnel handle parcels; suspended staff may not.
    """
    for e in view.events:
        for role, staff in _responsible(e):
            if staff is None:
                continue
            status = view.staff_status(staff, e.at)
            if status != UNREGISTERED and status != "active":
                return Hit(e.at, (e.event_id,), f"{role} {staff} is {status}")
    return None


def pr3_blacklisted_person(view: ParcelView) -> Hit | None:
    """PR-3: an active staff id (or inspector) held by a person blacklisted at the event's time.

    Revision 2 §8.2 (regional blacklist): the person of the staff id's latest staff record
    is blacklisted, under whatever staff id or enterprise it was decided. A staff id that is
    itself not active is PR-1/PR-2's, never also PR-3's.
    """
    registry = view.registry
    for e in view.events:
        for role, staff in _responsible(e):
            if staff is None or view.staff_status(staff, e.at) != "active":
                continue
            person = registry.person_of(staff, e.at)
            decision = registry.blacklisting(person, e.at) if person is not None else None
            if decision is not None:
                return Hit(e.at, (e.event_id,), f"{role} {staff} is held by a blacklisted person ({decision})")
    return None
