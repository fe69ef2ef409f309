"""过机安检 X-ray screening: rules XR-1..XR-4.

XR-1's valid screening, on a timeline (§3.1 order):

    acceptance@outlet ─ depart@outlet ─ xray(clear, active) ─ depart@hub ─ delivery
                        exempt: the      screened from here   fine          fine
                        accepting site
"""

from __future__ import annotations

from greenshield.rules.timestamps import add_seconds
from greenshield.rules.view import Hit, ParcelView


def xr1_unscreened(view: ParcelView) -> Hit | None:
    """XR-1: a delivery, or a depart from other than the accepting site, with no valid screening before it.

    快递暂行条例 art. 32; Post Bureau X-ray rules: screen before onward dispatch (先安检、后分拣).
    """
    if not view.in_xray_scope():
        return None
    first = view.first_acceptance()
    origin = first.site_id if first is not None else None
    types = view.types()
    if "delivery" not in types and "depart" not in types:
        return None  # nothing here needs a screening before it
    status = view.registry.status
    screened = suspicious_open = False
    for e in view.events:
        t = e.type
        if t == "xray":
            if status("xray_machine", e.device_id, e.at) == "active":
                screened = screened or e.result == "clear"
                suspicious_open = suspicious_open or e.result == "suspicious"
        elif t == "manual_check":
            screened = screened or (suspicious_open and e.result == "cleared")
        elif not screened and (t == "delivery" or (t == "depart" and e.site_id != origin)):
            return Hit(e.at, (e.event_id,), f"{t} at {e.site_id} without valid X-ray screening before it")
    return None


def xr2_inactive_machine(view: ParcelView) -> Hit | None:
    """XR-2: an xray on a machine not active at its time.

    快递暂行条例 art. 32: machines meet GB 15208 and are networked (安检机联网).
    """
    if "xray" not in view.types():
        return None
    for e in view.events:
        if e.type == "xray":
            status = view.registry.status("xray_machine", e.device_id, e.at)
            if status != "active":
                return Hit(e.at, (e.event_id,), f"X-ray machine {e.device_id} is {status}")
    return None


def xr3_suspicious_unchecked(view: ParcelView) -> Hit | None:
    """XR-3: a suspicious image followed by a depart or delivery with no manual check between.

    快递暂行条例 art. 33; AI-flagged images must be handled (开箱复检) before the parcel moves on.
    """
    if "xray" not in view.types():
        return None  # no image at all
    open_image = None
    for e in view.events:
        t = e.type
        if t == "xray" and e.result == "suspicious" and open_image is None:
            open_image = e
        elif t == "manual_check":
            open_image = None
        elif open_image is not None and (t == "depart" or t == "delivery"):
            return Hit(e.at, (open_image.event_id, e.event_id),
                       f"suspicious X-ray image not re-checked before {t}")
    return None


def xr4_not_screened_in_time(view: ParcelView) -> Hit | None:
    """XR-4 (deadline): no xray at all by acceptance + 24h (any result, any machine, even earlier).

    Post Bureau X-ray configuration rules: parcels are screened, promptly, after acceptance.
    """
    if not view.in_xray_scope():
        return None
    window = view.deadline("XR-4")
    first_xray = next((e.at for e in view.events if e.type == "xray"), None) if "xray" in view.types() else None
    for e in view.acceptances():
        due = add_seconds(e.at, window)
        if due <= view.as_of and (first_xray is None or first_xray > due):
            return Hit(due, (e.event_id,), f"no X-ray screening within {window // 3600}h of acceptance")
    return None
