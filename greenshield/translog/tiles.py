"""C2SP tlog-tiles: tile coordinates, their URL paths, and entry bundles (pure, no I/O).

A tile ``(level L, index N, width W)`` holds W consecutive Merkle tree hashes of tree level
``8 * L``: hash ``i`` is MTH of the leaves ``[(N * 256 + i) * 256**L, (N * 256 + i + 1) * 256**L)``.
A full tile has W = 256; a partial one 1..255 (path suffix ``.p/<W>``). Paths are
``tile/<L>/<N>[.p/<W>]`` and ``tile/entries/<N>[.p/<W>]``, N written in 3-digit groups,
all but the last prefixed with ``x`` (1234067 is ``x001/x234/067``). Only the canonical
spelling of a path is accepted.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from greenshield.errors import TranslogError

HEIGHT = 8
WIDTH = 1 << HEIGHT  # hashes in a full tile
MAX_LEVEL = 63
MAX_GROUPS = 7  # 3-digit groups of an index: up to 10**21 - 1, beyond any uint64 tree
MAX_ENTRY = 0xFFFF  # an entry bundle prefixes each entry with a big-endian uint16 length
_GROUP = re.compile(r"x[0-9]{3}")
_LAST = re.compile(r"[0-9]{3}")
_LEVEL = re.compile(r"0|[1-9][0-9]?")
_WIDTH = re.compile(r"[1-9][0-9]{0,2}")


class TilePathError(TranslogError, ValueError):
    """A path that is not a canonical tile or entry bundle path."""


@dataclass(frozen=True)
class Tile:
    """A hash tile (``level`` >= 0) or an entry bundle (``level`` is None)."""

    level: int | None
    index: int
    width: int = WIDTH

    def __post_init__(self) -> None:
        if self.level is not None and not 0 <= self.level <= MAX_LEVEL:
            raise TilePathError(f"tile level {self.level} is not 0..{MAX_LEVEL}")
        if self.index < 0 or not 1 <= self.width <= WIDTH:
            raise TilePathError(f"bad tile index {self.index} or width {self.width}")

    @property
    def partial(self) -> bool:
        return self.width < WIDTH

    @property
    def tree_level(self) -> int:
        """The Merkle tree level of the tile's hashes (entry bundles: the leaves, 0)."""
        return HEIGHT * (self.level or 0)

    @property
    def first(self) -> int:
        """Index of the tile's first hash among the tree level's perfect subtrees."""
        return self.index * WIDTH

    def leaves(self) -> tuple[int, int]:
        """The leaf range ``[lo, hi)`` that the tile's hashes (or entries) cover."""
        return self.first << self.tree_level, (self.first + self.width) << self.tree_level

    def within(self, tree_size: int) -> bool:
        """Whether every hash of the tile is a complete subtree of the tree of ``tree_size`` leaves."""
        return self.leaves()[1] <= tree_size

    def path(self) -> str:
        """The tile's path, without a leading slash."""
        level = "entries" if self.level is None else str(self.level)
        suffix = f".p/{self.width}" if self.partial else ""
        return f"tile/{level}/{encode_index(self.index)}{suffix}"


def encode_index(n: int) -> str:
    """Write ``n`` as 3-digit path groups, all but the last prefixed with ``x``."""
    digits = str(n)
    digits = "0" * (-len(digits) % 3) + digits
    groups = [digits[i:i + 3] for i in range(0, len(digits), 3)]
    return "/".join([f"x{g}" for g in groups[:-1]] + groups[-1:])


def parse_path(rest: str) -> Tile:
    """Parse what follows ``tile/``: ``<L>/<N>[.p/<W>]`` or ``entries/<N>[.p/<W>]``."""
    parts = rest.split("/")
    if len(parts) < 2:
        raise TilePathError("a tile path is tile/<L>/<N>[.p/<W>] or tile/entries/<N>[.p/<W>]")
    head, rest_parts = parts[0], parts[1:]
    if head == "entries":
        level: int | None = None
    elif _LEVEL.fullmatch(head) and int(head) <= MAX_LEVEL:
        level = int(head)
    else:
        raise TilePathError(f"the tile level must be 0..{MAX_LEVEL} (no leading zeros) or 'entries'")
    width = WIDTH
    if len(rest_parts) >= 2 and rest_parts[-2].endswith(".p"):
        w = rest_parts[-1]
        if not _WIDTH.fullmatch(w) or int(w) >= WIDTH:
            raise TilePathError("a partial tile's width is 1..255 (no leading zeros)")
        width, rest_parts = int(w), rest_parts[:-2] + [rest_parts[-2][:-2]]
    index = _parse_index(rest_parts)
    return Tile(level, index, width)


def _parse_index(groups: list[str]) -> int:
    if not 1 <= len(groups) <= MAX_GROUPS:
        raise TilePathError(f"a tile index is 1..{MAX_GROUPS} path groups of 3 digits")
    if not all(_GROUP.fullmatch(g) for g in groups[:-1]) or not _LAST.fullmatch(groups[-1]):
        raise TilePathError("a tile index is 3-digit groups, all but the last prefixed with 'x' (x001/x234/067)")
    index = int("".join(g.lstrip("x") for g in groups))
    if encode_index(index) != "/".join(groups):
        raise TilePathError("a tile index has no leading zero groups")
    return index


def tiles_of(tree_size: int) -> list[Tile]:
    """The hash tiles that make up the tree of ``tree_size`` leaves (full ones, then the partial one), by level."""
    out: list[Tile] = []
    level, count = 0, tree_size  # count: perfect subtrees of 256**level leaves
    while count:
        out.extend(Tile(level, n) for n in range(count // WIDTH))
        if count % WIDTH:
            out.append(Tile(level, count // WIDTH, count % WIDTH))
        level, count = level + 1, count // WIDTH
    return out


def entry_bundle(entries: Sequence[bytes]) -> bytes:
    """Concatenate entries, each prefixed with its length as a big-endian uint16."""
    out = bytearray()
    for e in entries:
        if len(e) > MAX_ENTRY:
            raise ValueError(f"an entry of {len(e)} bytes does not fit an entry bundle (at most {MAX_ENTRY})")
        out += len(e).to_bytes(2, "big") + e
    return bytes(out)


def parse_entry_bundle(data: bytes) -> list[bytes]:
    """Inverse of :func:`entry_bundle`; raise ``ValueError`` if ``data`` is not one."""
    out, at = [], 0
    while at < len(data):
        if at + 2 > len(data):
            raise ValueError("an entry bundle ends inside a length prefix")
        n = int.from_bytes(data[at:at + 2], "big")
        if at + 2 + n > len(data):
            raise ValueError("an entry bundle ends inside an entry")
        out.append(data[at + 2:at + 2 + n])
        at += 2 + n
    return out
