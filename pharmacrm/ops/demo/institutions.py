"""The demo's institutions: real hospitals from the data file, plus invented pharmacies, clinics, distributors."""

from __future__ import annotations

import csv
import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from pharmacrm.customers.models import Institution
from pharmacrm.ops.demo.geography import (
    SKIPPED_CITIES,
    City,
    Geography,
    match_county,
    place_short,
    province_short,
)
from pharmacrm.ops.demo.scales import Scale

DATA = Path(__file__).resolve().parent.parent / "data" / "hospitals_flat.csv"
DEMO_PREFIX = "DEMO-"  # every institution the generator creates has an external_id with this prefix

Kind = Institution.Kind
Grade = Institution.Grade
Ownership = Institution.Ownership


@dataclass
class InstitutionSpec:
    """An institution before it is saved; `pk` is filled in by the loader."""

    external_id: str
    name: str
    kind: str
    city: City
    county: str | None
    grade: str = Grade.UNGRADED
    ownership: str = Ownership.PUBLIC
    beds: int | None = None
    outpatient_volume: int | None = None
    address: str = ""
    professionals: int = 0
    territory: int | None = None  # index into the plan's territories
    pk: int | None = None
    tags: tuple[str, ...] = field(default_factory=tuple)

    @property
    def province(self) -> str:
        return self.city.province


# --- grades and sizes ---------------------------------------------------------------

CLINIC_MARKERS = ("社区卫生服务中心", "社区卫生服务站", "卫生院", "卫生服务中心", "门诊部", "诊所", "卫生室")
TOP_MARKERS = (
    "大学",
    "附属",
    "清华",
    "协和",
    "总医院",
    "省立",
    "省人民医院",
    "中心医院",
    "解放军",
    "部队",
    "联勤",
)
PUBLIC_MARKERS = (
    "人民", "中医", "中西医", "妇幼", "大学", "第", "中心", "军", "武警", "铁路", "疗养院", "省", "县", "区",
    "市", "传染", "结核", "精神", "职业病", "急救", "红十字", "儿童", "肿瘤", "口腔", "眼科", "康复",
)  # fmt: skip

# Beds and daily outpatient visits by grade: (low, high).
BEDS = {
    "3a": (800, 3500), "3b": (500, 1200), "3": (400, 1000), "2a": (200, 600), "2b": (150, 400),
    "2": (100, 300), "1": (20, 99), "none": (20, 150),
}  # fmt: skip
OUTPATIENTS = {
    "3a": (3000, 15000), "3b": (1500, 5000), "3": (1200, 4000), "2a": (500, 2500), "2b": (400, 1800),
    "2": (300, 1500), "1": (50, 400), "none": (30, 300),
}  # fmt: skip

# How many professionals an institution holds relative to others: a 三甲 has dozens of people a
# company calls on, a pharmacy one or two.
HOSPITAL_WEIGHT = {"3a": 40.0, "3b": 26.0, "3": 24.0, "2a": 13.0, "2b": 10.0, "2": 8.0, "1": 5.0, "none": 4.0}
OTHER_WEIGHT = {Kind.CLINIC: 3.0, Kind.PHARMACY: 1.5, Kind.RETAILER: 1.5, Kind.DISTRIBUTOR: 2.0}


def _pick(rng: random.Random, weighted: Mapping[str, float]) -> str:
    return rng.choices(list(weighted), weights=list(weighted.values()))[0]


def classify_real(*, rng: random.Random, name: str, tags: str, city: City) -> tuple[str, str, str]:
    """(kind, grade, ownership) for a real hospital. The data has no grades, so they are plausible guesses."""
    if any(m in name for m in CLINIC_MARKERS):
        return Kind.CLINIC, Grade.UNGRADED, Ownership.PUBLIC
    if "民营" in tags:
        return Kind.HOSPITAL, Grade.G2, Ownership.PRIVATE
    public = any(m in name for m in PUBLIC_MARKERS) or rng.random() < 0.25
    if not public:
        return Kind.HOSPITAL, _pick(rng, {"2": 30, "1": 30, "none": 40}), Ownership.PRIVATE
    if any(m in name for m in TOP_MARKERS):
        grade = _pick(rng, {"3a": 75, "3b": 10, "3": 10, "2a": 5})
    elif name.startswith((city.name, city.short)) and "区" not in name[len(city.name) :][:4]:
        grade = _pick(rng, {"3a": 40, "3b": 25, "3": 10, "2a": 20, "2": 5})
    elif "人民医院" in name or "中医" in name or "妇幼" in name:
        grade = _pick(rng, {"2a": 50, "2b": 15, "2": 15, "3b": 10, "1": 10})
    else:
        grade = _pick(rng, {"2a": 30, "2": 30, "1": 20, "none": 20})
    return Kind.HOSPITAL, grade, Ownership.PUBLIC


def size_for(*, rng: random.Random, spec: InstitutionSpec) -> None:
    """Beds and outpatient volume that fit the kind and grade."""
    if spec.kind == Kind.HOSPITAL:
        lo, hi = BEDS[spec.grade]
        spec.beds = rng.randrange(lo, hi) // 10 * 10
        lo, hi = OUTPATIENTS[spec.grade]
        spec.outpatient_volume = rng.randrange(lo, hi) // 10 * 10
    elif spec.kind == Kind.CLINIC:
        spec.beds = rng.choice([None, 0, 10, 20, 30, 40, 60]) if "卫生院" in spec.name else None
        spec.outpatient_volume = rng.randrange(50, 400)


def weight_of(spec: InstitutionSpec) -> float:
    if spec.kind == Kind.HOSPITAL:
        return HOSPITAL_WEIGHT[spec.grade]
    return OTHER_WEIGHT.get(Kind(spec.kind), 1.0)


# --- invented names -------------------------------------------------------------------


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


ROADS = _words(
    "人民路 解放路 中山路 建设路 和平路 胜利路 新华路 光明路 文化路 青年路 朝阳路 长江路 黄河路 滨江路 "
    "东风路 五一路 北京路 南京路 健康路 学府路 工业路 幸福路 友谊路 东大街 西大街 南大街 北大街 府前路 "
    "环城路 体育路 迎宾路 车站路 花园路 湖滨路 育才路 民主路 振兴路 团结路 红旗路"
)
STREETS = _words(
    "东街 西街 南门 北门 城关 新华 人民 解放 中山 胜利 东城 西城 南湖 北湖 河西 江南 新城 府前 文昌 龙泉"
)
TOWNS = _words(
    "城关 新城 东关 西关 南关 北关 城东 城西 河口 新庄 石桥 龙泉 白沙 青山 双河 三江 高桥 大桥 柳林 杨村"
)
CHAIN_PHARMACIES = (
    "老百姓大药房",
    "大参林",
    "益丰大药房",
    "一心堂",
    "国大药房",
    "海王星辰",
    "漱玉平民",
    "健之佳",
)
PHARMACY_WORDS = _words(
    "仁济 百草 万家 益康 福寿 惠民 德仁 杏林 济生 安泰 永安 广济 康泰 和顺 寿康 保和 瑞生 养和 承康 馨康"
)
PHARMACY_SUFFIXES = ("大药房", "药店", "堂药店", "药房")
CLINIC_WORDS = _words("康宁 仁心 杏林 济世 德馨 博仁 和美 安泰 益民 华夏 同心 慈济")
PRIVATE_BRANDS = _words("仁和 博爱 康宁 安康 华康 民康 仁爱 德济 恒康 济民 慈航 瑞安 华美 东方 新安 永康")
TRADE_WORDS = _words(
    "华瑞 康源 润泽 恒康 瑞和 泰和 益诚 宏达 信达 嘉禾 鼎盛 汇通 裕丰 同晟 安和 盛元 弘康 致远 德润 广和"
)

# City-level hospitals in the order a city usually has them, with the grades they typically carry.
CITY_HOSPITALS: tuple[tuple[str, dict[str, float]], ...] = (
    ("第一人民医院", {"3a": 90, "3b": 10}),
    ("中心医院", {"3a": 80, "3b": 20}),
    ("中医院", {"3a": 60, "3b": 40}),
    ("妇幼保健院", {"3b": 50, "3a": 30, "2a": 20}),
    ("第二人民医院", {"3b": 50, "2a": 50}),
    ("儿童医院", {"3a": 40, "3b": 60}),
    ("肿瘤医院", {"3b": 60, "3a": 40}),
    ("第三人民医院", {"2a": 70, "3b": 30}),
    ("传染病医院", {"2a": 60, "3b": 40}),
    ("中西医结合医院", {"2a": 70, "2": 30}),
    ("精神卫生中心", {"2a": 50, "3b": 50}),
    ("第四人民医院", {"2a": 80, "2": 20}),
    ("第五人民医院", {"2": 60, "2a": 40}),
)
COUNTY_HOSPITALS: tuple[tuple[str, dict[str, float]], ...] = (
    ("人民医院", {"2a": 70, "3b": 20, "2b": 10}),
    ("中医院", {"2a": 60, "2b": 30, "2": 10}),
    ("妇幼保健院", {"2a": 40, "2b": 40, "2": 20}),
    ("第二人民医院", {"2b": 50, "2": 50}),
    ("中西医结合医院", {"2": 70, "1": 30}),
)


def _city_base(city: City) -> str:
    """The prefix a city-level hospital carries: 福州市, 恩施州, 阿里."""
    return city.name if city.name.endswith("市") else city.short


def _address(*, rng: random.Random, city: City, county: tuple[str, str] | None) -> str:
    place = county[1] if county else ""
    return f"{place}{rng.choice(ROADS)}{rng.randrange(1, 400)}号"


class Namer:
    """Invents institutions for one city, never repeating a name in that city."""

    def __init__(self, *, rng: random.Random, geo: Geography, city: City, taken: set[str]):
        self.rng = rng
        self.geo = geo
        self.city = city
        self.taken = taken
        # 市辖区 rows are not places a hospital would be named after.
        self.counties = [c for c in city.counties if c[1] not in ("市辖区", "县")]

    def _county(self) -> tuple[str, str] | None:
        return self.rng.choice(self.counties) if self.counties else None

    def _fresh(self, name: str) -> bool:
        if name in self.taken:
            return False
        self.taken.add(name)
        return True

    def hospitals(self, count: int) -> list[tuple[str, str, str, tuple[str, str] | None]]:
        """(name, grade, ownership, county) for up to `count` invented hospitals."""
        out: list[tuple[str, str, str, tuple[str, str] | None]] = []
        base = _city_base(self.city)
        candidates: list[tuple[str, dict[str, float], str, tuple[str, str] | None]] = [
            (base + suffix, grades, Ownership.PUBLIC, None) for suffix, grades in CITY_HOSPITALS
        ]
        county_rows = [
            (county[1] + suffix, grades, Ownership.PUBLIC, county)
            for suffix, grades in COUNTY_HOSPITALS
            for county in self.counties
        ]
        private_rows: list[tuple[str, dict[str, float], str, tuple[str, str] | None]] = [
            (f"{self.city.short}{brand}医院", {"2": 40, "1": 30, "none": 30}, Ownership.PRIVATE, None)
            for brand in PRIVATE_BRANDS
        ]
        self.rng.shuffle(private_rows)
        # Counties' own hospitals first, then a private hospital every few, as in a real city's list.
        for i, row in enumerate(county_rows):
            candidates.append(row)
            if i % 3 == 2 and private_rows:
                candidates.append(private_rows.pop())
        candidates.extend(private_rows)
        for name, grades, ownership, county in candidates:
            if len(out) >= count:
                break
            if self._fresh(name):
                out.append((name, _pick(self.rng, grades), ownership, county or self._county()))
        return out

    def pharmacy(self) -> tuple[str, tuple[str, str] | None] | None:
        for _attempt in range(20):
            county = self._county()
            if self.rng.random() < 0.65:
                place = place_short(county[1]) if county and self.rng.random() < 0.5 else self.city.short
                name = f"{self.rng.choice(CHAIN_PHARMACIES)}（{place}{self.rng.choice(ROADS)}店）"
            else:
                word = self.rng.choice(PHARMACY_WORDS)
                name = f"{self.city.short}{word}{self.rng.choice(PHARMACY_SUFFIXES)}"
            if self._fresh(name):
                return name, county
        return None

    def clinic(self) -> tuple[str, str, tuple[str, str] | None] | None:
        """(name, ownership, county): community centres, township centres, private clinics."""
        for _attempt in range(20):
            county = self._county()
            place = county[1] if county else self.city.name
            roll = self.rng.random()
            # Urban districts (区) have community health centres; counties have township ones (镇卫生院).
            urban = place.endswith("区") or place.endswith("市")
            if roll < (0.75 if urban else 0.25):
                name, ownership = f"{place}{self.rng.choice(STREETS)}街道社区卫生服务中心", Ownership.PUBLIC
            elif roll < 0.8:
                name, ownership = f"{place}{self.rng.choice(TOWNS)}镇卫生院", Ownership.PUBLIC
            else:
                word = self.rng.choice(CLINIC_WORDS)
                kind = self.rng.choice(("中医诊所", "门诊部", "综合门诊部"))
                name, ownership = f"{self.city.short}{word}{kind}", Ownership.PRIVATE
            if self._fresh(name):
                return name, ownership, county
        return None

    def retailer(self) -> str | None:
        for _attempt in range(20):
            name = f"{self.city.short}{self.rng.choice(TRADE_WORDS)}医药连锁有限公司"
            if self._fresh(name):
                return name
        return None

    def distributor(self) -> str | None:
        prefix = province_short(self.geo.provinces[self.city.province])
        for _attempt in range(20):
            suffix = self.rng.choice(("医药有限公司", "医药商业有限公司", "药业有限公司", "医药物流有限公司"))
            name = f"{prefix}{self.rng.choice(TRADE_WORDS)}{suffix}"
            if self._fresh(name):
                return name
        return None


# --- the list ---------------------------------------------------------------------------


def _read_real(*, geo: Geography, scale: Scale) -> dict[str, list[tuple[int, dict[str, str]]]]:
    """Real rows by Division city code, in file order, filtered by the scale."""
    by_city: dict[str, list[tuple[int, dict[str, str]]]] = {}
    with DATA.open(encoding="utf-8") as f:
        for index, row in enumerate(csv.DictReader(f)):
            city_code = row["city_code"][:4]
            if city_code not in geo.cities:
                continue
            if scale.real_cities and city_code not in scale.real_cities:
                continue
            if scale.provinces and city_code[:2] not in scale.provinces:
                continue
            rows = by_city.setdefault(city_code, [])
            if not scale.real_per_city or len(rows) < scale.real_per_city:
                rows.append((index, row))
    return by_city


def _covered_cities(
    *, geo: Geography, scale: Scale, real: dict[str, list[tuple[int, dict[str, str]]]]
) -> list[City]:
    """Every city the company sells in at this scale, in code order (the org tree follows it)."""
    codes = set(real)
    for city in geo.cities.values():
        if city.code in SKIPPED_CITIES or (scale.provinces and city.province not in scale.provinces):
            continue
        if scale.extra_cities == "all" or (scale.extra_cities == "capitals" and city.is_capital):
            codes.add(city.code)
    return [geo.cities[c] for c in sorted(codes)]


def build_institutions(*, rng: random.Random, geo: Geography, scale: Scale) -> list[InstitutionSpec]:
    """The full institution list for a scale, with each one's share of the professionals."""
    real = _read_real(geo=geo, scale=scale)
    specs: list[InstitutionSpec] = []
    serial = 0

    def next_id() -> str:
        nonlocal serial
        serial += 1
        return f"{DEMO_PREFIX}G{serial:06d}"

    cities = _covered_cities(geo=geo, scale=scale, real=real)
    for city in cities:
        taken: set[str] = set()
        hospitals_here = 0
        for index, row in real.get(city.code, []):
            name = row["name"].strip()
            county = match_county(geo=geo, city=city, text=name) or match_county(
                geo=geo, city=city, text=row["address"]
            )
            home = geo.cities[geo.county_city[county]] if county else city
            kind, grade, ownership = classify_real(rng=rng, name=name, tags=row["type_or_tags"], city=home)
            spec = InstitutionSpec(
                external_id=f"{DEMO_PREFIX}H{index + 1:05d}",
                name=name,
                kind=kind,
                city=home,
                county=county,
                grade=grade,
                ownership=ownership,
                address=row["address"].strip(),
            )
            size_for(rng=rng, spec=spec)
            specs.append(spec)
            taken.add(name)
            hospitals_here += kind == Kind.HOSPITAL
        namer = Namer(rng=rng, geo=geo, city=city, taken=taken)
        weight = city.weight

        def quota(per_city: int, weight: float = weight) -> int:
            return round(per_city * weight * rng.uniform(0.8, 1.2)) if per_city else 0

        wanted_hospitals = max(0, quota(scale.hospitals_per_city) - hospitals_here)
        for name, grade, ownership, county_row in namer.hospitals(wanted_hospitals):
            spec = InstitutionSpec(
                external_id=next_id(),
                name=name,
                kind=Kind.HOSPITAL,
                city=city,
                county=county_row[0] if county_row else None,
                grade=grade,
                ownership=ownership,
                address=_address(rng=rng, city=city, county=county_row),
            )
            size_for(rng=rng, spec=spec)
            specs.append(spec)
        for _ in range(quota(scale.pharmacies_per_city)):
            made = namer.pharmacy()
            if made:
                name, county_row = made
                specs.append(
                    InstitutionSpec(
                        external_id=next_id(),
                        name=name,
                        kind=Kind.PHARMACY,
                        city=city,
                        county=county_row[0] if county_row else None,
                        ownership=Ownership.PRIVATE,
                        address=_address(rng=rng, city=city, county=county_row),
                    )
                )
        for _ in range(quota(scale.clinics_per_city)):
            clinic = namer.clinic()
            if clinic:
                name, ownership, county_row = clinic
                spec = InstitutionSpec(
                    external_id=next_id(),
                    name=name,
                    kind=Kind.CLINIC,
                    city=city,
                    county=county_row[0] if county_row else None,
                    ownership=ownership,
                    address=_address(rng=rng, city=city, county=county_row),
                )
                size_for(rng=rng, spec=spec)
                specs.append(spec)
        for _ in range(quota(scale.retailers_per_city, 1.0)):
            retailer = namer.retailer()
            if retailer:
                county_row = namer._county()
                specs.append(
                    InstitutionSpec(
                        external_id=next_id(),
                        name=retailer,
                        kind=Kind.RETAILER,
                        city=city,
                        county=county_row[0] if county_row else None,
                        ownership=Ownership.PRIVATE,
                        address=_address(rng=rng, city=city, county=county_row),
                    )
                )
    # Distributors sit in each province's capital (or its first covered city).
    seen_provinces: list[str] = []
    for city in cities:
        if city.province in seen_provinces:
            continue
        seen_provinces.append(city.province)
        capital = next((c for c in cities if c.province == city.province and c.is_capital), city)
        namer = Namer(rng=rng, geo=geo, city=capital, taken=set())
        for _ in range(scale.distributors_per_province):
            trade_name = namer.distributor()
            if trade_name:
                county_row = namer._county()
                specs.append(
                    InstitutionSpec(
                        external_id=next_id(),
                        name=trade_name,
                        kind=Kind.DISTRIBUTOR,
                        city=capital,
                        county=county_row[0] if county_row else None,
                        ownership=rng.choice((Ownership.PUBLIC, Ownership.PRIVATE)),
                        address=_address(rng=rng, city=capital, county=county_row),
                    )
                )
    share_professionals(rng=rng, specs=specs, total=scale.professionals)
    return specs


def share_professionals(*, rng: random.Random, specs: list[InstitutionSpec], total: int) -> None:
    """Give each institution its number of professionals so the sum lands near `total`."""
    weights = [weight_of(s) for s in specs]
    factor = total / sum(weights)
    for spec, weight in zip(specs, weights, strict=True):
        floor = 2 if spec.kind == Kind.HOSPITAL else 1
        spec.professionals = max(floor, round(weight * factor * rng.uniform(0.7, 1.3)))
