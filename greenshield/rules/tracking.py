"""可追溯 / 可追踪 traceability and tracking: rules TR-1, TK-1 and TK-2."""

from __future__ import annotations

from greenshield.rules.model import Event
from greenshield.rules.timestamps import add_seconds
from greenshield.rules.view import Hit, ParcelView


def tr1_no_acceptance(view: ParcelView) -> Hit | None:
    """TR-1 (deadline): no acceptance by the parcel's first event + 6h.

    Yangtze Delta plan (2017): every parcel's source is traceable (来源可追溯).
    """
    if not view.events:
        return None
    first = view.events[0]
    due = add_seconds(first.at, view.deadline("TR-1"))
    if due > view.as_of:
        return None
    if any(e.at <= due for e in view.acceptances()):
        return None
    return Hit(due, (first.event_id,), f"no acceptance within {view.deadline('TR-1') // 3600}h of the first event")


def tk1_vehicle(view: ParcelView) -> Hit | None:
    """TK-1: a depart or arrive with no vehicle, or one not active at its time.

    Yangtze Delta plan (2017): vehicles are trackable (车辆可追踪).
    """
    types = view.types()
    if "depart" not in types and "arrive" not in types:
        return None
    status = view.registry.status
    for e in view.events:
        if e.type != "depart" and e.type != "arrive":
            continue
        if e.device_id is None:
            return Hit(e.at, (e.event_id,), f"{e.type} without a vehicle_id")
        found = status("vehicle", e.device_id, e.at)
        if found != "active":
            return Hit(e.at, (e.event_id,), f"vehicle {e.device_id} is {found}")
    return None


def _breaks(e: Event, at_site: str | None, last_depart: Event | None) -> str | None:
    """Why ``e`` breaks the path (§3.3), given the position before it; ``None`` if it does not."""
    in_transit = last_depart is not None
    if e.type == "depart":
        if in_transit or (at_site is not None and at_site != e.site_id):
            return f"depart from {e.site_id} while {'in transit' if in_transit else f'at {at_site}'}"
    elif e.type == "arrive":
        if at_site is not None:
            return f"arrive at {e.site_id} while already at {at_site}"
        if last_depart is not None:
            if e.other_site_id != last_depart.site_id or e.site_id != last_depart.other_site_id:
                return f"arrive at {e.site_id} from {e.other_site_id} does not match the last depart"
            if e.device_id and last_depart.device_id and e.device_id != last_depart.device_id:
                return f"arrive by {e.device_id} but departed by {last_depart.device_id}"
    elif in_transit or (at_site is not None and at_site != e.site_id):
        return f"{e.type} at {e.site_id} while {'in transit' if in_transit else f'at {at_site}'}"
    return None


def tk2_path_breaks(view: ParcelView) -> Hit | None:
    """TK-2: the parcel's path breaks (§3.3); the walk stops at the first break.

    Yangtze Delta plan (2017): transport is trackable end to end (可追踪).
    """
    at_site: str | None = None
    last_depart: Event | None = None
    for e in view.events:
        if e.type == "depart":
            if last_depart is not None or (at_site is not None and at_site != e.site_id):
                return Hit(e.at, (e.event_id,), f"path breaks: {_breaks(e, at_site, last_depart)}")
            at_site, last_depart = None, e
            continue
        if e.type == "arrive" or last_depart is not None or (at_site is not None and at_site != e.site_id):
            reason = _breaks(e, at_site, last_depart)
            if reason is not None:
                return Hit(e.at, (e.event_id,), f"path breaks: {reason}")
        at_site, last_depart = e.site_id, None
    return None
