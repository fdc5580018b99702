"""Invented Chinese people: names by surname frequency, mobile numbers, WeChat ids, pinyin keys."""

from __future__ import annotations

import functools
import itertools
import random

from pharmacrm.customers.pinyin import search_keys

# The commonest surnames with their approximate share of the population (per cent, 2020 census
# order). Weighting by share makes 王/李/张 as common in the demo as in a real hospital roster.
SURNAMES: tuple[tuple[str, float], ...] = (
    ("王", 7.12), ("李", 7.00), ("张", 6.74), ("刘", 5.10), ("陈", 4.61), ("杨", 3.22), ("黄", 2.45),
    ("赵", 2.19), ("吴", 2.08), ("周", 2.05), ("徐", 1.67), ("孙", 1.54), ("马", 1.52), ("朱", 1.48),
    ("胡", 1.31), ("郭", 1.15), ("何", 1.14), ("林", 1.13), ("高", 1.08), ("罗", 1.07), ("郑", 0.97),
    ("梁", 0.92), ("谢", 0.81), ("宋", 0.76), ("唐", 0.75), ("许", 0.68), ("韩", 0.67), ("冯", 0.66),
    ("邓", 0.65), ("曹", 0.63), ("彭", 0.59), ("曾", 0.58), ("肖", 0.56), ("田", 0.55), ("董", 0.54),
    ("袁", 0.52), ("潘", 0.51), ("于", 0.50), ("蒋", 0.49), ("蔡", 0.48), ("余", 0.47), ("杜", 0.46),
    ("叶", 0.45), ("程", 0.44), ("苏", 0.43), ("魏", 0.42), ("吕", 0.41), ("丁", 0.40), ("任", 0.39),
    ("沈", 0.38), ("姚", 0.37), ("卢", 0.36), ("姜", 0.35), ("崔", 0.34), ("钟", 0.33), ("谭", 0.32),
    ("陆", 0.31), ("汪", 0.30), ("范", 0.29), ("金", 0.28), ("石", 0.27), ("廖", 0.26), ("贾", 0.25),
    ("夏", 0.24), ("韦", 0.23), ("付", 0.22), ("方", 0.21), ("白", 0.20), ("邹", 0.19), ("孟", 0.18),
    ("熊", 0.17), ("秦", 0.16), ("邱", 0.15), ("江", 0.14), ("尹", 0.13), ("薛", 0.12), ("闫", 0.11),
    ("段", 0.10), ("雷", 0.10), ("侯", 0.10), ("龙", 0.10), ("史", 0.10), ("陶", 0.09), ("黎", 0.09),
    ("贺", 0.09), ("顾", 0.09), ("毛", 0.08), ("郝", 0.08), ("龚", 0.08), ("邵", 0.08), ("万", 0.07),
    ("钱", 0.07), ("严", 0.07), ("覃", 0.07), ("武", 0.07), ("戴", 0.07), ("莫", 0.06), ("孔", 0.06),
    ("向", 0.06), ("汤", 0.06), ("欧阳", 0.02), ("上官", 0.005), ("司马", 0.005), ("诸葛", 0.003),
)  # fmt: skip

# Fujian and Guangdong have their own surname mix (林, 陈, 黄, 郑 far above the national share).
SOUTHERN_BOOST = {"林": 4.0, "陈": 2.0, "黄": 2.0, "郑": 2.5, "吴": 1.5, "蔡": 2.5, "许": 1.5}
SOUTHERN_PROVINCES = frozenset({"35", "44"})

MALE_CHARS = (
    "伟强磊军勇杰涛斌超明刚平辉鹏华飞鑫波宇浩凯健俊帆旭宁龙林阳建国志文峰海东晨睿博泽轩昊然"
    "子一天成振兴家晓立新永春荣德亮清松毅哲诚锋彬岩坤铭炜翔瑞嘉庆云"
)
FEMALE_CHARS = (
    "芳娜敏静丽艳娟霞秀燕玲丹萍红梅琳雪婷慧颖倩洁琴云莉兰凤晶妍欣怡悦佳雯蕾薇瑶璐思雨诗涵"
    "梦月晓文玉美春晴蓉珊岚菲茜璇琪萌宁婉"
)

# Mobile number prefixes of the three carriers (1xx); the remaining eight digits are random.
MOBILE_PREFIXES = tuple(
    f"1{n}"
    for n in (
        *(30, 31, 32, 33, 35, 36, 37, 38, 39, 50, 51, 52, 53, 55, 56, 57, 58, 59, 66, 76, 77, 78),
        *(80, 81, 82, 83, 85, 86, 87, 88, 89, 91, 95, 98, 99),
    )
)


def _cumulative(weights: list[float]) -> list[float]:
    return list(itertools.accumulate(weights))


_NATIONAL = [w for _, w in SURNAMES]
_SOUTHERN = [w * SOUTHERN_BOOST.get(s, 1.0) for s, w in SURNAMES]
_SURNAME_LIST = [s for s, _ in SURNAMES]
_CUM = {False: _cumulative(_NATIONAL), True: _cumulative(_SOUTHERN)}


# Given-name characters are listed roughly by popularity; a Zipf-like weight makes 伟, 丽, 静 … as
# over-represented as they are in real rosters (and names repeat, as 张伟 and 王静 do).
_GIVEN = {
    female: (list(chars), _cumulative([1.0 / (rank + 8) for rank in range(len(chars))]))
    for female, chars in ((False, MALE_CHARS), (True, FEMALE_CHARS))
}


def person_name(*, rng: random.Random, female: bool, province: str = "") -> str:
    """An invented full name; given names are one character a quarter of the time."""
    surname = rng.choices(_SURNAME_LIST, cum_weights=_CUM[province in SOUTHERN_PROVINCES])[0]
    chars, cum = _GIVEN[female]
    k = 2 if rng.random() < 0.75 else 1
    return surname + "".join(rng.choices(chars, cum_weights=cum, k=k))


def mobile(*, rng: random.Random) -> str:
    return rng.choice(MOBILE_PREFIXES) + f"{rng.randrange(10**8):08d}"


@functools.lru_cache(maxsize=200_000)
def name_keys(name: str) -> tuple[str, str]:
    """Pinyin search keys, cached per distinct name (names repeat a lot; pypinyin is the slow part)."""
    return search_keys(name)


def wechat_id(*, rng: random.Random, name: str) -> str:
    """Invented WeChat ids in the shapes people use: pinyin plus digits, or a generated wxid."""
    roll = rng.random()
    if roll < 0.35:
        return "wxid_" + "".join(rng.choices("abcdefghijklmnopqrstuvwxyz0123456789", k=14))
    full, initials = name_keys(name)
    if roll < 0.7:
        return f"{full}{rng.randrange(60, 100)}{rng.randrange(10, 100)}"
    return f"{initials}_{rng.randrange(1000, 10000)}"
