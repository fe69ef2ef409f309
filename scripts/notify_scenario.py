"""The sharing "Done when" run: 10,000 violations through ``greenshield notifier`` to a real receiver.

On a private secure broker (its own ports and data directory, so the shared test broker is never touched)
and a SQLite store in a temporary directory::

    publish 3,000 violation changes      the notifier (a child process, logged in as gs-notifier) delivers
    the receiver goes down for --outage seconds (60); meanwhile:
      publish 3,000 more; SIGKILL the notifier and start it again; stop the broker and start it again;
      publish the last 4,000
    the receiver comes back; wait until every message has arrived

then checks: every message arrived at least once, each signature verifies with ``standardwebhooks``, no id is
missing, a duplicate is only a redelivery (the same id with the same body), the messages came in the
subscription's outbox order (so each violation's changes in ``seq`` order), a scoped department received
exactly its share, and every attempt is a ``delivery`` leaf. Prints one JSON summary; exit 0 when all hold.

    PYTHONPATH=. python scripts/notify_scenario.py [--violations 10000] [--outage 60]

It takes about three to six minutes (the outage, a broker start, the backoff after the outage);
``tests/share/test_done_when.py`` runs it in ``make test``, and ``tests/share/`` covers each behaviour on its own.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402
from tests.share.sharekit import Receiver, department, publish, subscribe, wait_until  # noqa: E402

from greenshield.store import schema as t  # noqa: E402
from greenshield.store.database import Store  # noqa: E402
from greenshield.store import sharing_tables as st  # noqa: E402
from greenshield.devtools import kafka_broker as broker  # noqa: E402
from greenshield.devtools.process import free_port  # noqa: E402
from greenshield.stream import principals  # noqa: E402
from greenshield.stream.topics import admin_client, create_topics, topic_specs  # noqa: E402
from greenshield.settings import Settings  # noqa: E402
from greenshield.share.webhooks import violation_id  # noqa: E402

RULES = ("PH-1", "PH-2", "XR-1", "XR-3", "IN-1", "RN-1", "TK-1", "PR-1")
SEVERITY = {"PH-1": "critical", "PH-2": "critical", "XR-1": "critical", "XR-3": "critical"}


def changes(n: int) -> list[dict[str, Any]]:
    """``n`` violation changes as the worker publishes them: every fifth key is later retracted."""
    out: list[dict[str, Any]] = []
    i = 0
    while len(out) < n:
        ent = ("E3100001", "E3200001", "E3300001")[i % 3]
        base = {"v": 1, "enterprise_id": ent, "waybill_no": f"SCN{i:08d}", "rule_id": RULES[i % len(RULES)],
                "severity": SEVERITY.get(RULES[i % len(RULES)], "high"), "occurred_at": "2026-11-13T01:00:00Z",
                "evidence": [f"ev-{i}"], "message": "scenario", "rule_pack": "greenshield-default@1"}
        out.append({**base, "change": "opened", "seq": 1, "status": "open", "as_of": "2026-11-13T02:00:00Z"})
        if i % 5 == 0 and len(out) < n:
            out.append({**base, "change": "retracted", "seq": 2, "status": "retracted",
                        "as_of": "2026-11-13T03:00:00Z"})
        i += 1
    return out


def spawn(env: dict[str, str], db: str, log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "greenshield.commands.notifier", "--db", db], env=env,
                            stdout=open(log, "ab"), stderr=subprocess.STDOUT, cwd=ROOT)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--violations", type=int, default=10_000)
    ap.add_argument("--outage", type=float, default=60.0)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="gs-notify-scenario-"))
    cfg = broker.BrokerConfig(data_dir=work / "kafka", cache_dir=Settings().kafka_cache_dir, port=free_port(),
                              controller_port=free_port(), secure=True)
    started = time.monotonic()
    broker.up(cfg, ready_timeout=180)
    proc = None
    receiver, scoped_receiver = Receiver(), Receiver()
    try:
        settings = Settings(kafka_host=cfg.host, kafka_port=cfg.port, kafka_security=cfg.client_security(),
                            data_dir=work / "data")
        admin = admin_client(settings)
        try:
            create_topics(admin, topic_specs(settings))
            [creds] = principals.apply(admin, [principals.system("notifier")], settings, cfg.credentials_dir)
        finally:
            admin.close()
        db = f"sqlite:///{work / 'store.db'}"
        store = Store.open(db)
        from greenshield.store import tokens

        tokens.ensure_tables(store)
        everyone = subscribe(store, department(store, "all", "all"), receiver.url)
        scoped = subscribe(store, department(store, "rules=PH-1,XR-3;enterprises=E3100001", "scoped"),
                           scoped_receiver.url)
        receiver.secret, scoped_receiver.secret = everyone.secret, scoped.secret  # verified as they arrive
        env = {**os.environ, "GREENSHIELD_KAFKA_HOST": cfg.host, "GREENSHIELD_KAFKA_PORT": str(cfg.port),
               "GREENSHIELD_KAFKA_CREDENTIALS": str(creds), "GREENSHIELD_DATA_DIR": str(work / "data"),
               "GREENSHIELD_NOTIFY_ALLOW_LOCAL_HTTP": "1", "GREENSHIELD_NOTIFY_RETRY_BASE_MS": "200",
               "GREENSHIELD_NOTIFY_RETRY_CAP_MS": "5000", "GREENSHIELD_NOTIFY_MAX_ATTEMPTS": "1000",
               "GREENSHIELD_NOTIFY_STORE_WAIT_MS": "0",  # its changes are published only, never stored
               "GREENSHIELD_LOG_LEVEL": "WARNING", "PYTHONPATH": str(ROOT)}
        values = changes(args.violations)
        a, b = int(len(values) * 0.3), int(len(values) * 0.6)
        log = work / "notifier.log"
        proc = spawn(env, db, log)
        publish(settings, values[:a])
        assert wait_until(lambda: len(receiver.got) >= a // 3, 120), "no deliveries before the outage"
        receiver.stop()
        down_at = time.monotonic()
        publish(settings, values[a:b])
        time.sleep(min(10.0, args.outage / 6))
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
        proc = spawn(env, db, log)
        time.sleep(min(5.0, args.outage / 12))
        broker.down(cfg, timeout=60)
        time.sleep(3)
        broker.up(cfg, ready_timeout=180)
        publish(settings, values[b:])
        time.sleep(max(0.0, args.outage - (time.monotonic() - down_at)))
        receiver.start()
        outage = time.monotonic() - down_at
        want = [violation_id(v["enterprise_id"], v["waybill_no"], v["rule_id"], v["seq"]) for v in values]
        arrived = wait_until(lambda: set(receiver.ids()) >= set(want), 600, 0.5)
        proc.send_signal(signal.SIGTERM)
        proc.wait(60)
        proc = None
        summary = check(store, receiver, scoped_receiver, everyone, scoped, values, want)
        summary.update(arrived_in_time=arrived, outage_s=round(outage, 1),
                       total_s=round(time.monotonic() - started, 1), work_dir=str(work))
        store.close()
        print(json.dumps(summary, indent=2, sort_keys=True))
        return 0 if arrived and summary["ok"] else 1
    finally:
        if proc is not None:
            proc.kill()
        receiver.stop()
        scoped_receiver.stop()
        broker.down(cfg, timeout=60)


def check(store: Store, receiver: Receiver, scoped_receiver: Receiver, everyone: Any, scoped: Any,
          values: list[dict[str, Any]], want: list[str]) -> dict[str, Any]:
    bodies = receiver.verified(everyone.secret)  # raises on any bad signature
    scoped_bodies = scoped_receiver.verified(scoped.secret)
    ids = receiver.ids()
    first: dict[str, Any] = {}
    same = all(first.setdefault(i, body) == body for i, body in zip(ids, bodies))
    o, d = st.outbox, t.deliveries
    with store.read() as conn:
        queued = list(conn.execute(sa.select(o.c.message_id).where(o.c.subscription_id == everyone.id)
                                   .order_by(o.c.id)).scalars())
        attempts = conn.execute(sa.select(sa.func.count()).select_from(d)).scalar_one()
        leaves = conn.execute(sa.select(sa.func.count()).select_from(t.audit_log)
                              .where(t.audit_log.c.kind == "delivery")).scalar_one()
    share = sorted(violation_id(v["enterprise_id"], v["waybill_no"], v["rule_id"], v["seq"]) for v in values
                   if v["rule_id"] in ("PH-1", "XR-3") and v["enterprise_id"] == "E3100001")
    got_share = sorted(dict.fromkeys(scoped_receiver.ids()))
    summary = {"messages": len(want), "received": len(ids), "distinct": len(set(ids)),
               "missing": len(set(want) - set(ids)), "duplicates_same_body": same,
               "in_outbox_order": list(dict.fromkeys(ids)) == queued, "outbox_complete": sorted(queued) == sorted(want),
               "scoped_exact": got_share == share and len(scoped_bodies) >= len(share), "scoped_messages": len(share),
               "attempts": attempts, "delivery_leaves": leaves}
    summary["ok"] = (summary["missing"] == 0 and same and summary["in_outbox_order"] and summary["outbox_complete"]
                     and summary["scoped_exact"] and attempts == leaves)
    return summary


if __name__ == "__main__":
    sys.exit(main())
