"""A department's scope and a subscription's filter: which messages it may receive (pure).

A scope names, per kind, the values a department may receive: ``rules`` (rule ids),
``severities``, ``regions`` (prefecture city codes, GB/T 2260 ``xxxx00``) and
``enterprises``. A kind left out admits every value; a kind given admits only its
values, and a message with no value for it (a violation whose parcel has no accepted
origin, for a region scope) is not admitted: a scope fails closed. A subscription's
filter is a scope of its own, plus message ``types``, and must lie inside its
department's scope.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from greenshield.rules.pack import SEVERITIES

KINDS = ("rules", "severities", "regions", "enterprises")
TYPES = ("violation.opened", "violation.updated", "violation.retracted", "registry.blacklisted", "warning.raised")
_VALUE = {"rules": re.compile(r"[A-Z]{2}-[0-9]{1,2}"), "regions": re.compile(r"[0-9]{4}00"),
          "enterprises": re.compile(r"E[0-9]{7}"), "severities": re.compile("|".join(SEVERITIES))}


@dataclass(frozen=True)
class Facts:
    """What a message is about, as a scope sees it (None: the message has no such value)."""

    type: str
    rule: str | None = None
    severity: str | None = None
    region: str | None = None
    enterprise: str | None = None

    def value(self, kind: str) -> str | None:
        return {"rules": self.rule, "severities": self.severity, "regions": self.region,
                "enterprises": self.enterprise}[kind]


@dataclass(frozen=True)
class Scope:
    """Per kind, the admitted values (None: any); ``types`` likewise (None: every type)."""

    rules: frozenset[str] | None = None
    severities: frozenset[str] | None = None
    regions: frozenset[str] | None = None
    enterprises: frozenset[str] | None = None
    types: frozenset[str] | None = None

    def allowed(self, kind: str) -> frozenset[str] | None:
        value: frozenset[str] | None = getattr(self, kind)
        return value

    def admits(self, facts: Facts) -> bool:
        """True when every kind this scope limits has the message's value among its values."""
        if self.types is not None and facts.type not in self.types:
            return False
        for kind in KINDS:
            allowed = self.allowed(kind)
            if allowed is not None and facts.value(kind) not in allowed:
                return False
        return True

    def within(self, outer: Scope) -> list[str]:
        """What of this filter lies outside ``outer`` (empty: inside), one sentence per kind; a kind the
        filter leaves out is inside (it takes the scope's values, :meth:`narrowed`)."""
        problems = []
        for kind in KINDS:
            mine, theirs = self.allowed(kind), outer.allowed(kind)
            if theirs is None or mine is None:
                continue
            if not mine <= theirs:
                problems.append(f"{kind}: {', '.join(sorted(mine - theirs))} outside the scope")
        return problems

    def narrowed(self, outer: Scope) -> Scope:
        """This filter with every unlimited kind limited as ``outer`` is (a filter inside a scope by default)."""
        values = {k: self.allowed(k) if self.allowed(k) is not None else outer.allowed(k) for k in KINDS}
        return Scope(types=self.types, **values)

    def to_doc(self) -> dict[str, list[str]]:
        return {k: sorted(v) for k in (*KINDS, "types") if (v := getattr(self, k)) is not None}

    def describe(self) -> str:
        doc = self.to_doc()
        return "; ".join(f"{k}={','.join(v)}" for k, v in doc.items()) or "all"


def from_doc(doc: Mapping[str, Any]) -> Scope:
    """A scope from its JSON form (``{"rules": [...], ...}``); ``ValueError`` naming a bad part."""
    if not isinstance(doc, Mapping):
        raise ValueError("a scope is an object of lists")
    unknown = set(doc) - {*KINDS, "types"}
    if unknown:
        raise ValueError(f"unknown scope kind(s) {', '.join(sorted(map(str, unknown)))}: "
                         f"one of {', '.join((*KINDS, 'types'))}")
    values: dict[str, frozenset[str]] = {}
    for kind, raw in doc.items():
        if not isinstance(raw, list) or not raw or not all(isinstance(v, str) for v in raw):
            raise ValueError(f"{kind}: a non-empty list of strings")
        values[kind] = frozenset(_checked(kind, raw))
    return Scope(**values)


def _checked(kind: str, raw: Iterable[str]) -> list[str]:
    out = []
    for value in raw:
        ok = value in TYPES if kind == "types" else bool(_VALUE[kind].fullmatch(value))
        if not ok:
            raise ValueError(f"{kind}: {value!r} is not a {kind[:-1]} (see docs/sharing.md)")
        out.append(value)
    return out


def parse(text: str) -> Scope:
    """A scope from the command line: ``rules=PH-1,PH-2;regions=320500;...``, or ``all``."""
    text = text.strip()
    if text == "all":
        return Scope()
    doc: dict[str, list[str]] = {}
    for part in filter(None, (p.strip() for p in text.split(";"))):
        kind, sep, values = part.partition("=")
        if not sep:
            raise ValueError(f"{part!r}: expected KIND=V1,V2 (kinds: {', '.join((*KINDS, 'types'))}) or 'all'")
        doc[kind.strip()] = [v.strip() for v in values.split(",") if v.strip()]
    if not doc:
        raise ValueError("an empty scope: name at least one kind, or 'all'")
    return from_doc(doc)
