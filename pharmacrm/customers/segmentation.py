"""Segmentation: the condition language of SegmentationRule, rule validation, evaluation with explanations, overrides and recompute.

A rule is a list of conditions over a professional and their institution, all of which must hold,
and a result for one dimension (tier, prescribing potential or engagement stage):

    [{"field": "role", "op": "in", "value": ["department_head", "president"]},
     {"field": "institution.grade", "op": "in", "value": ["3a", "3b", "3"]},
     {"field": "prescribing_potential", "op": "eq", "value": "high"}]  → tier "key"

Operators: eq, ne, in, gte, lte (gte/lte on numbers and on ordered choices: grade, potential).
Values may be given as code names or as their Chinese labels; they are stored as code names.
The active rules of a dimension are tried by ascending priority; the first match decides. A
dimension without active rules is left as people entered it. Each result is stored in `Segment`
with the rule, the inputs it read and a sentence saying why; a manager's override (with a reason)
sits beside the computed value and survives every recompute, and `Professional.tier` /
`prescribing_potential` / `engagement_stage` hold the effective value.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import models, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _l
from simple_history.utils import bulk_create_with_history, bulk_update_with_history

from pharmacrm.core.audit import Source, acting_as, current_state
from pharmacrm.core.errors import DomainError, NotAllowed
from pharmacrm.core.models import MANAGER_ROLES, Role
from pharmacrm.core.visibility import get_visible_or_404
from pharmacrm.customers.models import (
    Dimension,
    Institution,
    Professional,
    Segment,
    SegmentationRule,
    SegmentationRun,
)

# --- The condition language -------------------------------------------------------------------------


@dataclass(frozen=True)
class FieldSpec:
    label: Any
    get: Callable[[Professional], Any]
    choices: type[models.TextChoices] | None = None
    # Ascending order for gte/lte on a choice field; None means gte/lte are refused for it.
    order: tuple[str, ...] | None = None
    minimum: int | None = None
    maximum: int | None = None
    # How a value reads in an explanation: "{value}", "{label}{value}", "{value}医院".
    phrase: str = "{label}{value}"

    @property
    def is_number(self) -> bool:
        return self.choices is None


_POTENTIAL_ORDER = ("initial", "medium", "high")
_GRADE_ORDER = ("none", "1", "2", "2b", "2a", "3", "3b", "3a")

FIELDS: dict[str, FieldSpec] = {
    "role": FieldSpec(_l("角色"), lambda p: p.role, Professional.Role, phrase="{value}"),
    "title": FieldSpec(_l("职称"), lambda p: p.title, Professional.Title, phrase="{value}"),
    "prescribing_potential": FieldSpec(
        _l("处方潜力"), lambda p: p.prescribing_potential, Professional.Potential, order=_POTENTIAL_ORDER
    ),
    "engagement_stage": FieldSpec(
        _l("合作阶段"), lambda p: p.engagement_stage, Professional.Stage, phrase="{label}：{value}"
    ),
    "product_attitude": FieldSpec(
        _l("对我司产品的态度"), lambda p: p.product_attitude, Professional.Attitude, phrase="{label}：{value}"
    ),
    "influence_decision": FieldSpec(
        _l("科室决策影响力"), lambda p: p.influence_decision, minimum=1, maximum=5
    ),
    "influence_prescribing": FieldSpec(
        _l("处方影响力"), lambda p: p.influence_prescribing, minimum=1, maximum=5
    ),
    "influence_academic": FieldSpec(_l("学术影响力"), lambda p: p.influence_academic, minimum=1, maximum=5),
    "institution.kind": FieldSpec(
        _l("机构类型"), lambda p: p.institution.kind, Institution.Kind, phrase="{value}"
    ),
    "institution.grade": FieldSpec(
        _l("医院等级"),
        lambda p: p.institution.grade,
        Institution.Grade,
        order=_GRADE_ORDER,
        phrase="{value}医院",
    ),
    "institution.ownership": FieldSpec(
        _l("所有制"), lambda p: p.institution.ownership, Institution.Ownership, phrase="{value}"
    ),
    "institution.beds": FieldSpec(_l("床位数"), lambda p: p.institution.beds, minimum=0, maximum=100000),
}

OPERATORS: dict[str, Any] = {
    "eq": _l("等于"),
    "ne": _l("不等于"),
    "in": _l("属于其中之一"),
    "gte": _l("大于等于"),
    "lte": _l("小于等于"),
}

DIMENSION_CHOICES: dict[str, type[models.TextChoices]] = {
    Dimension.TIER: Professional.Tier,
    Dimension.PRESCRIBING_POTENTIAL: Professional.Potential,
    Dimension.ENGAGEMENT_STAGE: Professional.Stage,
}
# Potential and stage feed the tier rules, so they are decided first.
EVALUATION_ORDER = (Dimension.PRESCRIBING_POTENTIAL, Dimension.ENGAGEMENT_STAGE, Dimension.TIER)

_LIST_SEPARATORS = re.compile(r"[,，;；、/]")


def _choice_code(choices: type[models.TextChoices], raw: Any) -> str | None:
    """The code name for a value given as code or label (Chinese or English), or None."""
    text = str(raw).strip()
    if text in choices.values:
        return text
    for language in (settings.LANGUAGE_CODE, "en"):
        with translation.override(language):
            for value, label in choices.choices:
                if text.lower() == str(label).lower():
                    return str(value)
    return None


def choice_label(choices: type[models.TextChoices], value: str) -> str:
    try:
        return str(choices(value).label)
    except ValueError:
        return value


def clean_conditions(raw: Any) -> list[dict[str, Any]]:
    """Validate and normalise a rule's conditions; DomainError names the condition, field, operator or value."""
    if raw in (None, ""):
        return []
    if not isinstance(raw, list):
        raise DomainError(_("条件必须是列表。"), fields={"conditions": [_("条件必须是列表。")]})
    cleaned: list[dict[str, Any]] = []
    errors: dict[str, list[str]] = {}
    for i, cond in enumerate(raw):
        key = f"conditions.{i}"
        if not isinstance(cond, dict) or set(cond) - {"field", "op", "value"}:
            errors[key] = [_("第 {n} 个条件格式不正确，应为 field、op、value。").format(n=i + 1)]
            continue
        name = str(cond.get("field", "")).strip()
        op = str(cond.get("op", "")).strip()
        spec = FIELDS.get(name)
        if spec is None:
            errors[f"{key}.field"] = [
                _("第 {n} 个条件：未知字段“{field}”。可用字段：{names}").format(
                    n=i + 1, field=name, names="、".join(FIELDS)
                )
            ]
            continue
        if op not in OPERATORS:
            errors[f"{key}.op"] = [
                _("第 {n} 个条件：未知运算“{op}”。可用运算：eq、ne、in、gte、lte").format(n=i + 1, op=op)
            ]
            continue
        try:
            value = _clean_value(spec, op, cond.get("value"))
        except ValueError as exc:
            errors[f"{key}.value"] = [
                _("第 {n} 个条件（{field}）：{problem}").format(n=i + 1, field=spec.label, problem=exc)
            ]
            continue
        cleaned.append({"field": name, "op": op, "value": value})
    if errors:
        first = next(iter(errors.values()))[0]
        raise DomainError(first, fields=errors)
    return cleaned


def _clean_value(spec: FieldSpec, op: str, raw: Any) -> Any:
    if op == "in":
        items = (
            raw if isinstance(raw, list) else [s for s in _LIST_SEPARATORS.split(str(raw or "")) if s.strip()]
        )
        if not items:
            raise ValueError(_("“属于”需要至少一个值"))
        return [_clean_scalar(spec, op, item) for item in items]
    if raw in (None, "") or isinstance(raw, list):
        raise ValueError(_("请填写一个值"))
    return _clean_scalar(spec, op, raw)


def _clean_scalar(spec: FieldSpec, op: str, raw: Any) -> Any:
    if spec.is_number:
        try:
            number = int(str(raw).strip())
        except ValueError:
            raise ValueError(_("“{value}”不是整数").format(value=raw)) from None
        if (spec.minimum is not None and number < spec.minimum) or (
            spec.maximum is not None and number > spec.maximum
        ):
            raise ValueError(
                _("{value} 超出范围 {low}–{high}").format(value=number, low=spec.minimum, high=spec.maximum)
            )
        return number
    if op in ("gte", "lte") and spec.order is None:
        raise ValueError(_("该字段不能比较大小，请用 eq、ne 或 in"))
    assert spec.choices is not None
    code = _choice_code(spec.choices, raw)
    if code is None:
        allowed = "、".join(f"{label}（{value}）" for value, label in spec.choices.choices)
        raise ValueError(_("“{value}”不是可选值。可选：{allowed}").format(value=raw, allowed=allowed))
    return code


def clean_result(dimension: str, raw: str) -> str:
    choices = DIMENSION_CHOICES.get(dimension)
    if choices is None:
        raise DomainError(_("未知维度“{d}”。").format(d=dimension), fields={"dimension": [_("未知维度。")]})
    code = _choice_code(choices, raw)
    if code is None:
        allowed = "、".join(str(label) for _value, label in choices.choices)
        message = _("结果“{value}”不属于{dimension}的可选值：{allowed}").format(
            value=raw, dimension=Dimension(dimension).label, allowed=allowed
        )
        raise DomainError(message, fields={"result": [message]})
    return code


# --- Rule validation --------------------------------------------------------------------------------


@dataclass(frozen=True)
class CheckedRule:
    name: str
    dimension: str
    priority: int
    conditions: list[dict[str, Any]]
    result: str
    warnings: list[str]


def _condition_key(conditions: list[dict[str, Any]]) -> tuple[Any, ...]:
    return tuple(
        sorted(
            (
                c["field"],
                c["op"],
                tuple(sorted(map(str, c["value"]))) if isinstance(c["value"], list) else str(c["value"]),
            )
            for c in conditions
        )
    )


def check_rule(
    *,
    name: str,
    dimension: str,
    priority: Any,
    conditions: Any,
    result: str,
    is_active: bool = True,
    rule_id: int | None = None,
) -> CheckedRule:
    """Validate a rule. Errors raise DomainError naming the field; overlaps with other rules come back as warnings."""
    name = (name or "").strip()
    if not name:
        raise DomainError(_("请填写规则名称。"), fields={"name": [_("此字段为必填项。")]})
    if len(name) > 100:
        raise DomainError(_("规则名称最多 100 个字符。"), fields={"name": [_("最多 100 个字符。")]})
    try:
        priority = int(priority)
        if priority < 0:
            raise ValueError
    except (TypeError, ValueError):
        raise DomainError(
            _("优先级必须是非负整数：“{value}”。").format(value=priority),
            fields={"priority": [_("必须是非负整数。")]},
        ) from None
    result = clean_result(dimension, result)
    cleaned = clean_conditions(conditions)
    warnings: list[str] = []
    if is_active:
        others = SegmentationRule.objects.filter(dimension=dimension, is_active=True)
        if rule_id is not None:
            others = others.exclude(pk=rule_id)
        key = _condition_key(cleaned)
        for other in others.order_by("priority", "id"):
            if other.priority == priority:
                warnings.append(
                    _("与规则“{other}”优先级相同（{p}），两者都匹配时先建的规则生效。").format(
                        other=other.name, p=priority
                    )
                )
            other_key = _condition_key(other.conditions or [])
            if other_key == key:
                if other.result == result:
                    warnings.append(
                        _("与规则“{other}”的条件和结果完全相同（重复）。").format(other=other.name)
                    )
                else:
                    warnings.append(
                        _("与规则“{other}”条件相同但结果不同，只有优先级靠前的生效。").format(
                            other=other.name
                        )
                    )
            if not other.conditions and other.priority < priority:
                warnings.append(
                    _("规则“{other}”（优先级 {p}）没有条件、匹配所有人，本规则永远不会生效。").format(
                        other=other.name, p=other.priority
                    )
                )
    return CheckedRule(name, dimension, priority, cleaned, result, warnings)


# --- Evaluation -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    dimension: str
    value: str
    rule: SegmentationRule | None
    inputs: dict[str, Any]
    explanation: str


def active_rules() -> dict[str, list[SegmentationRule]]:
    """Active rules per dimension, in matching order (one query)."""
    grouped: dict[str, list[SegmentationRule]] = {}
    for rule in SegmentationRule.objects.filter(is_active=True).order_by("priority", "id"):
        grouped.setdefault(rule.dimension, []).append(rule)
    return grouped


def _holds(spec: FieldSpec, actual: Any, op: str, expected: Any) -> bool:
    if op == "eq":
        return bool(actual == expected)
    if op == "ne":
        return bool(actual != expected)
    if op == "in":
        return actual in expected
    if actual in (None, ""):
        return False
    if spec.order is not None:
        if actual not in spec.order or expected not in spec.order:
            return False
        a, e = spec.order.index(actual), spec.order.index(expected)
    else:
        a, e = int(actual), int(expected)
    return a >= e if op == "gte" else a <= e


def _matches(rule: SegmentationRule, professional: Professional) -> bool:
    for cond in rule.conditions or []:
        spec = FIELDS.get(cond.get("field", ""))
        if spec is None or not _holds(spec, spec.get(professional), cond.get("op"), cond.get("value")):
            return False
    return True


def _value_text(spec: FieldSpec, value: Any) -> str:
    if value in (None, ""):
        return _("未填")
    return choice_label(spec.choices, value) if spec.choices is not None else str(value)


def _phrase(spec: FieldSpec, cond: dict[str, Any], actual: Any) -> str:
    op = cond["op"]
    if op == "ne":
        return _("{label}不是{value}").format(label=spec.label, value=_value_text(spec, cond["value"]))
    text = spec.phrase.format(label=spec.label, value=_value_text(spec, actual))
    if op in ("gte", "lte"):
        sign = "≥" if op == "gte" else "≤"
        text += f"（{sign}{_value_text(spec, cond['value'])}）"
    return text


def explain(rule: SegmentationRule, professional: Professional, value: str, dimension: str) -> str:
    """“科室主任 · 三级甲等医院 · 处方潜力高 → 重要客户（规则：…）”, in the site's language."""
    parts = []
    conditions = rule.conditions or []
    has_grade = any(c["field"] == "institution.grade" for c in conditions)
    for cond in conditions:
        if has_grade and cond["field"] == "institution.kind" and cond["op"] in ("eq", "in"):
            continue  # “三级甲等医院” already says it is a hospital
        spec = FIELDS[cond["field"]]
        parts.append(_phrase(spec, cond, spec.get(professional)))
    reason = " · ".join(parts) if parts else _("无特定条件")
    label = choice_label(DIMENSION_CHOICES[dimension], value)
    return _("{reason} → {value}（规则：{rule}）").format(reason=reason, value=label, rule=rule.name)


# Outcomes remembered by a bulk run (an import), keyed by dimension, the inputs the rules read and
# the current value; past this many entries the memo starts afresh.
OutcomeMemo = dict[tuple[Any, ...], Outcome]
MEMO_LIMIT = 10_000


def evaluate(
    professional: Professional,
    dimension: str,
    rules: list[SegmentationRule],
    *,
    memo: OutcomeMemo | None = None,
) -> Outcome:
    """The first matching rule of `dimension`, the inputs the rules read, and why.

    The outcome depends only on the rules, the fields they read and (when none matches) the current
    value, so a bulk run passes a `memo` for the same rules: 10^6 imported professionals share a few
    hundred combinations, and writing an explanation costs more than everything else here.
    """
    read = sorted({c["field"] for r in rules for c in (r.conditions or []) if c.get("field") in FIELDS})
    inputs = {name: FIELDS[name].get(professional) for name in read}
    key: tuple[Any, ...] | None = None
    if memo is not None:
        key = (dimension, *inputs.values(), getattr(professional, dimension))
        try:
            known = memo.get(key)
        except TypeError:  # an unhashable input: no memo for this one
            key, known = None, None
        if known is not None:
            return Outcome(dimension, known.value, known.rule, dict(inputs), known.explanation)
    outcome = _evaluate(professional, dimension, rules, inputs)
    if memo is not None and key is not None:
        if len(memo) >= MEMO_LIMIT:
            memo.clear()
        memo[key] = outcome
    return outcome


def _evaluate(
    professional: Professional, dimension: str, rules: list[SegmentationRule], inputs: dict[str, Any]
) -> Outcome:
    # Explanations are stored in the site language. Switching costs more than evaluating: an import
    # evaluates every row inside one override (customers.importing) and skips it here.
    same = translation.get_language() == settings.LANGUAGE_CODE
    with contextlib.nullcontext() if same else translation.override(settings.LANGUAGE_CODE):
        for rule in rules:
            if _matches(rule, professional):
                return Outcome(
                    dimension, rule.result, rule, inputs, explain(rule, professional, rule.result, dimension)
                )
        current = str(getattr(professional, dimension))
        label = choice_label(DIMENSION_CHOICES[dimension], current)
        return Outcome(
            dimension, current, None, inputs, _("没有规则匹配，保留现值：{value}").format(value=label)
        )


@dataclass
class Applied:
    """What applying the rules to one professional changed (nothing is saved yet)."""

    created: list[Segment]
    updated: list[Segment]
    professional_changed: bool


def apply_rules(
    professional: Professional,
    *,
    rules: dict[str, list[SegmentationRule]],
    segments: dict[str, Segment],
    now: dt.datetime,
    memo: OutcomeMemo | None = None,
) -> Applied:
    """Compute every ruled dimension, in order, onto `segments` and the professional's effective fields."""
    created: list[Segment] = []
    updated: list[Segment] = []
    changed = False
    for dimension in EVALUATION_ORDER:
        dim_rules = rules.get(dimension)
        if not dim_rules:
            continue
        outcome = evaluate(professional, dimension, dim_rules, memo=memo)
        segment = segments.get(dimension)
        if segment is None:
            segment = Segment(professional=professional, dimension=dimension)
            segments[dimension] = segment
            created.append(segment)
        new_state = (
            outcome.value,
            outcome.rule.pk if outcome.rule else None,
            outcome.inputs,
            outcome.explanation,
        )
        old_state = (segment.computed_value, segment.rule_id, segment.inputs, segment.explanation)
        if segment.pk is None or new_state != old_state:
            segment.computed_value = outcome.value
            segment.rule = outcome.rule
            segment.inputs = outcome.inputs
            segment.explanation = outcome.explanation
            segment.computed_at = now
            if segment.pk is not None:
                updated.append(segment)
        effective = segment.value
        if getattr(professional, dimension) != effective:
            setattr(professional, dimension, effective)
            changed = True
    return Applied(created, updated, changed)


SEGMENT_FIELDS = ["computed_value", "rule", "inputs", "explanation", "computed_at"]
DIMENSION_FIELDS = [str(d) for d in EVALUATION_ORDER]


def recompute_professional(
    professional: Professional, *, rules: dict[str, list[SegmentationRule]] | None = None
) -> bool:
    """Recompute one professional's segments inside the caller's transaction; True if an effective value changed."""
    rules = active_rules() if rules is None else rules
    if not rules:
        return False
    segments = {s.dimension: s for s in professional.segments.all()}
    applied = apply_rules(professional, rules=rules, segments=segments, now=timezone.now())
    for segment in applied.created + applied.updated:
        segment.save()
    if applied.professional_changed:
        professional.save(update_fields=[*DIMENSION_FIELDS, "updated_at"])
    return applied.professional_changed


def recompute_batch(professionals: list[Professional], *, rules: dict[str, list[SegmentationRule]]) -> int:
    """Recompute a batch with bulk writes (history rows included); returns how many effective values changed."""
    ids = [p.pk for p in professionals]
    by_prof: dict[int, dict[str, Segment]] = {}
    for seg in Segment.objects.filter(professional_id__in=ids):
        by_prof.setdefault(seg.professional_id, {})[seg.dimension] = seg
    now = timezone.now()
    created: list[Segment] = []
    updated: list[Segment] = []
    changed: list[Professional] = []
    for p in professionals:
        applied = apply_rules(p, rules=rules, segments=by_prof.setdefault(p.pk, {}), now=now)
        created += applied.created
        updated += applied.updated
        if applied.professional_changed:
            p.updated_at = now
            changed.append(p)
    state = current_state()
    attrs = {"history_source": state.source if state else Source.SYSTEM}
    user = state.actor if state else None
    if created:
        bulk_create_with_history(created, Segment, default_user=user, custom_historical_attrs=attrs)
    if updated:
        bulk_update_with_history(
            updated, Segment, SEGMENT_FIELDS, default_user=user, custom_historical_attrs=attrs
        )
    if changed:
        bulk_update_with_history(
            changed,
            Professional,
            [*DIMENSION_FIELDS, "updated_at"],
            default_user=user,
            default_change_reason=_("重新分类"),
            custom_historical_attrs=attrs,
        )
    return len(changed)


# --- Writes: rules, overrides, recompute runs -----------------------------------------------------


def may_override(user: Any) -> bool:
    return bool(user.has_role(Role.ADMIN, Role.DIRECTOR, *MANAGER_ROLES))


def _require_admin(actor: Any) -> None:
    if not actor.has_role(Role.ADMIN):
        raise NotAllowed(_("只有系统管理员可以维护分类规则。"))


@transaction.atomic
def save_rule(
    *,
    actor: Any,
    rule: SegmentationRule | None = None,
    name: str,
    dimension: str,
    priority: Any,
    conditions: Any,
    result: str,
    is_active: bool = True,
) -> tuple[SegmentationRule, list[str]]:
    """Create or change a rule. Returns the rule and the overlaps worth knowing about (allowed, but reported)."""
    _require_admin(actor)
    checked = check_rule(
        name=name,
        dimension=dimension,
        priority=priority,
        conditions=conditions,
        result=result,
        is_active=is_active,
        rule_id=rule.pk if rule else None,
    )
    with acting_as(actor):
        if rule is None:
            rule = SegmentationRule()
        else:
            rule = SegmentationRule.objects.select_for_update().get(pk=rule.pk)
        rule.name, rule.dimension, rule.priority = checked.name, checked.dimension, checked.priority
        rule.conditions, rule.result, rule.is_active = checked.conditions, checked.result, is_active
        rule.save()
    return rule, checked.warnings


@transaction.atomic
def set_rule_active(*, actor: Any, rule: SegmentationRule, is_active: bool) -> SegmentationRule:
    _require_admin(actor)
    with acting_as(actor):
        rule = SegmentationRule.objects.select_for_update().get(pk=rule.pk)
        if rule.is_active != is_active:
            rule.is_active = is_active
            rule.save(update_fields=["is_active"])
    return rule


def _segment_for_write(
    actor: Any, professional: Professional, dimension: str
) -> tuple[Professional, Segment]:
    if dimension not in DIMENSION_CHOICES:
        raise DomainError(_("未知维度“{d}”。").format(d=dimension), fields={"dimension": [_("未知维度。")]})
    professional = get_visible_or_404(
        Professional.objects.select_for_update(of=("self",)).select_related("institution"),
        user=actor,
        pk=professional.pk,
    )
    if not may_override(actor):
        raise NotAllowed(_("只有经理或系统管理员可以人工调整客户分类。"))
    segment = (
        Segment.objects.select_for_update().filter(professional=professional, dimension=dimension).first()
    )
    if segment is None:
        # No rule has computed this dimension yet: the computed value is what people entered.
        segment = Segment(
            professional=professional,
            dimension=dimension,
            computed_value=str(getattr(professional, dimension)),
            explanation=_("尚未按规则计算，当前值为人工录入"),
            computed_at=timezone.now(),
        )
    return professional, segment


@transaction.atomic
def override_segment(
    *, actor: Any, professional: Professional, dimension: str, value: str, reason: str
) -> Segment:
    """Set a manager's value for one dimension, with the reason (kept in the history; survives recompute)."""
    professional, segment = _segment_for_write(actor, professional, dimension)
    reason = (reason or "").strip()
    if not reason:
        raise DomainError(_("人工调整必须填写原因。"), fields={"override_reason": [_("请说明调整原因。")]})
    if len(reason) > 300:
        raise DomainError(
            _("调整原因最多 300 个字符。"), fields={"override_reason": [_("最多 300 个字符。")]}
        )
    try:
        value = clean_result(dimension, value)
    except DomainError as exc:
        raise DomainError(exc.message, fields={"override_value": [exc.message]}) from None
    with acting_as(actor):
        segment.override_value, segment.override_reason = value, reason
        segment.override_by, segment.override_at = actor, timezone.now()
        segment._change_reason = reason  # type: ignore[attr-defined]  # simple-history reads it
        segment.save()
        _set_effective(professional, dimension, segment.value, reason)
    return segment


@transaction.atomic
def clear_override(*, actor: Any, professional: Professional, dimension: str, reason: str = "") -> Segment:
    """Drop the override: the computed value applies again."""
    professional, segment = _segment_for_write(actor, professional, dimension)
    if segment.pk is None or not segment.override_value:
        raise DomainError(_("该维度没有人工调整。"), fields={"override_value": [_("没有人工调整。")]})
    why = (reason or "").strip() or _("取消人工调整")
    with acting_as(actor):
        segment.override_value = segment.override_reason = ""
        segment.override_by, segment.override_at = None, None
        segment._change_reason = why  # type: ignore[attr-defined]
        segment.save()
        _set_effective(professional, dimension, segment.value, why)
    return segment


def _set_effective(professional: Professional, dimension: str, value: str, reason: str) -> None:
    if getattr(professional, dimension) != value:
        setattr(professional, dimension, value)
        professional._change_reason = reason  # type: ignore[attr-defined]
        professional.save(update_fields=[dimension, "updated_at"])
    # A changed potential or stage may move the tier.
    if dimension != Dimension.TIER:
        recompute_professional(professional)


def recompute_needed_for(rules: dict[str, list[SegmentationRule]], changed_fields: Iterable[str]) -> bool:
    """Whether a change to `changed_fields` of a professional or institution can move a segment."""
    read = {c.get("field") for dim_rules in rules.values() for r in dim_rules for c in (r.conditions or [])}
    return any(f in read or f"institution.{f}" in read for f in changed_fields)


def rule_driven_dimensions() -> set[str]:
    return set(SegmentationRule.objects.filter(is_active=True).values_list("dimension", flat=True).distinct())


@transaction.atomic
def start_recompute(*, actor: Any) -> SegmentationRun:
    """Queue a recompute of every professional; the task starts once this transaction commits."""
    _require_admin(actor)
    running = SegmentationRun.objects.filter(
        status__in=[SegmentationRun.Status.QUEUED, SegmentationRun.Status.RUNNING]
    ).first()
    if running is not None:
        return running
    run = SegmentationRun.objects.create(started_by=actor, total=Professional.objects.count())
    from pharmacrm.customers.tasks import recompute_segments

    transaction.on_commit(lambda: recompute_segments.enqueue(run_id=run.pk))
    return run


def run_recompute(run_id: int, *, batch_size: int = 500) -> SegmentationRun:
    """Process a queued run in batches, storing progress after each; idempotent (a finished run is left alone)."""
    run = SegmentationRun.objects.select_related("started_by").get(pk=run_id)
    if run.is_finished:
        return run
    SegmentationRun.objects.filter(pk=run.pk).update(
        status=SegmentationRun.Status.RUNNING, started_at=timezone.now(), total=Professional.objects.count()
    )
    processed = changed = 0
    last_id = 0
    try:
        with acting_as(run.started_by):
            rules = active_rules()
            while True:
                with transaction.atomic():
                    batch = list(
                        Professional.objects.filter(pk__gt=last_id)
                        .select_related("institution")
                        .order_by("pk")[:batch_size]
                    )
                    if not batch:
                        break
                    changed += recompute_batch(batch, rules=rules)
                processed += len(batch)
                last_id = batch[-1].pk
                SegmentationRun.objects.filter(pk=run.pk).update(processed=processed, changed=changed)
    except Exception as exc:
        SegmentationRun.objects.filter(pk=run.pk).update(
            status=SegmentationRun.Status.FAILED, finished_at=timezone.now(), error=str(exc)[:500]
        )
        raise
    SegmentationRun.objects.filter(pk=run.pk).update(
        status=SegmentationRun.Status.DONE,
        processed=processed,
        changed=changed,
        total=max(processed, run.total),
        finished_at=timezone.now(),
    )
    run.refresh_from_db()
    return run
