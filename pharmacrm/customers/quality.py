"""Profile quality: how complete a professional's profile is for their role, which fields went stale, and who to fill in first.

Which fields count, with which weight and after how many months a confirmation expires, is data
(`ProfileRequirement` rows per professional role; defaults ship in a data migration). A field is
*missing* when it has no value, and *stale* when it has a value that was never confirmed with the
customer or was last confirmed longer ago than its requirement allows. Editing a field through the
services confirms it; `services.confirm_profile` confirms what the rep re-checked on a visit.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, cast

from django.db import models
from django.db.models import Count, QuerySet
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy as _

from pharmacrm.core.visibility import visible
from pharmacrm.customers.models import Professional, ProfileRequirement

# The profile fields a requirement may name: model fields of Professional, plus two lists.
RELATION_FIELDS = {"key_dates": _("重要纪念日"), "needs": _("需求")}
PROFILE_FIELDS = (
    "department",
    "title",
    "gender",
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
    "prescribing_potential",
    "influence_decision",
    "influence_prescribing",
    "influence_academic",
)
REQUIRABLE_FIELDS = (*PROFILE_FIELDS, *RELATION_FIELDS)


def model_field(name: str) -> models.Field[Any, Any]:
    return cast("models.Field[Any, Any]", Professional._meta.get_field(name))


_labels: dict[tuple[str, str | None], str] = {}


def field_label(name: str) -> str:
    """The field's label in the active language (looked up once per language: an import assesses
    every row, and gettext on each label of each row was a tenth of its time)."""
    key = (name, translation.get_language())
    label = _labels.get(key)
    if label is None:
        label = str(RELATION_FIELDS[name]) if name in RELATION_FIELDS else str(model_field(name).verbose_name)
        _labels[key] = label
    return label


@dataclass(frozen=True)
class FieldGap:
    field: str
    label: str
    confirmed_on: dt.date | None = None


@dataclass
class ProfileQuality:
    completeness: int
    missing: list[FieldGap] = field(default_factory=list)
    stale: list[FieldGap] = field(default_factory=list)

    @property
    def stale_count(self) -> int:
        return len(self.stale)


def requirements_by_role() -> dict[str, list[ProfileRequirement]]:
    """Every requirement, grouped by professional role (one query)."""
    grouped: dict[str, list[ProfileRequirement]] = {}
    for req in ProfileRequirement.objects.order_by("role", "field"):
        grouped.setdefault(req.role, []).append(req)
    return grouped


def _confirmed_on(professional: Professional, name: str) -> dt.date | None:
    raw = (professional.confirmed_fields or {}).get(name)
    if not raw:
        return None
    try:
        return dt.date.fromisoformat(str(raw))
    except ValueError:
        return None


def _months_before(day: dt.date, months: int) -> dt.date:
    year, month = divmod(day.month - 1 - months, 12)
    target_year, target_month = day.year + year, month + 1
    # The 31st of a month minus one month lands on the last day of the shorter month.
    for candidate in (day.day, 30, 29, 28):
        try:
            return dt.date(target_year, target_month, candidate)
        except ValueError:
            continue
    raise AssertionError("unreachable")


def is_filled(professional: Professional, name: str, *, key_dates: int, needs: int) -> bool:
    """Whether the profile has a value for `name`.

    A field with a non-blank default (product attitude, influence) only counts once someone changed
    it or confirmed it with the customer: the default is the absence of knowledge, not an answer.
    """
    if name == "key_dates":
        return key_dates > 0
    if name == "needs":
        return needs > 0
    spec = model_field(name)
    value = getattr(professional, spec.attname)
    if value in (None, ""):
        return False
    if spec.has_default() and value == spec.get_default():
        return _confirmed_on(professional, name) is not None
    return True


def assess(
    professional: Professional,
    *,
    requirements: Iterable[ProfileRequirement],
    key_dates: int,
    needs: int,
    today: dt.date | None = None,
) -> ProfileQuality:
    """Completeness (0–100, weighted) and the missing and stale fields of one profile."""
    today = today or timezone.localdate()
    total = filled_weight = 0
    missing: list[FieldGap] = []
    stale: list[FieldGap] = []
    # The heaviest gaps first: that is what a rep should ask about on the next visit.
    for req in sorted(requirements, key=lambda r: (-r.weight, r.field)):
        if req.field not in REQUIRABLE_FIELDS:
            continue
        total += req.weight
        label = field_label(req.field)
        if not is_filled(professional, req.field, key_dates=key_dates, needs=needs):
            missing.append(FieldGap(req.field, label))
            continue
        filled_weight += req.weight
        confirmed = _confirmed_on(professional, req.field)
        if confirmed is None or confirmed < _months_before(today, req.stale_after_months):
            stale.append(FieldGap(req.field, label, confirmed))
    completeness = 100 if total == 0 else filled_weight * 100 // total
    return ProfileQuality(completeness=completeness, missing=missing, stale=stale)


def recompute_profile_quality(professional: Professional) -> ProfileQuality:
    """Assess one professional and store the score and stale count (no history row: they are derived)."""
    quality = assess(
        professional,
        requirements=ProfileRequirement.objects.filter(role=professional.role),
        key_dates=professional.key_dates.count(),
        needs=professional.needs.count(),
    )
    if (professional.completeness, professional.stale_count) != (quality.completeness, quality.stale_count):
        Professional.objects.filter(pk=professional.pk).update(
            completeness=quality.completeness, stale_count=quality.stale_count
        )
        professional.completeness, professional.stale_count = quality.completeness, quality.stale_count
    return quality


def refresh_all_profile_quality(*, batch_size: int = 500) -> int:
    """Reassess every professional (staleness moves with the calendar); returns how many changed."""
    requirements = requirements_by_role()
    changed = 0
    last_id = 0
    while True:
        batch = list(
            Professional.objects.filter(pk__gt=last_id)
            .annotate(
                key_date_count=Count("key_dates", distinct=True), need_count=Count("needs", distinct=True)
            )
            .order_by("pk")[:batch_size]
        )
        if not batch:
            return changed
        dirty = []
        for p in batch:
            q = assess(
                p,
                requirements=requirements.get(p.role, []),
                key_dates=p.key_date_count,
                needs=p.need_count,
            )
            if (p.completeness, p.stale_count) != (q.completeness, q.stale_count):
                p.completeness, p.stale_count = q.completeness, q.stale_count
                dirty.append(p)
        Professional.objects.bulk_update(dirty, ["completeness", "stale_count"])
        changed += len(dirty)
        last_id = batch[-1].pk


# --- The "to fill" list -------------------------------------------------------------------------------


def to_fill(*, user: Any) -> QuerySet[Professional]:
    """The user's visible, active professionals whose profile lacks something: least complete first, then most stale."""
    return (
        visible(Professional, user=user)
        .filter(status=Professional.Status.ACTIVE)
        .exclude(completeness__gte=100, stale_count=0)
        .select_related("institution", "department")
        .annotate(key_date_count=Count("key_dates", distinct=True), need_count=Count("needs", distinct=True))
        .order_by("completeness", "-stale_count", "name", "id")
    )


def gaps_for_rows(rows: Iterable[Professional]) -> dict[int, ProfileQuality]:
    """The live assessment of each row of a `to_fill` page (one query for the requirements)."""
    requirements = requirements_by_role()
    today = timezone.localdate()
    return {
        p.pk: assess(
            p,
            requirements=requirements.get(p.role, []),
            key_dates=getattr(p, "key_date_count", 0),
            needs=getattr(p, "need_count", 0),
            today=today,
        )
        for p in rows
    }
