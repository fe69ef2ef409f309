"""Traceability queries: 可追溯 (waybill), 可追踪 (vehicle), 可倒查 (staff), machine, sender; violation filters."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from greenshield import cli
from greenshield.store import schema as t
from greenshield.translog.entries import loads
from greenshield.rules.model import TYPE_RANK
from greenshield.rules.timestamps import parse_instant

COMMANDS = ("check", "run", "trace", "violations", "audit")
ID_NUMBER = "330200195302199992"
NAME = "陈强"


def ev(event_id: str, type_: str, waybill: str, at: str, site: str = "S10000001", staff: str = "P10000001",
       **extra: Any) -> dict[str, Any]:
    return {"v": 1, "event_id": event_id, "type": type_, "enterprise_id": "E3100001", "waybill_no": waybill,
            "occurred_at": f"2026-11-11T{at}+08:00", "site_id": site, "staff_id": staff, **extra}


def parcel(n: int, id_number: str) -> list[dict[str, Any]]:
    w = f"WB0000000{n}"
    sender = {"name": NAME, "id_type": "resident_id", "id_number": id_number, "verified_by": "id_reader"}
    return [
        ev(f"{n}-d", "delivery", w, "18:00:00", site="S20000002", method="locker"),  # out of order on purpose
        ev(f"{n}-a", "acceptance", w, "08:00:00", origin_region="310000", destination_region="320100",
           weight_g=800, sender=sender, inspection={"inspector_id": "P30000003", "inspected_at":
                                                     "2026-11-11T08:00:00+08:00", "result": "passed",
                                                     "category": "books"}),
        ev(f"{n}-x", "xray", w, "08:00:00", machine_id="X10000001", result="clear"),  # same instant: after
        ev(f"{n}-dep", "depart", w, "09:00:00", vehicle_id="V10000001", to_site_id="S20000002"),
        ev(f"{n}-arr", "arrive", w, "12:00:00", site="S20000002", vehicle_id="V10000001",
           from_site_id="S10000001"),
    ]


@pytest.fixture
def gs(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, db_url: str, capsys: pytest.CaptureFixture[str]) -> Any:
    """The CLI against a store holding two parcels of one sender; returns (exit code, stdout)."""
    monkeypatch.setattr(cli, "COMMAND_MODULES", COMMANDS)
    monkeypatch.setenv("GREENSHIELD_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("GREENSHIELD_HMAC_KEY", "test-hmac-key")
    day = tmp_path / "day.jsonl"
    events = parcel(1, ID_NUMBER) + parcel(2, f" {ID_NUMBER}\u3000")  # trimmed: the same sender
    day.write_text("".join(json.dumps(e, ensure_ascii=False) + "\n" for e in events), encoding="utf-8")
    assert cli.main(["run", str(day), "--db", db_url]) == 0

    def call(*argv: Any) -> tuple[int, str]:
        capsys.readouterr()
        code = cli.main([str(a) for a in argv] + ["--db", db_url])
        return code, capsys.readouterr().out
    return call


def logged_queries(db_url: str) -> list[dict[str, Any]]:
    engine = sa.create_engine(db_url)
    with engine.connect() as conn:
        docs = conn.execute(sa.select(t.queries.c.doc).order_by(t.queries.c.id)).scalars().all()
    engine.dispose()
    return [loads(d) for d in docs]


class TestTraceWaybill:
    def test_events_come_in_contract_order_with_entry_numbers(self, gs: Any) -> None:
        """可追溯: §3.1 order (instant, type rank), each event with its audit entry number."""
        code, out = gs("trace", "WB00000001", "--json")
        doc = json.loads(out)
        assert code == 0 and doc["waybill_no"] == "WB00000001"
        keys = [(parse_instant(e["occurred_at"]), TYPE_RANK[e["type"]]) for e in doc["events"]]
        assert keys == sorted(keys)
        assert [e["type"] for e in doc["events"]] == ["acceptance", "xray", "depart", "arrive", "delivery"]
        assert all(isinstance(e["audit_entry"], int) for e in doc["events"])
        assert doc["events"][1]["machine_id"] == "X10000001" and doc["events"][1]["result"] == "clear"
        assert doc["events"][2]["vehicle_id"] == "V10000001"
        assert "violations" in doc

    def test_the_sender_appears_masked(self, gs: Any) -> None:
        """Only the masked forms of the sender are shown, never the name, number or hash."""
        _, out = gs("trace", "WB00000001", "--json")
        sender = json.loads(out)["events"][0]["sender"]
        assert sender == {"id_type": "resident_id", "verified_by": "id_reader", "name_masked": "陈*",
                          "id_number_masked": "330*************92"}
        assert NAME not in out and ID_NUMBER not in out

    def test_the_table_is_readable(self, gs: Any) -> None:
        """Without --json: a header line and one row per event."""
        code, out = gs("trace", "WB00000001")
        assert code == 0
        assert "#entry" in out and out.count("WB00000001") >= 5


class TestTraceOthers:
    def test_vehicle_gives_its_parcels_and_legs(self, gs: Any) -> None:
        """可追踪: the vehicle's waybills, each leg from depart to arrive."""
        doc = json.loads(gs("trace", "--vehicle", "V10000001", "--json")[1])
        assert doc["vehicle_id"] == "V10000001"
        assert doc["waybills"] == ["WB00000001", "WB00000002"]
        leg = doc["legs"][0]
        assert (leg["from_site_id"], leg["to_site_id"]) == ("S10000001", "S20000002")
        assert leg["depart_event_id"] == "1-dep" and leg["arrive_event_id"] == "1-arr"

    def test_vehicle_window(self, gs: Any) -> None:
        """--from/--to keep only the events inside the window."""
        doc = json.loads(gs("trace", "--vehicle", "V10000001", "--from", "2026-11-11T10:00:00+08:00", "--json")[1])
        assert all(g["depart_event_id"] is None for g in doc["legs"]) and len(doc["legs"]) == 2

    def test_staff_covers_the_inspector_role(self, gs: Any) -> None:
        """可倒查: a person who only inspected still gets those parcels."""
        doc = json.loads(gs("trace", "--staff", "P30000003", "--json")[1])
        assert doc["waybills"] == ["WB00000001", "WB00000002"]
        assert {tuple(e["roles"]) for e in doc["events"]} == {("inspector",)}

    def test_machine_gives_the_parcels_screened(self, gs: Any) -> None:
        """The machine's xray events and their parcels."""
        doc = json.loads(gs("trace", "--machine", "X10000001", "--json")[1])
        assert doc["waybills"] == ["WB00000001", "WB00000002"]
        assert {e["type"] for e in doc["events"]} == {"xray"}

    def test_sender_lookup_goes_through_the_hash_and_is_logged(self, gs: Any, db_url: str) -> None:
        """An auditor finds one person's parcels by ID number; the log records the hash, not the number."""
        code, out = gs("trace", "--sender-id-type", "resident_id", "--sender-id", ID_NUMBER, "--json")
        doc = json.loads(out)
        assert code == 0 and doc["waybills"] == ["WB00000001", "WB00000002"]
        assert ID_NUMBER not in out
        last = logged_queries(db_url)[-1]
        assert last["query"] == "trace.sender" and last["results"] == 2
        assert ID_NUMBER not in json.dumps(last) and len(last["params"]["id_hash"]) == 64

    def test_every_query_is_an_audit_entry(self, gs: Any, db_url: str) -> None:
        """Each trace and violations query adds one query entry to the log."""
        gs("trace", "WB00000001", "--json")
        gs("trace", "--staff", "P10000001")
        gs("violations", "--json")
        assert [q["query"] for q in logged_queries(db_url)] == ["trace.waybill", "trace.staff", "violations"]


class TestViolations:
    def test_filters_select_by_rule_enterprise_status_and_time(self, gs: Any) -> None:
        """--rule, --enterprise, --open and --since narrow the JSON Lines listing."""
        everything = [json.loads(x) for x in gs("violations", "--json")[1].splitlines()]
        assert everything and all("status" in v and "rule_pack" in v for v in everything)
        rule = everything[0]["rule_id"]
        only = [json.loads(x) for x in gs("violations", "--json", "--rule", rule)[1].splitlines()]
        assert only and {v["rule_id"] for v in only} == {rule}
        assert gs("violations", "--json", "--enterprise", "E9999999")[1] == ""
        assert gs("violations", "--json", "--since", "2027-01-01T00:00:00Z")[1] == ""
        assert len(gs("violations", "--json", "--open")[1].splitlines()) == len(everything)
        assert "violation(s)" in gs("violations")[1]
