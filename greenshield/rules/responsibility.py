"""可倒查 responsibility traceable back: rules PR-1, PR-2 and PR-3.

Each reads :meth:`ParcelView.responsible`: every (event, role, staff id, its status then), derived once.
"""

from __future__ import annotations

from greenshield.rules.registry import UNREGISTERED
from greenshield.rules.view import Hit, ParcelView


def pr1_unknown_person(view: ParcelView) -> Hit | None:
    """PR-1: an event names no staff (or no inspector), or one unregistered at its time.

    Yangtze Delta plan (2017): every person's responsibility is traceable back (人员可倒查).
    """
    for e, role, staff, status in view.responsible():
        if staff is None:
            return Hit(e.at, (e.event_id,), f"{e.type} without {role}")
        if status == UNREGISTERED:
            return Hit(e.at, (e.event_id,), f"{role} {staff} is not registered")
    return None


def pr2_inactive_person(view: ParcelView) -> Hit | None:
    """PR-2: a registered staff member (or inspector) not active at the event's time.

    快递暂行条例: only licensed, active personnel handle parcels; suspended staff may not.
    """
    for e, role, staff, status in view.responsible():
        if staff is not None and status != UNREGISTERED and status != "active":
            return Hit(e.at, (e.event_id,), f"{role} {staff} is {status}")
    return None


def pr3_blacklisted_person(view: ParcelView) -> Hit | None:
    """PR-3: an active staff id (or inspector) held by a person blacklisted at the event's time.

    Revision 2 §8.2 (regional blacklist): the person of the staff id's latest staff record
    is blacklisted, under whatever staff id or enterprise it was decided. A staff id that is
    itself not active is PR-1/PR-2's, never also PR-3's.
    """
    registry = view.registry
    suspects = registry.suspects()
    if not suspects:
        return None  # no person is blacklisted at any time
    for e, role, staff, status in view.responsible():
        if staff in suspects and status == "active":
            person = registry.person_of(staff, e.at)
            decision = registry.blacklisting(person, e.at) if person is not None else None
            if decision is not None:
                return Hit(e.at, (e.event_id,), f"{role} {staff} is held by a blacklisted person ({decision})")
    return None
