"""Batch ingest for ``POST /v1/events``: one answer per event, ``rollback`` or ``proceed``.

The body is JSON Lines (``application/x-ndjson``) or a JSON array (``application/json``,
re-encoded one element per line, numbers exactly as written): both go through the
worker's validation, redaction, duplicate digest (:class:`greenshield.intake.lines.Reader`)
and classification (:func:`greenshield.intake.classify.classify`).

Per event: ``accepted``, ``duplicate`` (dropped, contract §2), ``rejected`` with the reason,
or ``rolled_back`` (a ``rollback`` batch with a rejection stores nothing). A batch holding a
line its sender may not state is refused whole with 403 (:func:`authorize`). Embedded mode
writes the batch in one store transaction; streaming mode checks the store for duplicates,
then publishes the new events with the producer SDK and waits for acks (docs/adr/0022-http-intake.md).
"""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal

from greenshield.api.auth import Principal
from greenshield.api.errors import ApiError, forbidden
from greenshield.api.service import Service
from greenshield.errors import GreenShieldError
from greenshield.intake.classify import classify as classify_candidates
from greenshield.intake.decisions import Decision, Duplicate, Fresh, Key, Rejected
from greenshield.intake.lines import BOM, Line, Reader, conflict_rejected
from greenshield.rules.exact_json import Invalid, decode
from greenshield.rules.model import Rejection
from greenshield.rules.parse import is_blank
from greenshield.store import intake_stream as sink
from greenshield.store.batches import store_batch
from greenshield.store.database import IntegrityError
from greenshield.stream.decode import Reject, reject_message

Mode = Literal["rollback", "proceed"]
NDJSON = ("application/x-ndjson", "application/jsonl", "application/jsonlines", "application/json-seq")
RETRY_AFTER = {"Retry-After": "5"}  # seconds: a 503 of the store or the broker is worth retrying soon
log = logging.getLogger("greenshield.api")


@dataclass
class Outcome:
    index: int
    status: str = "accepted"
    event_id: str | None = None
    enterprise_id: str | None = None
    reason: str | None = None
    rejection: Rejection | None = None  # as stored in the rejects (masked payload)
    size: int = 0  # bytes of the line
    sha256: str | None = None  # of a line that did not parse (as the worker's rejects carry it)
    kind: str | None = None  # what the line states: "registry", "event", or None (no type to read)

    def to_dict(self) -> dict[str, Any]:
        return {"index": self.index, "status": self.status, "event_id": self.event_id,
                "enterprise_id": self.enterprise_id, "reason": self.reason}


# --------------------------------------------------------------------------- body → lines

def split_body(body: bytes, content_type: str, max_events: int) -> list[bytes]:
    """The events of a request body as JSON texts, one each; 400 or 413 when that cannot be."""
    if body.startswith(BOM):
        body = body[3:]
    media = content_type.split(";")[0].strip().lower()
    if media in NDJSON:
        lines = [line for line in body.split(b"\n") if not is_blank(line)]
    elif media in ("application/json", ""):
        lines = _array(body)
    else:
        raise ApiError(415, "send application/x-ndjson (JSON Lines) or application/json (an array of events)")
    if not lines:
        raise ApiError(400, "the batch holds no events")
    if len(lines) > max_events:
        raise ApiError(413, f"a batch holds at most {max_events} events")
    return lines


def _array(body: bytes) -> list[bytes]:
    try:
        value = decode(body)
    except Invalid as err:
        raise ApiError(400, f"the body is not JSON: {err}") from None
    if not isinstance(value, list):
        raise ApiError(400, "the body must be a JSON array of events")
    return [encode(v).encode() for v in value]


def encode(value: Any) -> str:
    """JSON text of a decoded value, numbers exactly as they were written (Decimal, big ints)."""
    if value is None or isinstance(value, bool):
        return {None: "null", True: "true", False: "false"}[value]
    if isinstance(value, (int, Decimal)):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)  # ASCII escapes: lone surrogates survive as they came
    if isinstance(value, list):
        return "[" + ",".join(encode(v) for v in value) + "]"
    return "{" + ",".join(f"{json.dumps(k)}:{encode(v)}" for k, v in value.items()) + "}"


# --------------------------------------------------------------------------- lines → outcomes

def classify(lines: list[bytes], enterprise: str | None, key: bytes,
             source: str = "-") -> tuple[list[Outcome], list[Line]]:
    """Validate each line; the outcomes (rejections decided) and the valid candidates, in order.

    A line's position in ``source`` is its index + 1 (the batch's lines, blank ones left out)."""
    reader = Reader(key)
    outcomes, candidates = [], []
    for index, raw in enumerate(lines):
        outcome = Outcome(index, size=len(raw))
        outcomes.append(outcome)
        obj, got = reader.line(raw, source, index + 1)
        outcome.kind = _kind(obj)
        if isinstance(got, Rejected):
            outcome.event_id, outcome.enterprise_id = _ids(obj)
            outcome.sha256 = hashlib.sha256(raw).hexdigest() if obj is None else None
            _reject(outcome, got.rejection)
            continue
        outcome.event_id, outcome.enterprise_id = got.item.event_id, got.item.enterprise_id
        if enterprise is not None and got.item.enterprise_id != enterprise:
            _reject(outcome, got.rejection("enterprise_mismatch: enterprise_id is not this token's enterprise"))
            continue
        candidates.append(got)
    return outcomes, candidates


def _kind(obj: Any) -> str | None:
    """What a line claims to state, by its declared ``type`` (valid or not): "registry", "event" or None."""
    declared = obj.get("type") if isinstance(obj, dict) else None
    if not isinstance(declared, str):
        return None
    return "registry" if declared == "registry" else "event"


RIGHTS = {"registry": ("state_registry", "registry records",
                       "only a registrar or regulator token states registry facts"),
          "event": ("state_events", "parcel events",
                    "only an enterprise token states parcel events, its own")}
SHOWN = 10  # line numbers named in a 403


def authorize(principal: Principal, outcomes: list[Outcome]) -> None:
    """403 naming the lines when the batch holds anything ``principal`` may not state; nothing is stored then.

    The line counts by the ``type`` it declares, valid or not: an enterprise's
    malformed registry record is as much an attempt on the registry as a valid one.
    """
    for kind, (right, what, rule) in RIGHTS.items():
        if principal.may(right):
            continue
        lines = [o.index + 1 for o in outcomes if o.kind == kind]
        if lines:
            log.warning("event=ingest_forbidden token_id=%s role=%s kind=%s lines=%d",
                        principal.token_id, principal.role, kind, len(lines))
            shown = ", ".join(map(str, lines[:SHOWN]))
            if len(lines) > SHOWN:
                shown += f" and {len(lines) - SHOWN} more"
            raise forbidden(f"line(s) {shown} of the batch (counted from 1) hold {what}, which a {principal.role} "
                            f"token may not send: {rule}. Nothing of the batch was stored.")


def _ids(obj: Any) -> tuple[str | None, str | None]:
    if not isinstance(obj, dict):
        return None, None
    ev, ent = obj.get("event_id"), obj.get("enterprise_id")
    return (ev if isinstance(ev, str) and len(ev) <= 64 else None,
            ent if isinstance(ent, str) and len(ent) <= 8 else None)


def _reject(outcome: Outcome, rejection: Rejection) -> None:
    outcome.status, outcome.reason, outcome.rejection = "rejected", rejection.reason, rejection


def decide(outcomes: list[Outcome], candidates: list[Line], known: dict[Key, bytes | None]) -> list[Fresh[Line]]:
    """Classify the candidates against ``known``; the new ones, the others' outcomes ``duplicate`` or a
    conflicting ``rejected``."""
    fresh = []
    for d in classify_candidates(candidates, known):
        if isinstance(d, Fresh):
            fresh.append(d)
        elif isinstance(d, Duplicate):
            outcomes[d.position - 1].status = "duplicate"
        else:
            _reject(outcomes[d.position - 1], conflict_rejected(d).rejection)
    return fresh


def summary(mode: Mode, outcomes: list[Outcome], committed: bool, delivery: str) -> dict[str, Any]:
    counts = {s: sum(1 for o in outcomes if o.status == s)
              for s in ("accepted", "duplicate", "rejected", "rolled_back")}
    return {"mode": mode, "delivery": delivery, "committed": committed, "counts": counts,
            "results": [o.to_dict() for o in outcomes]}


# --------------------------------------------------------------------------- the two sinks

class _RolledBack(GreenShieldError):
    """Raised inside the store transaction to undo a rollback batch."""


def ingest(service: Service, lines: list[bytes], mode: Mode, principal: Principal,
           source: str) -> tuple[dict[str, Any], bool]:
    """Classify, authorize (403) and store (or publish) a batch; return the answer and whether anything was
    committed."""
    key = service.audit.hmac_key
    batch = f"{source}:{uuid.uuid4().hex}"
    for attempt in range(3):
        outcomes, candidates = classify(lines, principal.enterprise_id, key, batch)
        authorize(principal, outcomes)
        try:
            if service.embedded:
                committed = _store(service, outcomes, candidates, mode, batch)
            else:
                committed = _publish(service, outcomes, candidates, mode, batch)
            break
        except IntegrityError:  # another request stored one of these keys meanwhile: look again
            if attempt == 2:
                raise ApiError(503, "the store is busy with the same events; retry the batch", RETRY_AFTER) from None
    if not committed and any(o.status == "rejected" for o in outcomes):
        for o in outcomes:
            if o.status == "accepted":
                o.status = "rolled_back"
    return summary(mode, outcomes, committed, "store" if service.embedded else "kafka"), committed


def _refused(mode: Mode, outcomes: list[Outcome]) -> bool:
    return mode == "rollback" and any(o.status == "rejected" for o in outcomes)


def _store(service: Service, outcomes: list[Outcome], candidates: list[Line], mode: Mode, source: str) -> bool:
    """One writer transaction: the new events with their entries, and the rejects (in line order); nothing on
    a refusal."""
    store = service.store
    try:
        with store.write() as conn:
            fresh = decide(outcomes, candidates, sink.stored_digests(conn, (c.key for c in candidates)))
            if _refused(mode, outcomes):
                raise _RolledBack
            rejects = [Rejected(source, o.index + 1, _storable(o.rejection)) for o in outcomes
                       if o.rejection is not None]
            decisions: list[Decision[Line]] = [*fresh, *rejects]
            store_batch(conn, store, decisions)
    except _RolledBack:
        return False
    return True


def _storable(rejection: Rejection) -> Rejection:
    """The rejection with exact numbers (Decimal) of its masked payload as plain JSON values, for the store."""
    return Rejection(rejection.reason, _plain(rejection.payload), rejection.key)


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        number = float(value)
        return number if number == number and abs(number) != float("inf") else str(value)
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _publish(service: Service, outcomes: list[Outcome], candidates: list[Line], mode: Mode,
             source: str) -> bool:
    """Streaming mode: publish the new events and the rejects (to the rejects topic, as the worker does)."""
    with service.store.read() as conn:
        fresh = decide(outcomes, candidates, sink.stored_digests(conn, (c.key for c in candidates)))
    if _refused(mode, outcomes):
        return False
    topic = service.settings.rejects_topic
    rejects = [reject_record(topic, source, o, o.rejection) for o in outcomes if o.rejection is not None]
    if not fresh and not rejects:
        return True
    from greenshield.sdk.clients import kafka_errors
    from greenshield.sdk.producer import DeliveryError

    undelivered: tuple[type[Exception], ...] = (DeliveryError, *kafka_errors(), OSError)
    try:
        service.kafka_producer().deliver([d.candidate.raw for d in fresh],
                                         timeout=service.settings.api_kafka_ack_seconds,
                                         extra=rejects)
    except undelivered as err:
        log.warning("event=publish_failed type=%s failed=%d", type(err).__name__, len(getattr(err, "failed", ())))
        raise ApiError(503, "Kafka did not acknowledge the batch; send it again (duplicates are harmless)",
                       RETRY_AFTER) from err
    return True


def reject_record(topic: str, source: str, outcome: Outcome, rejection: Rejection) -> tuple[str, bytes, bytes]:
    """``(topic, key, value)`` of a rejected line for the rejects topic: the worker's message shape
    (:func:`greenshield.stream.decode.reject_message`), located as the store locates HTTP rejects:
    ``topic`` is the batch's source ``api:<token id>:<batch id>``, ``partition`` 0, ``offset`` the line number."""
    reject = Reject(source, 0, outcome.index + 1, _storable(rejection), outcome.size, outcome.sha256)
    key, value = reject_message(reject)
    return topic, key, value
