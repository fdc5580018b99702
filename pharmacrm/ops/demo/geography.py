"""Where the demo company sells: regions, provinces, cities and counties, from core.Division."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from pharmacrm.core.models import Division

# Sales regions (大区) as Chinese pharma companies commonly cut the country. Fujian sits in 华南
# with Guangdong, as it does in many companies' maps; the order is the order of the org tree.
REGIONS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("HB", "华北大区", ("11", "12", "13", "14", "15")),
    ("HD", "华东大区", ("31", "32", "33", "34", "36", "37")),
    ("HN", "华南大区", ("35", "44", "45", "46")),
    ("HZ", "华中大区", ("42", "41", "43")),
    ("XN", "西南大区", ("50", "51", "52", "53", "54")),
    ("XB", "西北大区", ("61", "62", "63", "64", "65")),
    ("DB", "东北大区", ("21", "22", "23")),
)
MUNICIPALITIES = frozenset({"11", "12", "31", "50"})
# City-level rows that are not cities a rep could cover on their own.
SKIPPED_CITIES = frozenset({"4190", "4290", "4690", "6590", "4603"})

_PROVINCE_SUFFIXES = ("维吾尔自治区", "壮族自治区", "回族自治区", "自治区", "省", "市")


def province_short(name: str) -> str:
    """广西壮族自治区 → 广西, 福建省 → 福建, 北京市 → 北京."""
    for suffix in _PROVINCE_SUFFIXES:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def place_short(name: str) -> str:
    """福州市 → 福州, 恩施土家族苗族自治州 → 恩施州, 阿里地区 → 阿里, 鼓楼区 → 鼓楼."""
    if name.endswith("自治州"):
        return name[:2] + "州"
    if name.endswith("自治县"):
        return name[:2]
    for suffix in ("地区", "市", "盟", "区", "县"):
        if name.endswith(suffix) and len(name) > len(suffix) + 1:
            return name[: -len(suffix)]
    return name


@dataclass
class City:
    code: str
    name: str
    province: str
    counties: list[tuple[str, str]] = field(default_factory=list)  # (code, name)

    @property
    def short(self) -> str:
        return place_short(self.name)

    @property
    def is_capital(self) -> bool:
        # Provincial capitals have the first city code in every province (3501 福州, 4401 广州 …).
        return self.code.endswith("01")

    @property
    def weight(self) -> float:
        return 1.5 if self.is_capital else 1.0


@dataclass
class Geography:
    provinces: dict[str, str]  # code → name
    cities: dict[str, City]
    county_city: dict[str, str]  # county code → city code

    def region_of(self, province: str) -> tuple[str, str]:
        for code, name, provinces in REGIONS:
            if province in provinces:
                return code, name
        raise LookupError(province)

    def cities_of(self, province: str) -> list[City]:
        return [c for c in self.cities.values() if c.province == province]


def load_geography() -> Geography:
    """The Division table as plain objects, read once (the generator looks up names thousands of times)."""
    provinces: dict[str, str] = {}
    cities: dict[str, City] = {}
    counties: dict[str, list[tuple[str, str]]] = defaultdict(list)
    rows = Division.objects.order_by("code").values_list("code", "name", "level", "parent_id")
    for code, name, level, parent in rows:
        if level == Division.Level.PROVINCE:
            provinces[code] = name
        elif level == Division.Level.CITY:
            cities[code] = City(code=code, name=name, province=parent or code[:2])
        elif parent:
            counties[parent].append((code, name))
    county_city: dict[str, str] = {}
    for city_code, items in counties.items():
        if city_code in cities:
            cities[city_code].counties = items
        for county_code, _name in items:
            county_city[county_code] = city_code
    return Geography(provinces=provinces, cities=cities, county_city=county_city)


def match_county(*, geo: Geography, city: City, text: str) -> str | None:
    """The county a hospital's name or address starts with ("鼓楼区水部街道…" → 鼓楼区), if any.

    Municipalities list districts and counties under two city codes (5001 市辖区, 5002 县), so for
    them every county of the province is a candidate.
    """
    text = text.removeprefix(geo.provinces.get(city.province, "")).removeprefix(city.name)
    candidates: list[tuple[str, str]] = []
    if city.province in MUNICIPALITIES:
        for other in geo.cities_of(city.province):
            candidates.extend(other.counties)
    else:
        candidates = city.counties
    for code, name in candidates:
        if text.startswith(name):
            return code
    for code, name in candidates:
        short = place_short(name)
        if len(short) >= 2 and text.startswith(short):
            return code
    return None
