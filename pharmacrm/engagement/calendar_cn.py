"""The Chinese calendar facts planning and care need: public holidays with their make-up working days, and festival dates.

Lunar festivals move every year, so their Gregorian dates are a table (2025–2028). Days off come
from the State Council's yearly notice (国务院办公厅关于部分节假日安排的通知): 2025 and 2026 are the
published arrangements. 2027 and 2028 were not published when this was written; they are derived
from the principles the 2024 revision of 《全国年节及纪念日放假办法》 states (春节 8 days from 除夕,
劳动节 5 days, 国庆节 7 days — 8 when 中秋 falls in it —, the others 3 days with the weekend, or the
day alone when it is a Wednesday) and carry no make-up days. Replace them when the notice appears;
`is_provisional(year)` tells the UI to say so.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from django.utils.translation import gettext_lazy as _

D = dt.date


def _span(first: D, days: int) -> set[D]:
    return {first + dt.timedelta(days=i) for i in range(days)}


# Festival dates by year. 除夕 is the day before 春节; 清明 is a solar term (4 or 5 April).
LUNAR_DATES: dict[int, dict[str, D]] = {
    2025: {
        "spring_festival": D(2025, 1, 29),
        "lantern": D(2025, 2, 12),
        "qingming": D(2025, 4, 4),
        "dragon_boat": D(2025, 5, 31),
        "mid_autumn": D(2025, 10, 6),
    },
    2026: {
        "spring_festival": D(2026, 2, 17),
        "lantern": D(2026, 3, 3),
        "qingming": D(2026, 4, 5),
        "dragon_boat": D(2026, 6, 19),
        "mid_autumn": D(2026, 9, 25),
    },
    2027: {
        "spring_festival": D(2027, 2, 6),
        "lantern": D(2027, 2, 20),
        "qingming": D(2027, 4, 5),
        "dragon_boat": D(2027, 6, 9),
        "mid_autumn": D(2027, 9, 15),
    },
    2028: {
        "spring_festival": D(2028, 1, 26),
        "lantern": D(2028, 2, 9),
        "qingming": D(2028, 4, 4),
        "dragon_boat": D(2028, 5, 28),
        "mid_autumn": D(2028, 10, 3),
    },
}

# Published arrangements: (days off, make-up working days on a weekend).
_PUBLISHED: dict[int, tuple[set[D], set[D]]] = {
    2025: (
        {D(2025, 1, 1)}
        | _span(D(2025, 1, 28), 8)
        | _span(D(2025, 4, 4), 3)
        | _span(D(2025, 5, 1), 5)
        | _span(D(2025, 5, 31), 3)
        | _span(D(2025, 10, 1), 8),
        {D(2025, 1, 26), D(2025, 2, 8), D(2025, 4, 27), D(2025, 9, 28), D(2025, 10, 11)},
    ),
    2026: (
        _span(D(2026, 1, 1), 3)
        | _span(D(2026, 2, 15), 9)
        | _span(D(2026, 4, 4), 3)
        | _span(D(2026, 5, 1), 5)
        | _span(D(2026, 6, 19), 3)
        | _span(D(2026, 9, 25), 3)
        | _span(D(2026, 10, 1), 7),
        {D(2026, 1, 4), D(2026, 2, 14), D(2026, 2, 28), D(2026, 5, 9), D(2026, 9, 20), D(2026, 10, 10)},
    ),
}


def _three_days(day: D) -> set[D]:
    """A one-day holiday joined with the weekend into three days; a Wednesday stays alone."""
    weekday = day.isoweekday()
    if weekday == 3:
        return {day}
    if weekday in (1, 2):  # Sat/Sun–Mon, or Sun–Tue
        return _span(day - dt.timedelta(days=2), 3)
    if weekday == 4:  # Thu–Sat
        return _span(day, 3)
    if weekday == 5:  # Fri–Sun
        return _span(day, 3)
    if weekday == 6:  # Sat–Mon
        return _span(day, 3)
    return _span(day - dt.timedelta(days=1), 3)  # Sunday: Sat–Mon


def _derived(year: int) -> tuple[set[D], set[D]]:
    lunar = LUNAR_DATES[year]
    off = _three_days(D(year, 1, 1))
    off |= _span(lunar["spring_festival"] - dt.timedelta(days=1), 8)
    off |= _three_days(lunar["qingming"])
    off |= _span(D(year, 5, 1), 5)
    off |= _three_days(lunar["dragon_boat"])
    national = _span(D(year, 10, 1), 7)
    if lunar["mid_autumn"] in national or lunar["mid_autumn"] == D(year, 10, 8):
        national = _span(D(year, 10, 1), 8)
    else:
        off |= _three_days(lunar["mid_autumn"])
    return off | national, set()


def _arrangement(year: int) -> tuple[set[D], set[D]]:
    if year in _PUBLISHED:
        return _PUBLISHED[year]
    if year in LUNAR_DATES:
        return _derived(year)
    # Outside the table only the fixed-date statutory holidays are known.
    return {D(year, 1, 1), D(year, 5, 1), D(year, 5, 2), *_span(D(year, 10, 1), 3)}, set()


_cache: dict[int, tuple[frozenset[D], frozenset[D]]] = {}


def arrangement(year: int) -> tuple[frozenset[D], frozenset[D]]:
    """(days off, make-up working days) of `year`."""
    if year not in _cache:
        off, makeup = _arrangement(year)
        _cache[year] = (frozenset(off), frozenset(makeup))
    return _cache[year]


def is_provisional(year: int) -> bool:
    """True when the year's days off are derived, not the published notice."""
    return year not in _PUBLISHED


def is_public_holiday(day: D) -> bool:
    return day in arrangement(day.year)[0]


def is_working_day(day: D) -> bool:
    """A weekday that is not a public holiday, or a weekend day the notice made a working day."""
    off, makeup = arrangement(day.year)
    if day in makeup:
        return True
    return day.isoweekday() <= 5 and day not in off


def working_days(first: D, last: D) -> list[D]:
    """Working days from `first` to `last`, both included."""
    days = []
    day = first
    while day <= last:
        if is_working_day(day):
            days.append(day)
        day += dt.timedelta(days=1)
    return days


# --- Occasions for care: festivals and professional days ------------------------------------------


@dataclass(frozen=True)
class Occasion:
    code: str
    label: str
    day: D
    # Professional roles the day is for (empty: everyone).
    roles: frozenset[str] = frozenset()


OCCASION_LABELS = {
    "birthday": _("生日"),
    "work_anniversary": _("从业纪念日"),
    "promotion": _("晋升"),
    "other": _("纪念日"),
    "new_year": _("元旦"),
    "spring_festival": _("春节"),
    "lantern": _("元宵节"),
    "qingming": _("清明节"),
    "dragon_boat": _("端午节"),
    "mid_autumn": _("中秋节"),
    "national_day": _("国庆节"),
    "nurses_day": _("国际护士节"),
    "doctors_day": _("中国医师节"),
    "pharmacists_day": _("世界药师日"),
}

DOCTOR_ROLES = frozenset(
    {"president", "vice_president", "medical_affairs_director", "department_head", "physician"}
)
FIXED_OCCASIONS: list[tuple[str, int, int, frozenset[str]]] = [
    ("new_year", 1, 1, frozenset()),
    ("nurses_day", 5, 12, frozenset({"head_nurse"})),
    ("doctors_day", 8, 19, DOCTOR_ROLES),
    ("pharmacists_day", 9, 25, frozenset({"pharmacy_director"})),
    ("national_day", 10, 1, frozenset()),
]
LUNAR_OCCASIONS = ("spring_festival", "lantern", "qingming", "dragon_boat", "mid_autumn")


def occasion_label(code: str) -> str:
    return str(OCCASION_LABELS.get(code, code))


def occasions_in_year(year: int) -> list[Occasion]:
    found = [
        Occasion(code, occasion_label(code), D(year, month, day), roles)
        for code, month, day, roles in FIXED_OCCASIONS
    ]
    for code in LUNAR_OCCASIONS:
        day = LUNAR_DATES.get(year, {}).get(code)
        if day is not None:
            found.append(Occasion(code, occasion_label(code), day))
    return sorted(found, key=lambda o: o.day)


def occasions_between(first: D, last: D) -> Iterator[Occasion]:
    for year in range(first.year, last.year + 1):
        for occasion in occasions_in_year(year):
            if first <= occasion.day <= last:
                yield occasion


def holiday_names(days: Iterable[D]) -> dict[D, str]:
    """Festival or public-holiday label for each of `days` that has one (for calendar pages)."""
    wanted = sorted(set(days))
    if not wanted:
        return {}
    names = {o.day: o.label for o in occasions_between(wanted[0], wanted[-1])}
    result: dict[D, str] = {}
    for day in wanted:
        if day in names:
            result[day] = names[day]
        elif is_public_holiday(day):
            result[day] = str(_("休息日（法定节假日）"))
        elif day in arrangement(day.year)[1]:
            result[day] = str(_("调休上班"))
    return result
