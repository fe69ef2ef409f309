"""The simulated delta's geography: real GB/T 2260 prefectures and districts, the hubs, driving times."""

from __future__ import annotations

import math
import random

# (prefecture code, name, lat, lon, hub key, outlet weight, destination weight, county-level district codes)
PREFECTURES: tuple[tuple[str, str, float, float, str, int, int, tuple[str, ...]], ...] = (
    ("310100", "上海", 31.23, 121.47, "SH", 30, 22, (
        "310101", "310104", "310105", "310106", "310107", "310109", "310110", "310112",
        "310113", "310114", "310115", "310116", "310117", "310118", "310120", "310151")),
    ("320100", "南京", 32.06, 118.80, "NJ", 8, 8, (
        "320102", "320104", "320105", "320106", "320111", "320113", "320114", "320115")),
    ("320200", "无锡", 31.49, 120.31, "SZ", 5, 4, ("320205", "320206", "320211", "320213", "320214", "320281")),
    ("320300", "徐州", 34.26, 117.18, "NJ", 2, 3, ("320302", "320303", "320311")),
    ("320400", "常州", 31.81, 119.97, "SZ", 3, 3, ("320402", "320404", "320411", "320412")),
    ("320500", "苏州", 31.30, 120.58, "SZ", 12, 8, (
        "320505", "320506", "320507", "320508", "320509", "320582", "320583", "320585")),
    ("320600", "南通", 31.98, 120.89, "SZ", 3, 3, ("320602", "320612", "320681")),
    ("320700", "连云港", 34.60, 119.22, "NJ", 1, 1, ("320703", "320707")),
    ("320800", "淮安", 33.61, 119.02, "NJ", 1, 1, ("320803", "320812")),
    ("320900", "盐城", 33.35, 120.16, "NJ", 1, 2, ("320902", "320903")),
    ("321000", "扬州", 32.39, 119.41, "NJ", 2, 2, ("321002", "321003")),
    ("321100", "镇江", 32.19, 119.45, "NJ", 1, 1, ("321102", "321111")),
    ("321200", "泰州", 32.46, 119.92, "NJ", 1, 1, ("321202", "321203")),
    ("321300", "宿迁", 33.96, 118.28, "NJ", 2, 1, ("321302", "321311")),
    ("330100", "杭州", 30.27, 120.15, "HZ", 16, 9, (
        "330102", "330105", "330106", "330108", "330109", "330110", "330113", "330114")),
    ("330200", "宁波", 29.87, 121.55, "NB", 5, 4, ("330203", "330205", "330206", "330211", "330212")),
    ("330300", "温州", 28.00, 120.67, "WZ", 4, 3, ("330302", "330303", "330304", "330381", "330382")),
    ("330400", "嘉兴", 30.75, 120.76, "HZ", 3, 2, ("330402", "330411", "330481")),
    ("330500", "湖州", 30.87, 120.09, "HZ", 2, 1, ("330502", "330503")),
    ("330600", "绍兴", 30.00, 120.58, "HZ", 3, 2, ("330602", "330603", "330604")),
    ("330700", "金华", 29.08, 119.65, "YW", 14, 2, ("330702", "330703", "330782", "330783")),
    ("330800", "衢州", 28.94, 118.87, "YW", 1, 1, ("330802",)),
    ("330900", "舟山", 30.02, 122.11, "NB", 1, 1, ("330902",)),
    ("331000", "台州", 28.66, 121.42, "NB", 3, 2, ("331002", "331003", "331004")),
    ("331100", "丽水", 28.45, 119.92, "YW", 1, 1, ("331102",)),
    # outside the delta: destinations only
    ("110100", "北京", 39.90, 116.40, "BJ", 0, 6, ("110101", "110105", "110108")),
    ("440100", "广州", 23.13, 113.26, "GZ", 0, 3, ("440106", "440111")),
    ("440300", "深圳", 22.54, 114.06, "GZ", 0, 4, ("440305", "440306", "440307")),
    ("510100", "成都", 30.66, 104.06, "CD", 0, 3, ("510104", "510107")),
    ("500100", "重庆", 29.56, 106.55, "CD", 0, 2, ("500105", "500112")),
    ("420100", "武汉", 30.59, 114.31, "WH", 0, 3, ("420106", "420111")),
)

# hub key -> (prefecture code, district code of the hub, in the delta?)
HUBS: dict[str, tuple[str, str, bool]] = {
    "SH": ("310100", "310118", True),   # 青浦
    "SZ": ("320500", "320507", True),   # 相城
    "NJ": ("320100", "320115", True),   # 江宁
    "HZ": ("330100", "330109", True),   # 萧山
    "NB": ("330200", "330212", True),   # 鄞州
    "YW": ("330700", "330782", True),   # 义乌
    "WZ": ("330300", "330303", True),   # 龙湾
    "BJ": ("110100", "110115", False),  # 大兴
    "GZ": ("440100", "440111", False),  # 白云
    "CD": ("510100", "510116", False),  # 双流
    "WH": ("420100", "420112", False),  # 东西湖
}

_COORDS: dict[str, tuple[float, float]] = {p[0]: (p[2], p[3]) for p in PREFECTURES}
_PREF_OF_DISTRICT: dict[str, str] = {d: p[0] for p in PREFECTURES for d in p[7]}
for _hub_pref, _hub_district, _ in HUBS.values():
    _PREF_OF_DISTRICT[_hub_district] = _hub_pref


def prefecture_of(district: str) -> str:
    return _PREF_OF_DISTRICT[district]


_DRIVE_MINUTES: dict[tuple[str, str], float] = {}


def _drive_minutes(from_pref: str, to_pref: str) -> float:
    """Typical driving minutes between two prefectures (great circle x 1.2 road factor)."""
    (la1, lo1), (la2, lo2) = _COORDS[from_pref], _COORDS[to_pref]
    p1, p2 = math.radians(la1), math.radians(la2)
    a = math.sin((p2 - p1) / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lo2 - lo1) / 2) ** 2
    km = 2 * 6371 * math.asin(math.sqrt(a)) * 1.2
    speed = 70.0 if km < 400 else 85.0
    return 30 + km / speed * 60


def travel_ms(rng: random.Random, from_pref: str, to_pref: str) -> int:
    """Driving time between two prefectures (same prefecture: a short urban run), whole seconds."""
    if from_pref == to_pref:
        return int((18 + rng.random() * 50) * 60) * 1000
    key = (from_pref, to_pref)
    minutes = _DRIVE_MINUTES.get(key)
    if minutes is None:
        minutes = _DRIVE_MINUTES[key] = _drive_minutes(from_pref, to_pref)
    return int(minutes * (0.9 + rng.random() * 0.3) * 60) * 1000
