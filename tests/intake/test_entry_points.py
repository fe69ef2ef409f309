"""The four entry points decide the same lines the same way: ``check``, ``run``, ``POST /v1/events``, the worker.

A simulated day with faults and noise (exact and conflicting duplicates, truncated
JSON, timestamps without offset), plus hand-made lines, is fed to each; then a
second file that repeats and changes some of it, decided against what the first
stored (or, for ``check``, saw). Every non-blank line gets the same decision
everywhere: stored, duplicate, or rejected with the same reason. No broker: the
worker's Kafka decode and store transaction are called on messages built here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy as sa

from greenshield.store import schema as t
from greenshield.store.intake_files import Intake
from greenshield.store.pipeline import Audit, open_audit
from tests.support.store import settings_for
from greenshield.rules.batch import BatchChecker
from greenshield.rules.pack import default_pack
from greenshield.rules.parse import is_blank
from greenshield.settings import Settings
from greenshield.simulate import generate_lines

Decided = dict[int, tuple[str, str | None]]  # line number -> ("stored" | "duplicate" | "rejected", reason)
SECOND = 100_000  # the second file's line numbers start here (the worker's offsets, too)


def files() -> tuple[list[bytes], list[bytes]]:
    day = list(generate_lines(150, 3, fault_rate=0.1, noise_rate=0.3))
    first = day + [b"", b"  ", b"\xef\xbb\xbf{}", b"[1, 2]", b'{"v": 1}', day[5],
                   day[6].replace(b'"site_id":"', b'"site_id":"X', 1), day[6]]
    second = day[:50] + [line.rstrip().removesuffix(b"}") + b',"note":"changed"}' for line in day[50:90]]
    return first, second


def numbered(lines: list[bytes], base: int) -> dict[int, bytes]:
    return {base + n: line for n, line in enumerate(lines, 1) if not is_blank(line)}


def from_store(audit: Audit, lines: dict[int, bytes], where: dict[str, int]) -> Decided:
    """Decisions as the store shows them: events and rejects by (source, position); the rest are duplicates."""
    out: Decided = {}
    with audit.store.read() as conn:
        for source, position in conn.execute(sa.select(t.events.c.source, t.events.c.position)):
            out[where[source] + int(position)] = ("stored", None)
        for source, position, reason in conn.execute(sa.select(t.rejects.c.source, t.rejects.c.position,
                                                               t.rejects.c.reason)):
            out[where[source] + int(position)] = ("rejected", reason)
    return {n: out.get(n, ("duplicate", None)) for n in lines}


def by_run(audit: Audit, first: list[bytes], second: list[bytes]) -> tuple[Decided, Any]:
    intake = Intake(audit.store, audit.hmac_key)
    intake.feed(first, "first.jsonl")
    intake.feed(second, "second.jsonl")
    lines = numbered(first, 0) | numbered(second, SECOND)
    return from_store(audit, lines, {"first.jsonl": 0, "second.jsonl": SECOND}), intake.stats


class AnyRight:
    """A principal who may state events of every enterprise and registry records (authorization is not intake)."""

    token_id, role, enterprise_id = "t-intake", "regulator", None

    def may(self, right: str) -> bool:
        return True


def by_http(settings: Settings, audit: Audit, first: list[bytes], second: list[bytes]) -> Decided:
    from greenshield.api.intake import ingest
    from greenshield.api.service import Service

    service = Service(settings, audit, default_pack(), owns_store=False)
    out: Decided = {}
    for lines, base in ((first, 0), (second, SECOND)):
        body = list(numbered(lines, base).items())  # a body's blank lines are left out (split_body)
        for k in range(0, len(body), 100):
            chunk = body[k:k + 100]
            answer, _ = ingest(service, [line for _, line in chunk], "proceed", AnyRight(),  # type: ignore[arg-type]
                               "api:intake")
            for (n, _), result in zip(chunk, answer["results"]):
                status = {"accepted": "stored"}.get(result["status"], result["status"])
                out[n] = (status, result["reason"])
    return out


class Acked:
    is_done, exception = True, None

    def failed(self) -> bool:
        return False


class Producer:
    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes]] = []

    def send(self, topic: str, key: bytes | None = None, value: bytes = b"") -> Acked:
        self.sent.append((topic, value))
        return Acked()

    def flush(self, timeout: float | None = None) -> None:
        pass


def by_worker(settings: Settings, audit: Audit, first: list[bytes], second: list[bytes]) -> Decided:
    """Each line a message at offset = its line number, on the topic and partition the SDK would choose."""
    from greenshield.stream.decode import Candidate, Control, decode_message
    from greenshield.stream.state import partition_of
    from greenshield.stream.worker import Worker
    from greenshield.rules.model import Event, RegistryRecord
    from greenshield.rules.parse import parse_line

    s = settings
    worker = Worker(s, audit, default_pack())
    worker.producer = Producer()
    worker.parts.build({p: worker.parts.new_clock() for p in range(s.events_partitions)})
    out: Decided = {}
    for lines, base in ((first, 0), (second, SECOND)):
        items = []
        for n, line in numbered(lines, base).items():
            item = parse_line(line)[1]
            topic, partition = ((s.registry_topic, 0) if isinstance(item, RegistryRecord) else
                                (s.events_topic, partition_of(item.waybill_no, s.events_partitions))
                                if isinstance(item, Event) else (s.events_topic, 0))
            got = decode_message(topic, partition, n, None, line, [], worker.ctx)
            assert got is not None and not isinstance(got, Control)
            items.append(got)
        for k in range(0, len(items), 150):
            outcome = worker._commit(items[k:k + 150])
            out.update({c.offset: ("stored", None) for c in outcome.fresh})
            out.update({c.offset: ("duplicate", None) for c in outcome.duplicates})
            out.update({r.offset: ("rejected", r.rejection.reason) for r in outcome.rejects})
        assert all(isinstance(i, Candidate) or i.offset in out for i in items)
    return out


def by_check(first: list[bytes], second: list[bytes]) -> tuple[dict[int, str], Any]:
    rejected: dict[int, str] = {}
    checker = BatchChecker(default_pack(), lambda r: rejected.__setitem__(
        r.line + (SECOND if r.source == "second" else 0), r.rejection.reason))
    checker.feed(first, "first")
    checker.feed(second, "second")
    return rejected, checker.stats


def test_the_four_entry_points_decide_alike(tmp_path: Path) -> None:
    first, second = files()
    runs = []
    for name in ("run", "http", "worker"):
        (tmp_path / name).mkdir()
        settings = settings_for(tmp_path / name / "var", f"sqlite:///{tmp_path / name / 'intake.db'}")
        audit = open_audit(settings)
        try:
            if name == "run":
                decided, stats = by_run(audit, first, second)
            elif name == "http":
                decided = by_http(settings, audit, first, second)
            else:
                decided = by_worker(settings, audit, first, second)
        finally:
            audit.close()
        runs.append(decided)
    run, http, worker = runs
    lines = numbered(first, 0) | numbered(second, SECOND)
    assert set(run) == set(lines)
    assert http == run
    assert worker == run

    statuses = [d[0] for d in run.values()]
    reasons = [d[1] or "" for d in run.values()]
    assert (stats.lines, stats.stored, stats.duplicates, stats.rejected) == (
        len(first) + len(second), statuses.count("stored"), statuses.count("duplicate"), statuses.count("rejected"))
    conflicts = [n for n, r in zip(run, reasons) if r.startswith("conflicting duplicate of (")]
    assert any(n < SECOND for n in conflicts) and any(n > SECOND for n in conflicts), "within a file and vs the store"
    assert statuses.count("duplicate") > 40 and sum("not valid JSON" in r for r in reasons) >= 3

    rejected, check = by_check(first, second)
    assert rejected == {n: r for n, (s, r) in run.items() if s == "rejected"}
    assert (check.lines, check.accepted, check.duplicates, check.rejected) == (
        stats.lines, stats.stored, stats.duplicates, stats.rejected)
