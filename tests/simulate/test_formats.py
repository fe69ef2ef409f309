"""Every simulated event has the formats of contract §1 (checked here independently of the rules engine)."""

from __future__ import annotations

from collections import Counter
from datetime import date
from typing import Any

from tests.simulate.simdays import PARCEL_TYPES, PATTERNS, RFC3339, Day, instant

GB11643_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
PROVINCES = set("11 12 13 14 15 21 22 23 31 32 33 34 35 36 37 41 42 43 44 45 46 50 51 52 53 54 61 62 63 64 65 71 81 82 83".split())
DELTA = ("31", "32", "33")
ID_TYPES = (
    "resident_id", "temporary_resident_id", "hmt_residence_permit", "passport",
    "hk_macao_permit", "taiwan_permit", "foreign_permanent_resident", "military_id",
)


def is_int(v: Any) -> bool:
    return type(v) is int


def check_char(body17: str) -> str:
    return "10X98765432"[sum(int(c) * w for c, w in zip(body17, GB11643_WEIGHTS)) % 11]


def resident_like_ok(number: str, on: date) -> bool:
    """18 chars, right check char, real birth date not after ``on``, province code."""
    if len(number) != 18 or not all(c in "0123456789" for c in number[:17]):
        return False
    if check_char(number[:17]) != number[17]:
        return False
    try:
        born = date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        return False
    return date(1900, 1, 1) <= born <= on and number[:2] in PROVINCES


def document_ok(id_type: str, raw: str, on: date) -> bool:
    n = raw.strip()
    digits = set("0123456789")
    if id_type in ("resident_id", "temporary_resident_id"):
        return resident_like_ok(n, on)
    if id_type == "hmt_residence_permit":
        return resident_like_ok(n, on) and n[:2] in ("81", "82", "83")
    if id_type == "passport":
        return 5 <= len(n) <= 17 and all(c in digits or "A" <= c <= "Z" for c in n)
    if id_type == "hk_macao_permit":
        return n[:1] in ("H", "M") and len(n) in (9, 11) and set(n[1:]) <= digits
    if id_type == "taiwan_permit":
        return len(n) in (8, 10) and set(n) <= digits
    if id_type == "foreign_permanent_resident":
        if len(n) == 15:
            return all("A" <= c <= "Z" for c in n[:3]) and set(n[3:]) <= digits
        return len(n) == 18 and n[0] == "9" and set(n[:17]) <= digits and check_char(n[:17]) == n[17]
    if id_type == "military_id":
        return 1 <= len(n) <= 32 and not any(c.isspace() for c in n)
    return False


def check_event(ev: dict[str, Any]) -> None:
    assert ev["v"] == 1 and is_int(ev["v"])
    assert PATTERNS["event_id"].match(ev["event_id"]), ev
    assert PATTERNS["enterprise"].match(ev["enterprise_id"]), ev
    assert RFC3339.match(ev["occurred_at"]), ev
    if ev["type"] == "registry":
        base = {"v", "event_id", "type", "enterprise_id", "occurred_at", "entity", "id", "status"}
        if ev["entity"] in ("staff", "person") and "person" in ev:  # revision 2 §8.2: a well-formed document
            assert set(ev) == base | {"person"}
            assert set(ev["person"]) == {"id_type", "id_number"}
            assert document_ok(ev["person"]["id_type"], ev["person"]["id_number"], instant(ev["occurred_at"]).date()), ev
        else:
            assert set(ev) == base
        assert PATTERNS[ev["entity"]].match(ev["id"]), ev
        allowed = ("active", "blacklisted") if ev["entity"] == "person" else ("active", "suspended", "revoked",
                                                                              "blacklisted")
        assert ev["status"] in allowed
        return
    t = ev["type"]
    assert t in PARCEL_TYPES, ev
    assert PATTERNS["waybill"].match(ev["waybill_no"]), ev
    assert PATTERNS["site"].match(ev["site_id"]), ev
    if "staff_id" in ev:
        assert PATTERNS["staff"].match(ev["staff_id"]), ev
    extra = set(ev) - {"v", "event_id", "type", "enterprise_id", "occurred_at", "waybill_no", "site_id", "staff_id"}
    if t == "acceptance":
        assert extra <= {"sender", "contract_customer_id", "inspection", "origin_region", "destination_region", "weight_g"}
        assert PATTERNS["region"].match(ev["origin_region"]) and PATTERNS["region"].match(ev["destination_region"])
        assert is_int(ev["weight_g"]) and ev["weight_g"] > 0
        if "contract_customer_id" in ev:
            assert PATTERNS["contract_customer"].match(ev["contract_customer_id"]), ev
        if "sender" in ev:
            assert isinstance(ev["sender"], dict)
        if "inspection" in ev:
            ins = ev["inspection"]
            assert RFC3339.match(ins["inspected_at"]) and ins["result"] in ("passed", "refused")
            assert isinstance(ins["category"], str)
            if "inspector_id" in ins:
                assert PATTERNS["staff"].match(ins["inspector_id"]), ev
    elif t == "xray":
        assert extra <= {"machine_id", "result", "image_ref"}
        assert PATTERNS["xray_machine"].match(ev["machine_id"]) and ev["result"] in ("clear", "suspicious", "prohibited")
    elif t == "manual_check":
        assert extra == {"result"} and ev["result"] in ("cleared", "prohibited")
    elif t == "interception":
        assert extra <= {"reason", "report_no"} and isinstance(ev["reason"], str)
    elif t == "sort_scan":
        assert extra == set()
    elif t == "depart":
        assert extra <= {"vehicle_id", "to_site_id"} and PATTERNS["site"].match(ev["to_site_id"])
        if "vehicle_id" in ev:
            assert PATTERNS["vehicle"].match(ev["vehicle_id"])
    elif t == "arrive":
        assert extra <= {"vehicle_id", "from_site_id"} and PATTERNS["site"].match(ev["from_site_id"])
        if "vehicle_id" in ev:
            assert PATTERNS["vehicle"].match(ev["vehicle_id"])
    elif t == "delivery":
        assert extra == {"method"} and ev["method"] in ("hand", "locker", "station")


class TestEventFormats:
    """Every line of a clean and of a faulty day has the contract's field formats and types."""

    def test_clean_day(self, clean_day: Day) -> None:
        assert not clean_day.malformed
        for ev in clean_day.events:
            check_event(ev)

    def test_faulty_day_except_its_noise(self, faulty_day: Day) -> None:
        seen: set[tuple[str, str]] = set()
        for ev in faulty_day.events:
            key = (ev["enterprise_id"], ev["event_id"])
            if key in seen:  # a noise copy: exact or conflicting duplicate, or no offset
                continue
            seen.add(key)
            check_event(ev)

    def test_event_ids_unique_per_enterprise(self, clean_day: Day) -> None:
        keys = Counter((ev["enterprise_id"], ev["event_id"]) for ev in clean_day.events)
        assert max(keys.values()) == 1

    def test_about_ten_events_per_parcel(self, clean_day: Day) -> None:
        parcels = clean_day.parcels()
        mean = sum(len(v) for v in parcels.values()) / len(parcels)
        assert len(parcels) == 1500 and 8.5 <= mean <= 12

    def test_timestamps_mostly_plus_eight_with_some_z_and_fractions(self, clean_day: Day) -> None:
        stamps = [ev["occurred_at"] for ev in clean_day.events if ev["type"] != "registry"]
        plus8 = sum(s.endswith("+08:00") for s in stamps)
        assert plus8 > 0.8 * len(stamps)
        assert any(s.endswith("Z") for s in stamps)
        assert any("." in s for s in stamps)


class TestRegions:
    """Origins are real delta county codes; some destinations leave the delta."""

    def test_origins_in_the_delta(self, clean_day: Day) -> None:
        origins = {ev["origin_region"] for ev in clean_day.events if ev["type"] == "acceptance"}
        assert {o[:2] for o in origins} == set(DELTA)
        assert any(o.startswith("3101") for o in origins) and any(o.startswith("3205") for o in origins)
        assert any(o.startswith("3301") for o in origins) and all(not o.endswith("00") for o in origins)

    def test_some_destinations_outside_the_delta(self, clean_day: Day) -> None:
        dests = [ev["destination_region"] for ev in clean_day.events if ev["type"] == "acceptance"]
        outside = [d for d in dests if d[:2] not in DELTA]
        assert 0.05 * len(dests) < len(outside) < 0.5 * len(dests)
        assert {d[:2] for d in outside} >= {"11", "44", "51"}


class TestSenders:
    """Senders carry well-formed documents of every id_type, Chinese names and verified_by values."""

    def test_every_id_type_well_formed(self, clean_day: Day) -> None:
        seen: Counter[str] = Counter()
        for ev in clean_day.events:
            if ev["type"] == "acceptance" and "sender" in ev:
                s = ev["sender"]
                on = instant(ev["occurred_at"]).date()
                assert set(s) == {"name", "id_type", "id_number", "verified_by"}
                assert s["verified_by"] in ("id_reader", "face_match", "e_id", "manual")
                assert s["name"].strip()
                assert document_ok(s["id_type"], s["id_number"], on), s
                seen[s["id_type"]] += 1
        assert set(seen) == set(ID_TYPES)
        assert seen["resident_id"] > 0.7 * sum(seen.values())

    def test_both_foreign_permanent_resident_forms(self) -> None:
        from greenshield.simulate import generate

        forms = set()
        for ev in generate(4000, 3, fault_rate=0.0):
            s = ev.get("sender")
            if s and s["id_type"] == "foreign_permanent_resident":
                forms.add(len(s["id_number"]))
        assert forms == {15, 18}

    def test_names_mostly_chinese(self, clean_day: Day) -> None:
        names = [ev["sender"]["name"] for ev in clean_day.events if ev["type"] == "acceptance" and "sender" in ev]
        han = sum(all("\u4e00" <= c <= "\u9fff" for c in n) for n in names)
        assert han > 0.8 * len(names)

    def test_contract_customers_without_sender(self, clean_day: Day) -> None:
        acc = [ev for ev in clean_day.events if ev["type"] == "acceptance"]
        no_sender = [ev for ev in acc if "sender" not in ev]
        assert no_sender and all("contract_customer_id" in ev for ev in no_sender)
        assert any("contract_customer_id" in ev and "sender" in ev for ev in acc)
