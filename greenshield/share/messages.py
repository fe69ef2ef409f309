"""The messages departments receive, built from a violation change, a stored blacklisting or warning (pure).

Each is ``(facts, message id, type, body)``: the facts a scope is checked against, the
stable id, and the exact JSON body. Bodies are built from named fields only, so no
field the contract §6 keeps private can slip in: a violation carries its §5 fields (no
personal data), a blacklisting the person's keyed hash and masked number, a warning its
subject (a sender only by keyed hash).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from greenshield.share.scope import Facts
from greenshield.share.webhooks import message_id, payload, violation_id
from greenshield.translog.entries import canonical

VIOLATION_FIELDS = ("enterprise_id", "waybill_no", "rule_id", "severity", "occurred_at", "evidence", "message",
                    "rule_pack", "status", "as_of")
REGISTRY_FIELDS = ("enterprise_id", "event_id", "occurred_at", "entity", "id", "status")
PERSON_FIELDS = ("id_type", "id_hash", "id_number_masked")
WARNING_FIELDS = ("subject_kind", "subject_id", "at", "level", "level_zh", "previous_level", "reason", "score",
                  "parcels", "window", "enterprise_id", "model")


@dataclass(frozen=True)
class Message:
    facts: Facts
    id: str
    type: str
    body: str


def _pick(doc: Mapping[str, Any], names: tuple[str, ...]) -> dict[str, Any]:
    return {k: doc[k] for k in names if k in doc}


def violation(value: Mapping[str, Any], region: str | None) -> Message:
    """The message of a ``gs.violations.v1`` value (``{"v", "change", "seq", <§5 fields>, status, as_of}``)."""
    kind = str(value["change"])
    data = {**_pick(value, VIOLATION_FIELDS), "change": kind, "seq": int(value["seq"]), "region": region}
    type_ = f"violation.{kind}"
    facts = Facts(type_, str(value["rule_id"]), str(value.get("severity")), region, str(value["enterprise_id"]))
    ident = violation_id(str(value["enterprise_id"]), str(value["waybill_no"]), str(value["rule_id"]),
                         int(value["seq"]))
    return Message(facts, ident, type_, _body(type_, str(value.get("as_of") or value.get("occurred_at")), data))


def blacklisting(entry_id: int, doc: Mapping[str, Any]) -> Message:
    """The message of a stored (redacted) registry record whose status is ``blacklisted``."""
    data = _pick(doc, REGISTRY_FIELDS)
    person = doc.get("person")
    if isinstance(person, Mapping):
        data["person"] = _pick(person, PERSON_FIELDS)
    facts = Facts("registry.blacklisted", enterprise=str(doc.get("enterprise_id")))
    ident = message_id("registry", doc.get("enterprise_id"), doc.get("event_id"), entry_id)
    return Message(facts, ident, facts.type, _body(facts.type, str(doc.get("occurred_at")), data))


def warning(entry_id: int, doc: Mapping[str, Any]) -> Message:
    """The message of a stored warning (预警)."""
    data = _pick(doc, WARNING_FIELDS)
    enterprise = doc.get("enterprise_id")
    facts = Facts("warning.raised", enterprise=str(enterprise) if enterprise else None)
    ident = message_id("warning", doc.get("subject_kind"), doc.get("subject_id"), doc.get("at"), doc.get("level"))
    return Message(facts, ident, facts.type, _body(facts.type, str(doc.get("at")), data))


def _body(type_: str, timestamp: str, data: Mapping[str, Any]) -> str:
    return canonical(payload(type_, timestamp, data)).decode()
