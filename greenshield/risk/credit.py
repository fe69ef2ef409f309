"""Enterprise credit: the index system, the score 0-100, the grade, and what a grade does to the rule pack.

Pure. Each index is 1 with no violation and falls linearly to 0 at its tolerated
rate (``[credit.tolerance]``); the score is the indexes weighted by ``[credit.weights]``
(they sum to 100) less the points of the regulator's sanctions, within 0..100.
Periods are calendar months (``2026-11``) or quarters (``2026Q4``) in China time (+08:00).
"""

from __future__ import annotations

import bisect
import dataclasses
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from greenshield.risk.model import GRADES, INDEXES, RiskModel
from greenshield.rules.pack import SCOPES, SEVERITIES, RulePack
from greenshield.rules.timestamps import Instant

CST = timezone(timedelta(hours=8))
_PERIOD = re.compile(r"([0-9]{4})(?:-(0[1-9]|1[0-2])|Q([1-4]))")
COMPLIANCE_SYSTEMS = ("RN", "IN", "XR")  # 实名收寄 · 收寄验视 · 过机安检
TRACE_SYSTEMS = ("TR", "TK", "PR")       # 可追溯 · 可追踪 · 可倒查


def period_bounds(period: str) -> tuple[int, int]:
    """``[start, end)`` of a period in epoch seconds; ``ValueError`` for anything but YYYY-MM or YYYYQn."""
    m = _PERIOD.fullmatch(period) if isinstance(period, str) else None
    if m is None:
        raise ValueError(f"period {period!r}: expected a month like 2026-11 or a quarter like 2026Q4")
    year = int(m.group(1))
    first = int(m.group(2)) if m.group(2) else (int(m.group(3)) - 1) * 3 + 1
    months = 1 if m.group(2) else 3
    start = datetime(year, first, 1, tzinfo=CST)
    y2, m2 = divmod(first - 1 + months, 12)
    end = datetime(year + y2, m2 + 1, 1, tzinfo=CST)
    return int(start.timestamp()), int(end.timestamp())


def period_of(at_s: int, quarter: bool = False) -> str:
    """The month (or quarter) holding an instant, in China time."""
    dt = datetime.fromtimestamp(at_s, CST)
    return f"{dt.year}Q{(dt.month - 1) // 3 + 1}" if quarter else f"{dt.year}-{dt.month:02d}"


def previous_period(period: str) -> str:
    start, _ = period_bounds(period)
    return period_of(start - 1, quarter="Q" in period)


@dataclass(frozen=True)
class CreditInputs:
    """What the store says about one enterprise in one period (parcels counted once each)."""

    enterprise_id: str
    parcels: int
    system_parcels: Mapping[str, int]  # parcels with a violation of each system prefix (RN, IN, ...)
    critical_parcels: int
    prohibited_found: int              # parcels with a prohibited item found
    late_interceptions: int            # parcels with PH-2 (not intercepted in time)
    repeats: int                       # violations beyond the first of each (site, rule)
    sanction_points: float
    sanction_ids: tuple[int, ...] = ()


@dataclass(frozen=True)
class Credit:
    enterprise_id: str
    score: float
    grade: str
    indexes: Mapping[str, float]


def _falling(rate: float, tolerance: float) -> float:
    return max(0.0, 1.0 - rate / tolerance)


def indexes(inputs: CreditInputs, model: RiskModel) -> dict[str, float]:
    """Each index in [0, 1] (docs/credit.md)."""
    tol, n = model.credit_tolerance, max(inputs.parcels, 1)
    systems = [_falling(inputs.system_parcels.get(s, 0) / n, tol["compliance"]) for s in COMPLIANCE_SYSTEMS]
    trace = sum(inputs.system_parcels.get(s, 0) for s in TRACE_SYSTEMS)
    late = inputs.late_interceptions / inputs.prohibited_found if inputs.prohibited_found else 0.0
    return {
        "compliance": sum(systems) / len(systems),
        "critical": _falling(inputs.critical_parcels / n, tol["critical"]),
        "interception": _falling(min(late, 1.0), tol["interception"]),
        "trace": _falling(trace / n, tol["trace"]),
        "repeat": _falling(inputs.repeats / n, tol["repeat"]),
    }


def grade_of(score: float, model: RiskModel) -> str:
    for grade in GRADES[:3]:
        if score >= model.grades[grade]:
            return grade
    return "D"


def credit(inputs: CreditInputs, model: RiskModel) -> Credit:
    """The score (one decimal, so a grade never hangs on float noise) and the grade."""
    idx = indexes(inputs, model)
    raw = sum(model.credit_weights[k] * idx[k] for k in INDEXES) - inputs.sanction_points
    score = round(min(100.0, max(0.0, raw)), 1)
    return Credit(inputs.enterprise_id, score, grade_of(score, model), {k: round(v, 4) for k, v in idx.items()})


def grade_rank(grade: str | None) -> int:
    """0 for A (or no grade) ... 3 for D."""
    return GRADES.index(grade) if grade in GRADES else 0


def grade_fell(previous: str | None, now: str) -> bool:
    """A warning is due: the grade is C or D and worse than before (no grade before counts as A)."""
    return now in ("C", "D") and grade_rank(now) > grade_rank(previous)


def tightened(pack: RulePack, grade: str | None, model: RiskModel) -> RulePack:
    """The rule pack for an enterprise of ``grade``: ``[credit.tighten.<grade>]`` applied, or ``pack`` itself.

    A tightening may set ``xray_scope`` and raise severities (``severity = {"IN-1" = "critical"}``);
    the pack's version gains ``+<grade>``, so every violation found under it says so. A tightening
    that changes nothing of ``pack`` (its scope already ``all``, no severity raised) gives ``pack``.
    """
    spec = model.tighten.get(grade or "")
    if not spec:
        return pack
    scope = spec.get("xray_scope", pack.xray_scope)
    if scope not in SCOPES:
        raise ValueError(f"credit.tighten.{grade}.xray_scope {scope!r} is not one of {', '.join(SCOPES)}")
    severity = dict(pack.severity)
    for rule_id, sev in dict(spec.get("severity", {})).items():
        if rule_id not in severity or sev not in SEVERITIES:
            raise ValueError(f"credit.tighten.{grade}.severity: {rule_id!r} = {sev!r} is not a rule and severity")
        if SEVERITIES.index(sev) > SEVERITIES.index(severity[rule_id]):
            severity[rule_id] = sev
    unknown = set(spec) - {"xray_scope", "severity"}
    if unknown:
        raise ValueError(f"credit.tighten.{grade}: unknown keys {sorted(unknown)}")
    if scope == pack.xray_scope and severity == dict(pack.severity):
        return pack  # nothing tightens: the pack's own label, so no violation is relabelled for nothing
    return dataclasses.replace(pack, xray_scope=scope, severity=severity, version=f"{pack.version}+{grade}")


def pack_for(enterprise_id: str, grades: Mapping[str, str], pack: RulePack, model: RiskModel) -> RulePack:
    """The rule pack one enterprise's parcels are checked with, given the latest grades."""
    return tightened(pack, grades.get(enterprise_id), model)


GradeRow = tuple[str, str, str]  # (enterprise_id, period, grade): the latest stored grade of that period


class GradeBook:
    """Which stored grade governs an enterprise's parcel, and the rule pack it gives (docs/adr/0002).

    The grade stored for period P governs the enterprise's parcels whose first event is at
    or after P's end, until the end of a later graded period; a parcel before any grade, or
    of an enterprise never graded, is checked with ``pack``. Of two periods ending together
    (a month and its quarter) the shorter one, the most recent evidence, governs. Pure:
    callable as the rule core's ``pack_for(enterprise_id, first_event_at)``.
    """

    def __init__(self, pack: RulePack, model: RiskModel, grades: Iterable[GradeRow] = ()) -> None:
        self.pack, self.model = pack, model
        self.packs = {g: tightened(pack, g, model) for g in GRADES}  # a bad tightening fails here, at start
        self.tightens = any(p is not pack for p in self.packs.values())
        self._by: dict[str, list[tuple[int, int, str]]] = {}
        self.replace(grades)

    def replace(self, grades: Iterable[GradeRow]) -> None:
        """Take the full set of stored grades (one per enterprise and period) instead of the present one."""
        by: dict[str, dict[str, str]] = {}
        for enterprise, period, grade in grades:
            if grade not in GRADES:
                raise ValueError(f"grade {grade!r} of {enterprise} for {period} is not one of {', '.join(GRADES)}")
            period_bounds(period)
            by.setdefault(enterprise, {})[period] = grade
        self._by = {e: sorted((period_bounds(p)[1], period_bounds(p)[0], g) for p, g in periods.items())
                    for e, periods in by.items()}

    def grade_at(self, enterprise_id: str, at_s: int) -> str | None:
        """The grade governing a parcel of ``enterprise_id`` whose first event is at ``at_s``."""
        graded = self._by.get(enterprise_id)
        if not graded:
            return None
        i = bisect.bisect_right(graded, (at_s, 1 << 62, "~"))
        return graded[i - 1][2] if i else None

    def __call__(self, enterprise_id: str, first: Instant) -> RulePack:
        grade = self.grade_at(enterprise_id, first[0])
        return self.packs[grade] if grade is not None else self.pack


def read_grades(lines: Iterable[bytes], where: str = "grades") -> list[GradeRow]:
    """Grades from JSON Lines as ``greenshield credit --json`` prints them (blank lines skipped).

    Of one enterprise and period the highest ``seq`` counts (a recomputation after late data);
    ``ValueError`` names the line of anything else than an object with ``enterprise_id``,
    ``period``, ``grade`` and an optional integer ``seq``.
    """
    import orjson

    best: dict[tuple[str, str], tuple[int, str]] = {}
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            doc = orjson.loads(line)
        except orjson.JSONDecodeError:
            raise ValueError(f"{where}:{number}: not a JSON object") from None
        row, seq = _grade_line(doc, f"{where}:{number}")
        key = (row[0], row[1])
        old = best.get(key)
        if old is not None and old[0] == seq and old[1] != row[2]:
            raise ValueError(f"{where}:{number}: {key[0]} {key[1]} seq {seq} is given twice with other grades")
        if old is None or seq > old[0]:
            best[key] = (seq, row[2])
    return [(e, p, g) for (e, p), (_, g) in sorted(best.items())]


def _grade_line(doc: object, where: str) -> tuple[GradeRow, int]:
    if not isinstance(doc, dict):
        raise ValueError(f"{where}: not a JSON object")
    enterprise, period, grade, seq = (doc.get(k) for k in ("enterprise_id", "period", "grade", "seq"))
    if not isinstance(enterprise, str) or not enterprise or not isinstance(period, str):
        raise ValueError(f"{where}: a grade needs a string enterprise_id and period")
    try:
        period_bounds(period)
    except ValueError as err:
        raise ValueError(f"{where}: {err}") from None
    if grade not in GRADES:
        raise ValueError(f"{where}: grade {grade!r} is not one of {', '.join(GRADES)}")
    if seq is None:
        seq = 1
    if isinstance(seq, bool) or not isinstance(seq, int):
        raise ValueError(f"{where}: seq {seq!r} is not an integer")
    return (enterprise, period, str(grade)), seq
