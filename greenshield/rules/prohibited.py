"""禁寄物品 prohibited items: rules PH-1 and PH-2."""

from __future__ import annotations

from greenshield.rules.model import DOWNSTREAM, Event
from greenshield.rules.timestamps import add_seconds
from greenshield.rules.view import Hit, ParcelView


def _prohibits(e: Event) -> bool:
    return (e.type == "xray" or e.type == "manual_check") and e.result == "prohibited"


def ph1_prohibited_moved_on(view: ParcelView) -> Hit | None:
    """PH-1: after a prohibited finding or an interception, a downstream event follows (stays in force).

    快递暂行条例 art. 33: stop sorting, transport and delivery at once.
    """
    if not view.prohibited() and "interception" not in view.types():
        return None  # no trigger
    trigger: Event | None = None
    for e in view.events:
        if trigger is not None and e.type in DOWNSTREAM:
            return Hit(e.at, (trigger.event_id, e.event_id),
                       f"{e.type} after a prohibited item was found or intercepted")
        if trigger is None and (_prohibits(e) or e.type == "interception"):
            trigger = e
    return None


def ph2_not_intercepted(view: ParcelView) -> Hit | None:
    """PH-2 (deadline): a prohibited finding at p with no interception in [p, p + 2h].

    快递暂行条例 art. 33: report items that may involve crime; the interception is the report.
    """
    findings = view.prohibited()
    if not findings:
        return None
    window = view.deadline("PH-2")
    interceptions = [e.at for e in view.events if e.type == "interception"]
    for e in findings:
        due = add_seconds(e.at, window)
        if due <= view.as_of and not any(e.at <= i <= due for i in interceptions):
            return Hit(due, (e.event_id,), f"prohibited item not intercepted within {window // 60} min")
    return None
