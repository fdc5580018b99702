"""Pages for a professional's personal-information rights: consents, subject-request fulfilment, export download."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.http import FileResponse, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _l
from django.views.decorators.http import require_POST

from pharmacrm.compliance import services as compliance_services
from pharmacrm.compliance.models import Consent, ContactChannel, DataSubjectRequest, Purpose, SensitiveAccess
from pharmacrm.core.errors import DomainError
from pharmacrm.core.models import Role
from pharmacrm.core.views import actor, role_required
from pharmacrm.core.visibility import get_visible_or_404, visible
from pharmacrm.customers import privacy
from pharmacrm.customers.models import Professional

OFFICERS = (Role.COMPLIANCE, Role.ADMIN)


class ConsentForm(forms.Form):
    purpose = forms.ChoiceField(label=_l("目的"), choices=Purpose.choices)
    channel = forms.ChoiceField(label=_l("渠道"), choices=ContactChannel.choices)
    source = forms.ChoiceField(label=_l("来源"), choices=[("", "—"), *Consent.Source.choices], required=False)
    given_on = forms.DateField(label=_l("同意日期"), widget=forms.DateInput(attrs={"type": "date"}))
    scope = forms.CharField(label=_l("范围说明"), max_length=300, required=False)
    evidence = forms.CharField(label=_l("凭证编号/位置"), max_length=200, required=False)


@role_required(*Role.values)
def consents(request: HttpRequest, pk: int) -> HttpResponse:
    professional = get_visible_or_404(Professional, user=request.user, pk=pk)
    form = ConsentForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            compliance_services.record_consent(
                actor=actor(request), professional_id=professional.pk, **form.cleaned_data
            )
            messages.success(request, _("同意已记录。"))
            return redirect("customers:professional_consents", pk)
        except DomainError as exc:
            for field, errors in exc.fields.items():
                for error in errors:
                    form.add_error(field if field in form.fields else None, error)
    rows = visible(Consent, user=request.user).filter(professional=professional).select_related("recorded_by")
    return render(
        request,
        "customers/consents.html",
        {
            "object": professional,
            "form": form,
            "rows": rows,
            "title": _("{name} 的个人信息同意").format(name=professional),
            "breadcrumbs": [(str(professional), professional.get_absolute_url()), (_("个人信息同意"), None)],
        },
    )


@require_POST
@role_required(*Role.values)
def withdraw_consent(request: HttpRequest, pk: int, consent_id: int) -> HttpResponse:
    get_visible_or_404(Professional, user=request.user, pk=pk)
    consent = compliance_services.withdraw_consent(actor=actor(request), consent_id=consent_id)
    if consent.professional_id != pk:
        messages.error(request, _("同意记录与医务人员不符。"))
    else:
        messages.success(request, _("已撤回，该渠道即刻停止使用。"))
    return redirect("customers:professional_consents", pk)


@require_POST
@role_required(*OFFICERS)
def fulfil_subject_request(request: HttpRequest, pk: int) -> HttpResponse:
    subject_request = get_visible_or_404(DataSubjectRequest, user=request.user, pk=pk)
    try:
        if subject_request.kind == DataSubjectRequest.Kind.ERASURE:
            privacy.fulfil_erasure_request(actor=actor(request), request_id=pk)
            messages.success(request, _("已完成匿名化。"))
        else:
            privacy.fulfil_export_request(actor=actor(request), request_id=pk)
            messages.success(request, _("导出文件已生成。"))
    except DomainError as exc:
        messages.error(request, exc.message)
    return redirect("compliance:request_detail", pk)


@role_required(*OFFICERS)
def download_subject_export(request: HttpRequest, pk: int) -> HttpResponseBase:
    subject_request = get_visible_or_404(DataSubjectRequest, user=request.user, pk=pk)
    if not subject_request.export_file:
        return redirect("compliance:request_detail", pk)
    compliance_services.log_sensitive_access(
        user=actor(request),
        kind=SensitiveAccess.Kind.EXPORT,
        model="DataSubjectRequest",
        object_id=pk,
        fields=["export_file"],
        ip=request.META.get("REMOTE_ADDR"),
    )
    return FileResponse(subject_request.export_file.open("rb"), as_attachment=True, filename=f"dsr-{pk}.zip")
