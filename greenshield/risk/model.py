"""The risk and credit model (TOML, like the rule pack): weights, decay, prior, levels, credit index, tightening.

``default_model.toml`` ships with the package; a regulator's file (``--model FILE``)
overrides what it names and keeps the defaults for the rest. Every number is
validated here, so the pure scoring never sees a bad one.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any, Mapping

KINDS = ("enterprise", "site", "staff", "sender", "machine", "vehicle", "city")
LEVELS = ("blue", "yellow", "orange", "red")  # 蓝 黄 橙 红, rising
LEVEL_NAMES = {"blue": "蓝", "yellow": "黄", "orange": "橙", "red": "红"}
GRADES = ("A", "B", "C", "D")
GRADE_NAMES = {"A": "守信", "B": "基本守信", "C": "警示", "D": "失信"}
INDEXES = ("compliance", "critical", "interception", "trace", "repeat")
PROHIBITED = "PROHIBITED"  # the pseudo-rule of a prohibited item found on a parcel (a sender's incident)
BASES = ("ratio", "per_mille")
_DURATION = re.compile(r"([0-9]+)([dhm])")
_UNIT = {"d": 86400, "h": 3600, "m": 60}


def parse_span(text: object, where: str) -> int:
    """``30d``, ``12h``, ``90m`` (or combinations like ``1d12h``) in seconds, > 0."""
    if not isinstance(text, str) or not text:
        raise ValueError(f"{where}: {text!r} is not a duration like '30d', '12h' or '90m'")
    parts = _DURATION.findall(text)
    if "".join(a + b for a, b in parts) != text:
        raise ValueError(f"{where}: {text!r} is not a duration like '30d', '12h' or '90m'")
    seconds = sum(int(n) * _UNIT[u] for n, u in parts)
    if seconds <= 0:
        raise ValueError(f"{where}: {text!r} must be longer than zero")
    return seconds


@dataclass(frozen=True)
class RiskModel:
    """A validated model. Spans in seconds; weights and tolerances as floats."""

    name: str
    version: str
    window_s: int
    half_life_s: int
    prior_parcels: float
    interval: float
    severity_weights: Mapping[str, float]
    rule_weights: Mapping[str, float]
    kind_rules: Mapping[str, frozenset[str]]
    level_basis: str
    levels: Mapping[str, float]
    credit_weights: Mapping[str, float]
    credit_tolerance: Mapping[str, float]
    grades: Mapping[str, float]
    tighten: Mapping[str, Mapping[str, Any]]

    @property
    def label(self) -> str:
        return f"{self.name}@{self.version}"

    def weight(self, rule_id: str, severity: str | None) -> float:
        """A rule's weight: its override, else its severity's weight (0 for an unknown severity)."""
        if rule_id in self.rule_weights:
            return self.rule_weights[rule_id]
        return self.severity_weights.get(severity or "", 0.0)

    def counts(self, kind: str, rule_id: str) -> bool:
        """Whether ``rule_id`` counts toward the sources of ``kind``."""
        rules = self.kind_rules.get(kind)
        return rule_id in rules if rules is not None else rule_id != PROHIBITED


def _number(value: object, where: str, lo: float = 0.0, hi: float | None = None) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
        raise ValueError(f"{where}: {value!r} is not a number")
    if value < lo or (hi is not None and value > hi):
        raise ValueError(f"{where}: {value!r} is outside [{lo}, {hi if hi is not None else 'inf'}]")
    return float(value)


def _table(doc: Mapping[str, Any], key: str, where: str) -> Mapping[str, Any]:
    value = doc.get(key, {})
    if not isinstance(value, dict):
        raise ValueError(f"{where}: [{key}] must be a table")
    return value


def _numbers(base: Mapping[str, float], over: Mapping[str, Any], where: str, allowed: tuple[str, ...] | None,
             hi: float | None = None) -> dict[str, float]:
    out = dict(base)
    for key, value in over.items():
        if allowed is not None and key not in allowed:
            raise ValueError(f"{where}: unknown key {key!r} (known: {', '.join(allowed)})")
        out[key] = _number(value, f"{where}.{key}", hi=hi)
    return out


def _risk(doc: Mapping[str, Any], base: RiskModel | None, where: str) -> dict[str, Any]:
    risk = _table(doc, "risk", where)
    w = f"{where}: risk"
    out: dict[str, Any] = {
        "window_s": parse_span(risk["window"], f"{w}.window") if "window" in risk else base and base.window_s,
        "half_life_s": parse_span(risk["half_life"], f"{w}.half_life") if "half_life" in risk
        else base and base.half_life_s,
        "prior_parcels": _number(risk["prior_parcels"], f"{w}.prior_parcels", 0.001) if "prior_parcels" in risk
        else base and base.prior_parcels,
        "interval": _number(risk["interval"], f"{w}.interval", 0.5, 0.999) if "interval" in risk
        else base and base.interval,
    }
    if None in out.values() or 0 in out.values():
        raise ValueError(f"{w}: window, half_life, prior_parcels and interval are required")
    out["severity_weights"] = _numbers(base.severity_weights if base else {}, _table(risk, "severity_weights", w),
                                       f"{w}.severity_weights", ("critical", "high", "medium"), hi=1.0)
    out["rule_weights"] = _numbers(base.rule_weights if base else {}, _table(risk, "rule_weights", w),
                                   f"{w}.rule_weights", None, hi=1.0)
    kinds = dict(base.kind_rules) if base else {}
    for kind, rules in _table(risk, "kinds", w).items():
        if kind not in KINDS or not isinstance(rules, list) or not all(isinstance(r, str) for r in rules):
            raise ValueError(f"{w}.kinds.{kind}: a kind of {', '.join(KINDS)} with a list of rule ids")
        kinds[kind] = frozenset(rules)
    out["kind_rules"] = kinds
    levels = _table(risk, "levels", w)
    out["level_basis"] = levels.get("basis", base.level_basis if base else "ratio")
    if out["level_basis"] not in BASES:
        raise ValueError(f"{w}.levels.basis: {out['level_basis']!r} is not one of {', '.join(BASES)}")
    out["levels"] = _numbers(base.levels if base else {}, {k: v for k, v in levels.items() if k != "basis"},
                             f"{w}.levels", LEVELS)
    values = [out["levels"].get(k) for k in LEVELS]
    if None in values or values != sorted(values):
        raise ValueError(f"{w}.levels: blue <= yellow <= orange <= red are all required")
    return out


def _credit(doc: Mapping[str, Any], base: RiskModel | None, where: str) -> dict[str, Any]:
    credit = _table(doc, "credit", where)
    w = f"{where}: credit"
    weights = _numbers(base.credit_weights if base else {}, _table(credit, "weights", w), f"{w}.weights", INDEXES)
    tolerance = _numbers(base.credit_tolerance if base else {}, _table(credit, "tolerance", w),
                         f"{w}.tolerance", INDEXES)
    grades = _numbers(base.grades if base else {}, _table(credit, "grades", w), f"{w}.grades", GRADES[:3], 100.0)
    if set(weights) != set(INDEXES) or abs(sum(weights.values()) - 100.0) > 1e-9:
        raise ValueError(f"{w}.weights: {', '.join(INDEXES)} must all be given and sum to 100")
    if set(tolerance) != set(INDEXES) or min(tolerance.values()) <= 0:
        raise ValueError(f"{w}.tolerance: {', '.join(INDEXES)} must all be given and above 0")
    if [grades.get(g) for g in GRADES[:3]] != sorted((grades.get(g, -1) for g in GRADES[:3]), reverse=True):
        raise ValueError(f"{w}.grades: A >= B >= C are all required")
    tighten = {g: dict(v) for g, v in (base.tighten if base else {}).items()}
    for grade, spec in _table(credit, "tighten", w).items():
        if grade not in GRADES or not isinstance(spec, dict):
            raise ValueError(f"{w}.tighten.{grade}: a grade of {', '.join(GRADES)} with a table")
        _tightening(spec, f"{w}.tighten.{grade}")
        tighten[grade] = dict(spec)
    return {"credit_weights": weights, "credit_tolerance": tolerance, "grades": grades, "tighten": tighten}


def _tightening(spec: Mapping[str, Any], where: str) -> None:
    """A tightening sets ``xray_scope`` and raises severities of known rules, nothing else."""
    from greenshield.rules.pack import SCOPES, SEVERITIES, default_pack

    unknown = set(spec) - {"xray_scope", "severity"}
    if unknown:
        raise ValueError(f"{where}: unknown keys {sorted(unknown)} (known: xray_scope, severity)")
    if "xray_scope" in spec and spec["xray_scope"] not in SCOPES:
        raise ValueError(f"{where}.xray_scope: {spec['xray_scope']!r} is not one of {', '.join(SCOPES)}")
    severity = spec.get("severity", {})
    rules = default_pack().severity
    if not isinstance(severity, dict) or any(r not in rules or v not in SEVERITIES for r, v in severity.items()):
        raise ValueError(f"{where}.severity: a table of rule ids and severities ({', '.join(SEVERITIES)})")


def build_model(doc: Mapping[str, Any], base: RiskModel | None = None, where: str = "risk model") -> RiskModel:
    """Validate a parsed TOML document; what it leaves out keeps ``base``'s values."""
    head = _table(doc, "model", where)
    name, version = head.get("name", base.name if base else None), head.get("version", base.version if base else None)
    if not isinstance(name, str) or not name or not isinstance(version, (str, int)):
        raise ValueError(f"{where}: [model] needs a string name and a version")
    parts = {**_risk(doc, base, where), **_credit(doc, base, where)}
    frozen: dict[str, Any] = {k: MappingProxyType(v) if isinstance(v, dict) else v for k, v in parts.items()}
    return RiskModel(name=name, version=str(version), **frozen)


def default_model() -> RiskModel:
    """``greenshield-risk-default@1``, shipped with the package."""
    text = resources.files("greenshield.risk").joinpath("default_model.toml").read_text("utf-8")
    return build_model(tomllib.loads(text), where="default_model.toml")


def load_model(path: Path) -> RiskModel:
    """A regulator's model file over the defaults; ``ValueError`` says what is wrong."""
    try:
        doc = tomllib.loads(path.read_text("utf-8"))
    except tomllib.TOMLDecodeError as err:
        raise ValueError(f"{path}: not valid TOML: {err}") from None
    return build_model(doc, default_model(), str(path))
