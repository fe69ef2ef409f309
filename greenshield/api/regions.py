"""Names of prefecture cities (地级市) by GB/T 2260 code, for the dashboard: the Yangtze Delta and main destinations.

A region's prefecture code is its first four digits + ``00``; the municipalities'
districts give ``310100`` (上海市辖区), ``110100`` and so on, listed here as the city.
"""

from __future__ import annotations

PREFECTURES: dict[str, str] = {
    "310000": "上海", "310100": "上海",
    "320100": "南京", "320200": "无锡", "320300": "徐州", "320400": "常州", "320500": "苏州",
    "320600": "南通", "320700": "连云港", "320800": "淮安", "320900": "盐城", "321000": "扬州",
    "321100": "镇江", "321200": "泰州", "321300": "宿迁",
    "330100": "杭州", "330200": "宁波", "330300": "温州", "330400": "嘉兴", "330500": "湖州",
    "330600": "绍兴", "330700": "金华", "330800": "衢州", "330900": "舟山", "331000": "台州",
    "331100": "丽水",
    "340100": "合肥", "340200": "芜湖", "341000": "黄山",
    "110000": "北京", "110100": "北京", "120100": "天津", "500100": "重庆",
    "440100": "广州", "440300": "深圳", "510100": "成都", "420100": "武汉",
}


def prefecture_name(code: str | None) -> str:
    """The city's name, ``未知 unknown`` without a code, else ``code`` itself."""
    if code is None:
        return "未知 unknown"
    return PREFECTURES.get(code, code)
