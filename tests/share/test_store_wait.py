"""The notifier waits for the worker's store commit before it routes a change read from Kafka.

The worker publishes a batch's violations just before its store transaction commits; a department scoped by
region is matched on the parcel's region, read from the stored acceptance. Read too early, that region is
missing and the department would never get the message.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import orjson
import sqlalchemy as sa
from tests.share.sharekit import OnePollConsumer, Receiver, Record, copy, department, subscribe, topic_values

from greenshield.store import schema as t
from greenshield.store.database import Store
from greenshield.settings import Settings
from greenshield.store import sharing_tables as st
from greenshield.share.messages import violation
from greenshield.notifier.service import Notifier, change_key, origins


def _uncommitted(seeded: Path, into: Path, wait_ms: int, receiver: Receiver) -> tuple[bool, int]:
    """Hide one change and its parcel's acceptance, let the notifier read the change, commit them 0.3 s later.

    Returns whether the region-scoped department's outbox got the message, and the changes still missing."""
    settings: Settings = copy(seeded, into, notify_store_wait_ms=wait_ms)
    store = Store.open(settings.db_url)
    try:
        values = [v for v in topic_values(store) if v["change"] == "opened"]
        with store.read() as conn:
            regions = origins(conn, {(v["enterprise_id"], v["waybill_no"]) for v in values})
        value = next(v for v in values if regions[(v["enterprise_id"], v["waybill_no"])] is not None)
        region = regions[(value["enterprise_id"], value["waybill_no"])]
        sub = subscribe(store, department(store, f"regions={region}"), receiver.url)
        ent, wb, rule, seq = change_key(value)
        e, vc = t.events, t.violation_changes
        acceptances = (e.c.enterprise_id == ent) & (e.c.waybill_no == wb) & (e.c.type == "acceptance")
        change = (vc.c.enterprise_id == ent) & (vc.c.waybill_no == wb) & (vc.c.rule_id == rule) & (vc.c.seq == seq)
        with store.write() as conn:
            hidden_events = [dict(r._mapping) for r in conn.execute(sa.select(e).where(acceptances))]
            hidden_change = [dict(r._mapping) for r in conn.execute(sa.select(vc).where(change))]
            conn.execute(e.delete().where(acceptances))
            conn.execute(vc.delete().where(change))
        assert hidden_events and len(hidden_change) == 1

        def commit_later() -> None:
            time.sleep(0.3)
            with store.write() as conn:
                conn.execute(e.insert(), hidden_events)
                conn.execute(vc.insert(), hidden_change)

        notifier = Notifier(settings, store, OnePollConsumer([Record(orjson.dumps(value))]))
        later = threading.Thread(target=commit_later)
        later.start()
        try:
            notifier.intake()  # reads the change at once; its commit comes 0.3 s later
            with store.read() as conn:
                missing = int(conn.execute(sa.select(sa.func.count()).select_from(vc).where(change)).scalar_one() == 0)
        finally:
            later.join()
            notifier.deliverer.close()
        message_id = violation(value, region).id
        with store.read() as conn:
            got = conn.execute(sa.select(sa.func.count()).select_from(st.outbox).where(
                st.outbox.c.subscription_id == sub.id, st.outbox.c.message_id == message_id)).scalar_one()
        return got == 1, missing
    finally:
        store.close()


def test_a_change_read_before_the_commit_reaches_the_region_scoped_department(
        seeded: Path, tmp_path: Path, receiver: Receiver) -> None:
    queued, missing = _uncommitted(seeded, tmp_path, 5000, receiver)
    assert missing == 0 and queued


def test_without_the_wait_the_region_is_missing_and_the_department_gets_nothing(
        seeded: Path, tmp_path: Path, receiver: Receiver) -> None:
    """The race the wait closes (so the test above would fail without it)."""
    queued, missing = _uncommitted(seeded, tmp_path, 0, receiver)
    assert missing == 1 and not queued
