"""The code cites what is in the repository (ADRs, the contract), never a design note or an issue number."""

from __future__ import annotations

import re
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "greenshield"
CITATION = re.compile(r"(?i)\bdesign note\b|\bissue #?\d+")


def test_no_design_note_or_issue_number_is_cited_in_the_code() -> None:
    found = [f"{path.relative_to(PACKAGE.parent)}:{n}: {line.strip()}"
             for path in sorted(PACKAGE.rglob("*.py"))
             for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if CITATION.search(line)]
    assert not found, "\n".join(found)


def test_the_pattern_finds_what_it_forbids() -> None:
    assert CITATION.search("redacted first (design note 1)")
    assert CITATION.search("before issue 16")
    assert not CITATION.search("an issue with the broker")
