"""Exports of the institution and professional lists, with the import template's columns.

An exported file re-imports cleanly: same headers, choices as labels (the import accepts labels
and codes), references by external id. The filters are the list pages' own filtersets, and the
rows come from the visibility scope.

Who may export (PIPL least access, RULES_CN §5 — every export is logged in core.ExportLog, and an
export that carries contact details in the clear is also written to the compliance app's
sensitive-access log):

- admin and director: every customer;
- regional and district managers: their subtree; commercial (KA) managers: their territories;
- reps: only their own customers (their territories), and never the contact columns (mobile,
  WeChat id, email) — they have them on the profile page, one logged view at a time;
- service, marketing and compliance: no list exports (compliance reads the export log; subject
  requests have their own export).

Roles the active policy masks (compliance.policy.contacts_masked_for) lose the contact columns too.
"""

from __future__ import annotations

from operator import attrgetter
from typing import Any

from django.db.models import QuerySet
from django.utils.translation import gettext_lazy

from pharmacrm.compliance import services as compliance_services
from pharmacrm.compliance.models import SensitiveAccess
from pharmacrm.compliance.policy import contacts_masked_for
from pharmacrm.core.exports.base import ExportColumn, ExportSpec, label, local_time, register
from pharmacrm.core.models import MANAGER_ROLES, Role
from pharmacrm.core.visibility import visible
from pharmacrm.customers.importing import institutions as institution_import
from pharmacrm.customers.importing import professionals as professional_import
from pharmacrm.customers.models import Institution, Professional
from pharmacrm.customers.privacy import CONTACT_FIELDS

EXPORT_ROLES = frozenset({Role.ADMIN, Role.DIRECTOR, *MANAGER_ROLES, Role.COMMERCIAL, Role.REP})
CONTACT_EXPORT_ROLES = frozenset({Role.ADMIN, Role.DIRECTOR, *MANAGER_ROLES, Role.COMMERCIAL})


def _headers(columns: list[Any]) -> dict[str, str]:
    return {c.name: c.header for c in columns}


def may_export_contacts(user: Any) -> bool:
    return bool(user.roles & CONTACT_EXPORT_ROLES) and not contacts_masked_for(user)


def _name(obj: Any) -> str:
    return obj.name if obj is not None else ""


@register
class InstitutionExport(ExportSpec):
    name = "institutions"
    label = gettext_lazy("机构")
    model = Institution

    def filterset_class(self) -> Any:
        from pharmacrm.customers.views import InstitutionListView

        return InstitutionListView.filterset_class

    def may_export(self, user: Any) -> bool:
        return bool(getattr(user, "is_authenticated", False) and user.roles & EXPORT_ROLES)

    def queryset(self, user: Any) -> QuerySet[Institution]:
        return (
            visible(Institution, user=user)
            .select_related("province", "city", "county", "parent", "territory")
            .order_by("pk")
        )

    def columns(self, user: Any) -> list[ExportColumn]:
        h = _headers(institution_import.COLUMNS)
        I = Institution  # noqa: E741
        return [
            ExportColumn("external_id", h["external_id"], lambda i: i.external_id or ""),
            ExportColumn("name", h["name"], lambda i: i.name),
            ExportColumn("aliases", h["aliases"], lambda i: i.aliases),
            ExportColumn("kind", h["kind"], lambda i: label(I.Kind, i.kind)),
            ExportColumn("grade", h["grade"], lambda i: label(I.Grade, i.grade)),
            ExportColumn("ownership", h["ownership"], lambda i: label(I.Ownership, i.ownership)),
            ExportColumn("beds", h["beds"], lambda i: i.beds),
            ExportColumn("outpatient_volume", h["outpatient_volume"], lambda i: i.outpatient_volume),
            ExportColumn("province", h["province"], lambda i: _name(i.province)),
            ExportColumn("city", h["city"], lambda i: _name(i.city)),
            ExportColumn("county", h["county"], lambda i: _name(i.county)),
            ExportColumn("address", h["address"], lambda i: i.address),
            ExportColumn("latitude", h["latitude"], lambda i: i.latitude),
            ExportColumn("longitude", h["longitude"], lambda i: i.longitude),
            ExportColumn("parent", h["parent"], lambda i: (i.parent.external_id or "") if i.parent else ""),
            ExportColumn("network", h["network"], lambda i: label(I.Network, i.network)),
            ExportColumn("territory", h["territory"], lambda i: i.territory.code if i.territory else ""),
            ExportColumn("status", h["status"], lambda i: label(I.Status, i.status)),
            ExportColumn("updated_at", h["updated_at"], lambda i: local_time(i.updated_at)),
        ]


@register
class ProfessionalExport(ExportSpec):
    name = "professionals"
    label = gettext_lazy("医务人员")
    model = Professional

    def filterset_class(self) -> Any:
        from pharmacrm.customers.views import ProfessionalListView

        return ProfessionalListView.filterset_class

    def may_export(self, user: Any) -> bool:
        return bool(getattr(user, "is_authenticated", False) and user.roles & EXPORT_ROLES)

    def queryset(self, user: Any) -> QuerySet[Professional]:
        return visible(Professional, user=user).select_related("institution", "department").order_by("pk")

    def columns(self, user: Any) -> list[ExportColumn]:
        h = _headers(professional_import.COLUMNS)
        P = Professional
        columns = [
            ExportColumn("external_id", h["external_id"], lambda p: p.external_id or ""),
            ExportColumn("name", h["name"], lambda p: p.name),
            ExportColumn("gender", h["gender"], lambda p: label(P.Gender, p.gender)),
            ExportColumn("title", h["title"], lambda p: label(P.Title, p.title)),
            ExportColumn("role", h["role"], lambda p: label(P.Role, p.role)),
            ExportColumn(
                "institution_external_id",
                h["institution_external_id"],
                lambda p: p.institution.external_id or "",
            ),
            ExportColumn("institution_name", h["institution_name"], lambda p: p.institution.name),
            ExportColumn("department", h["department"], lambda p: _name(p.department)),
            *(ExportColumn(field, h[field], attrgetter(field), personal=True) for field in CONTACT_FIELDS),
            ExportColumn(
                "preferred_channel", h["preferred_channel"], lambda p: label(P.Channel, p.preferred_channel)
            ),
            ExportColumn("preferred_time", h["preferred_time"], lambda p: p.preferred_time),
            ExportColumn("therapeutic_areas", h["therapeutic_areas"], lambda p: p.therapeutic_areas),
            ExportColumn(
                "product_attitude", h["product_attitude"], lambda p: label(P.Attitude, p.product_attitude)
            ),
            ExportColumn(
                "prescribing_potential",
                h["prescribing_potential"],
                lambda p: label(P.Potential, p.prescribing_potential),
            ),
            ExportColumn(
                "engagement_stage", h["engagement_stage"], lambda p: label(P.Stage, p.engagement_stage)
            ),
            ExportColumn("influence_decision", h["influence_decision"], lambda p: p.influence_decision),
            ExportColumn(
                "influence_prescribing", h["influence_prescribing"], lambda p: p.influence_prescribing
            ),
            ExportColumn("influence_academic", h["influence_academic"], lambda p: p.influence_academic),
            ExportColumn("status", h["status"], lambda p: label(P.Status, p.status)),
            ExportColumn("tier", h["tier"], lambda p: label(P.Tier, p.tier)),
            ExportColumn("completeness", h["completeness"], lambda p: p.completeness),
            ExportColumn("updated_at", h["updated_at"], lambda p: local_time(p.updated_at)),
        ]
        # Free-text profile fields (interests, concerns, habits, personal notes) stay out of list
        # exports: they are personal and only useful on the profile page.
        if not may_export_contacts(user):
            columns = [c for c in columns if not c.personal]
        return columns

    def after_export(self, *, user: Any, columns: list[ExportColumn], rows: int, ip: str | None) -> None:
        personal = [c.name for c in columns if c.personal]
        if personal and rows:
            compliance_services.log_sensitive_access(
                user=user,
                kind=SensitiveAccess.Kind.EXPORT,
                model="Professional",
                fields=personal,
                rows=rows,
                ip=ip,
            )
