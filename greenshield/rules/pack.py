"""Rule packs (contract §4): severities, deadlines and the X-ray scope, as data in TOML."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

SEVERITIES = ("medium", "high", "critical")
SCOPES = ("all", "inter_provincial")
DEADLINE_RULES = ("XR-4", "PH-2", "TR-1")
_DURATION = re.compile(r"(?:([0-9]+)h)?(?:([0-9]+)m)?(?:([0-9]+)s)?")


@dataclass(frozen=True)
class RulePack:
    """A validated rule pack; ``deadlines`` are in seconds."""

    name: str
    version: str
    xray_scope: str
    severity: dict[str, str]
    deadlines: dict[str, int]
    enabled: frozenset[str]

    @property
    def label(self) -> str:
        return f"{self.name}@{self.version}"


def parse_duration(text: str, where: str) -> int:
    m = _DURATION.fullmatch(text) if isinstance(text, str) else None
    if not text or m is None:
        raise ValueError(f"{where}: {text!r} is not a duration like '24h', '90m' or '2h30m'")
    h, mi, s = (int(g) if g else 0 for g in m.groups())
    return h * 3600 + mi * 60 + s


def _rules_section(doc: dict[str, Any], base: RulePack | None, where: str) -> tuple[dict[str, str], dict[str, int], set[str]]:
    severity = dict(base.severity) if base else {}
    deadlines = dict(base.deadlines) if base else {}
    enabled = set(base.enabled) if base else set()
    rules = doc.get("rules", {})
    if not isinstance(rules, dict):
        raise ValueError(f"{where}: [rules] must be a table of rule tables")
    for rule_id, spec in rules.items():
        if base is not None and rule_id not in base.severity:
            raise ValueError(f"{where}: unknown rule {rule_id!r}")
        if not isinstance(spec, dict):
            raise ValueError(f"{where}: rules.{rule_id} must be a table (e.g. severity = \"high\")")
        sev = spec.get("severity", severity.get(rule_id))
        if sev not in SEVERITIES:
            raise ValueError(f"{where}: rules.{rule_id}.severity {sev!r} is not one of {', '.join(SEVERITIES)}")
        severity[rule_id] = sev
        if "deadline" in spec or rule_id in DEADLINE_RULES and rule_id not in deadlines:
            deadlines[rule_id] = parse_duration(spec.get("deadline", ""), f"{where}: rules.{rule_id}.deadline")
        (enabled.add if spec.get("enabled", True) else enabled.discard)(rule_id)
    return severity, deadlines, enabled


def build_pack(doc: dict[str, Any], base: RulePack | None = None, where: str = "rule pack") -> RulePack:
    """Validate a parsed TOML document; rules it leaves out keep ``base``'s values."""
    head = doc.get("pack")
    if not isinstance(head, dict):
        raise ValueError(f"{where}: missing [pack] table with name and version")
    name, version = head.get("name"), head.get("version")
    if not isinstance(name, str) or not name or not isinstance(version, (str, int)):
        raise ValueError(f"{where}: [pack] needs a string name and a version")
    scope = head.get("xray_scope", base.xray_scope if base else "all")
    if scope not in SCOPES:
        raise ValueError(f"{where}: xray_scope {scope!r} is not one of {', '.join(SCOPES)}")
    severity, deadlines, enabled = _rules_section(doc, base, where)
    return RulePack(name, str(version), scope, severity, deadlines, frozenset(enabled))


def default_pack() -> RulePack:
    """``greenshield-default@1``, shipped with the package."""
    text = resources.files("greenshield.rules").joinpath("default_pack.toml").read_text("utf-8")
    return build_pack(tomllib.loads(text), where="default_pack.toml")


def load_pack(path: Path) -> RulePack:
    """A regulator's pack file, over the defaults; ``ValueError`` says what is wrong."""
    try:
        doc = tomllib.loads(path.read_text("utf-8"))
    except tomllib.TOMLDecodeError as err:
        raise ValueError(f"{path}: not valid TOML: {err}") from None
    return build_pack(doc, default_pack(), str(path))
