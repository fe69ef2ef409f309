"""收寄验视 inspection on acceptance: rules IN-1 and IN-2."""

from __future__ import annotations

from greenshield.rules.model import DOWNSTREAM, Event
from greenshield.rules.view import Hit, ParcelView


def in1_not_inspected(view: ParcelView) -> Hit | None:
    """IN-1: an acceptance has no inspection.

    邮政法 art. 25; 快递暂行条例 art. 31: inspect the contents on the spot at acceptance.
    """
    for e in view.acceptances():
        if e.acceptance is not None and not e.acceptance.inspected:
            return Hit(e.at, (e.event_id,), "acceptance without an inspection record")
    return None


def in2_refused_but_shipped(view: ParcelView) -> Hit | None:
    """IN-2: the inspection was refused, yet an xray or downstream event follows the acceptance.

    快递暂行条例 art. 31: the sender refuses inspection → the parcel is not accepted.
    """
    refused: Event | None = next((e for e in view.acceptances()
                                  if e.acceptance is not None and e.acceptance.inspection_result == "refused"), None)
    if refused is None:
        return None
    after = False
    for e in view.events:
        if after and (e.type == "xray" or e.type in DOWNSTREAM):
            return Hit(e.at, (refused.event_id, e.event_id),
                       f"inspection refused at acceptance, yet {e.type} followed")
        after = after or e is refused
    return None
