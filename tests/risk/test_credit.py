"""The risk model file and the credit index (pure, no servers)."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from greenshield.risk.credit import (
    CreditInputs,
    credit,
    grade_fell,
    grade_of,
    pack_for,
    period_bounds,
    period_of,
    previous_period,
    tightened,
)
from greenshield.risk.model import build_model, default_model, load_model, parse_span
from greenshield.rules.pack import build_pack, default_pack

MODEL = default_model()


def inputs(parcels: int = 1000, *, rn: int = 0, xr: int = 0, tr: int = 0, critical: int = 0, found: int = 0,
           late: int = 0, repeats: int = 0, sanction: float = 0.0) -> CreditInputs:
    return CreditInputs("E1000001", parcels, {"RN": rn, "XR": xr, "TR": tr}, critical, found, late, repeats, sanction)


class TestModelFile:
    def test_the_default_model(self) -> None:
        """The shipped model: 30-day window, 7-day half-life, four levels rising, weights summing to 100."""
        assert MODEL.label == "greenshield-risk-default@1"
        assert (MODEL.window_s, MODEL.half_life_s) == (30 * 86400, 7 * 86400)
        assert [MODEL.levels[k] for k in ("blue", "yellow", "orange", "red")] == sorted(MODEL.levels.values())
        assert sum(MODEL.credit_weights.values()) == 100
        assert MODEL.weight("XR-1", "critical") == 1.0 and MODEL.weight("PROHIBITED", None) == 1.0
        assert MODEL.counts("sender", "PROHIBITED") and not MODEL.counts("site", "PROHIBITED")
        assert MODEL.counts("machine", "XR-3") and not MODEL.counts("machine", "RN-1")

    def test_a_province_file_overrides_what_it_names(self, tmp_path: Path) -> None:
        """A file changing the half-life, a rule weight and grade A keeps every other default."""
        path = tmp_path / "js.toml"
        path.write_text('[model]\nname = "jiangsu"\nversion = 2\n[risk]\nhalf_life = "3d"\n'
                        '[risk.rule_weights]\n"RN-1" = 0.9\n[credit.grades]\nA = 95\n', "utf-8")
        model = load_model(path)
        assert model.label == "jiangsu@2" and model.half_life_s == 3 * 86400
        assert model.weight("RN-1", "high") == 0.9 and model.weight("IN-1", "high") == 0.6
        assert model.grades["A"] == 95 and model.grades["B"] == MODEL.grades["B"]
        assert model.window_s == MODEL.window_s

    @pytest.mark.parametrize("doc, message", [
        ({"risk": {"half_life": "7 days"}}, "duration"),
        ({"risk": {"levels": {"blue": 9.0}}}, "blue <= yellow"),
        ({"risk": {"severity_weights": {"critical": 2.0}}}, "outside"),
        ({"risk": {"kinds": {"parcel": ["XR-1"]}}}, "a kind of"),
        ({"credit": {"weights": {"compliance": 50}}}, "sum to 100"),
        ({"credit": {"grades": {"A": 50}}}, "A >= B >= C"),
        ({"credit": {"tolerance": {"trace": 0}}}, "above 0"),
        ({"credit": {"tighten": {"D": {"xray_scope": "none"}}}}, "xray_scope"),
        ({"credit": {"tighten": {"D": {"severity": {"XX-9": "critical"}}}}}, "severity"),
        ({"credit": {"tighten": {"D": {"rules_off": ["XR-1"]}}}}, "unknown keys"),
        ({"credit": {"tighten": {"E": {}}}}, "a grade of"),
    ])
    def test_bad_values_are_named(self, doc: dict[str, object], message: str) -> None:
        with pytest.raises(ValueError, match=message):
            build_model({"model": {"name": "x", "version": 1}, **doc}, MODEL)

    def test_spans(self) -> None:
        assert parse_span("30d", "w") == 30 * 86400 and parse_span("1d12h", "w") == 36 * 3600
        for bad in ("", "0d", "30", "d", "1w", "-1d"):
            with pytest.raises(ValueError):
                parse_span(bad, "w")


class TestCreditIndex:
    def test_a_clean_enterprise_scores_100_and_is_a(self) -> None:
        c = credit(inputs(), MODEL)
        assert (c.score, c.grade) == (100.0, "A") and set(c.indexes.values()) == {1.0}

    def test_each_index_falls_linearly_to_its_tolerance(self) -> None:
        """1 % of parcels with a trace violation, tolerance 6 %: the trace index is 5/6 and costs 20/6 points."""
        c = credit(inputs(tr=10), MODEL)
        assert c.indexes["trace"] == pytest.approx(1 - 0.01 / 0.06, abs=1e-4)
        assert c.score == pytest.approx(100 - 20 / 6, abs=0.05)

    def test_interception_counts_the_share_found_late(self) -> None:
        """Half of the prohibited items intercepted late halves the interception index; none found is 1."""
        assert credit(inputs(found=10, late=5), MODEL).indexes["interception"] == 0.5
        assert credit(inputs(found=0, late=0), MODEL).indexes["interception"] == 1.0

    def test_sanctions_deduct_their_points(self) -> None:
        """A 20-point sanction turns a clean A (100) into 80, B 基本守信; 50 points make it D."""
        assert credit(inputs(sanction=20), MODEL).grade == "B"
        assert credit(inputs(sanction=50), MODEL).grade == "D"
        assert credit(inputs(sanction=500), MODEL).score == 0.0

    def test_grade_thresholds(self) -> None:
        assert [grade_of(s, MODEL) for s in (100, 90, 89.9, 75, 74.9, 60, 59.9, 0)] == \
            ["A", "A", "B", "B", "C", "C", "D", "D"]

    @settings(max_examples=80, deadline=None)
    @given(parcels=st.integers(1, 5000), critical=st.integers(0, 500), more=st.integers(1, 100),
           rn=st.integers(0, 300))
    def test_more_critical_violations_never_raise_the_score(self, parcels: int, critical: int, more: int,
                                                             rn: int) -> None:
        before = credit(inputs(parcels, rn=rn, critical=critical), MODEL).score
        assert credit(inputs(parcels, rn=rn + more, critical=critical + more), MODEL).score <= before

    def test_a_warning_when_the_grade_falls_to_c_or_d(self) -> None:
        assert grade_fell(None, "C") and grade_fell("B", "D") and grade_fell("C", "D")
        assert not grade_fell("D", "D") and not grade_fell("A", "B") and not grade_fell("D", "C")


class TestPeriods:
    def test_months_and_quarters_in_china_time(self) -> None:
        """2026-11 runs from 2026-11-01T00:00+08:00 (= 10-31T16:00Z) to 12-01T00:00+08:00; Q4 to 2027."""
        lo, hi = period_bounds("2026-11")
        assert lo == int(datetime(2026, 10, 31, 16, tzinfo=timezone.utc).timestamp()) and hi - lo == 30 * 86400
        assert period_of(lo) == "2026-11" and period_of(lo - 1) == "2026-10" and period_of(hi) == "2026-12"
        assert period_bounds("2026Q4") == (period_bounds("2026-10")[0], period_bounds("2026-12")[1])
        assert previous_period("2026-01") == "2025-12" and previous_period("2026Q1") == "2025Q4"
        for bad in ("2026-13", "2026Q5", "26-11", "2026-1", "2026-11 "):
            with pytest.raises(ValueError):
                period_bounds(bad)


class TestTightening:
    def test_a_d_grade_sets_xray_scope_all(self) -> None:
        """A province on inter_provincial checks a D enterprise with xray_scope all, labelled +D."""
        province = build_pack({"pack": {"name": "zj", "version": "3", "xray_scope": "inter_provincial"}}, default_pack())
        tight = tightened(province, "D", MODEL)
        assert tight.xray_scope == "all" and tight.label == "zj@3+D"
        assert tightened(province, "B", MODEL) is province and tightened(province, None, MODEL) is province

    def test_severities_only_rise(self) -> None:
        model = build_model({"credit": {"tighten": {"C": {"severity": {"IN-1": "critical", "XR-1": "medium"}}}}},
                            MODEL)
        tight = tightened(default_pack(), "C", model)
        assert tight.severity["IN-1"] == "critical" and tight.severity["XR-1"] == "critical"

    def test_the_default_d_tightening_raises_the_misses_to_critical(self) -> None:
        """On the shipped pack (scope already ``all``) the default D still tightens: RN-1, IN-1, XR-2 critical."""
        base = default_pack()
        tight = tightened(base, "D", MODEL)
        assert {r: tight.severity[r] for r in ("RN-1", "IN-1", "XR-2")} == dict.fromkeys(("RN-1", "IN-1", "XR-2"),
                                                                                        "critical")
        assert {r: base.severity[r] for r in ("RN-1", "IN-1", "XR-2")} == dict.fromkeys(("RN-1", "IN-1", "XR-2"), "high")
        assert tight.label == f"{base.label}+D"

    def test_a_tightening_that_changes_nothing_keeps_the_pack_and_its_label(self) -> None:
        """Scope ``all`` on a pack already at ``all`` and no severity raised: no ``+D`` relabelling of violations."""
        model = build_model({"credit": {"tighten": {"D": {"xray_scope": "all", "severity": {"XR-1": "critical"}}}}},
                            MODEL)
        base = default_pack()
        assert tightened(base, "D", model) is base

    def test_pack_for_an_enterprise(self) -> None:
        grades = {"E1000001": "D", "E2000002": "A"}
        province = build_pack({"pack": {"name": "zj", "version": "3", "xray_scope": "inter_provincial"}}, default_pack())
        assert pack_for("E1000001", grades, province, MODEL).xray_scope == "all"
        assert pack_for("E2000002", grades, province, MODEL) is province
        assert pack_for("E9999999", grades, province, MODEL) is province


class TestGradeBook:
    """Which stored grade governs which parcel (docs/adr/0002-credit-tightening.md)."""

    PROVINCE = build_pack({"pack": {"name": "zj", "version": "3", "xray_scope": "inter_provincial"}}, default_pack())

    def book(self, *grades: tuple[str, str, str], model=MODEL):  # type: ignore[no-untyped-def]
        from greenshield.risk.credit import GradeBook

        return GradeBook(self.PROVINCE, model, grades)

    def test_a_grade_governs_the_following_periods_never_its_own(self) -> None:
        """October's D governs parcels from 1 November 00:00 China time on; October's own parcels keep the pack."""
        book = self.book(("E1000001", "2026-10", "D"))
        nov, _ = period_bounds("2026-11")
        assert book.grade_at("E1000001", nov - 1) is None and book("E1000001", (nov - 1, "9")) is self.PROVINCE
        assert book.grade_at("E1000001", nov) == "D" and book("E1000001", (nov, "")).label == "zj@3+D"
        assert book.grade_at("E1000001", nov + 400 * 86400) == "D"  # until a newer grade is stored
        assert book("E2000002", (nov, "")) is self.PROVINCE  # another enterprise's grade changes nothing

    def test_a_newer_period_replaces_it_and_the_month_beats_its_quarter(self) -> None:
        book = self.book(("E1000001", "2026-10", "D"), ("E1000001", "2026-11", "A"), ("E1000001", "2027-01", "C"))
        dec, jan, feb = period_bounds("2026-12")[0], period_bounds("2027-01")[0], period_bounds("2027-02")[0]
        assert book.grade_at("E1000001", dec) == "A"   # November's A after October's D
        assert book.grade_at("E1000001", jan) == "A"   # December has no grade: November's still governs
        assert book.grade_at("E1000001", feb) == "C"
        book.replace([("E1000001", "2026-12", "B"), ("E1000001", "2026Q4", "D")])
        assert book.grade_at("E1000001", jan) == "B"   # the month, not its quarter ending the same instant

    def test_an_empty_tightening_is_the_off_switch(self) -> None:
        model = build_model({"credit": {"tighten": {"D": {}}}}, MODEL)
        book = self.book(("E1000001", "2026-10", "D"), model=model)
        assert not book.tightens and book("E1000001", (period_bounds("2026-12")[0], "")) is self.PROVINCE

    def test_grades_as_credit_json_prints_them(self) -> None:
        from greenshield.risk.credit import read_grades

        lines = [b'{"enterprise_id": "E1000001", "period": "2026-10", "grade": "C", "seq": 1, "score": 61.0}',
                 b"", b'{"enterprise_id": "E1000001", "period": "2026-10", "grade": "D", "seq": 2}',
                 b'{"enterprise_id": "E2000002", "period": "2026Q4", "grade": "A"}']
        assert read_grades(lines) == [("E1000001", "2026-10", "D"), ("E2000002", "2026Q4", "A")]

    @pytest.mark.parametrize("line, message", [
        (b"{oops", "grades:1: not a JSON object"),
        (b"[1]", "not a JSON object"),
        (b'{"enterprise_id": "E1000001", "period": "2026-13", "grade": "D"}', "expected a month"),
        (b'{"enterprise_id": "E1000001", "period": "2026-10", "grade": "F"}', "grade 'F'"),
        (b'{"enterprise_id": "E1000001", "period": "2026-10", "grade": "D", "seq": "2"}', "seq"),
        (b'{"period": "2026-10", "grade": "D"}', "enterprise_id"),
    ])
    def test_a_bad_grade_line_is_named(self, line: bytes, message: str) -> None:
        from greenshield.risk.credit import read_grades

        with pytest.raises(ValueError, match=message):
            read_grades([line])
