"""PIPL for professionals: masked and logged contact details, subject-request export and erasure, retention.

Export and erasure walk every model that points at a professional (Django's related-object
introspection), so records added by later capabilities (visits, cases…) are included without
this module knowing them. Erasure anonymises in place: the professional row stays (so counts,
coverage and sales aggregates stay consistent) and the audit trail keeps who changed what and
when, but the personal values are scrubbed from the current row and its history.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import zipfile
from collections.abc import Callable
from typing import Any

from django.core.files.base import ContentFile
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models, transaction
from django.forms.models import model_to_dict
from django.utils import timezone
from django.utils.translation import gettext as _

from pharmacrm.compliance import services as compliance_services
from pharmacrm.compliance.models import DataSubjectRequest, RetentionRule, SensitiveAccess
from pharmacrm.compliance.policy import contacts_masked_for, mask
from pharmacrm.core.errors import Conflict, DomainError
from pharmacrm.core.models import User
from pharmacrm.customers.models import KeyDate, Need, Professional

CONTACT_FIELDS = ("mobile", "wechat_id", "email")
# Everything that identifies or describes the person, cleared on erasure.
PERSONAL_FIELDS = (
    *CONTACT_FIELDS,
    "preferred_time",
    "interests",
    "current_concerns",
    "academic_posts",
    "publications",
    "prescribing_habits",
    "therapeutic_areas",
    "personal_notes",
)

# Callables that say why a professional cannot be erased yet (e.g. an open adverse-event case
# must be kept for the legal reporting clock). Apps that hold such records register one here.
ErasureBlocker = Callable[[Professional], list[str]]
erasure_blockers: list[ErasureBlocker] = []


# --- Contact details: masked for some roles, every clear view logged ---------------------------------


def contact_details(*, professional: Professional, user: Any, ip: str | None = None) -> dict[str, str]:
    """The contact fields as this user may see them; a clear view of a non-empty field is logged."""
    values = {name: getattr(professional, name) for name in CONTACT_FIELDS}
    if contacts_masked_for(user):
        return {name: mask(value) for name, value in values.items()}
    shown = [name for name, value in values.items() if value]
    if shown:
        compliance_services.log_sensitive_access(
            user=user,
            kind=SensitiveAccess.Kind.VIEW,
            model="Professional",
            object_id=professional.pk,
            fields=shown,
            ip=ip,
        )
    return values


def personal_details_hidden(user: Any) -> bool:
    """Roles the policy masks (they need the person, not the person's life) see no key dates or notes."""
    return contacts_masked_for(user)


def log_personal_view(
    *, professional: Professional, user: Any, fields: list[str], rows: int = 1, ip: str | None = None
) -> None:
    """Log a clear view of the personal fields shown (key dates, personal notes); nothing shown, nothing logged."""
    if fields:
        compliance_services.log_sensitive_access(
            user=user,
            kind=SensitiveAccess.Kind.VIEW,
            model="Professional",
            object_id=professional.pk,
            fields=fields,
            rows=rows,
            ip=ip,
        )


# --- Export ------------------------------------------------------------------------------------------------


def _related_rows(professional: Professional) -> dict[str, list[dict[str, Any]]]:
    sections: dict[str, list[dict[str, Any]]] = {}
    for rel in professional._meta.related_objects:
        if not (rel.one_to_many or rel.one_to_one) or rel.related_model.__name__.startswith("Historical"):
            continue
        accessor = rel.get_accessor_name()
        if accessor is None:
            continue
        related = getattr(professional, accessor, None)
        if related is None:
            continue
        rows = list(related.all()) if hasattr(related, "all") else [related]
        if rows:
            label = str(rel.related_model._meta.verbose_name)
            sections[label] = [model_to_dict(row) for row in rows]
    return sections


class _ExportEncoder(DjangoJSONEncoder):
    def default(self, o: Any) -> Any:
        try:
            return super().default(o)
        except TypeError:
            return str(o)  # file fields, money and other values: their text form


def export_professional_data(*, professional: Professional) -> bytes:
    """A zip with data.json (machine-readable) and data.xlsx (readable), every record about the person."""
    from openpyxl import Workbook  # on use, as core.spreadsheets does: no process needs it at start-up

    profile = model_to_dict(professional, exclude=["confirmed_fields"])
    sections = _related_rows(professional)
    payload = {"professional": profile, "related": sections, "exported_at": timezone.now()}
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = str(_("档案"))
    for key, value in profile.items():
        label = str(getattr(Professional._meta.get_field(key), "verbose_name", key))
        sheet.append([label, "" if value is None else str(value)])
    for label, rows in sections.items():
        ws = workbook.create_sheet(title=label[:31])
        if rows:
            ws.append(list(rows[0].keys()))
            for row in rows:
                ws.append(["" if v is None else str(v) for v in row.values()])
    xlsx = io.BytesIO()
    workbook.save(xlsx)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("data.json", json.dumps(payload, cls=_ExportEncoder, ensure_ascii=False, indent=2))
        archive.writestr("data.xlsx", xlsx.getvalue())
    return buffer.getvalue()


def _verified_request(*, request_id: int, kinds: set[str]) -> DataSubjectRequest:
    request = (
        DataSubjectRequest.objects.select_for_update(of=("self",))
        .select_related("professional")
        .get(pk=request_id)
    )
    if request.kind not in kinds:
        raise DomainError(_("请求类型不符。"))
    if request.status != DataSubjectRequest.Status.VERIFIED or request.professional is None:
        raise DomainError(_("请求尚未核验身份或未关联医务人员，不能处理。"))
    return request


@transaction.atomic
def fulfil_export_request(*, actor: User, request_id: int) -> DataSubjectRequest:
    request = _verified_request(request_id=request_id, kinds={"access", "export"})
    professional = request.professional
    assert professional is not None
    content = export_professional_data(professional=professional)
    request.export_file.save(f"dsr-{request.pk}.zip", ContentFile(content), save=False)
    compliance_services.log_sensitive_access(
        user=actor,
        kind=SensitiveAccess.Kind.EXPORT,
        model="Professional",
        object_id=professional.pk,
        fields=["*"],
    )
    return compliance_services.complete_subject_request(
        actor=actor, request=request, outcome=_("已生成导出文件（JSON 与 Excel）。")
    )


# --- Erasure ------------------------------------------------------------------------------------------------


def erasure_blocked_by(professional: Professional) -> list[str]:
    reasons: list[str] = []
    for blocker in erasure_blockers:
        reasons.extend(blocker(professional))
    return reasons


@transaction.atomic
def fulfil_erasure_request(*, actor: User, request_id: int) -> DataSubjectRequest:
    """Anonymise the professional, delete their key dates and needs, scrub the same values from history."""
    request = _verified_request(request_id=request_id, kinds={"erasure"})
    assert request.professional_id is not None
    professional = Professional.objects.select_for_update().get(pk=request.professional_id)
    reasons = erasure_blocked_by(professional)
    if reasons:
        raise Conflict(_("暂不能删除：") + "；".join(reasons))
    anonymised_name = _("已删除-{id}").format(id=professional.pk)
    for name in PERSONAL_FIELDS:
        setattr(professional, name, "")
    professional.name = anonymised_name
    professional.external_id = None
    professional.gender = Professional.Gender.UNKNOWN
    professional.search_pinyin = ""
    professional.search_initials = ""
    professional.confirmed_fields = {}
    professional._change_reason = _("个人信息删除请求 #{id}").format(id=request.pk)  # type: ignore[attr-defined]
    professional.save()
    # History keeps who changed what and when; the personal values themselves go.
    historical: Any = Professional.history.model
    historical.objects.filter(id=professional.pk).update(
        name=anonymised_name, external_id=None, **dict.fromkeys(PERSONAL_FIELDS, "")
    )
    for model in (KeyDate, Need):
        model.objects.filter(professional=professional).delete()
        history_model: Any = model.history.model
        history_model.objects.filter(professional_id=professional.pk).delete()
    return compliance_services.complete_subject_request(
        actor=actor, request=request, outcome=_("已匿名化档案并删除纪念日、需求及其历史中的个人信息。")
    )


# --- Retention ------------------------------------------------------------------------------------------------


def _cutoff(months: int, on: dt.date) -> dt.datetime:
    day = on - dt.timedelta(days=round(months * 30.44))
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


def retention_plan(*, on: dt.date | None = None) -> list[tuple[RetentionRule, models.QuerySet[Any]]]:
    """What each enabled retention rule would clear today (the dry run)."""
    on = on or timezone.localdate()
    plan: list[tuple[RetentionRule, models.QuerySet[Any]]] = []
    for rule in RetentionRule.objects.filter(enabled=True):
        cutoff = _cutoff(rule.months, on)
        qs: models.QuerySet[Any]
        if rule.target == RetentionRule.Target.PERSONAL_NOTES:
            qs = Professional.objects.exclude(personal_notes="").filter(updated_at__lt=cutoff)
        elif rule.target == RetentionRule.Target.CONTACT_DETAILS:
            qs = Professional.objects.filter(status=Professional.Status.LEFT, updated_at__lt=cutoff).exclude(
                mobile="", wechat_id="", email=""
            )
        else:
            qs = SensitiveAccess.objects.filter(at__lt=cutoff)
        plan.append((rule, qs))
    return plan


def run_retention(*, dry_run: bool, on: dt.date | None = None) -> list[dict[str, Any]]:
    """Apply (or, with dry_run, only count) every enabled retention rule. Returns one line per rule."""
    report: list[dict[str, Any]] = []
    with transaction.atomic():
        for rule, qs in retention_plan(on=on):
            count = qs.count()
            if not dry_run and count:
                if rule.target == RetentionRule.Target.PERSONAL_NOTES:
                    for professional in qs.iterator():
                        professional.personal_notes = ""
                        professional._change_reason = _("保留期满自动清理")
                        professional.save(update_fields=["personal_notes", "updated_at"])
                elif rule.target == RetentionRule.Target.CONTACT_DETAILS:
                    for professional in qs.iterator():
                        professional.mobile = professional.wechat_id = professional.email = ""
                        professional._change_reason = _("保留期满自动清理")
                        professional.save(update_fields=["mobile", "wechat_id", "email", "updated_at"])
                else:
                    qs.delete()
            report.append(
                {
                    "target": rule.target,
                    "label": str(rule.get_target_display()),
                    "months": rule.months,
                    "count": count,
                }
            )
    return report
