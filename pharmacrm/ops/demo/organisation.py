"""The demo company's org tree, people, territories and coverage history, planned from the institutions."""

from __future__ import annotations

import datetime as dt
import math
import random
from collections import defaultdict
from dataclasses import dataclass, field

from pharmacrm.core.models import OrgUnit, Role
from pharmacrm.ops.demo import names
from pharmacrm.ops.demo.geography import REGIONS, City, Geography, province_short
from pharmacrm.ops.demo.institutions import InstitutionSpec, Kind
from pharmacrm.ops.demo.scales import Scale

COMPANY_CODE = "HQ"
COMPANY_NAME = "华信医药"
EMPLOYEE_PREFIX = "HX"  # every demo user's employee_no starts with it; --reset finds them by it
CN_NUMBERS = "一二三四五六七八九十"
KIND_ORDER = {Kind.HOSPITAL: 0, Kind.CLINIC: 1, Kind.PHARMACY: 2, Kind.RETAILER: 3, Kind.DISTRIBUTOR: 4}


@dataclass
class UnitPlan:
    code: str
    name: str
    kind: str
    parent: int | None  # index into Plan.units
    pk: int = 0  # set when saved


@dataclass
class UserPlan:
    username: str
    display_name: str
    employee_no: str
    roles: tuple[str, ...]
    unit: int | None
    is_active: bool = True
    is_superuser: bool = False
    phone: str = ""
    pk: int = 0  # set when saved


@dataclass
class TerritoryPlan:
    code: str
    name: str
    unit: int
    city: City | None  # the city whose TerritoryRule it owns, if any
    institutions: list[int] = field(default_factory=list)  # indices into the institution list
    holder: int | None = None  # index into Plan.users
    previous: int | None = None  # the holder before a mid-year takeover
    takeover: dt.date | None = None
    pk: int = 0  # set when saved


@dataclass
class Plan:
    units: list[UnitPlan] = field(default_factory=list)
    users: list[UserPlan] = field(default_factory=list)
    territories: list[TerritoryPlan] = field(default_factory=list)
    coverage_start: dt.date = dt.date(2000, 1, 1)

    def add_unit(self, unit: UnitPlan) -> int:
        self.units.append(unit)
        return len(self.units) - 1

    def add_user(self, user: UserPlan) -> int:
        self.users.append(user)
        return len(self.users) - 1


# The fixed logins the README and `make demo` announce, with their invented display names.
FIXED_LOGINS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("admin", "陈立新", (Role.ADMIN,)),
    ("director", "周文博", (Role.DIRECTOR,)),
    ("manager1", "孙志强", (Role.DISTRICT_MANAGER,)),
    ("rep1", "王晓明", (Role.REP,)),
    ("rep2", "李静怡", (Role.REP,)),
    ("service1", "赵雪梅", (Role.SERVICE,)),
    ("compliance1", "钱正华", (Role.COMPLIANCE,)),
    ("ka1", "吴海峰", (Role.COMMERCIAL,)),
)
FIXED_USERNAMES = tuple(u for u, _, _ in FIXED_LOGINS)


def _allocate(total: int, weights: list[float]) -> list[int]:
    """Split `total` into integer parts proportional to `weights`, each at least 1 (largest remainder)."""
    if total <= len(weights):
        return [1] * len(weights)
    spare = total - len(weights)
    whole = sum(weights) or 1.0
    exact = [spare * w / whole for w in weights]
    parts = [1 + math.floor(x) for x in exact]
    order = sorted(range(len(weights)), key=lambda i: (exact[i] - math.floor(exact[i]), -i), reverse=True)
    for i in order[: total - sum(parts)]:
        parts[i] += 1
    return parts


def _chunks(items: list[int], *, parts: int, weight: list[float]) -> list[list[int]]:
    """Cut `items` (in order) into `parts` contiguous, non-empty runs of about equal weight."""
    parts = max(1, min(parts, len(items)))
    total = sum(weight[i] for i in items)
    runs: list[list[int]] = [[]]
    done = 0.0
    for pos, item in enumerate(items):
        left_items = len(items) - pos
        left_runs = parts - len(runs)
        boundary = total * len(runs) / parts
        if runs[-1] and left_runs > 0 and (done >= boundary or left_items <= left_runs):
            runs.append([])
        runs[-1].append(item)
        done += weight[item]
    return runs


def _even(items: list[int], size: int) -> list[list[int]]:
    """Cut `items` into runs of at most `size`, as even as possible."""
    count = max(1, math.ceil(len(items) / size))
    base, extra = divmod(len(items), count)
    runs, start = [], 0
    for i in range(count):
        end = start + base + (1 if i < extra else 0)
        runs.append(items[start:end])
        start = end
    return runs


def _month_starts(start: dt.date, end: dt.date) -> list[dt.date]:
    out, day = [], dt.date(start.year, start.month, 1)
    while day <= end:
        if day >= start:
            out.append(day)
        day = dt.date(day.year + day.month // 12, day.month % 12 + 1, 1)
    return out


def plan_organisation(
    *, rng: random.Random, geo: Geography, scale: Scale, specs: list[InstitutionSpec], today: dt.date
) -> Plan:
    plan = Plan(coverage_start=dt.date(today.year - 1, 1, 1))
    workload = [float(s.professionals) for s in specs]

    # 1. Rep territories: each city gets a share of the reps by its workload; big cities are cut
    #    into several territories, county by county, so a rep's institutions sit together.
    by_city: dict[str, list[int]] = defaultdict(list)
    distributors: dict[str, list[int]] = defaultdict(list)
    for i, spec in enumerate(specs):
        if spec.kind == Kind.DISTRIBUTOR:
            distributors[geo.region_of(spec.province)[0]].append(i)
        else:
            by_city[spec.city.code].append(i)
    city_codes = sorted(by_city)
    counts = _allocate(scale.reps, [sum(workload[i] for i in by_city[c]) for c in city_codes])
    city_territories: dict[str, list[TerritoryPlan]] = {}
    name_serial: dict[str, int] = defaultdict(int)
    for code, count in zip(city_codes, counts, strict=True):
        city = geo.cities[code]
        members = sorted(
            by_city[code],
            key=lambda i: (specs[i].county or "~", KIND_ORDER[Kind(specs[i].kind)], specs[i].name),
        )
        runs = _chunks(members, parts=count, weight=workload)
        territories = []
        for n, run in enumerate(runs, start=1):
            name_serial[city.name] += 1
            serial = name_serial[city.name]
            label = f"{city.name}{serial:02d}辖区" if len(runs) > 1 or serial > 1 else f"{city.name}辖区"
            # The first territory of a city owns the city's TerritoryRule: new institutions in that
            # city land there until someone moves them.
            territories.append(
                TerritoryPlan(
                    code=f"T{code}-{n:02d}",
                    name=label,
                    unit=-1,
                    city=city if n == 1 else None,
                    institutions=run,
                )
            )
        city_territories[code] = territories

    # 2. Org tree: company → region → district (a province, or part of a big one) → teams of reps.
    company = plan.add_unit(UnitPlan(COMPANY_CODE, COMPANY_NAME, OrgUnit.Kind.COMPANY, None))
    region_units: dict[str, int] = {}
    district_units: list[int] = []
    for region_code, region_name, provinces in REGIONS:
        for province in provinces:
            territories = [t for c in city_codes if c[:2] == province for t in city_territories[c]]
            if not territories:
                continue
            if region_code not in region_units:
                region_units[region_code] = plan.add_unit(
                    UnitPlan(region_code, region_name, OrgUnit.Kind.REGION, company)
                )
            short = province_short(geo.provinces[province])
            teams = _even(list(range(len(territories))), scale.reps_per_team)
            districts = _even(list(range(len(teams))), scale.teams_per_district)
            team_no = 0
            for d, team_indices in enumerate(districts):
                suffix = f"-{d + 1}" if len(districts) > 1 else ""
                label = f"{short}{CN_NUMBERS[d % 10]}区" if len(districts) > 1 else f"{short}地区"
                district = plan.add_unit(
                    UnitPlan(
                        f"{region_code}-{province}{suffix}",
                        label,
                        OrgUnit.Kind.DISTRICT,
                        region_units[region_code],
                    )
                )
                district_units.append(district)
                for t in team_indices:
                    team_no += 1
                    team = plan.add_unit(
                        UnitPlan(
                            f"{region_code}-{province}{suffix}-{team_no:02d}",
                            f"{short}{team_no}组",
                            OrgUnit.Kind.TEAM,
                            district,
                        )
                    )
                    for idx in teams[t]:
                        territories[idx].unit = team
                        plan.territories.append(territories[idx])

    # 3. People. Fixed logins first so their employee numbers never move between runs.
    serial = 10000

    def new_user(*, roles: tuple[str, ...], unit: int | None, province: str, active: bool = True) -> int:
        nonlocal serial
        serial += 1
        female = rng.random() < 0.45
        return plan.add_user(
            UserPlan(
                username=f"hx{serial}",
                display_name=names.person_name(rng=rng, female=female, province=province),
                employee_no=f"{EMPLOYEE_PREFIX}{serial}",
                roles=roles,
                unit=unit,
                is_active=active,
                phone=names.mobile(rng=rng),
            )
        )

    fixed: dict[str, int] = {}
    for n, (username, display, roles) in enumerate(FIXED_LOGINS, start=1):
        fixed[username] = plan.add_user(
            UserPlan(
                username=username,
                display_name=display,
                employee_no=f"{EMPLOYEE_PREFIX}{n:05d}",
                roles=roles,
                unit=company,
                is_superuser=username == "admin",
                phone=names.mobile(rng=rng),
            )
        )

    # rep1 and rep2 share the first team that has two territories, preferably in Beijing.
    team_territories: dict[int, list[TerritoryPlan]] = defaultdict(list)
    for territory in plan.territories:
        team_territories[territory.unit].append(territory)
    anchor = next(
        (u for u, ts in team_territories.items() if len(ts) >= 2 and ts[0].code.startswith("T11")),
        next(u for u, ts in team_territories.items() if len(ts) >= 2),
    )
    anchor_district = plan.units[anchor].parent
    rep1_territory, rep2_territory = team_territories[anchor][0], team_territories[anchor][1]

    for unit_index, unit in enumerate(plan.units):
        province = unit.code.split("-")[1][:2] if "-" in unit.code else ""
        if unit.kind == OrgUnit.Kind.REGION:
            new_user(roles=(Role.REGIONAL_MANAGER,), unit=unit_index, province=province)
        elif unit.kind == OrgUnit.Kind.DISTRICT:
            if unit_index == anchor_district:
                plan.users[fixed["manager1"]].unit = unit_index
            else:
                new_user(roles=(Role.DISTRICT_MANAGER,), unit=unit_index, province=province)

    rep_territories = list(plan.territories)
    for territory in rep_territories:
        province = territory.code[1:3]
        if territory is rep1_territory:
            territory.holder = fixed["rep1"]
        elif territory is rep2_territory:
            territory.holder = fixed["rep2"]
        else:
            territory.holder = new_user(roles=(Role.REP,), unit=territory.unit, province=province)
        plan.users[territory.holder].unit = territory.unit

    # Some reps took their territory over mid-way: the one before them has left the company (an
    # inactive user), and the coverage history has two rows. rep2 is one of them, for the demo.
    months = _month_starts(plan.coverage_start + dt.timedelta(days=90), today - dt.timedelta(days=30))
    takeovers = [
        t for t in rep_territories if t is not rep1_territory and (t is rep2_territory or rng.random() < 0.08)
    ]
    for territory in takeovers:
        province = territory.code[1:3]
        territory.previous = new_user(roles=(Role.REP,), unit=territory.unit, province=province, active=False)
        if territory is rep2_territory:
            territory.takeover = dt.date(today.year - 1, 7, 1)
        else:
            territory.takeover = rng.choice(months) if months else dt.date(today.year - 1, 7, 1)

    # Commercial (商务/KA) managers: one per region, covering the region's distributors.
    ka1_region = plan.units[anchor_district].parent if anchor_district is not None else None
    for region_code, region_unit in region_units.items():
        members = distributors.get(region_code, [])
        if not members:
            continue
        territory = TerritoryPlan(
            code=f"KA-{region_code}",
            name=f"{plan.units[region_unit].name}商务",
            unit=region_unit,
            city=None,
            institutions=members,
        )
        province = specs[members[0]].province
        if region_unit == ka1_region and "ka1" in fixed:
            # ka1 (sales operations) covers the distributors of rep1's region: flow files, the
            # unmatched queue and channel reviews have a named login.
            territory.holder = fixed["ka1"]
            plan.users[fixed["ka1"]].unit = region_unit
        else:
            territory.holder = new_user(roles=(Role.COMMERCIAL,), unit=region_unit, province=province)
        plan.territories.append(territory)

    for t_index, territory in enumerate(plan.territories):
        for i in territory.institutions:
            specs[i].territory = t_index
    return plan
