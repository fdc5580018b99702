"""Lookups every customer import kind shares: divisions by name or code, institutions and departments
by external id or name, territories by code or rule, and the batched write helpers with history."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from django.db import models
from django.utils.translation import gettext as _
from simple_history.utils import bulk_update_with_history

from pharmacrm.core.imports.bulk import insert_with_history
from pharmacrm.core.imports.engine import ImportKind, Row
from pharmacrm.core.models import Division, Role, Territory, TerritoryRule
from pharmacrm.core.visibility import scope_for, visible
from pharmacrm.customers.models import Department, Institution

# Customer master data is kept by the admin and the commercial (KA) team; reps maintain profiles
# on the pages, not by file (issue 4: reps cannot import master data).
MASTER_DATA_ROLES = frozenset({Role.ADMIN, Role.COMMERCIAL})

WRITE_BATCH = 500


def institution_search_text(name: str, aliases: str) -> str:
    # Same text as customers.services.refresh_search_keys: the name followed by its aliases.
    return name + "".join(aliases.split(";")) if aliases else name


_ALIAS_SPLIT = re.compile(r"[;；、,，|]")


def split_aliases(value: str) -> str:
    return ";".join(a.strip() for a in _ALIAS_SPLIT.split(value) if a.strip())


# --- Divisions ------------------------------------------------------------------------------------

_SUFFIXES = (
    "特别行政区",
    "维吾尔自治区",
    "壮族自治区",
    "回族自治区",
    "自治区",
    "自治州",
    "自治县",
    "地区",
    "省",
    "市",
    "盟",
    "区",
    "县",
)
MUNICIPALITIES = {"11", "12", "31", "50"}


def _short(name: str) -> str:
    for suffix in _SUFFIXES:
        if name.endswith(suffix) and len(name) > len(suffix) + 1:
            return name[: -len(suffix)]
    return name


class Divisions:
    """All ~3,400 divisions in memory: resolve a province, a city in it, a county in that, by name or code."""

    def __init__(self) -> None:
        self.by_code: dict[str, Division] = {d.code: d for d in Division.objects.all()}
        self.children: dict[str | None, dict[str, list[Division]]] = defaultdict(lambda: defaultdict(list))
        for d in self.by_code.values():
            names = self.children[d.parent_id]
            names[d.name].append(d)
            short = _short(d.name)
            if short != d.name:
                names[short].append(d)

    def _find(self, parent: str | None, value: str, level: str) -> Division | None:
        if value.isdigit():
            found = self.by_code.get(value)
            if found is None or found.level != level:
                return None
            return found if parent is None or found.code.startswith(parent) else None
        names = self.children[parent]
        matches = {d.code: d for d in names.get(value) or names.get(_short(value)) or [] if d.level == level}
        return next(iter(matches.values())) if len(matches) == 1 else None

    def province(self, value: str) -> Division | None:
        return self._find(None, value, Division.Level.PROVINCE)

    def city(self, province: Division, value: str) -> Division | None:
        found = self._find(province.code, value, Division.Level.CITY)
        if found is None and province.code in MUNICIPALITIES and _short(value) == _short(province.name):
            # 北京市 / 市辖区: a municipality's districts hang off its "市辖区" city.
            found = self.by_code.get(province.code + "01")
        return found

    def county(self, parent: Division, value: str) -> Division | None:
        if parent.level == Division.Level.CITY or value.isdigit():
            return self._find(parent.code, value, Division.Level.COUNTY)
        # No city given: look in every city of the province; only a unique match counts.
        matches: dict[str, Division] = {}
        for cities in self.children[parent.code].values():
            for city in cities:
                found = self._find(city.code, value, Division.Level.COUNTY)
                if found is not None:
                    matches[found.code] = found
        return next(iter(matches.values())) if len(matches) == 1 else None


def resolve_area(kind: ImportKind, row: Row, divisions: Divisions) -> None:
    """Set row.extra province/city/county from the 省/市/区县 cells, refusing unknown or mismatched ones."""
    province = city = county = None
    text = row.get("province")
    if text:
        province = divisions.province(text)
        if province is None:
            row.error("province", _("未知的省份（请填写省级行政区全称、简称或 2 位代码）"))
    if province is not None and row.get("city"):
        city = divisions.city(province, row.get("city"))
        if city is None:
            row.error("city", _("不是“{province}”下的城市").format(province=province.name))
    if province is not None and row.get("county") and not (row.get("city") and city is None):
        county = divisions.county(city or province, row.get("county"))
        if county is None:
            row.error("county", _("不是“{parent}”下的区县").format(parent=(city or province).name))
        elif city is None:
            city = divisions.by_code.get(county.parent_id or "")
    row.extra.update(province=province, city=city, county=county)


# --- Territories ----------------------------------------------------------------------------------


class Territories:
    def __init__(self) -> None:
        self.by_code = {t.code.lower(): t for t in Territory.objects.filter(is_active=True)}
        self.rules: dict[tuple[str, str | None], int] = {
            (r.province_id, r.city_id): r.territory_id for r in TerritoryRule.objects.all()
        }

    def by_rule(self, province: str | None, city: str | None) -> int | None:
        if province is None:
            return None
        return self.rules.get((province, city)) or self.rules.get((province, None))


# --- Institutions and departments -----------------------------------------------------------------


def _chunks(values: Sequence[Any], size: int = 900) -> Iterable[Sequence[Any]]:
    # SQLite caps the number of parameters in one query; 900 stays under every limit.
    for start in range(0, len(values), size):
        yield values[start : start + size]


class InstitutionRef:
    """What rows need to know about an institution they point at (kept per run, so small)."""

    __slots__ = ("external_id", "kind", "name", "pk")

    def __init__(self, pk: int, name: str, external_id: str | None, kind: str):
        self.pk, self.name, self.external_id, self.kind = pk, name, external_id, kind


def resolve_institutions(kind: ImportKind, rows: list[Row], *, ext_field: str, name_field: str) -> None:
    """row.extra["institution"] from an external id or, failing that, a unique name; refused otherwise.

    Reads are scoped: a user who is not company-wide may only attach rows to institutions they see.
    Institutions found are remembered for the run (10^6 professionals point at ~10^4 institutions).
    """
    cache: dict[tuple[str, str], list[InstitutionRef]] = kind.memo.setdefault("institutions", {})
    base = visible(Institution, user=kind.actor) if kind.actor is not None else Institution.objects.all()
    wanted_ext = sorted({e for r in rows if (e := r.get(ext_field)) and ("ext", e) not in cache})
    wanted_names = sorted(
        {n for r in rows if (n := r.get(name_field)) and not r.get(ext_field) and ("name", n) not in cache}
    )
    for key in [("ext", e) for e in wanted_ext] + [("name", n) for n in wanted_names]:
        cache[key] = []
    for lookup, values, attr in (("external_id__in", wanted_ext, "ext"), ("name__in", wanted_names, "name")):
        for chunk in _chunks(values):
            for pk, name, ext, inst_kind in base.filter(**{lookup: chunk}).values_list(
                "pk", "name", "external_id", "kind"
            ):
                cache[(attr, (ext or "") if attr == "ext" else name)].append(
                    InstitutionRef(pk, name, ext, inst_kind)
                )
    for row in rows:
        ext, name = row.get(ext_field), row.get(name_field)
        row.extra["institution"] = None
        if ext:
            found = cache[("ext", ext)]
            if not found:
                row.error(ext_field, _("找不到外部编码为此值的机构（或您无权查看），请先导入机构"))
                continue
            row.extra["institution"] = found[0]
            if name and name != found[0].name:
                row.warn(
                    name_field,
                    _("与外部编码对应的机构名称“{name}”不同，以外部编码为准").format(name=found[0].name),
                )
        elif name:
            found = cache[("name", name)]
            if not found:
                row.error(name_field, _("找不到此名称的机构（或您无权查看），请先导入机构"))
            elif len(found) > 1:
                row.error(name_field, _("有 {n} 家同名机构，请填写机构外部编码").format(n=len(found)))
            else:
                row.extra["institution"] = found[0]
        elif row.has(ext_field) or row.has(name_field):
            row.error(ext_field if row.has(ext_field) else name_field, _("请填写机构外部编码或机构名称"))


def resolve_departments(kind: ImportKind, rows: list[Row], *, field: str) -> None:
    """row.extra["department"] by name inside row.extra["institution"]; a department of another
    institution is refused, naming where that department really is.

    Each institution's departments are loaded once per run (one query per batch for the
    institutions not seen yet): 10^6 professionals name ~10^5 departments of ~10^4 institutions.
    """
    memo: dict[int, dict[str, int]] = kind.memo.setdefault("departments", {})
    wanted = {
        (r.extra["institution"].pk, r.get(field)) for r in rows if r.get(field) and r.extra.get("institution")
    }
    new = sorted({i for i, _n in wanted} - set(memo))
    if len(memo) + len(new) > 50_000:
        memo.clear()
        new = sorted({i for i, _n in wanted})
    for inst_id in new:
        memo[inst_id] = {}
    for chunk in _chunks(new):
        for pk, inst_id, name in Department.objects.filter(institution_id__in=chunk).values_list(
            "pk", "institution_id", "name"
        ):
            memo[inst_id][name] = pk
    found = {(i, n): memo[i][n] for i, n in wanted if n in memo[i]}
    missing = sorted({n for i, n in wanted if (i, n) not in found})
    elsewhere: dict[str, list[str]] = defaultdict(list)
    for chunk in _chunks(missing):
        for name, inst_name in Department.objects.filter(name__in=chunk).values_list(
            "name", "institution__name"
        )[:200]:
            if len(elsewhere[name]) < 2:
                elsewhere[name].append(inst_name)
    for row in rows:
        inst, name = row.extra.get("institution"), row.get(field)
        row.extra["department"] = None
        if not name or inst is None:
            continue
        dept_pk = found.get((inst.pk, name))
        if dept_pk is not None:
            row.extra["department"] = DepartmentRef(dept_pk)
            continue
        if elsewhere.get(name):
            row.error(
                field,
                _("科室“{name}”属于其他机构（{where}），不属于本行的机构“{institution}”").format(
                    name=name, where="、".join(elsewhere[name]), institution=inst.name
                ),
            )
        else:
            row.error(
                field,
                _("机构“{institution}”下没有科室“{name}”，请先导入科室").format(
                    institution=inst.name, name=name
                ),
            )


class DepartmentRef:
    __slots__ = ("pk",)

    def __init__(self, pk: int):
        self.pk = pk


def may_change(kind: ImportKind, model: type[models.Model], pks: Iterable[int]) -> set[int]:
    """The pks among `pks` the actor may change (all of them for company-wide roles and the CLI)."""
    pks = list(pks)
    if kind.actor is None or scope_for(kind.actor).company_wide or not pks:
        return set(pks)
    allowed: set[int] = set()
    for chunk in _chunks(pks):
        allowed.update(visible(model, user=kind.actor).filter(pk__in=chunk).values_list("pk", flat=True))
    return allowed


# --- Writing with history ---------------------------------------------------------------------------


def create_with_history(kind: ImportKind, model: type[models.Model], objs: list[Any]) -> list[Any]:
    """New rows and their '+' history rows (who, when, source "import"), pks assigned on the objects."""
    insert_with_history(model, objs, actor=kind.actor, when=kind.now, attrs=kind.history_attrs)
    return objs


def update_with_history(
    kind: ImportKind, model: type[models.Model], objs: list[Any], fields: Iterable[str]
) -> None:
    if not objs:
        return
    # apply_changes reports attnames (province_id); bulk_update wants field names (province).
    names = {f.attname: f.name for f in model._meta.concrete_fields}
    field_list = sorted({names.get(f, f) for f in fields})
    if "updated_at" in names:
        for obj in objs:
            obj.updated_at = kind.now
        field_list = sorted({*field_list, "updated_at"})
    bulk_update_with_history(
        objs,
        model,
        field_list,
        batch_size=WRITE_BATCH,
        default_user=kind.actor,
        default_date=kind.now,
        custom_historical_attrs=kind.history_attrs,
    )


def apply_changes(obj: Any, values: dict[str, Any]) -> list[str]:
    """Set the values that differ on obj; returns the changed attribute names."""
    changed = []
    for attname, value in values.items():
        if getattr(obj, attname) != value:
            setattr(obj, attname, value)
            changed.append(attname)
    return changed


# --- After writing: search index, segments, profile quality ------------------------------------------
#
# The one-object services do these per save; here they run once per batch with bulk writes, using
# the same functions (customers.search, customers.segmentation, customers.quality).

SEARCHED_PROFESSIONAL_FIELDS = frozenset({"name", "mobile", "wechat_id", "institution_id"})


def reindex_professionals(created: list[Any], updated: list[tuple[Any, list[str]]]) -> None:
    from pharmacrm.customers import search

    search.index_professionals(created, fresh=True)
    search.index_professionals([p for p, changed in updated if SEARCHED_PROFESSIONAL_FIELDS & set(changed)])


def reindex_institutions(created: list[Any], updated: list[tuple[Any, list[str]]]) -> None:
    from pharmacrm.customers import search

    search.index_institutions(created, fresh=True)
    search.index_institutions([i for i, changed in updated if {"name", "aliases"} & set(changed)])


def resegment(
    kind: ImportKind, professional_ids: list[int], changed_fields: set[str], *, force: bool
) -> None:
    """Recompute segments (tier…) of these professionals when the active rules read a changed field."""
    from pharmacrm.customers import segmentation
    from pharmacrm.customers.models import Professional

    rules = kind.memo.get("segment_rules")
    if rules is None:
        rules = kind.memo["segment_rules"] = segmentation.active_rules()
    if (
        not professional_ids
        or not rules
        or not (force or segmentation.recompute_needed_for(rules, changed_fields))
    ):
        return
    for chunk in _chunks(professional_ids, 500):
        batch = list(Professional.objects.filter(pk__in=chunk).select_related("institution"))
        segmentation.recompute_batch(batch, rules=rules)


def reassess_quality(kind: ImportKind, professional_ids: list[int]) -> None:
    """Completeness and stale counts of these professionals (derived columns: no history rows)."""
    from django.db.models import Count

    from pharmacrm.customers import quality
    from pharmacrm.customers.models import Professional

    requirements = kind.memo.get("requirements")
    if requirements is None:
        requirements = kind.memo["requirements"] = quality.requirements_by_role()
    for chunk in _chunks(professional_ids, 500):
        dirty = []
        for p in Professional.objects.filter(pk__in=chunk).annotate(
            key_date_count=Count("key_dates", distinct=True), need_count=Count("needs", distinct=True)
        ):
            q = quality.assess(
                p, requirements=requirements.get(p.role, []), key_dates=p.key_date_count, needs=p.need_count
            )
            if (p.completeness, p.stale_count) != (q.completeness, q.stale_count):
                p.completeness, p.stale_count = q.completeness, q.stale_count
                dirty.append(p)
        Professional.objects.bulk_update(dirty, ["completeness", "stale_count"])
