"""Identity documents of contract §1.2: which ``id_number`` is well-formed for an ``id_type``."""

from __future__ import annotations

import re
from collections.abc import Callable

from greenshield.rules.timestamps import valid_date

# Unicode White_Space (contract §7 trims it, U+3000 included, and military IDs may not hold it)
WHITESPACE = (
    "\u0009\u000a\u000b\u000c\u000d\u0020\u0085\u00a0\u1680"
    "\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
    "\u2028\u2029\u202f\u205f\u3000"
)
_WS_SET = frozenset(WHITESPACE)

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK_CHARS = "10X98765432"
_GB11643 = re.compile(r"[0-9]{17}[0-9X]")
_PROVINCES = frozenset(
    [f"{n}" for n in range(11, 16)] + [f"{n}" for n in range(21, 24)]
    + [f"{n}" for n in range(31, 38)] + [f"{n}" for n in range(41, 47)]
    + [f"{n}" for n in range(50, 55)] + [f"{n}" for n in range(61, 66)]
    + ["71", "81", "82", "83"]
)
_PASSPORT = re.compile(r"[A-Z0-9]{5,17}")
_HK_MACAO = re.compile(r"[HM](?:[0-9]{8}|[0-9]{10})")
_TAIWAN = re.compile(r"[0-9]{8}|[0-9]{10}")
_FPR_2004 = re.compile(r"[A-Z]{3}[0-9]{12}")

Date = tuple[int, int, int]


def trim(text: str) -> str:
    """Strip Unicode whitespace from both ends."""
    return text.strip(WHITESPACE)


def gb11643_check_ok(number: str) -> bool:
    """18 chars, 17 ASCII digits and the ISO 7064 MOD 11-2 check character."""
    if _GB11643.fullmatch(number) is None:
        return False
    total = sum(int(c) * w for c, w in zip(number, _WEIGHTS))
    return _CHECK_CHARS[total % 11] == number[17]


def resident_id_ok(number: str, on: Date) -> bool:
    """GB 11643-1999: check character, a province code, a birth date from 1900-01-01 to ``on``."""
    if not gb11643_check_ok(number) or number[:2] not in _PROVINCES:
        return False
    y, m, d = int(number[6:10]), int(number[10:12]), int(number[12:14])
    return valid_date(y, m, d) and (1900, 1, 1) <= (y, m, d) <= on


def hmt_permit_ok(number: str, on: Date) -> bool:
    return number[:2] in ("81", "82", "83") and resident_id_ok(number, on)


def passport_ok(number: str, on: Date) -> bool:
    return _PASSPORT.fullmatch(number) is not None


def hk_macao_ok(number: str, on: Date) -> bool:
    return _HK_MACAO.fullmatch(number) is not None


def taiwan_ok(number: str, on: Date) -> bool:
    return _TAIWAN.fullmatch(number) is not None


def foreign_permanent_ok(number: str, on: Date) -> bool:
    """2004 card: 3 letters + 12 digits; 2017 card: 18 chars from ``9`` with a valid check char."""
    if _FPR_2004.fullmatch(number) is not None:
        return True
    return number[:1] == "9" and gb11643_check_ok(number)


def military_ok(number: str, on: Date) -> bool:
    return 1 <= len(number) <= 32 and not any(c in _WS_SET for c in number)


DOCUMENTS: dict[str, Callable[[str, Date], bool]] = {
    "resident_id": resident_id_ok,
    "temporary_resident_id": resident_id_ok,
    "hmt_residence_permit": hmt_permit_ok,
    "passport": passport_ok,
    "hk_macao_permit": hk_macao_ok,
    "taiwan_permit": taiwan_ok,
    "foreign_permanent_resident": foreign_permanent_ok,
    "military_id": military_ok,
}


def document_well_formed(id_type: str, id_number: str, on: Date) -> bool:
    """RN-2's question, after trimming: is the type known and the number well-formed for it?"""
    check = DOCUMENTS.get(trim(id_type))
    return check is not None and check(trim(id_number), on)
