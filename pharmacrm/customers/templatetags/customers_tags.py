"""Template helpers of the customer pages: tier badges, rule conditions in words, field labels."""

from __future__ import annotations

from typing import Any

from django import template

from pharmacrm.customers import quality, segmentation

register = template.Library()

TIER_BADGES = {"key": "text-bg-danger", "potential": "text-bg-warning", "general": "text-bg-secondary"}


@register.filter
def tier_badge(tier: str) -> str:
    """The Bootstrap badge class of a tier."""
    return TIER_BADGES.get(tier, "text-bg-light")


@register.filter
def condition_text(cond: dict[str, Any]) -> str:
    """{"field": "role", "op": "in", "value": [...]} → “角色 属于其中之一 科室主任、院长”."""
    spec = segmentation.FIELDS.get(cond.get("field", ""))
    if spec is None:
        return str(cond)
    value = cond.get("value")
    values = value if isinstance(value, list) else [value]
    shown = "、".join(
        segmentation.choice_label(spec.choices, str(v)) if spec.choices is not None else str(v)
        for v in values
    )
    return f"{spec.label} {segmentation.OPERATORS.get(cond.get('op', ''), '')} {shown}"


@register.filter
def profile_field_label(name: str) -> str:
    return quality.field_label(name) if name in quality.REQUIRABLE_FIELDS else name


@register.filter
def dimension_value_label(value: str, dimension: str) -> str:
    choices = segmentation.DIMENSION_CHOICES.get(dimension)
    if choices is None or not value:
        return value or ""
    return segmentation.choice_label(choices, value)


@register.filter
def gap_labels(gaps: list[quality.FieldGap]) -> str:
    """Missing or stale fields as one Chinese list: “近期关注点、需求”."""
    return "、".join(g.label for g in gaps)
