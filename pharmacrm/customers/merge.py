"""Likely duplicate professionals and institutions, and merging two records into one.

Finding (`duplicate_professionals`, `duplicate_institutions`): candidates come from blocks the
database can group cheaply — professionals with the same mobile or WeChat id anywhere, or the
same pinyin at the same institution (identical names and homophones such as 王晓明/王小明);
institutions in the same city whose names are the same once the city and generic words are
stripped, or whose name is the other's alias, or which are close by rapidfuzz within the city.
Each pair is scored 0–100 with the reasons shown, within the user's visibility.

Merging (`merge_professionals`, `merge_institutions`) is a service: keyword-only, one
transaction, audited. The survivor takes the value chosen for each field; every row that points
at the merged record is moved to the survivor — found through Django's relation introspection
(`_meta.get_fields(include_hidden=True)`), so models added later (visits, cases…) move too without
this module knowing them, and customers never imports the apps that build on it. Where moving
would break a unique constraint, the rule for that model decides (`ON_CONFLICT`): derived or
link-only rows keep the survivor's, the same department in both institutions is merged too, a
second current primary affiliation is demoted; anything else refuses the whole merge with a
message naming the model and the clashing values, and nothing changes. History is kept: moved
rows and the survivor get a history row with the reason, the merged record is deleted and its
history stays (simple-history keeps deleted rows' history).
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, models, transaction
from django.db.models import Count, Q
from django.utils.translation import gettext as _
from rapidfuzz import fuzz, process
from simple_history.models import HistoricalChanges
from simple_history.utils import bulk_update_with_history

from pharmacrm.core.audit import acting_as, current_state
from pharmacrm.core.errors import Conflict, DomainError, NotAllowed
from pharmacrm.core.models import MANAGER_ROLES, Role
from pharmacrm.core.visibility import visible
from pharmacrm.customers import pinyin, quality, search, segmentation, territory_history
from pharmacrm.customers.models import (
    Affiliation,
    Department,
    Institution,
    InstitutionSearchKey,
    InstitutionTerritoryPeriod,
    Professional,
    ProfessionalSearchKey,
    Segment,
)

MERGE_ROLES = frozenset({Role.ADMIN, Role.DIRECTOR, *MANAGER_ROLES})
SURVIVOR, MERGED = "survivor", "merged"


def may_merge(user: Any) -> bool:
    return bool(getattr(user, "is_authenticated", False) and user.roles & MERGE_ROLES)


# --- finding duplicates ------------------------------------------------------------------------


@dataclass
class DuplicatePair:
    kind: str  # professional / institution
    first: Any
    second: Any
    score: int
    reasons: list[str] = field(default_factory=list)


def _pair_key(a: int, b: int) -> tuple[int, int]:
    return (a, b) if a < b else (b, a)


def _groups(qs: models.QuerySet[Any], columns: Sequence[str], *, limit: int) -> list[dict[str, Any]]:
    """Values of `columns` shared by more than one row of `qs` (at most `limit` groups)."""
    return list(qs.values(*columns).annotate(n=Count("pk")).filter(n__gt=1).order_by(*columns)[:limit])


def _score_professionals(a: Professional, b: Professional) -> tuple[int, list[str]]:
    reasons: list[str] = []
    if a.name == b.name:
        similarity = 100.0
        reasons.append(_("姓名相同"))
    else:
        similarity = max(fuzz.ratio(a.name, b.name), fuzz.ratio(a.search_pinyin, b.search_pinyin))
        if a.search_pinyin and a.search_pinyin == b.search_pinyin:
            reasons.append(_("姓名读音相同"))
        elif similarity >= 60:
            reasons.append(_("姓名相似"))
    score = similarity * 0.55
    mobile = search.mobile_digits(a.mobile)
    if mobile and mobile == search.mobile_digits(b.mobile):
        score += 30
        reasons.append(_("手机号相同"))
    if a.wechat_id and a.wechat_id.lower() == b.wechat_id.lower():
        score += 25
        reasons.append(_("微信号相同"))
    if a.institution_id == b.institution_id:
        score += 20
        reasons.append(_("同一机构"))
        if a.department_id and a.department_id == b.department_id:
            score += 10
            reasons.append(_("同一科室"))
    if a.email and a.email.lower() == b.email.lower():
        score += 15
        reasons.append(_("邮箱相同"))
    return min(100, round(score)), reasons


def duplicate_professionals(*, user: Any, min_score: int = 60, limit: int = 200) -> list[DuplicatePair]:
    """Pairs of professionals the user may see that are probably the same person, best first."""
    scope = visible(Professional, user=user)
    pairs: set[tuple[int, int]] = set()
    ids: set[int] = set()

    def collect(groups: Iterable[Mapping[str, Any]], **match: str) -> None:
        groups = list(groups)
        if not groups:
            return
        # One IN per column, then keep the exact combinations: an OR of 200 pairs would make SQLite
        # test every one on every row of an unindexed column (6 s at 10^6).
        wanted = {tuple(group[key] for key in match.values()) for group in groups}
        candidates = scope.filter(
            **{f"{column}__in": {g[key] for g in groups} for column, key in match.items()}
        )
        members: dict[tuple[Any, ...], list[int]] = defaultdict(list)
        for row in candidates.values("pk", *match):
            values = tuple(row[c] for c in match)
            if values in wanted:
                members[values].append(row["pk"])
        for group_ids in members.values():
            for i, a in enumerate(group_ids):
                for b in group_ids[i + 1 :]:
                    pairs.add(_pair_key(a, b))
                    ids.update((a, b))

    # Same name or the same reading at the same institution.
    same_reading = _groups(scope.exclude(search_pinyin=""), ["institution_id", "search_pinyin"], limit=limit)
    collect(same_reading, institution_id="institution_id", search_pinyin="search_pinyin")
    # The same mobile (normalised through the search keys) or WeChat id anywhere. Keys that begin
    # with a digit are mobiles and all-digit WeChat ids: one index range, grouped in key order.
    digits = search.visible_keys(ProfessionalSearchKey, user=user, starts=True).filter(
        key__gte="0", key__lt=":"
    )
    shared = [
        g["key"]
        for g in digits.values("key").annotate(n=Count("key")).filter(n__gt=1).order_by("key")[:limit]
    ]
    if shared:
        by_key: dict[str, list[int]] = defaultdict(list)
        for key, pk in digits.filter(key__in=shared).values_list("key", "professional_id"):
            by_key[key].append(pk)
        for group_ids in by_key.values():
            for i, a in enumerate(group_ids):
                for b in group_ids[i + 1 :]:
                    pairs.add(_pair_key(a, b))
                    ids.update((a, b))
    collect(_groups(scope.exclude(wechat_id=""), ["wechat_id"], limit=limit), wechat_id="wechat_id")

    people = {
        p.pk: p
        for p in scope.filter(pk__in=ids)
        .select_related("institution", "department")
        .only(
            "name",
            "search_pinyin",
            "mobile",
            "wechat_id",
            "email",
            "institution__name",
            "department__name",
            "title",
            "role",
        )
    }
    found = []
    for a_id, b_id in pairs:
        if a_id not in people or b_id not in people:
            continue
        first, second = people[a_id], people[b_id]
        score, reasons = _score_professionals(first, second)
        if score >= min_score:
            found.append(DuplicatePair("professional", first, second, score, reasons))
    found.sort(key=lambda p: (-p.score, p.first.name, p.first.pk, p.second.pk))
    return found[:limit]


# Before names are compared: the province and city they start with go, legal forms go, and words
# that say the same thing are made one (大药房/药店 → 药房, 中医院 → 中医医院).
LEGAL_FORMS = ("有限责任公司", "股份有限公司", "有限公司", "集团", "医药连锁", "连锁", "公司")
SYNONYMS = (("大药房", "药房"), ("药店", "药房"), ("中医院", "中医医院"), ("卫生服务中心", "卫生服务站"))
# Words and numbers that make otherwise alike names two places: 平谷区医院 is not 平谷区中医医院,
# 第一人民医院 is not 第二人民医院.
DISTINGUISHING = (
    "中医", "中西医", "妇幼", "妇产", "儿童", "肿瘤", "口腔", "眼科", "精神", "传染", "胸科", "骨科",
    "康复", "分院", "东院", "西院", "南院", "北院", "东区", "西区", "南区", "北区", "卫生院", "社区",
)  # fmt: skip
_ORDINAL = re.compile(r"第[一二三四五六七八九十百零〇\d]+|\d+")
_PLACE_SUFFIX = re.compile(r"(省|市|自治区|特别行政区|壮族|回族|维吾尔)$")


def core_name(name: str, *, places: Iterable[str] = ()) -> str:
    text = search.normalize(name)
    for place in places:
        for variant in sorted({place, _PLACE_SUFFIX.sub("", place)}, key=len, reverse=True):
            if variant and text.startswith(variant):
                text = text[len(variant) :]
    for word in LEGAL_FORMS:
        text = text.replace(word, "")
    for word, same in SYNONYMS:
        text = text.replace(word, same)
    return text


def distinguishing_marks(name: str) -> frozenset[str]:
    return frozenset([w for w in DISTINGUISHING if w in name] + _ORDINAL.findall(name))


def _may_be_one_place(a: Institution, b: Institution, core_a: str, core_b: str) -> bool:
    """Rule out alike names that are two places: other counties, other kinds of hospital or numbers,
    or different words inside a shared frame (解放街道… and 东街街道社区卫生服务中心)."""
    if a.county_id and b.county_id and a.county_id != b.county_id:
        return False
    if distinguishing_marks(core_a) != distinguishing_marks(core_b):
        return False
    # What differs between the names once their shared start and end are set aside: 新城 / 新华
    # (two streets) rules a pair out, 协和 / 协合 (the same sound, a typo) does not, and neither
    # does one stray character; a word more (昌平区沙河医院 / 昌平区医院) is another place.
    start = 0
    while start < min(len(core_a), len(core_b)) and core_a[start] == core_b[start]:
        start += 1
    end = 0
    while end < min(len(core_a), len(core_b)) - start and core_a[-1 - end] == core_b[-1 - end]:
        end += 1
    middle_a, middle_b = core_a[start : len(core_a) - end], core_b[start : len(core_b) - end]
    if middle_a and middle_b:
        return pinyin.syllables(middle_a) == pinyin.syllables(middle_b)
    return len(middle_a or middle_b) <= 1


def _score_institutions(a: Institution, b: Institution, core_a: str, core_b: str) -> tuple[int, list[str]]:
    reasons: list[str] = []
    aliases_a = {search.normalize(x) for x in search.split_aliases(a.aliases)}
    aliases_b = {search.normalize(x) for x in search.split_aliases(b.aliases)}
    if a.name == b.name:
        similarity = 100.0
        reasons.append(_("名称相同"))
    elif search.normalize(a.name) in aliases_b or search.normalize(b.name) in aliases_a:
        similarity = 100.0
        reasons.append(_("名称是对方的别名"))
    elif core_a and core_a == core_b:
        similarity = 95.0
        reasons.append(_("去掉地名和公司形式后名称相同"))
    elif core_a and pinyin.syllables(core_a) == pinyin.syllables(core_b):
        similarity = 90.0
        reasons.append(_("名称读音相同"))
    else:
        similarity = fuzz.ratio(core_a, core_b) if core_a and core_b else fuzz.ratio(a.name, b.name)
        if similarity >= 70:
            reasons.append(_("名称相似"))
    score = similarity * 0.7
    if a.city_id and a.city_id == b.city_id:
        score += 15
        reasons.append(_("同一城市"))
    if a.kind == b.kind:
        score += 10
        reasons.append(_("类型相同"))
    if a.address and search.normalize(a.address) == search.normalize(b.address):
        score += 15
        reasons.append(_("地址相同"))
    return min(100, round(score)), reasons


def duplicate_institutions(*, user: Any, min_score: int = 75, limit: int = 200) -> list[DuplicatePair]:
    """Pairs of institutions the user may see that are probably the same place, best first."""
    rows = list(
        visible(Institution, user=user)
        .select_related("province", "city")
        .only("name", "aliases", "kind", "address", "county_id", "city__name", "province__name")
        .order_by("city_id", "pk")
    )
    by_city: dict[Any, list[tuple[Institution, str]]] = defaultdict(list)
    for inst in rows:
        places = [p.name for p in (inst.province, inst.city) if p is not None]
        by_city[inst.city_id or inst.province_id].append((inst, core_name(inst.name, places=places)))
    found: list[DuplicatePair] = []
    for members in by_city.values():
        if len(members) < 2:
            continue
        cores = [core or search.normalize(inst.name) for inst, core in members]
        # Close names within the city: rapidfuzz compares one name against the rest in C.
        candidates: set[tuple[int, int]] = set()
        for i, core in enumerate(cores):
            for _match, _score, j in process.extract(
                core, cores[i + 1 :], scorer=fuzz.ratio, score_cutoff=70, limit=None
            ):
                candidates.add((i, i + 1 + j))
        names = {search.normalize(inst.name): i for i, (inst, _core) in enumerate(members)}
        for i, (inst, _core) in enumerate(members):
            for alias in search.split_aliases(inst.aliases):
                other = names.get(search.normalize(alias))
                if other is not None and other != i:
                    candidates.add(_pair_key(i, other))
        for i, j in candidates:
            (a, core_a), (b, core_b) = members[i], members[j]
            aliased = search.normalize(a.name) in {
                search.normalize(x) for x in search.split_aliases(b.aliases)
            }
            aliased |= search.normalize(b.name) in {
                search.normalize(x) for x in search.split_aliases(a.aliases)
            }
            if not aliased and not _may_be_one_place(a, b, core_a, core_b):
                continue
            score, reasons = _score_institutions(a, b, core_a, core_b)
            if score >= min_score:
                found.append(DuplicatePair("institution", a, b, score, reasons))
    found.sort(key=lambda p: (-p.score, p.first.name, p.first.pk, p.second.pk))
    return found[:limit]


# --- merging -----------------------------------------------------------------------------------


class MergeRefused(Conflict):
    code = "merge_refused"


# Fields the merge form offers, per model: editable, not derived, not bookkeeping.
NOT_CHOSEN = {
    "id",
    "created_at",
    "updated_at",
    "search_pinyin",
    "search_initials",
    "completeness",
    "stale_count",
    "confirmed_fields",
}
# Rows rewritten from the survivor afterwards instead of moved.
DERIVED = (ProfessionalSearchKey, InstitutionSearchKey)
# Rows the merge settles itself: the merged institution's territory history goes (its sales follow the
# survivor's history from now on), since moving it would overlap the survivor's own periods.
SETTLED_BY_MERGE = (InstitutionTerritoryPeriod,)


def merge_fields(model: type[models.Model]) -> list[models.Field[Any, Any]]:
    return [
        f
        for f in model._meta.concrete_fields
        if f.editable and not f.primary_key and f.name not in NOT_CHOSEN and not getattr(f, "auto_now", False)
    ]


def _is_empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


def default_choices(survivor: models.Model, merged: models.Model) -> dict[str, str]:
    """The survivor's value unless it is empty and the merged record's is not."""
    choices = {}
    for f in merge_fields(type(survivor)):
        mine, theirs = getattr(survivor, f.attname), getattr(merged, f.attname)
        choices[f.name] = MERGED if _is_empty(mine) and not _is_empty(theirs) else SURVIVOR
    return choices


@dataclass
class _Plan:
    """What a merge will do, worked out before anything is written."""

    actor: Any
    reason: str
    refusals: list[str] = field(default_factory=list)
    steps: list[Callable[[], None]] = field(default_factory=list)
    moved: dict[str, int] = field(default_factory=lambda: defaultdict(int))


def _reverse_relations(model: type[models.Model]) -> list[Any]:
    """Every foreign key pointing at `model`, hidden ones (related_name='+', m2m through rows) included;
    history tables and the search index excluded."""
    relations = []
    for rel in model._meta.get_fields(include_hidden=True):
        if not (rel.is_relation and rel.auto_created and not rel.concrete) or rel.many_to_many:
            continue
        related = rel.related_model
        if not isinstance(related, type) or issubclass(
            related, (HistoricalChanges, *DERIVED, *SETTLED_BY_MERGE)
        ):
            continue
        relations.append(rel)
    return relations


def _unique_sets(related: type[models.Model], fk: str) -> list[tuple[tuple[str, ...], Q | None, str]]:
    """(fields, condition, name) of each uniqueness rule on `related` that involves `fk`."""
    sets: list[tuple[tuple[str, ...], Q | None, str]] = []
    fk_field = related._meta.get_field(fk)
    if getattr(fk_field, "unique", False):
        sets.append(((fk,), None, fk))
    for together in related._meta.unique_together:
        if fk in together:
            sets.append((tuple(together), None, "unique_together"))
    for constraint in related._meta.constraints:
        if isinstance(constraint, models.UniqueConstraint) and constraint.fields and fk in constraint.fields:
            sets.append((tuple(constraint.fields), constraint.condition, constraint.name))
    return sets


def _label(obj: models.Model) -> str:
    return f"{obj._meta.verbose_name}“{obj}”"


def _values_text(obj: models.Model, fields: Iterable[str]) -> str:
    parts = []
    for name in fields:
        f = obj._meta.get_field(name)
        display = getattr(obj, f"get_{name}_display", None)
        value = display() if callable(display) else getattr(obj, name)
        parts.append(f"{getattr(f, 'verbose_name', name)}={value}")
    return "，".join(parts)


# Conflict rules: model label → how a clash between the merged record's row and the survivor's is
# settled. Unlisted models refuse the merge.
ConflictRule = Callable[[models.Model, models.Model, "_Plan", dict[str, Any]], None]


def _keep_survivors(mine: models.Model, theirs: models.Model, plan: _Plan, final: dict[str, Any]) -> None:
    # The merged record's row says nothing the survivor's does not (a link row, derived data).
    plan.steps.append(lambda: _delete(theirs, plan))


def _keep_overridden_segment(
    mine: models.Model, theirs: models.Model, plan: _Plan, final: dict[str, Any]
) -> None:
    # Segments are recomputed from the merged profile; only a manager's override carries over.
    assert isinstance(mine, Segment) and isinstance(theirs, Segment)
    if theirs.override_value and not mine.override_value:
        plan.steps.append(lambda: _delete(mine, plan))  # theirs then moves with the other rows
    else:
        plan.steps.append(lambda: _delete(theirs, plan))


def _demote_primary(mine: models.Model, theirs: models.Model, plan: _Plan, final: dict[str, Any]) -> None:
    # One current primary affiliation: the one at the institution chosen for the survivor.
    assert isinstance(mine, Affiliation) and isinstance(theirs, Affiliation)
    theirs_chosen = theirs.institution_id == final.get("institution_id") and mine.institution_id != final.get(
        "institution_id"
    )
    loser = mine if theirs_chosen else theirs

    def demote() -> None:
        loser.is_primary = False
        _save(loser, ["is_primary"], plan)

    plan.steps.append(demote)


def _coalesce(mine: models.Model, theirs: models.Model, plan: _Plan, final: dict[str, Any]) -> None:
    # The same thing recorded twice (心内科 at both institutions): merge it into the survivor's too.
    _plan_moves(type(mine), survivor=mine, merged=theirs, plan=plan, final={})
    plan.steps.append(lambda: _delete(theirs, plan))


ON_CONFLICT: dict[str, ConflictRule] = {
    "customers.segment": _keep_overridden_segment,
    "customers.affiliation": _demote_primary,
    "customers.department": _coalesce,
}


def _conflict_rule(related: type[models.Model]) -> ConflictRule | None:
    if related._meta.auto_created:  # an m2m link row: the survivor's link is the same link
        return _keep_survivors
    return ON_CONFLICT.get(related._meta.label_lower)


def _reason_attrs(plan: _Plan) -> dict[str, Any]:
    state = current_state()
    return {"history_source": state.source if state else "system", "history_ip": state.ip if state else None}


def _has_history(model: type[models.Model]) -> bool:
    return bool(getattr(model._meta, "simple_history_manager_attribute", None))


def _save(obj: models.Model, fields: list[str], plan: _Plan) -> None:
    obj._change_reason = plan.reason  # type: ignore[attr-defined]  # read by simple-history
    obj.save(update_fields=fields)


def _delete(obj: models.Model, plan: _Plan) -> None:
    obj._change_reason = plan.reason  # type: ignore[attr-defined]
    obj.delete()


def _plan_moves(
    model: type[models.Model],
    *,
    survivor: models.Model,
    merged: models.Model,
    plan: _Plan,
    final: dict[str, Any],
) -> None:
    """Plan moving every row that points at `merged` to `survivor`, settling unique clashes first."""
    for rel in _reverse_relations(model):
        related: type[models.Model] = rel.related_model
        fk = rel.field.name
        rows = related._base_manager.filter(**{fk: merged.pk})
        if related is model:
            rows = rows.exclude(pk=survivor.pk)
        if not rows.exists():
            continue
        settled: set[Any] = set()
        for fields, condition, _name in _unique_sets(related, fk):
            others = [f for f in fields if f != fk]
            theirs_qs, mine_qs = rows, related._base_manager.filter(**{fk: survivor.pk})
            if condition is not None:
                theirs_qs, mine_qs = theirs_qs.filter(condition), mine_qs.filter(condition)
            attnames = [getattr(related._meta.get_field(f), "attname", f) for f in others]
            mine_by_values = {tuple(getattr(o, a) for a in attnames): o for o in mine_qs}
            for theirs in theirs_qs:
                values = tuple(getattr(theirs, a) for a in attnames)
                if any(v is None for v in values):  # NULLs never clash
                    continue
                mine = mine_by_values.get(values)
                if mine is None or theirs.pk in settled:
                    continue
                rule = _conflict_rule(related)
                if rule is None:
                    plan.refusals.append(
                        _("两条记录都有{model}（{values}），合并后会重复；请先处理其中一条。").format(
                            model=related._meta.verbose_name,
                            values=_values_text(theirs, others) or _label(theirs),
                        )
                    )
                    continue
                settled.add(theirs.pk)
                rule(mine, theirs, plan, final)
        plan.steps.append(
            _mover(
                related,
                fk,
                merged.pk,
                survivor,
                exclude_pk=survivor.pk if related is model else None,
                plan=plan,
            )
        )


def _mover(
    related: type[models.Model],
    fk: str,
    merged_pk: Any,
    survivor: models.Model,
    *,
    exclude_pk: Any,
    plan: _Plan,
) -> Callable[[], None]:
    def move() -> None:
        rows = related._base_manager.filter(**{fk: merged_pk})
        if exclude_pk is not None:
            rows = rows.exclude(pk=exclude_pk)
        if _has_history(related):
            objs = list(rows)
            for obj in objs:
                setattr(obj, fk, survivor)
            if objs:
                bulk_update_with_history(
                    objs,
                    related,
                    [fk],
                    default_user=plan.actor,
                    default_change_reason=plan.reason,
                    custom_historical_attrs=_reason_attrs(plan),
                )
            count = len(objs)
        else:
            count = rows.update(**{fk: survivor})
        if count:
            plan.moved[str(related._meta.verbose_name)] += count

    return move


@dataclass
class MergeResult:
    survivor: Any
    moved: dict[str, int]


def _load_pair(model: type[Any], actor: Any, survivor_id: int, merged_id: int) -> tuple[Any, Any]:
    if not may_merge(actor):
        raise NotAllowed(_("只有管理员、总监和经理可以合并客户记录。"))
    if survivor_id == merged_id:
        raise DomainError(_("请选择两条不同的记录。"), fields={"merged": [_("不能与自身合并。")]})
    rows = {
        o.pk: o
        for o in visible(model, user=actor).select_for_update().filter(pk__in=[survivor_id, merged_id])
    }
    missing = [pk for pk in (survivor_id, merged_id) if pk not in rows]
    if missing:
        raise NotAllowed(
            _("{model} #{ids} 不存在或不在您的可见范围内，不能合并。").format(
                model=model._meta.verbose_name, ids="、#".join(map(str, missing))
            )
        )
    return rows[survivor_id], rows[merged_id]


def _final_values(survivor: Any, merged: Any, choices: Mapping[str, str]) -> dict[str, Any]:
    final = {}
    fields = {f.name: f for f in merge_fields(type(survivor))}
    unknown = sorted(set(choices) - set(fields))
    if unknown:
        raise DomainError(
            _("不能选择的字段：{names}").format(names="、".join(unknown)),
            fields={name: [_("不允许的字段。")] for name in unknown},
        )
    for name, f in fields.items():
        choice = choices.get(name, SURVIVOR)
        if choice not in (SURVIVOR, MERGED):
            raise DomainError(
                _("{label}的选择无效：{value}").format(label=f.verbose_name, value=choice),
                fields={name: [_("请选择保留哪一条记录的值。")]},
            )
        source = merged if choice == MERGED else survivor
        final[f.attname] = getattr(source, f.attname)
    return final


def _merge(
    model: type[Any], *, actor: Any, survivor_id: int, merged_id: int, choices: Mapping[str, str], note: str
) -> tuple[Any, Any, _Plan, dict[str, Any]]:
    survivor, merged = _load_pair(model, actor, survivor_id, merged_id)
    final = _final_values(survivor, merged, choices)
    reason = _("合并：{merged}（#{merged_id}）并入 {survivor}（#{survivor_id}）").format(
        merged=merged, merged_id=merged.pk, survivor=survivor, survivor_id=survivor.pk
    )
    if note:
        reason = f"{reason}；{note}"
    plan = _Plan(actor=actor, reason=reason[:100])
    _plan_moves(model, survivor=survivor, merged=merged, plan=plan, final=final)
    return survivor, merged, plan, final


def _check_final(survivor: Any, final: dict[str, Any]) -> None:
    """Validate the survivor as it will be (a grade chosen from one record and a kind from the other…)."""
    for attname, value in final.items():
        setattr(survivor, attname, value)
    try:
        survivor.full_clean(exclude=["search_pinyin", "search_initials"], validate_unique=False)
    except ValidationError as exc:
        fields = {k: [str(m) for m in v] for k, v in exc.message_dict.items()}
        messages = [m for v in fields.values() for m in v]
        raise DomainError(_("合并后的记录无效：") + " ".join(messages), fields=fields) from exc


def _finish(model: type[Any], survivor: Any, merged: Any, plan: _Plan, final: dict[str, Any]) -> None:
    if plan.refusals:
        raise MergeRefused(_("不能合并：") + " ".join(plan.refusals))
    _check_final(survivor, final)
    with acting_as(plan.actor):
        try:
            for step in plan.steps:
                step()
            # A unique value the survivor takes over (an external id) must leave the merged row first.
            taken = {
                f.attname: None if f.null else ""
                for f in merge_fields(model)
                if f.unique
                and final.get(f.attname) not in (None, "")
                and final[f.attname] == getattr(merged, f.attname)
            }
            if taken:
                model._base_manager.filter(pk=merged.pk).update(**taken)
            survivor._change_reason = plan.reason
            survivor.save()
            merged_pk = merged.pk
            _delete(merged, plan)
            merged.pk = merged_pk
        except (IntegrityError, models.ProtectedError, models.RestrictedError) as exc:
            raise MergeRefused(_("不能合并：合并后会违反数据约束（{detail}）。").format(detail=exc)) from exc


@transaction.atomic
def merge_professionals(
    *, actor: Any, survivor_id: int, merged_id: int, choices: Mapping[str, str] | None = None, note: str = ""
) -> MergeResult:
    """Merge professional `merged_id` into `survivor_id`: fields as chosen, every reference moved, history kept.

    Refused (MergeRefused, nothing changed) when a row would clash with a unique rule no policy
    settles; NotAllowed when the actor may not merge or cannot see both records.
    """
    survivor, merged, plan, final = _merge(
        Professional,
        actor=actor,
        survivor_id=survivor_id,
        merged_id=merged_id,
        choices=choices or {},
        note=note,
    )
    if final["department_id"] is not None:
        department = Department.objects.filter(pk=final["department_id"]).first()
        if department is None or department.institution_id != final["institution_id"]:
            raise DomainError(
                _("所选科室不属于所选机构，请为两者选择同一条记录的值。"),
                fields={"department": [_("科室必须属于所选机构。")]},
            )
    # When each profile field was last confirmed: the later date of the two.
    confirmed = dict(merged.confirmed_fields or {})
    for name, day in (survivor.confirmed_fields or {}).items():
        confirmed[name] = max(day, confirmed.get(name, day))
    final["confirmed_fields"] = confirmed
    _finish(Professional, survivor, merged, plan, final)
    search.index_professionals([survivor])
    rules = segmentation.active_rules()
    segmentation.recompute_professional(survivor, rules=rules)
    quality.recompute_profile_quality(survivor)
    return MergeResult(survivor=survivor, moved=dict(plan.moved))


@transaction.atomic
def merge_institutions(
    *, actor: Any, survivor_id: int, merged_id: int, choices: Mapping[str, str] | None = None, note: str = ""
) -> MergeResult:
    """Merge institution `merged_id` into `survivor_id`; its departments, professionals and everything else move.

    The merged institution's name becomes one of the survivor's aliases, so it is still found.
    """
    survivor, merged, plan, final = _merge(
        Institution,
        actor=actor,
        survivor_id=survivor_id,
        merged_id=merged_id,
        choices=choices or {},
        note=note,
    )
    if final["parent_id"] == merged.pk:
        raise DomainError(
            _("上级机构不能是被合并的机构。"), fields={"parent": [_("请选择另一条记录的上级机构。")]}
        )
    aliases = search.split_aliases(final["aliases"])
    for extra in [merged.name, *search.split_aliases(merged.aliases)]:
        if extra != final["name"] and extra not in aliases:
            aliases.append(extra)
    final["aliases"] = ";".join(aliases)[: Institution._meta.get_field("aliases").max_length]
    moved_professionals = list(
        Professional.objects.filter(institution_id=merged.pk).values_list("pk", flat=True)
    )
    # Keys of the professionals who move follow them before the merged row (and its keys) goes.
    plan.steps.append(
        lambda: search.move_professional_keys(institution_from=merged.pk, institution_to=survivor.pk)
    )

    def drop_merged_history() -> None:
        for period in InstitutionTerritoryPeriod.objects.filter(institution_id=merged.pk):
            _delete(period, plan)

    plan.steps.append(drop_merged_history)
    _finish(Institution, survivor, merged, plan, final)
    search.index_institutions([survivor])
    # The survivor's territory may be the merged record's now (a move from today), and the sales that
    # came over with the merge follow the survivor's history: re-attribute all of them.
    territory_history.realign(institution_ids=[survivor.pk], actor=actor, reason=plan.reason, notify=False)
    territory_history.institutions_moved(institution_ids=[survivor.pk], since=None)
    if moved_professionals:
        # Their own history says where they went; segments that depend on the institution follow.
        people = list(Professional.objects.filter(pk__in=moved_professionals).select_related("institution"))
        segmentation.recompute_batch(people, rules=segmentation.active_rules())
    return MergeResult(survivor=survivor, moved=dict(plan.moved))
