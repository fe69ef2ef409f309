"""Identity documents of contract §1.2 (and §7's trimming), through RN-2 of the real pipeline.

Valid resident numbers are computed here with our own GB 11643 check (builders.gb11643_check_char).
"""

from __future__ import annotations

import pytest
from tests.rules.builders import acceptance, at, check, gb11643_check_char, resident_id, sender, with_check, wrong_check

WS_PAD = "\u3000 \t"  # U+3000 IDEOGRAPHIC SPACE, a space, a tab
ON = at(0)             # 2026-11-11T08:00:00+08:00: the acceptance's local date is 2026-11-11


def _x_checked() -> str:
    """A resident number whose correct check character is X."""
    for seq in range(100, 1000):
        body = f"31010119900307{seq}"
        if gb11643_check_char(body) == "X":
            return body + "X"
    raise AssertionError("no X check char found")


X_ID = _x_checked()
VALID_PROVINCES = ["11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34", "35", "36", "37",
                   "41", "42", "43", "44", "45", "46", "50", "51", "52", "53", "54", "61", "62", "63", "64",
                   "65", "71", "81", "82", "83"]
BAD_PROVINCES = ["00", "10", "16", "19", "20", "24", "30", "38", "40", "47", "49", "55", "60", "66", "70", "72",
                 "80", "84", "90", "99"]

# id, id_type, id_number, acceptance occurred_at, well-formed?
CASES: list[tuple[str, str, str, str, bool]] = [
    # ---- resident_id: check character
    ("resident-valid", "resident_id", resident_id(), ON, True),
    ("resident-textbook-example-X", "resident_id", "11010519491231002X", ON, True),
    ("resident-X-check", "resident_id", X_ID, ON, True),
    ("resident-lower-x-check", "resident_id", X_ID[:-1] + "x", ON, False),
    ("resident-wrong-check", "resident_id", wrong_check("31010119900307123"), ON, False),
    ("resident-X-where-digit-due", "resident_id", resident_id()[:17] + "X", ON, False),
    ("resident-17-chars", "resident_id", resident_id()[:17], ON, False),
    ("resident-19-chars", "resident_id", resident_id() + "0", ON, False),
    ("resident-letter-in-body", "resident_id", "3101011990030A123" + "0", ON, False),
    ("resident-full-width-digits", "resident_id",
     resident_id().translate(str.maketrans("0123456789", "０１２３４５６７８９")), ON, False),
    ("resident-inner-space", "resident_id", resident_id()[:6] + " " + resident_id()[6:], ON, False),
    ("resident-trimmed-ideographic-space", "resident_id", WS_PAD + resident_id() + WS_PAD, ON, True),
    ("resident-trimmed-nbsp-and-em-space", "resident_id", "\u00a0" + resident_id() + "\u2003", ON, True),
    ("resident-zero-width-space-is-not-whitespace", "resident_id", resident_id() + "\u200b", ON, False),
    # ---- resident_id: birth date
    ("birth-feb-30", "resident_id", resident_id(birth="19900230"), ON, False),
    ("birth-2023-02-29", "resident_id", resident_id(birth="20230229"), ON, False),
    ("birth-2024-02-29-leap", "resident_id", resident_id(birth="20240229"), ON, True),
    ("birth-2000-02-29-leap", "resident_id", resident_id(birth="20000229"), ON, True),
    ("birth-1900-02-29-not-leap", "resident_id", resident_id(birth="19000229"), ON, False),
    ("birth-month-13", "resident_id", resident_id(birth="19901301"), ON, False),
    ("birth-month-00", "resident_id", resident_id(birth="19900001"), ON, False),
    ("birth-day-00", "resident_id", resident_id(birth="19900100"), ON, False),
    ("birth-april-31", "resident_id", resident_id(birth="19900431"), ON, False),
    ("birth-1900-01-01-first-day", "resident_id", resident_id(birth="19000101"), ON, True),
    ("birth-1899-12-31-too-early", "resident_id", resident_id(birth="18991231"), ON, False),
    ("birth-on-acceptance-date", "resident_id", resident_id(birth="20261111"), ON, True),
    ("birth-day-after-acceptance", "resident_id", resident_id(birth="20261112"), ON, False),
    ("birth-next-year", "resident_id", resident_id(birth="20270101"), ON, False),
    # 2026-11-10T16:30Z is 2026-11-11 in Beijing, but the acceptance is written in UTC: its date is the 10th
    ("birth-local-date-in-own-offset-utc", "resident_id", resident_id(birth="20261111"), "2026-11-10T16:30:00Z",
     False),
    ("birth-local-date-in-own-offset-cst", "resident_id", resident_id(birth="20261111"),
     "2026-11-11T00:30:00+08:00", True),
    ("birth-local-date-negative-offset", "resident_id", resident_id(birth="20261111"),
     "2026-11-10T23:59:59-01:00", False),
    # ---- resident_id: province
    *[(f"province-{p}-valid", "resident_id", resident_id(province=p), ON, True) for p in VALID_PROVINCES],
    *[(f"province-{p}-invalid", "resident_id", resident_id(province=p), ON, False) for p in BAD_PROVINCES],
    # ---- temporary_resident_id: as resident_id
    ("temporary-valid", "temporary_resident_id", resident_id(), ON, True),
    ("temporary-wrong-check", "temporary_resident_id", wrong_check("31010119900307123"), ON, False),
    ("temporary-bad-date", "temporary_resident_id", resident_id(birth="20230229"), ON, False),
    ("temporary-bad-province", "temporary_resident_id", resident_id(province="99"), ON, False),
    # ---- hmt_residence_permit: as resident_id, first two digits 81/82/83
    ("hmt-81-hong-kong", "hmt_residence_permit", resident_id(province="81", county="0000"), ON, True),
    ("hmt-82-macao", "hmt_residence_permit", resident_id(province="82", county="0000"), ON, True),
    ("hmt-83-taiwan", "hmt_residence_permit", resident_id(province="83", county="0000"), ON, True),
    ("hmt-mainland-province", "hmt_residence_permit", resident_id(province="31"), ON, False),
    ("hmt-71-not-allowed", "hmt_residence_permit", resident_id(province="71"), ON, False),
    ("hmt-84", "hmt_residence_permit", resident_id(province="84"), ON, False),
    ("hmt-wrong-check", "hmt_residence_permit", wrong_check("81000019900307123"), ON, False),
    ("hmt-bad-birth-date", "hmt_residence_permit", resident_id(province="81", birth="19900230"), ON, False),
    ("hmt-future-birth-date", "hmt_residence_permit", resident_id(province="82", birth="20261112"), ON, False),
    # ---- passport: 5-17 [A-Z0-9]
    ("passport-typical", "passport", "E12345678", ON, True),
    ("passport-5-chars", "passport", "G1234", ON, True),
    ("passport-17-chars", "passport", "A" * 17, ON, True),
    ("passport-4-chars", "passport", "G123", ON, False),
    ("passport-18-chars", "passport", "A" * 18, ON, False),
    ("passport-lower-case", "passport", "e12345678", ON, False),
    ("passport-hyphen", "passport", "E1234-5678", ON, False),
    ("passport-inner-space", "passport", "E1234 5678", ON, False),
    ("passport-full-width", "passport", "Ｅ12345678", ON, False),
    ("passport-trimmed", "passport", WS_PAD + "E12345678" + WS_PAD, ON, True),
    # ---- hk_macao_permit: H or M, then 8 or 10 digits
    ("hk-H-8", "hk_macao_permit", "H12345678", ON, True),
    ("hk-M-10", "hk_macao_permit", "M1234567890", ON, True),
    ("hk-H-9", "hk_macao_permit", "H123456789", ON, False),
    ("hk-H-7", "hk_macao_permit", "H1234567", ON, False),
    ("hk-H-11", "hk_macao_permit", "H12345678901", ON, False),
    ("hk-lower-h", "hk_macao_permit", "h12345678", ON, False),
    ("hk-other-letter", "hk_macao_permit", "C12345678", ON, False),
    ("hk-no-letter", "hk_macao_permit", "12345678", ON, False),
    ("hk-trimmed", "hk_macao_permit", "\u3000M12345678\u3000", ON, True),
    # ---- taiwan_permit: 8 or 10 digits
    ("tw-8", "taiwan_permit", "12345678", ON, True),
    ("tw-10", "taiwan_permit", "1234567890", ON, True),
    ("tw-9", "taiwan_permit", "123456789", ON, False),
    ("tw-7", "taiwan_permit", "1234567", ON, False),
    ("tw-11", "taiwan_permit", "12345678901", ON, False),
    ("tw-letter", "taiwan_permit", "T12345678", ON, False),
    ("tw-full-width", "taiwan_permit", "１２３４５６７８", ON, False),
    # ---- foreign_permanent_resident: 2004 card, or 2017 card (18 chars from 9 + GB 11643 check)
    ("fpr-2004", "foreign_permanent_resident", "USA310101800101", ON, True),
    ("fpr-2004-lower-case", "foreign_permanent_resident", "usa310101800101", ON, False),
    ("fpr-2004-two-letters", "foreign_permanent_resident", "US3101018001012", ON, False),
    ("fpr-2004-11-digits", "foreign_permanent_resident", "USA31010180010", ON, False),
    ("fpr-2004-13-digits", "foreign_permanent_resident", "USA3101018001011", ON, False),
    ("fpr-2017", "foreign_permanent_resident", with_check("93310119800101001"), ON, True),
    ("fpr-2017-check-only-no-date-check", "foreign_permanent_resident", with_check("93310199999999001"), ON, True),
    ("fpr-2017-wrong-check", "foreign_permanent_resident", wrong_check("93310119800101001"), ON, False),
    ("fpr-2017-not-starting-with-9", "foreign_permanent_resident", with_check("83310119800101001"), ON, False),
    ("fpr-2017-17-chars", "foreign_permanent_resident", "93310119800101001", ON, False),
    ("fpr-2017-trimmed", "foreign_permanent_resident", " " + with_check("93310119800101001") + "\u3000", ON, True),
    # ---- military_id: 1-32 characters, none of them (Unicode) whitespace
    ("military-typical", "military_id", "军字第2001988号", ON, True),
    ("military-one-char", "military_id", "军", ON, True),
    ("military-32-chars", "military_id", "武" * 32, ON, True),
    ("military-33-chars", "military_id", "武" * 33, ON, False),
    ("military-inner-space", "military_id", "军字 第2001988号", ON, False),
    ("military-inner-ideographic-space", "military_id", "军字\u3000第2001988号", ON, False),
    ("military-inner-tab", "military_id", "军字\t第2001988号", ON, False),
    ("military-inner-nbsp", "military_id", "军字\u00a0第2001988号", ON, False),
    ("military-inner-line-separator", "military_id", "军字\u2028第2001988号", ON, False),
    ("military-outer-whitespace-trimmed", "military_id", "\u3000军字第2001988号 ", ON, True),
    ("military-32-after-trimming", "military_id", "  " + "武" * 32 + "\u3000", ON, True),
    # ---- id_type: unknown, case-sensitive, trimmed
    ("type-unknown", "driving_licence", resident_id(), ON, False),
    ("type-upper-case", "RESIDENT_ID", resident_id(), ON, False),
    ("type-capitalised", "Passport", "E12345678", ON, False),
    ("type-trimmed", "\u3000passport ", "E12345678", ON, True),
    ("type-inner-space", "resident id", resident_id(), ON, False),
]


class TestDocuments:
    """§1.2 id_type table: which id_number is well-formed for each document type."""

    @pytest.mark.parametrize("id_type, id_number, occurred_at, ok", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
    def test_document_is_flagged_by_rn2_unless_well_formed(self, id_type, id_number, occurred_at, ok):
        """A complete sender's document is flagged by RN-2 exactly when it is not well-formed for its type."""
        out = check([acceptance("acc", occurred_at, sender=sender(id_type=id_type, id_number=id_number))])
        assert out.rejections == []
        assert "RN-1" not in out.rules()
        assert ("RN-2" in out.rules()) is (not ok)


class TestOwnCheckDigit:
    """The tests' own GB 11643 implementation, pinned to published examples so the fixtures are trustworthy."""

    @pytest.mark.parametrize("number", ["11010519491231002X", "440524188001010014", "11010119900307803X"],
                             ids=["gb11643-example", "guangdong-example", "beijing-X"])
    def test_published_numbers_have_the_check_char_we_compute(self, number):
        """Our check-character function reproduces the check character of published valid numbers."""
        assert gb11643_check_char(number[:17]) == number[17]
