"""Reads that assemble the profile pages for a user: a professional's whole profile, an institution's overview.

Each piece is one query whatever the number of rows, so the pages' query counts stay flat. Apps
that build on customers add panels to the institution page through `register_institution_panel`
(commercial adds its listings) without customers importing them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Avg, Count, Prefetch, Q

from pharmacrm.core.models import MANAGER_ROLES, Role
from pharmacrm.core.visibility import visible
from pharmacrm.customers import privacy, quality, segmentation, timeline
from pharmacrm.customers.models import (
    Affiliation,
    Department,
    DevelopmentPlan,
    DevelopmentStep,
    Dimension,
    Institution,
    KeyDate,
    Need,
    Professional,
    ProfileRequirement,
    Segment,
)
from pharmacrm.customers.services import may_edit


@dataclass
class SegmentView:
    dimension: str
    label: str
    value: str
    value_label: str
    segment: Segment | None
    rule_driven: bool
    form: Any = None  # the override form, for those who may override

    @property
    def is_overridden(self) -> bool:
        return bool(self.segment and self.segment.override_value)

    @property
    def computed_label(self) -> str:
        if self.segment is None:
            return self.value_label
        return segmentation.choice_label(
            segmentation.DIMENSION_CHOICES[self.dimension], self.segment.computed_value
        )


@dataclass
class ProfessionalProfile:
    professional: Professional
    contacts: dict[str, str]
    quality: quality.ProfileQuality
    key_dates: list[KeyDate]
    needs: list[Need]
    affiliations: list[Affiliation]
    segments: list[SegmentView]
    segment_history: list[Any]
    plans: list[DevelopmentPlan]
    events: list[timeline.Event]
    can_edit: bool
    can_override: bool
    requirements: list[ProfileRequirement] = field(default_factory=list)
    # Key dates and personal notes withheld from roles the policy masks (PIPL least access).
    personal_hidden: bool = False

    @property
    def open_needs(self) -> list[Need]:
        return [n for n in self.needs if not n.met and n.status != Need.Status.DROPPED]

    @property
    def closed_needs(self) -> list[Need]:
        return [n for n in self.needs if n.met or n.status == Need.Status.DROPPED]

    @property
    def current_affiliations(self) -> list[Affiliation]:
        return [a for a in self.affiliations if a.valid_to is None]

    @property
    def past_affiliations(self) -> list[Affiliation]:
        return [a for a in self.affiliations if a.valid_to is not None]


def professional_profile(
    *, professional: Professional, user: Any, ip: str | None = None
) -> ProfessionalProfile:
    key_dates = list(visible(KeyDate, user=user).filter(professional=professional).order_by("month", "day"))
    needs = list(
        visible(Need, user=user)
        .filter(professional=professional)
        .select_related("created_by")
        .order_by("met", "-found_on", "-id")
    )
    affiliations = list(
        Affiliation.objects.filter(professional=professional)
        .select_related("institution", "department")
        .order_by("valid_to", "-is_primary", "-valid_from", "-id")
    )
    requirements = list(ProfileRequirement.objects.filter(role=professional.role))
    assessed = quality.assess(
        professional, requirements=requirements, key_dates=len(key_dates), needs=len(needs)
    )
    segments = {
        s.dimension: s
        for s in Segment.objects.filter(professional=professional).select_related("rule", "override_by")
    }
    driven = segmentation.rule_driven_dimensions()
    views = []
    for dimension in (Dimension.TIER, Dimension.PRESCRIBING_POTENTIAL, Dimension.ENGAGEMENT_STAGE):
        value = str(getattr(professional, dimension))
        views.append(
            SegmentView(
                dimension=dimension,
                label=str(Dimension(dimension).label),
                value=value,
                value_label=segmentation.choice_label(segmentation.DIMENSION_CHOICES[dimension], value),
                segment=segments.get(dimension),
                rule_driven=dimension in driven,
            )
        )
    history: Any = Segment.history
    segment_history = list(
        history.filter(professional_id=professional.pk)
        .select_related("history_user")
        .order_by("-history_date")[:10]
    )
    can_edit = may_edit(user)
    personal_hidden = privacy.personal_details_hidden(user)
    if personal_hidden:
        key_dates = []
    else:
        shown = ["key_dates"] if key_dates else []
        if can_edit and professional.personal_notes:
            shown.append("personal_notes")
        privacy.log_personal_view(professional=professional, user=user, fields=shown, ip=ip)
    plans = list(
        visible(DevelopmentPlan, user=user)
        .filter(professional=professional)
        .select_related("owner")
        .prefetch_related(Prefetch("steps", queryset=DevelopmentStep.objects.order_by("position", "id")))
        .order_by("status", "due_on", "id")
    )
    return ProfessionalProfile(
        professional=professional,
        contacts=privacy.contact_details(professional=professional, user=user, ip=ip),
        quality=assessed,
        key_dates=key_dates,
        needs=needs,
        affiliations=affiliations,
        segments=views,
        segment_history=segment_history,
        plans=plans,
        events=timeline.timeline_for(professional, user=user, limit=30),
        can_edit=can_edit,
        can_override=segmentation.may_override(user),
        requirements=requirements,
        personal_hidden=personal_hidden,
    )


# --- Institutions ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Panel:
    title: Any
    template: str
    context: dict[str, Any]


InstitutionPanel = Callable[[Institution, Any], Panel | None]
_institution_panels: dict[str, InstitutionPanel] = {}


def register_institution_panel(name: str, panel: InstitutionPanel) -> None:
    _institution_panels[name] = panel


def institution_panels(institution: Institution, *, user: Any) -> list[Panel]:
    panels = [panel(institution, user) for panel in _institution_panels.values()]
    return [p for p in panels if p is not None]


def sees_coverage(user: Any) -> bool:
    return bool(user.has_role(Role.ADMIN, Role.DIRECTOR, *MANAGER_ROLES))


@dataclass(frozen=True)
class TierCoverage:
    tier: str
    label: str
    count: int
    complete: int


def coverage(*, institution: Institution, user: Any) -> dict[str, Any]:
    """Professionals of the institution by tier, and how many of each have a complete (≥ 80 %) profile."""
    rows = (
        visible(Professional, user=user)
        .filter(institution=institution, status=Professional.Status.ACTIVE)
        .values("tier")
        .annotate(
            n=Count("id"), complete=Count("id", filter=Q(completeness__gte=80)), avg=Avg("completeness")
        )
    )
    by_tier: dict[str, dict[str, Any]] = {r["tier"]: dict(r) for r in rows}
    tiers = [
        TierCoverage(
            tier=str(value),
            label=str(label),
            count=by_tier.get(value, {}).get("n", 0),
            complete=by_tier.get(value, {}).get("complete", 0),
        )
        for value, label in Professional.Tier.choices
    ]
    total = sum(t.count for t in tiers)
    weighted = sum((r["avg"] or 0) * r["n"] for r in by_tier.values())
    return {"tiers": tiers, "total": total, "avg_completeness": round(weighted / total) if total else 0}


def institution_overview(*, institution: Institution, user: Any) -> dict[str, Any]:
    departments = list(
        visible(Department, user=user)
        .filter(institution=institution)
        .annotate(professional_count=Count("professionals"))
        .order_by("name")[:200]
    )
    professionals = list(
        visible(Professional, user=user)
        .filter(institution=institution)
        .select_related("department")
        .order_by("tier", "name", "id")[:100]
    )
    plans = list(
        visible(DevelopmentPlan, user=user)
        .filter(Q(institution=institution) | Q(professional__institution=institution))
        .select_related("owner", "professional")
        .annotate(
            step_count=Count("steps"), done_count=Count("steps", filter=Q(steps__done_on__isnull=False))
        )
        .order_by("status", "due_on", "id")[:50]
    )
    return {
        "departments": departments,
        "professionals": professionals,
        "professional_count": visible(Professional, user=user).filter(institution=institution).count(),
        "plans": plans,
        "coverage": coverage(institution=institution, user=user) if sees_coverage(user) else None,
        "panels": institution_panels(institution, user=user),
        "can_edit": may_edit(user),
    }
