"""Document numbers, names and identifiers for the simulator.

Everything here draws from a caller-supplied :class:`random.Random`, so the
simulator stays deterministic per seed. The well-formed generators follow the
contract's §1.2 table; the ``bad_*`` helpers make the ill-formed numbers that
fault injection (RN-2) needs.
"""

from __future__ import annotations

import bisect
import random
from datetime import date
from operator import mul

GB11643_WEIGHTS: tuple[int, ...] = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
GB11643_CHECK = "10X98765432"
_ASCII_ZERO_SUM = 48 * sum(GB11643_WEIGHTS)

# province-level codes allowed as the first two digits of a resident id (contract §1.2)
PROVINCE_CODES: frozenset[str] = frozenset(
    "11 12 13 14 15 21 22 23 31 32 33 34 35 36 37 41 42 43 44 45 46 "
    "50 51 52 53 54 61 62 63 64 65 71 81 82 83".split()
)

# real GB/T 2260 county-level codes used as the first six digits of resident ids,
# weighted towards the delta itself and the provinces its migrant workers come from
_ID_REGIONS: tuple[tuple[str, int], ...] = (
    ("310101", 3), ("310104", 3), ("310105", 2), ("310107", 2), ("310110", 3), ("310112", 3),
    ("310115", 5), ("310117", 2), ("320102", 2), ("320106", 2), ("320115", 2), ("320211", 2),
    ("320282", 1), ("320303", 2), ("320411", 1), ("320505", 2), ("320583", 2), ("320602", 2),
    ("320722", 1), ("320826", 1), ("320923", 1), ("321002", 1), ("321283", 1), ("321322", 1),
    ("330102", 2), ("330106", 3), ("330109", 2), ("330203", 2), ("330212", 2), ("330302", 2),
    ("330381", 2), ("330402", 1), ("330502", 1), ("330602", 1), ("330782", 3), ("330802", 1),
    ("331002", 1), ("331102", 1),
    ("340104", 4), ("340321", 3), ("341221", 3), ("341322", 3), ("342401", 2),  # Anhui
    ("410105", 2), ("411325", 3), ("412727", 2), ("411522", 2),  # Henan
    ("360102", 1), ("362201", 2), ("360731", 2),  # Jiangxi
    ("510107", 2), ("511321", 2), ("513030", 1), ("500105", 1), ("500235", 2),  # Sichuan, Chongqing
    ("420106", 1), ("421127", 1), ("430102", 1), ("431121", 1),  # Hubei, Hunan
    ("370202", 1), ("371302", 1), ("350203", 1), ("440106", 1), ("440305", 1),
    ("450102", 1), ("520102", 1), ("530102", 1), ("610113", 1), ("620102", 1),
    ("110105", 1), ("110108", 1), ("120101", 1), ("130102", 1), ("140105", 1), ("150102", 1),
    ("210102", 1), ("220102", 1), ("230103", 1), ("460105", 1), ("540102", 1), ("630102", 1),
    ("640104", 1), ("650102", 1),
)
ID_REGION_CODES: tuple[str, ...] = tuple(code for code, _ in _ID_REGIONS)
_ID_REGION_CUM: list[int] = []
_acc = 0
for _code, _w in _ID_REGIONS:
    _acc += _w
    _ID_REGION_CUM.append(_acc)
del _acc

SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
)
COMPOUND_SURNAMES = ("欧阳", "司马", "上官", "诸葛", "东方", "慕容")
GIVEN_CHARS = (
    "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华玉萍红娥玲芬燕飞鹏辉俊晨宇浩然子轩梓涵一诺欣怡雨桐思远嘉怡"
    "建国志强海燕晓东文博雪梅丹丹佳琪天宇博文梦瑶紫萱宏亮国庆春生秋菊冬梅振华"
)
LATIN_NAMES = (
    "John Smith", "Maria Garcia", "TANAKA YUKI", "KIM MINJUN", "Anna Müller", "Pierre Dubois",
    "Olga Ivanova", "Nguyen Van An", "Priya Sharma", "Ahmed Hassan", "SATO HARUTO", "Lucas Silva",
)
HK_NAMES = ("陳大文", "李嘉欣", "黃志明", "張家輝", "何美玲", "梁振邦")
TW_NAMES = ("林志玲", "陳建宏", "王怡君", "張雅婷", "黃俊傑", "吳淑芬")

VERIFIED_BY = ("id_reader", "face_match", "e_id", "manual")
_VERIFIED_CUM = (55, 80, 92, 100)

ID_TYPES = (
    "resident_id",
    "temporary_resident_id",
    "hmt_residence_permit",
    "passport",
    "hk_macao_permit",
    "taiwan_permit",
    "foreign_permanent_resident",
    "military_id",
)
# percent weights of the id types among senders (cumulative)
_ID_TYPE_CUM = (84, 86, 88, 91, 94, 96, 98, 100)

FOREIGN_ALPHA3 = ("USA", "GBR", "JPN", "KOR", "DEU", "FRA", "CAN", "AUS", "RUS", "ITA", "SGP", "BRA")
FOREIGN_NUMERIC = ("840", "826", "392", "410", "276", "250", "124", "036", "643", "380", "702", "076")


def gb11643_check(body17: str) -> str:
    """The check character of GB 11643-1999 for a 17-digit body."""
    # weights times ASCII codes, less the codes' constant 48 * sum(weights)
    return GB11643_CHECK[(sum(map(mul, body17.encode(), GB11643_WEIGHTS)) - _ASCII_ZERO_SUM) % 11]


def gb11643_valid(number: str) -> bool:
    """True if ``number`` is 17 digits plus the right check character."""
    return (
        len(number) == 18
        and number[:17].isdigit()
        and number[:17].isascii()
        and gb11643_check(number[:17]) == number[17]
    )


def _pick_cum(rng: random.Random, cum: tuple[int, ...] | list[int]) -> int:
    return min(bisect.bisect_right(cum, rng.random() * cum[-1]), len(cum) - 1)


def birth_date(rng: random.Random, on: date, min_age: int = 16, max_age: int = 85) -> str:
    """A real calendar date ``YYYYMMDD`` giving an age between the bounds on ``on``."""
    hi = on.toordinal() - min_age * 366
    lo = on.toordinal() - max_age * 365
    return date.fromordinal(lo + int(rng.random() * (hi - lo + 1))).isoformat().replace("-", "")


def resident_id(rng: random.Random, on: date) -> str:
    """A well-formed 18-character 居民身份证 number."""
    region = ID_REGION_CODES[bisect.bisect_right(_ID_REGION_CUM, int(rng.random() * _ID_REGION_CUM[-1]))]
    body = f"{region}{birth_date(rng, on)}{int(rng.random() * 1000):03d}"
    return body + gb11643_check(body)


def hmt_residence_permit(rng: random.Random, on: date) -> str:
    """A well-formed 港澳台居民居住证 number (810000/820000/830000 prefix)."""
    body = f"{rng.choice(('81', '82', '83'))}0000{birth_date(rng, on)}{rng.randrange(1000):03d}"
    return body + gb11643_check(body)


def passport(rng: random.Random) -> str:
    """A passport number: Chinese (E + 8 digits, EA + 7 digits) or foreign (9 alphanumerics)."""
    r = rng.random()
    if r < 0.5:
        return f"E{rng.randrange(10**8):08d}"
    if r < 0.7:
        return f"E{rng.choice('ABCDEFGH')}{rng.randrange(10**7):07d}"
    letters = "ABCDEFGHJKLMNPRSTUVWXYZ"
    return rng.choice(letters) + "".join(rng.choice("0123456789" + letters[:6]) for _ in range(8))


def hk_macao_permit(rng: random.Random) -> str:
    """H or M, then 8 or 10 digits."""
    digits = 8 if rng.random() < 0.6 else 10
    return f"{'H' if rng.random() < 0.75 else 'M'}{rng.randrange(10**digits):0{digits}d}"


def taiwan_permit(rng: random.Random) -> str:
    """8 or 10 digits."""
    digits = 8 if rng.random() < 0.7 else 10
    return f"{rng.randrange(10**digits):0{digits}d}"


def foreign_permanent_resident(rng: random.Random, on: date) -> str:
    """外国人永久居留身份证: 3 letters + 12 digits (2004), or the 18-char 2017 number starting with 9."""
    i = rng.randrange(len(FOREIGN_ALPHA3))
    if rng.random() < 0.4:
        return f"{FOREIGN_ALPHA3[i]}{rng.randrange(10**12):012d}"
    body = f"9{rng.choice(('31', '32', '33', '11', '44'))}{FOREIGN_NUMERIC[i]}{birth_date(rng, on, 20, 75)}{rng.randrange(1000):03d}"
    return body + gb11643_check(body)


def military_id(rng: random.Random) -> str:
    """A 军官证/士兵证/武警证 number: no whitespace, often with Chinese characters."""
    r = rng.random()
    if r < 0.4:
        return f"军字第{rng.randrange(10**7):07d}号"
    if r < 0.6:
        return f"武字第{rng.randrange(10**6):06d}号"
    if r < 0.8:
        return f"士字第{rng.randrange(10**6):06d}号"
    return f"JG{rng.randrange(10**8):08d}"


_N_SURNAMES = len(SURNAMES)
_N_GIVEN = len(GIVEN_CHARS)


def chinese_name(rng: random.Random) -> str:
    """A plausible Chinese personal name."""
    r = rng.random
    x = r()
    if x < 0.01:
        surname = COMPOUND_SURNAMES[int(x * 100 * len(COMPOUND_SURNAMES))]
    else:
        surname = SURNAMES[int(r() * _N_SURNAMES)]
    if r() < 0.35:
        return surname + GIVEN_CHARS[int(r() * _N_GIVEN)]
    return surname + GIVEN_CHARS[int(r() * _N_GIVEN)] + GIVEN_CHARS[int(r() * _N_GIVEN)]


def sender(rng: random.Random, on: date) -> dict[str, str]:
    """A complete, well-formed sender object of a random ``id_type``."""
    kind = ID_TYPES[_pick_cum(rng, _ID_TYPE_CUM)]
    name = chinese_name(rng)
    if kind == "resident_id" or kind == "temporary_resident_id":
        number = resident_id(rng, on)
        if rng.random() < 0.005:
            # a pasted number with surrounding (ideographic) space: well-formed once trimmed
            number = rng.choice((" ", "\u3000", "\t")) + number + rng.choice(("", " ", "\u3000"))
    elif kind == "hmt_residence_permit":
        number = hmt_residence_permit(rng, on)
        name = rng.choice(HK_NAMES if number[1] in "12" else TW_NAMES)
    elif kind == "passport":
        number = passport(rng)
        if not number.startswith("E"):
            name = rng.choice(LATIN_NAMES)
    elif kind == "hk_macao_permit":
        number = hk_macao_permit(rng)
        name = rng.choice(HK_NAMES)
    elif kind == "taiwan_permit":
        number = taiwan_permit(rng)
        name = rng.choice(TW_NAMES)
    elif kind == "foreign_permanent_resident":
        number = foreign_permanent_resident(rng, on)
        name = rng.choice(LATIN_NAMES)
    else:
        number = military_id(rng)
    return {
        "name": name,
        "id_type": kind,
        "id_number": number,
        "verified_by": VERIFIED_BY[_pick_cum(rng, _VERIFIED_CUM)],
    }


# --- ill-formed documents (RN-2) -------------------------------------------------


def bad_document(rng: random.Random, on: date) -> tuple[str, str, str]:
    """An ``(id_type, id_number, variant)`` that RN-2 must flag."""
    variant = rng.choice(
        (
            "check_digit",
            "check_digit",
            "birth_date",
            "future_birth",
            "province",
            "lower_x",
            "unknown_type",
            "hk_prefix",
            "taiwan_len",
            "passport_short",
            "military_space",
            "hmt_prefix",
        )
    )
    if variant == "check_digit":
        good = resident_id(rng, on)
        wrong = rng.choice([c for c in "0123456789X" if c != good[17]])
        return "resident_id", good[:17] + wrong, variant
    if variant == "birth_date":
        good = resident_id(rng, on)
        bad_day = rng.choice(("0230", "0431", "0631", "1301", "0000", "0229"))
        year = good[6:10]
        if bad_day == "0229":
            year = rng.choice(("1900", "1985", "1993", "2001", "2007"))  # not leap years
        body = good[:6] + year + bad_day + good[14:17]
        return rng.choice(("resident_id", "temporary_resident_id")), body + gb11643_check(body), variant
    if variant == "future_birth":
        good = resident_id(rng, on)
        born = date.fromordinal(on.toordinal() + rng.randint(1, 900)).strftime("%Y%m%d")
        body = good[:6] + born + good[14:17]
        return "resident_id", body + gb11643_check(body), variant
    if variant == "province":
        good = resident_id(rng, on)
        body = rng.choice(("19", "24", "39", "49", "72", "99", "00")) + good[2:17]
        return "resident_id", body + gb11643_check(body), variant
    if variant == "lower_x":
        while True:
            good = resident_id(rng, on)
            if good[17] == "X":
                return "resident_id", good[:17] + "x", variant
    if variant == "unknown_type":
        kind = rng.choice(("driver_license", "student_card", "ID", "Resident_ID", "social_security"))
        return kind, resident_id(rng, on), variant
    if variant == "hk_prefix":
        return "hk_macao_permit", f"{rng.choice('KCA')}{rng.randrange(10**8):08d}", variant
    if variant == "taiwan_len":
        digits = rng.choice((7, 9, 11))
        return "taiwan_permit", f"{rng.randrange(10**digits):0{digits}d}", variant
    if variant == "passport_short":
        return "passport", rng.choice(("E12", "G1", "e12345678", "E1234-5678")), variant
    if variant == "military_space":
        return "military_id", f"军字第 {rng.randrange(10**6):06d}号", variant
    # hmt permit with a mainland prefix
    body = resident_id(rng, on)[:17]
    if body[:2] in ("81", "82", "83"):
        body = "31" + body[2:]
    return "hmt_residence_permit", body + gb11643_check(body), variant


def incomplete_sender(rng: random.Random, on: date) -> tuple[dict[str, object], str]:
    """A sender object that is present but incomplete (RN-1), with its variant name."""
    s: dict[str, object] = dict(sender(rng, on))
    variant = rng.choice(("missing_name", "blank_name", "missing_id", "bad_verified_by", "missing_verified_by", "null_type", "numeric_id"))
    if variant == "missing_name":
        del s["name"]
    elif variant == "blank_name":
        s["name"] = rng.choice(("", "  ", "\u3000"))
    elif variant == "missing_id":
        del s["id_number"]
    elif variant == "bad_verified_by":
        s["verified_by"] = rng.choice(("sms", "none", "FACE_MATCH", ""))
    elif variant == "missing_verified_by":
        del s["verified_by"]
    elif variant == "null_type":
        s["id_type"] = None
    else:
        s["id_number"] = rng.randrange(10**17, 10**18)
    return s, variant
