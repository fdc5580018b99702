"""Writes to customer master data, profiles and development plans. Keyword-only, one transaction each, audited.

Who may write master data: the rep (or commercial manager) covering the customer's territory,
the managers above them, the director and the admin. Service, marketing and compliance read
but do not edit (NotAllowed, 403). Every write re-reads its object through the actor's
visibility scope inside the transaction, so a customer the actor cannot see is a 404 here as it
is on the pages. Bad input raises DomainError naming the field and changes nothing.

Reps never record prescription counts (RULES_CN §2): prescribing habits are qualitative text, and
text that states a count is refused.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar, cast

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import models, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from pharmacrm.core.audit import acting_as
from pharmacrm.core.errors import Conflict, DomainError, NotAllowed, RuleViolation
from pharmacrm.core.models import COMPANY_WIDE_ROLES, MANAGER_ROLES, Division, Role, Territory, User
from pharmacrm.core.visibility import can_see, get_visible_or_404, visible
from pharmacrm.customers import quality, search, segmentation, territory_history
from pharmacrm.customers.models import (
    Affiliation,
    Department,
    DevelopmentPlan,
    DevelopmentStep,
    Institution,
    KeyDate,
    Need,
    Professional,
)
from pharmacrm.customers.pinyin import search_keys

M = TypeVar("M", bound=models.Model)

EDITOR_ROLES = frozenset({Role.ADMIN, Role.DIRECTOR, *MANAGER_ROLES, Role.REP, Role.COMMERCIAL})


def may_edit(user: Any) -> bool:
    """Whether the user's roles allow editing customers at all (visibility decides which ones)."""
    return bool(getattr(user, "is_authenticated", False) and user.roles & EDITOR_ROLES)


def _require_editor(actor: Any) -> None:
    if not may_edit(actor):
        raise NotAllowed(_("您的角色只能查看客户资料，不能修改。"))


def _refuse(field: str, message: str, *, cls: type[DomainError] = DomainError) -> DomainError:
    return cls(message, fields={field: [message]})


def _locked(model_or_qs: type[M] | models.QuerySet[M], actor: Any, pk: Any) -> M:
    """The row, locked for the rest of the transaction, if the actor may see it; Http404 otherwise."""
    qs = model_or_qs if isinstance(model_or_qs, models.QuerySet) else model_or_qs._default_manager.all()
    return get_visible_or_404(qs.select_for_update(of=("self",)), user=actor, pk=pk)


def _visible_ref(model: type[M], actor: Any, value: Any, field: str, label: str) -> M | None:
    """A referenced row (instance or id) the actor may see; a hidden or unknown one names the field."""
    if value in (None, ""):
        return None
    pk = value.pk if isinstance(value, models.Model) else value
    row = visible(model, user=actor).filter(pk=pk).first()
    if row is None:
        raise _refuse(field, _("{label}不存在或无权查看：{value}").format(label=label, value=pk))
    return row


def _full_clean(obj: models.Model, *, exclude: Iterable[str] = ()) -> None:
    """Model validation as a DomainError, so callers handle one kind of refusal."""
    try:
        obj.full_clean(exclude=list(exclude), validate_unique=False)
    except ValidationError as exc:
        fields = {k: [str(m) for m in v] for k, v in exc.message_dict.items()}
        name, messages = next(iter(fields.items()))
        label = str(getattr(obj._meta.get_field(name), "verbose_name", name)) if name != "__all__" else ""
        raise DomainError(f"{label}：{messages[0]}" if label else messages[0], fields=fields) from None


def _check_choice(field: str, value: Any, choices: type[models.TextChoices], label: str) -> None:
    if value not in choices.values:
        raise _refuse(field, _("{label}“{value}”不在可选值中。").format(label=label, value=value))


def _check_unknown(values: Mapping[str, Any], allowed: Iterable[str]) -> None:
    unknown = sorted(set(values) - set(allowed))
    if unknown:
        raise DomainError(
            _("不能修改的字段：{names}").format(names="、".join(unknown)),
            fields={name: [_("不允许的字段。")] for name in unknown},
        )


def _field(model: type[models.Model], name: str) -> models.Field[Any, Any]:
    return cast("models.Field[Any, Any]", model._meta.get_field(name))


def refresh_search_keys(obj: Institution | Professional) -> None:
    """Recompute the pinyin keys from the name (and aliases, for institutions) and, once the object is
    saved, its rows in the search index (customers.search). Call it whenever the name, aliases,
    mobile, WeChat id or institution change; a new object is indexed right after its first save."""
    text = obj.name
    if isinstance(obj, Institution) and obj.aliases:
        text = obj.name + "".join(obj.aliases.split(";"))
    obj.search_pinyin, obj.search_initials = search_keys(text)
    if obj.pk is None:
        return
    if isinstance(obj, Institution):
        search.index_institutions([obj])
    else:
        search.index_professionals([obj])


# --- Institutions -----------------------------------------------------------------------------------

INSTITUTION_FIELDS = (
    "external_id",
    "name",
    "aliases",
    "kind",
    "grade",
    "ownership",
    "beds",
    "outpatient_volume",
    "province",
    "city",
    "county",
    "address",
    "latitude",
    "longitude",
    "parent",
    "network",
    "territory",
    "status",
)
# Changing these can move a professional's segment (rules read institution.kind, .grade, …).
_SEGMENT_INPUTS_OF_INSTITUTION = ("kind", "grade", "ownership", "beds")


def _division(value: Any, level: str, field: str, label: str) -> Division | None:
    if value in (None, ""):
        return None
    code = value.pk if isinstance(value, Division) else str(value).strip()
    division = Division.objects.filter(pk=code).first()
    if division is None or division.level != level:
        raise _refuse(field, _("未知{label}代码：“{code}”。").format(label=label, code=code))
    return division


def _decimal(value: Any, field: str, label: str, low: int, high: int) -> Decimal | None:
    if value in (None, ""):
        return None
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise _refuse(field, _("{label}不是数字：“{value}”。").format(label=label, value=value)) from None
    if not low <= number <= high:
        raise _refuse(
            field,
            _("{label}须在 {low} 到 {high} 之间：{value}。").format(
                label=label, low=low, high=high, value=value
            ),
        )
    return number


def _apply_institution(actor: Any, institution: Institution, values: Mapping[str, Any]) -> list[str]:
    """Set and validate `values` on the institution; returns the names of the fields that changed."""
    _check_unknown(values, INSTITUTION_FIELDS)
    before = {name: getattr(institution, _field(Institution, name).attname, None) for name in values}
    for name, value in values.items():
        if name in ("province", "city", "county"):
            level = {
                "province": Division.Level.PROVINCE,
                "city": Division.Level.CITY,
                "county": Division.Level.COUNTY,
            }[name]
            label = {"province": _("省份"), "city": _("城市"), "county": _("区县")}[name]
            setattr(institution, name, _division(value, level, name, label))
        elif name == "territory":
            institution.territory = _visible_ref(Territory, actor, value, "territory", _("辖区"))
        elif name == "parent":
            institution.parent = _visible_ref(Institution, actor, value, "parent", _("上级机构"))
        elif name == "latitude":
            institution.latitude = _decimal(value, name, _("纬度"), -90, 90)
        elif name == "longitude":
            institution.longitude = _decimal(value, name, _("经度"), -180, 180)
        elif name == "external_id":
            institution.external_id = (str(value).strip() or None) if value is not None else None
        elif isinstance(value, str):
            setattr(institution, name, value.strip())
        else:
            setattr(institution, name, value)
    _validate_institution(actor, institution)
    return [
        name
        for name in values
        if getattr(institution, _field(Institution, name).attname, None) != before[name]
    ]


def _validate_institution(actor: Any, inst: Institution) -> None:
    if not inst.name:
        raise _refuse("name", _("请填写机构名称。"))
    _check_choice("kind", inst.kind, Institution.Kind, _("机构类型"))
    _check_choice("grade", inst.grade, Institution.Grade, _("等级"))
    _check_choice("ownership", inst.ownership, Institution.Ownership, _("所有制"))
    _check_choice("status", inst.status, Institution.Status, _("状态"))
    if inst.kind != Institution.Kind.HOSPITAL and inst.grade != Institution.Grade.UNGRADED:
        raise _refuse(
            "grade",
            _("只有医院有等级：{kind}“{name}”不能设为“{grade}”。").format(
                kind=inst.get_kind_display(), name=inst.name, grade=inst.get_grade_display()
            ),
        )
    if inst.province_id is None:
        raise _refuse("province", _("请选择省份。"))
    if inst.city is not None and inst.city.parent_id != inst.province_id:
        raise _refuse(
            "city",
            _("城市“{city}”不属于“{province}”。").format(city=inst.city.name, province=inst.province.name),
        )
    if inst.county is not None:
        if inst.city is None:
            raise _refuse("city", _("填写区县时须先选择城市。"))
        if inst.county.parent_id != inst.city_id:
            raise _refuse(
                "county",
                _("区县“{county}”不属于“{city}”。").format(county=inst.county.name, city=inst.city.name),
            )
    for name, label in (("beds", _("床位数")), ("outpatient_volume", _("日均门诊量"))):
        value = getattr(inst, name)
        if value is not None and (not isinstance(value, int) or value < 0):
            raise _refuse(name, _("{label}须为非负整数：{value}。").format(label=label, value=value))
    if inst.parent is not None:
        node: Institution | None = inst.parent
        while node is not None:
            if inst.pk is not None and node.pk == inst.pk:
                raise _refuse("parent", _("上级机构不能是本机构或其下级。"))
            node = node.parent
    if inst.network and inst.network not in Institution.Network.values:
        raise _refuse("network", _("隶属关系“{value}”不在可选值中。").format(value=inst.network))
    if bool(inst.network) != (inst.parent is not None):
        raise _refuse("network", _("填写上级机构时须同时选择隶属关系，反之亦然。"))
    if inst.territory is None and not actor.roles & COMPANY_WIDE_ROLES:
        raise _refuse("territory", _("请选择您负责的辖区，否则保存后您将看不到该机构。"))
    if (
        inst.external_id
        and Institution.objects.filter(external_id=inst.external_id).exclude(pk=inst.pk).exists()
    ):
        raise _refuse(
            "external_id", _("外部编码“{code}”已被其他机构使用。").format(code=inst.external_id), cls=Conflict
        )
    _full_clean(
        inst,
        exclude=["search_pinyin", "search_initials", "province", "city", "county", "territory", "parent"],
    )


@transaction.atomic
def create_institution(
    *, actor: User, name: str, kind: str, province: Division | str, **details: Any
) -> Institution:
    """A new institution; `details` are any of INSTITUTION_FIELDS (divisions by code or row, others by id or row)."""
    _require_editor(actor)
    institution = Institution()
    _apply_institution(actor, institution, {"name": name, "kind": kind, "province": province, **details})
    refresh_search_keys(institution)
    with acting_as(actor):
        institution.save()
    search.index_institutions([institution], fresh=True)
    # Its first territory period, since the beginning; a new institution has no sales to re-attribute.
    territory_history.realign(institution_ids=[institution.pk], actor=actor, notify=False)
    return institution


# Changing these can move the institution to another territory (its own, or its area's rule).
_TERRITORY_INPUTS_OF_INSTITUTION = ("territory", "province", "city")


@transaction.atomic
def update_institution(
    *,
    actor: User,
    institution: Institution,
    changes: Mapping[str, Any],
    effective: dt.date | None = None,
    reason: str = "",
) -> Institution:
    """Change master data. A change of territory (or of the area whose rule gives it one) is a move.

    The move takes effect today; `effective` backdates it (admins only, with a `reason`), and also
    corrects the start of a move recorded earlier when the territory itself is unchanged.
    """
    return _update_institution(
        actor=actor, institution=institution, changes=changes, effective=effective, reason=reason
    ).institution


@dataclass(frozen=True)
class MoveResult:
    institution: Institution
    moved: bool  # False: the history already said so, nothing changed and nothing was queued
    since: dt.date | None  # the first day whose territory changed (None: since the beginning)


@transaction.atomic
def move_institution(
    *,
    actor: User,
    institution: Institution,
    territory: Territory | int | None,
    effective: dt.date | None = None,
    reason: str = "",
) -> MoveResult:
    """Move the institution to `territory` (None: back to its area's rule) from today or `effective`.

    The same checks as editing the territory field (the actor must see the territory, and keep
    seeing the institution); backdating is for admins and needs a reason. Re-attribution of its
    sales from the effective day is queued after commit.
    """
    return _update_institution(
        actor=actor,
        institution=institution,
        changes={"territory": territory},
        effective=effective,
        reason=reason,
    )


def _update_institution(
    *,
    actor: User,
    institution: Institution,
    changes: Mapping[str, Any],
    effective: dt.date | None,
    reason: str,
) -> MoveResult:
    institution = _locked(Institution, actor, institution.pk)
    _require_editor(actor)
    effective = territory_history.check_effective(actor=actor, effective=effective, reason=reason)
    changed = _apply_institution(actor, institution, changes)
    if not changed and effective is None:
        return MoveResult(institution=institution, moved=False, since=None)
    if {"name", "aliases"} & set(changed):
        refresh_search_keys(institution)
    with acting_as(actor):
        if changed:
            institution.save()
        if set(changed) & set(_SEGMENT_INPUTS_OF_INSTITUTION):
            rules = segmentation.active_rules()
            if segmentation.recompute_needed_for(rules, changed):
                professionals = list(institution.professionals.select_related("institution"))
                segmentation.recompute_batch(professionals, rules=rules)
    moved: dict[int, dt.date | None] = {}
    if effective is not None or set(changed) & set(_TERRITORY_INPUTS_OF_INSTITUTION):
        moved = territory_history.realign(
            institution_ids=[institution.pk],
            actor=actor,
            effective=effective,
            reason=reason,
            force=effective is not None,
        )
    return MoveResult(institution=institution, moved=institution.pk in moved, since=moved.get(institution.pk))


# --- Departments ----------------------------------------------------------------------------------------


def _validate_department(department: Department) -> None:
    if not department.name:
        raise _refuse("name", _("请填写科室名称。"))
    if department.headcount is not None and (
        not isinstance(department.headcount, int) or department.headcount < 0
    ):
        raise _refuse("headcount", _("人数须为非负整数：{value}。").format(value=department.headcount))
    clash = Department.objects.filter(institution_id=department.institution_id, name=department.name).exclude(
        pk=department.pk
    )
    if clash.exists():
        raise _refuse(
            "name",
            _("“{institution}”已有科室“{name}”。").format(
                institution=department.institution.name, name=department.name
            ),
            cls=Conflict,
        )
    _full_clean(department, exclude=["institution"])


@transaction.atomic
def create_department(
    *, actor: User, institution: Institution, name: str, specialty: str = "", headcount: int | None = None
) -> Department:
    institution = _locked(Institution, actor, institution.pk)
    _require_editor(actor)
    department = Department(
        institution=institution, name=name.strip(), specialty=specialty.strip(), headcount=headcount
    )
    _validate_department(department)
    with acting_as(actor):
        department.save()
    return department


@transaction.atomic
def update_department(*, actor: User, department: Department, changes: Mapping[str, Any]) -> Department:
    department = _locked(Department.objects.select_related("institution"), actor, department.pk)
    _require_editor(actor)
    _check_unknown(changes, ("name", "specialty", "headcount"))
    for name, value in changes.items():
        setattr(department, name, value.strip() if isinstance(value, str) else value)
    _validate_department(department)
    with acting_as(actor):
        department.save()
    return department


# --- Professionals -----------------------------------------------------------------------------------

PROFESSIONAL_FIELDS = (
    "external_id",
    "name",
    "gender",
    "title",
    "role",
    "institution",
    "department",
    "mobile",
    "wechat_id",
    "email",
    "preferred_channel",
    "preferred_time",
    "interests",
    "current_concerns",
    "academic_posts",
    "publications",
    "prescribing_habits",
    "therapeutic_areas",
    "product_attitude",
    "personal_notes",
    "prescribing_potential",
    "engagement_stage",
    "influence_decision",
    "influence_prescribing",
    "influence_academic",
    "status",
)
_CHOICE_FIELDS: dict[str, type[models.TextChoices]] = {
    "gender": Professional.Gender,
    "role": Professional.Role,
    "product_attitude": Professional.Attitude,
    "prescribing_potential": Professional.Potential,
    "engagement_stage": Professional.Stage,
    "status": Professional.Status,
}
_BLANKABLE_CHOICES: dict[str, type[models.TextChoices]] = {
    "title": Professional.Title,
    "preferred_channel": Professional.Channel,
}
MOBILE = re.compile(r"^\+?[0-9][0-9 \-]{5,19}$")
# A number followed by a prescription unit, or a share: "每月 200 张", "30盒", "占 60%".
PRESCRIPTION_COUNT = re.compile(r"[0-9０-９]+(?:[.．][0-9]+)?\s*(?:张|盒|支|瓶|例|份|人次|个处方|%|％)")


def check_prescribing_text(text: str, *, field: str = "prescribing_habits") -> None:
    """Refuse text that records prescription counts (统方, RULES_CN §2)."""
    match = PRESCRIPTION_COUNT.search(text or "")
    if match:
        raise RuleViolation(
            _("处方习惯只记录定性描述（治疗偏好、用药理念），不能记录处方数量或占比：“{found}”。").format(
                found=match.group(0)
            )
            + _("（规则：禁止统方；依据：《加强医疗卫生行风建设“九不准”》第六条）"),
            rule="no_per_doctor_prescription_stats",
            fields={field: [_("不能包含处方数量或占比。")]},
        )


def _apply_professional(actor: Any, professional: Professional, values: Mapping[str, Any]) -> list[str]:
    """Set and validate `values`; returns the names of the fields that changed."""
    _check_unknown(values, PROFESSIONAL_FIELDS)
    before = {name: getattr(professional, _field(Professional, name).attname, None) for name in values}
    for name, value in values.items():
        if name == "institution":
            row = _visible_ref(Institution, actor, value, "institution", _("机构"))
            if row is None:
                raise _refuse("institution", _("请选择机构。"))
            professional.institution = row
        elif name == "department":
            if value in (None, ""):
                professional.department = None
            else:
                pk = value.pk if isinstance(value, models.Model) else value
                department = Department.objects.select_related("institution").filter(pk=pk).first()
                if department is None:
                    raise _refuse("department", _("科室不存在：{value}").format(value=pk))
                professional.department = department
        elif name == "external_id":
            professional.external_id = (str(value).strip() or None) if value is not None else None
        elif isinstance(value, str):
            setattr(professional, name, value.strip())
        else:
            setattr(professional, name, value)
    _validate_professional(professional)
    return [
        name
        for name in values
        if getattr(professional, _field(Professional, name).attname, None) != before[name]
    ]


def _validate_professional(p: Professional) -> None:
    if not p.name:
        raise _refuse("name", _("请填写姓名。"))
    for name, choices in _CHOICE_FIELDS.items():
        _check_choice(name, getattr(p, name), choices, str(_field(Professional, name).verbose_name))
    for name, choices in _BLANKABLE_CHOICES.items():
        if getattr(p, name):
            _check_choice(name, getattr(p, name), choices, str(_field(Professional, name).verbose_name))
    if p.department is not None and p.department.institution_id != p.institution_id:
        raise _refuse(
            "department",
            _("科室“{department}”属于“{owner}”，不属于“{institution}”。").format(
                department=p.department.name,
                owner=p.department.institution.name,
                institution=p.institution.name,
            ),
        )
    for name in ("influence_decision", "influence_prescribing", "influence_academic"):
        value = getattr(p, name)
        if not isinstance(value, int) or not 1 <= value <= 5:
            label = _field(Professional, name).verbose_name
            raise _refuse(name, _("{label}须为 1 到 5 的整数：{value}。").format(label=label, value=value))
    if p.mobile and not MOBILE.match(p.mobile):
        raise _refuse("mobile", _("手机号码格式不正确：“{value}”。").format(value=p.mobile))
    if p.email:
        try:
            validate_email(p.email)
        except ValidationError:
            raise _refuse("email", _("邮箱格式不正确：“{value}”。").format(value=p.email)) from None
    check_prescribing_text(p.prescribing_habits)
    if p.external_id and Professional.objects.filter(external_id=p.external_id).exclude(pk=p.pk).exists():
        raise _refuse(
            "external_id",
            _("外部编码“{code}”已被其他医务人员使用。").format(code=p.external_id),
            cls=Conflict,
        )
    _full_clean(
        p, exclude=["search_pinyin", "search_initials", "institution", "department", "confirmed_fields"]
    )


def _confirm(professional: Professional, names: Iterable[str], day: dt.date) -> None:
    confirmed = dict(professional.confirmed_fields or {})
    for name in names:
        if name in quality.REQUIRABLE_FIELDS:
            confirmed[name] = day.isoformat()
    professional.confirmed_fields = confirmed


def _after_profile_change(
    professional: Professional, changed: Iterable[str], *, force_segments: bool = False
) -> None:
    rules = segmentation.active_rules()
    if force_segments or segmentation.recompute_needed_for(rules, changed):
        segmentation.recompute_professional(professional, rules=rules)
    quality.recompute_profile_quality(professional)


def _refuse_rule_driven(values: Mapping[str, Any], professional: Professional | None) -> None:
    """Dimensions computed by active rules change through overrides, not profile edits."""
    driven = segmentation.rule_driven_dimensions()
    for name in ("prescribing_potential", "engagement_stage"):
        if (
            name in values
            and name in driven
            and (professional is None or values[name] != getattr(professional, name))
        ):
            label = _field(Professional, name).verbose_name
            raise _refuse(
                name,
                _("{label}由分类规则计算，不能直接修改；请经理使用“人工调整”并说明原因。").format(
                    label=label
                ),
            )


@transaction.atomic
def create_professional(
    *, actor: User, name: str, role: str, institution: Institution | int, **details: Any
) -> Professional:
    """A new professional with a current primary affiliation at `institution` (and `department`)."""
    _require_editor(actor)
    if "tier" in details:
        raise _refuse("tier", _("客户分类由规则计算，不能直接填写。"))
    _refuse_rule_driven(details, None)
    professional = Professional()
    values = {"name": name, "role": role, "institution": institution, **details}
    _apply_professional(actor, professional, values)
    refresh_search_keys(professional)
    today = timezone.localdate()
    _confirm(professional, [k for k, v in values.items() if v not in (None, "")], today)
    with acting_as(actor):
        professional.save()
        search.index_professionals([professional], fresh=True)
        Affiliation.objects.create(
            professional=professional,
            institution=professional.institution,
            department=professional.department,
            is_primary=True,
            valid_from=today,
        )
        _after_profile_change(professional, values, force_segments=True)
    return professional


@transaction.atomic
def update_professional(
    *, actor: User, professional: Professional, changes: Mapping[str, Any]
) -> Professional:
    """Change profile fields. A changed value counts as confirmed today; a new institution or department
    ends the current primary affiliation and starts a new one."""
    professional = _locked(
        Professional.objects.select_related("institution", "department"), actor, professional.pk
    )
    _require_editor(actor)
    if "tier" in changes:
        raise _refuse("tier", _("客户分类由规则计算，不能直接修改；请经理使用“人工调整”并说明原因。"))
    _refuse_rule_driven(changes, professional)
    old_institution, old_department = professional.institution_id, professional.department_id
    changed = _apply_professional(actor, professional, changes)
    if not changed:
        return professional
    today = timezone.localdate()
    _confirm(professional, changed, today)
    if {"name", "mobile", "wechat_id", "institution"} & set(changed):
        refresh_search_keys(professional)
    with acting_as(actor):
        professional.save()
        if (professional.institution_id, professional.department_id) != (old_institution, old_department):
            _move_primary(professional, today)
        _after_profile_change(professional, changed)
    return professional


def _move_primary(professional: Professional, day: dt.date, *, position: str = "") -> Affiliation:
    """End the current primary affiliation the day before `day` (or on it) and open a new one."""
    for current in Affiliation.objects.select_for_update().filter(
        professional=professional, is_primary=True, valid_to__isnull=True
    ):
        if (
            current.institution_id == professional.institution_id
            and current.department_id == professional.department_id
        ):
            return current
        start = current.valid_from
        current.valid_to = max(day - dt.timedelta(days=1), start) if start else day - dt.timedelta(days=1)
        current.save(update_fields=["valid_to"])
    return Affiliation.objects.create(
        professional=professional,
        institution=professional.institution,
        department=professional.department,
        position=position,
        is_primary=True,
        valid_from=day,
    )


@transaction.atomic
def confirm_profile(
    *, actor: User, professional: Professional, fields: Iterable[str] | None = None
) -> list[str]:
    """Mark profile fields as confirmed with the customer today; by default every filled required field."""
    professional = _locked(Professional, actor, professional.pk)
    _require_editor(actor)
    counts = {"key_dates": professional.key_dates.count(), "needs": professional.needs.count()}
    if fields is None:
        names = [
            r.field
            for r in quality.requirements_by_role().get(professional.role, [])
            if r.field in quality.REQUIRABLE_FIELDS and quality.is_filled(professional, r.field, **counts)
        ]
    else:
        names = list(fields)
        unknown = [n for n in names if n not in quality.REQUIRABLE_FIELDS]
        if unknown:
            raise _refuse("fields", _("未知档案字段：{names}").format(names="、".join(unknown)))
        empty = [
            n
            for n in names
            if n not in quality.RELATION_FIELDS
            and getattr(professional, _field(Professional, n).attname) in (None, "")
        ]
        empty += [n for n in names if n in quality.RELATION_FIELDS and not counts[n]]
        if empty:
            labels = "、".join(quality.field_label(n) for n in empty)
            raise _refuse("fields", _("这些字段还没有内容，无法确认：{labels}").format(labels=labels))
    if not names:
        return []
    _confirm(professional, names, timezone.localdate())
    with acting_as(actor):
        professional._change_reason = _("与客户确认档案")  # type: ignore[attr-defined]
        professional.save(update_fields=["confirmed_fields", "updated_at"])
        quality.recompute_profile_quality(professional)
    return names


# --- Affiliations ---------------------------------------------------------------------------------------


@transaction.atomic
def add_affiliation(
    *,
    actor: User,
    professional: Professional,
    institution: Institution | int,
    department: Department | int | None = None,
    position: str = "",
    is_primary: bool = False,
    valid_from: dt.date | None = None,
) -> Affiliation:
    """Record where the professional (also) works. A primary one replaces the current primary and is mirrored on the profile."""
    professional = _locked(Professional.objects.select_related("institution"), actor, professional.pk)
    _require_editor(actor)
    inst = _visible_ref(Institution, actor, institution, "institution", _("机构"))
    if inst is None:
        raise _refuse("institution", _("请选择机构。"))
    dept = None
    if department not in (None, ""):
        pk = department.pk if isinstance(department, models.Model) else department
        dept = Department.objects.select_related("institution").filter(pk=pk).first()
        if dept is None:
            raise _refuse("department", _("科室不存在：{value}").format(value=pk))
        if dept.institution_id != inst.pk:
            raise _refuse(
                "department",
                _("科室“{department}”属于“{owner}”，不属于“{institution}”。").format(
                    department=dept.name, owner=dept.institution.name, institution=inst.name
                ),
            )
    today = timezone.localdate()
    valid_from = valid_from or today
    if valid_from > today:
        raise _refuse("valid_from", _("开始日期不能晚于今天：{day}。").format(day=valid_from))
    if len(position or "") > 100:
        raise _refuse("position", _("职务最多 100 个字符。"))
    duplicate = Affiliation.objects.filter(
        professional=professional, institution=inst, department=dept, valid_to__isnull=True
    ).exists()
    if duplicate and not is_primary:
        raise _refuse("institution", _("该执业关系已存在且尚未结束。"), cls=Conflict)
    with acting_as(actor):
        if is_primary:
            current = Affiliation.objects.filter(
                professional=professional, is_primary=True, valid_to__isnull=True
            ).first()
            if current is not None and (current.institution_id, current.department_id) == (
                inst.pk,
                dept.pk if dept else None,
            ):
                raise _refuse("institution", _("这已是当前的主要执业点。"), cls=Conflict)
            if current is not None and current.valid_from and valid_from <= current.valid_from:
                raise _refuse(
                    "valid_from",
                    _("新的主要执业点须晚于当前主要执业点的开始日期（{day}）。").format(
                        day=current.valid_from
                    ),
                )
            # A secondary affiliation at the same place ends: it continues as the primary one.
            for secondary in Affiliation.objects.filter(
                professional=professional,
                institution=inst,
                department=dept,
                valid_to__isnull=True,
                is_primary=False,
            ):
                secondary.valid_to = max(valid_from, secondary.valid_from or valid_from)
                secondary.save(update_fields=["valid_to"])
            professional.institution, professional.department = inst, dept
            professional._change_reason = _("更换主要执业点")  # type: ignore[attr-defined]
            professional.save(update_fields=["institution", "department", "updated_at"])
            refresh_search_keys(professional)  # the index scopes a professional by their institution
            affiliation = _move_primary(professional, valid_from, position=position)
            _after_profile_change(professional, ["institution", "department"], force_segments=True)
        else:
            affiliation = Affiliation.objects.create(
                professional=professional,
                institution=inst,
                department=dept,
                position=position,
                valid_from=valid_from,
            )
    return affiliation


@transaction.atomic
def end_affiliation(*, actor: User, affiliation: Affiliation, valid_to: dt.date | None = None) -> Affiliation:
    """End a secondary affiliation. The primary one ends only when another primary replaces it."""
    affiliation = _locked(Affiliation.objects.select_related("professional"), actor, affiliation.pk)
    get_visible_or_404(Professional, user=actor, pk=affiliation.professional_id)
    _require_editor(actor)
    if affiliation.valid_to is not None:
        raise _refuse("valid_to", _("该执业关系已于 {day} 结束。").format(day=affiliation.valid_to))
    if affiliation.is_primary:
        raise _refuse("is_primary", _("主要执业点不能直接结束，请先添加新的主要执业点。"))
    valid_to = valid_to or timezone.localdate()
    if affiliation.valid_from and valid_to < affiliation.valid_from:
        raise _refuse("valid_to", _("结束日期不能早于开始日期（{day}）。").format(day=affiliation.valid_from))
    with acting_as(actor):
        affiliation.valid_to = valid_to
        affiliation.save(update_fields=["valid_to"])
    return affiliation


# --- Key dates ----------------------------------------------------------------------------------------------

PIPL_KEY_DATE_REASON = _(
    "只记录客户本人同意分享的纪念日：个人信息保护法第十三条要求处理个人信息须有合法依据（通常为本人同意），"
    "本系统不依据“合法利益”记录。请先征得客户同意。"
)


@transaction.atomic
def add_key_date(
    *,
    actor: User,
    professional: Professional,
    kind: str,
    month: int,
    day: int,
    shared_by_customer: bool,
    year: int | None = None,
    label: str = "",
) -> KeyDate:
    """A date the customer chose to share. Anything else is refused (PIPL: consent is the basis)."""
    professional = _locked(Professional, actor, professional.pk)
    _require_editor(actor)
    if shared_by_customer is not True:
        raise RuleViolation(
            PIPL_KEY_DATE_REASON,
            rule="consent_required_for_contact",
            fields={"shared_by_customer": [_("须经客户本人同意分享。")]},
        )
    _check_choice("kind", kind, KeyDate.Kind, _("类型"))
    try:
        # A leap year stands in when no year is given, so 2-29 is a valid birthday.
        dt.date(year or 2000, int(month), int(day))
    except (TypeError, ValueError):
        raise _refuse(
            "day",
            _("日期不存在：{month} 月 {day} 日{year}。").format(
                month=month, day=day, year=f"（{year} 年）" if year else ""
            ),
        ) from None
    this_year = timezone.localdate().year
    if year is not None and not 1900 <= year <= this_year:
        raise _refuse("year", _("年份须在 1900 到 {max} 之间：{value}。").format(max=this_year, value=year))
    if len(label or "") > 100:
        raise _refuse("label", _("说明最多 100 个字符。"))
    if KeyDate.objects.filter(professional=professional, kind=kind, month=month, day=day).exists():
        raise _refuse("kind", _("该纪念日已记录。"), cls=Conflict)
    with acting_as(actor):
        key_date = KeyDate.objects.create(
            professional=professional,
            kind=kind,
            month=month,
            day=day,
            year=year,
            label=(label or "").strip(),
            shared_by_customer=True,
        )
        _confirm(professional, ["key_dates"], timezone.localdate())
        professional.save(update_fields=["confirmed_fields", "updated_at"])
        quality.recompute_profile_quality(professional)
    return key_date


@transaction.atomic
def remove_key_date(*, actor: User, key_date: KeyDate) -> None:
    """Delete a key date (the customer withdrew it, or it was wrong)."""
    key_date = _locked(KeyDate, actor, key_date.pk)
    _require_editor(actor)
    professional = key_date.professional
    with acting_as(actor):
        key_date.delete()
        quality.recompute_profile_quality(professional)


# --- Needs -------------------------------------------------------------------------------------------------


def _check_need_text(description: str) -> str:
    description = (description or "").strip()
    if not description:
        raise _refuse("description", _("请描述客户的需求。"))
    if len(description) > 2000:
        raise _refuse("description", _("需求描述最多 2000 个字符。"))
    return description


@transaction.atomic
def create_need(
    *,
    actor: User,
    professional: Professional,
    kind: str,
    description: str,
    found_on: dt.date | None = None,
    status: str = Need.Status.OPEN,
) -> Need:
    professional = _locked(Professional, actor, professional.pk)
    _require_editor(actor)
    _check_choice("kind", kind, Need.Kind, _("需求类型"))
    _check_choice("status", status, Need.Status, _("状态"))
    description = _check_need_text(description)
    today = timezone.localdate()
    found_on = found_on or today
    if found_on > today:
        raise _refuse("found_on", _("发现日期不能晚于今天：{day}。").format(day=found_on))
    met = status == Need.Status.MET
    with acting_as(actor):
        need = Need.objects.create(
            professional=professional,
            kind=kind,
            description=description,
            status=status,
            met=met,
            met_on=today if met else None,
            found_on=found_on,
            created_by=actor,
        )
        _confirm(professional, ["needs"], today)
        professional.save(update_fields=["confirmed_fields", "updated_at"])
        quality.recompute_profile_quality(professional)
    return need


_UNSET: Any = object()


@transaction.atomic
def update_need(
    *,
    actor: User,
    need: Need,
    status: str | None = None,
    description: str | None = None,
    kind: str | None = None,
    met_on: dt.date | None = _UNSET,
) -> Need:
    """Change a need; `met` always follows the status, and `met_on` is set when met and cleared otherwise."""
    need = _locked(Need.objects.select_related("professional"), actor, need.pk)
    _require_editor(actor)
    if description is not None:
        need.description = _check_need_text(description)
    if kind is not None:
        _check_choice("kind", kind, Need.Kind, _("需求类型"))
        need.kind = kind
    today = timezone.localdate()
    if status is not None:
        _check_choice("status", status, Need.Status, _("状态"))
        need.status = status
    need.met = need.status == Need.Status.MET
    if need.met:
        need.met_on = (met_on if met_on is not _UNSET else None) or need.met_on or today
        if need.met_on > today:
            raise _refuse("met_on", _("满足日期不能晚于今天：{day}。").format(day=need.met_on))
        if need.met_on < need.found_on:
            raise _refuse("met_on", _("满足日期不能早于发现日期（{day}）。").format(day=need.found_on))
    else:
        if met_on not in (_UNSET, None):
            raise _refuse("met_on", _("只有“已满足”的需求才有满足日期。"))
        need.met_on = None
    with acting_as(actor):
        need.save()
        professional = need.professional
        _confirm(professional, ["needs"], today)
        professional.save(update_fields=["confirmed_fields", "updated_at"])
        quality.recompute_profile_quality(professional)
    return need


# --- Development plans --------------------------------------------------------------------------------


def _plan_owner(actor: Any, owner: Any, subject: Institution | Professional) -> User:
    if owner in (None, ""):
        return cast(User, actor)
    user = _visible_ref(User, actor, owner, "owner", _("负责人"))
    assert user is not None
    if not user.is_active or not user.has_role(*EDITOR_ROLES):
        raise _refuse("owner", _("负责人“{user}”不能负责客户开发。").format(user=user))
    if not can_see(subject, user=user):
        raise _refuse(
            "owner", _("负责人“{user}”看不到“{subject}”，不能负责此计划。").format(user=user, subject=subject)
        )
    return user


@transaction.atomic
def create_plan(
    *,
    actor: User,
    title: str,
    institution: Institution | int | None = None,
    professional: Professional | int | None = None,
    owner: User | int | None = None,
    description: str = "",
    due_on: dt.date | None = None,
    status: str = DevelopmentPlan.Status.ACTIVE,
) -> DevelopmentPlan:
    """A development plan for an institution or a professional (one of the two)."""
    _require_editor(actor)
    if (institution in (None, "")) == (professional in (None, "")):
        raise _refuse("institution", _("开发计划须针对一个机构或一位医务人员（二选一）。"))
    subject: Institution | Professional
    if professional not in (None, ""):
        subject = _locked(Professional, actor, getattr(professional, "pk", professional))
    else:
        subject = _locked(Institution, actor, getattr(institution, "pk", institution))
    plan = DevelopmentPlan(
        title=(title or "").strip(),
        description=(description or "").strip(),
        due_on=due_on,
        status=status,
        owner=_plan_owner(actor, owner, subject),
    )
    if isinstance(subject, Professional):
        plan.professional = subject
    else:
        plan.institution = subject
    _validate_plan(plan, creating=True)
    with acting_as(actor):
        plan.save()
    return plan


def _validate_plan(plan: DevelopmentPlan, *, creating: bool = False) -> None:
    if not plan.title:
        raise _refuse("title", _("请填写计划目标。"))
    if len(plan.title) > 200:
        raise _refuse("title", _("计划目标最多 200 个字符。"))
    _check_choice("status", plan.status, DevelopmentPlan.Status, _("状态"))
    if creating and plan.due_on and plan.due_on < timezone.localdate():
        raise _refuse("due_on", _("截止日期不能早于今天：{day}。").format(day=plan.due_on))
    if plan.status == DevelopmentPlan.Status.DONE and plan.pk:
        open_steps = plan.steps.filter(done_on__isnull=True).count()
        if open_steps:
            raise _refuse("status", _("还有 {n} 个步骤未完成，计划不能标记为已完成。").format(n=open_steps))


def _locked_plan(actor: Any, plan: DevelopmentPlan) -> DevelopmentPlan:
    plan = _locked(
        DevelopmentPlan.objects.select_related("institution", "professional", "owner"), actor, plan.pk
    )
    _require_editor(actor)
    # Owning a plan is not enough to change it: the actor must also see its customer.
    if not can_see(plan.subject, user=actor):
        raise NotAllowed(_("您看不到该计划的客户，不能修改计划。"))
    return plan


@transaction.atomic
def update_plan(*, actor: User, plan: DevelopmentPlan, changes: Mapping[str, Any]) -> DevelopmentPlan:
    plan = _locked_plan(actor, plan)
    _check_unknown(changes, ("title", "description", "due_on", "status", "owner"))
    for name, value in changes.items():
        if name == "owner":
            plan.owner = _plan_owner(actor, value, plan.subject)
        else:
            setattr(plan, name, value.strip() if isinstance(value, str) else value)
    _validate_plan(plan)
    for step in plan.steps.all():
        if plan.due_on and step.due_on and step.due_on > plan.due_on:
            raise _refuse(
                "due_on",
                _("计划截止日期不能早于步骤“{step}”的截止日期（{day}）。").format(
                    step=step.title, day=step.due_on
                ),
            )
    with acting_as(actor):
        plan.save()
    return plan


def _validate_step(plan: DevelopmentPlan, step: DevelopmentStep) -> None:
    if not step.title:
        raise _refuse("title", _("请填写步骤。"))
    if len(step.title) > 200:
        raise _refuse("title", _("步骤最多 200 个字符。"))
    if plan.due_on and step.due_on and step.due_on > plan.due_on:
        raise _refuse("due_on", _("步骤截止日期不能晚于计划截止日期（{day}）。").format(day=plan.due_on))
    if step.done_on and step.done_on > timezone.localdate():
        raise _refuse("done_on", _("完成日期不能晚于今天：{day}。").format(day=step.done_on))


@transaction.atomic
def add_step(
    *, actor: User, plan: DevelopmentPlan, title: str, due_on: dt.date | None = None
) -> DevelopmentStep:
    plan = _locked_plan(actor, plan)
    if plan.status in (DevelopmentPlan.Status.DONE, DevelopmentPlan.Status.CANCELLED):
        raise _refuse("plan", _("计划已{status}，不能再添加步骤。").format(status=plan.get_status_display()))
    position = (plan.steps.aggregate(m=models.Max("position"))["m"] or 0) + 1
    step = DevelopmentStep(plan=plan, title=(title or "").strip(), due_on=due_on, position=position)
    _validate_step(plan, step)
    with acting_as(actor):
        step.save()
    return step


@transaction.atomic
def update_step(
    *,
    actor: User,
    step: DevelopmentStep,
    title: str | None = None,
    due_on: dt.date | None = _UNSET,
    done_on: dt.date | None = _UNSET,
) -> DevelopmentStep:
    """Change a step; `done_on` set means done, None reopens it."""
    step = _locked(DevelopmentStep.objects.select_related("plan"), actor, step.pk)
    plan = _locked_plan(actor, step.plan)
    if title is not None:
        step.title = title.strip()
    if due_on is not _UNSET:
        step.due_on = due_on
    if done_on is not _UNSET:
        step.done_on = done_on
    _validate_step(plan, step)
    with acting_as(actor):
        step.save()
    return step
