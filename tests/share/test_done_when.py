"""The sharing issue's "Done when" run, whole: ``scripts/notify_scenario.py`` as a child process.

10,000 violation changes through ``greenshield notifier`` to a real receiver on 127.0.0.1 on a private
secure broker; the receiver is down for 60 s in the middle, the notifier is SIGKILLed once and the broker
restarted once. The script checks every message arrived at least once, each signature with
``standardwebhooks``, no id missing, duplicates only redeliveries with the same id and body, outbox order,
a scoped department's exact share, and one delivery leaf per attempt; this test asserts its summary.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.kafka
def test_ten_thousand_violations_through_an_outage_a_kill_and_a_broker_restart(kafka_bootstrap: str) -> None:
    # the script starts a broker of its own: nothing of the shared test broker's login or address
    env = {k: v for k, v in os.environ.items()
           if k not in ("GREENSHIELD_KAFKA_CREDENTIALS", "GREENSHIELD_KAFKA_HOST", "GREENSHIELD_KAFKA_PORT")}
    env["PYTHONPATH"] = str(ROOT)
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "notify_scenario.py"),
                           "--violations", "10000", "--outage", "60"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=1200)
    tail = done.stdout[-3000:] + done.stderr[-3000:]
    assert done.returncode == 0, tail
    summary = json.loads(done.stdout[done.stdout.index("{"):])
    assert summary["ok"] and summary["arrived_in_time"], summary
    assert summary["messages"] == 10_000 and summary["missing"] == 0 and summary["distinct"] == 10_000, summary
    assert summary["received"] >= 10_000 and summary["duplicates_same_body"] and summary["in_outbox_order"], summary
    assert summary["scoped_exact"] and summary["scoped_messages"] > 0, summary
    assert summary["attempts"] == summary["delivery_leaves"] > summary["received"], summary  # retries were recorded
    assert summary["outage_s"] >= 60, summary
