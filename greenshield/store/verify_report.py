"""What ``audit verify`` found: the :class:`Report` and its findings, and the stored tree state it compares with."""

from __future__ import annotations

from dataclasses import dataclass, field

INF = float("inf")
Runs = list[tuple[int, int, int]]


@dataclass(frozen=True, order=True)
class Finding:
    """A problem found at leaf ``entry``; at one leaf, direct findings (``derived`` False) come first."""

    entry: float
    derived: bool
    message: str


@dataclass
class Report:
    """What verify found (``findings``: the problems; ``notes`` and ``warnings``: what is not one)."""

    tree_size: int = 0
    signed_size: int = 0
    checkpoints: int = 0
    trusted_size: int | None = None
    findings: list[Finding] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.findings

    def first(self) -> Finding | None:
        return min(self.findings) if self.findings else None

    def add(self, entry: float, message: str, derived: bool = False) -> None:
        """Note a problem; ``derived`` marks one that follows from the tree (a root, a cached subtree)."""
        self.findings.append(Finding(entry, derived, message))


@dataclass
class State:
    """``audit_state``'s row (or what the runs imply when it is gone: checkpoint size and ms -1)."""

    tree_size: int
    last_id: int
    compact: bytes
    checkpoint_size: int
    checkpoint_ms: int
