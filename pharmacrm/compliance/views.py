"""Compliance pages: dashboard of exceptions, rep registrations, the policy in force, access log, subject requests."""

from __future__ import annotations

import json
from typing import Any

import django_filters
import django_tables2 as tables
from django.contrib import messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _l
from django.views.decorators.http import require_POST

from pharmacrm.compliance import selectors, services
from pharmacrm.compliance.forms import RegistrationForm, RuleForm, SubjectRequestForm, VerifyForm
from pharmacrm.compliance.models import (
    ComplianceEvent,
    DataSubjectRequest,
    PolicyRule,
    PolicySet,
    SensitiveAccess,
)
from pharmacrm.compliance.rules import CATALOGUE
from pharmacrm.core.errors import DomainError
from pharmacrm.core.models import Role, User
from pharmacrm.core.views import ObjectListView, RoleRequiredMixin, actor, role_required
from pharmacrm.core.visibility import get_visible_or_404, visible

OFFICERS = (Role.COMPLIANCE, Role.ADMIN)


def _apply_errors(form: Any, exc: DomainError) -> None:
    for field, errors in exc.fields.items():
        for error in errors:
            form.add_error(field if field in form.fields else None, error)
    if not exc.fields:
        form.add_error(None, exc.message)


@role_required(*OFFICERS, Role.DIRECTOR)
def dashboard(request: HttpRequest) -> HttpResponse:
    context = selectors.dashboard(user=request.user)
    context["rule_titles"] = {code: str(d.title) for code, d in CATALOGUE.items()}
    context["title"] = _("合规概览")
    return render(request, "compliance/dashboard.html", context)


@role_required(*OFFICERS, Role.DIRECTOR, Role.REGIONAL_MANAGER, Role.DISTRICT_MANAGER)
def registrations(request: HttpRequest) -> HttpResponse:
    rows = selectors.rep_registration_status(user=request.user)
    only = request.GET.get("show")
    if only == "invalid":
        rows = [r for r in rows if not r.valid_today]
    elif only == "expiring":
        rows = [r for r in rows if r.expiring]
    return render(
        request,
        "compliance/registrations.html",
        {
            "rows": rows,
            "show": only,
            "title": _("医药代表备案"),
            "can_edit": actor(request).has_role(*OFFICERS),
        },
    )


@role_required(*OFFICERS)
def registration_edit(request: HttpRequest, user_id: int) -> HttpResponse:
    rep = get_visible_or_404(User, user=request.user, pk=user_id)
    current = rep.rep_registrations.order_by("-filed_on").first()
    initial = (
        {
            "status": current.status,
            "number": current.number,
            "filed_on": current.filed_on,
            "expires_on": current.expires_on,
            "notes": current.notes,
        }
        if current
        else {}
    )
    form = RegistrationForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.record_registration(actor=actor(request), rep=rep, **form.cleaned_data)
            messages.success(request, _("已保存 {rep} 的备案信息。").format(rep=rep))
            return redirect("compliance:registrations")
        except DomainError as exc:
            _apply_errors(form, exc)
    return render(
        request,
        "compliance/form.html",
        {
            "form": form,
            "title": _("{rep} 的备案").format(rep=rep),
            "breadcrumbs": [(_("医药代表备案"), "/compliance/registrations/"), (str(rep), None)],
        },
    )


@role_required(*OFFICERS, Role.DIRECTOR)
def policy(request: HttpRequest) -> HttpResponse:
    sets = list(PolicySet.objects.prefetch_related("rules").order_by("-is_active", "code"))
    for policy_set in sets:
        policy_set.rule_rows = [  # type: ignore[attr-defined]
            {"rule": rule, "definition": CATALOGUE.get(rule.code)} for rule in policy_set.rules.all()
        ]
    return render(
        request,
        "compliance/policy.html",
        {"sets": sets, "title": _("合规政策"), "can_edit": actor(request).has_role(*OFFICERS)},
    )


@role_required(*OFFICERS)
def rule_edit(request: HttpRequest, rule_id: int) -> HttpResponse:
    rule = get_object_or_404(PolicyRule.objects.select_related("policy_set"), pk=rule_id)
    form = RuleForm(
        request.POST or None,
        initial={"params": json.dumps(rule.params, ensure_ascii=False), "enabled": rule.enabled},
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.set_rule(
                actor=actor(request),
                policy_set=rule.policy_set,
                code=rule.code,
                params=form.cleaned_data["params"],
                enabled=form.cleaned_data["enabled"],
            )
            messages.success(request, _("规则已更新。"))
            return redirect("compliance:policy")
        except DomainError as exc:
            _apply_errors(form, exc)
    definition = CATALOGUE.get(rule.code)
    return render(
        request,
        "compliance/form.html",
        {
            "form": form,
            "title": f"{rule.policy_set} · {definition.title if definition else rule.code}",
            "help": definition.basis if definition else "",
            "breadcrumbs": [(_("合规政策"), "/compliance/policy/"), (rule.code, None)],
        },
    )


@require_POST
@role_required(*OFFICERS)
def activate_set(request: HttpRequest, set_id: int) -> HttpResponse:
    policy_set = get_object_or_404(PolicySet, pk=set_id)
    try:
        services.activate_policy_set(actor=actor(request), policy_set=policy_set)
        messages.success(request, _("已启用：{name}").format(name=policy_set.name))
    except DomainError as exc:
        messages.error(request, exc.message)
    return redirect("compliance:policy")


class AccessTable(tables.Table):
    class Meta:
        model = SensitiveAccess
        fields = ("at", "user", "kind", "model", "object_id", "fields", "rows", "ip")
        attrs = {"class": "table table-sm align-middle"}


class AccessFilter(django_filters.FilterSet):
    user = django_filters.CharFilter(field_name="user__username", label=_l("用户名"))
    at = django_filters.DateFromToRangeFilter(label=_l("日期"))

    class Meta:
        model = SensitiveAccess
        fields = ["kind", "model"]


class AccessLogView(RoleRequiredMixin, ObjectListView):
    required_roles = OFFICERS
    model = SensitiveAccess
    table_class = AccessTable
    filterset_class = AccessFilter
    title = _l("敏感信息访问记录")

    def get_queryset(self) -> QuerySet[Any]:
        return selectors.access_log(user=self.request.user)


class EventTable(tables.Table):
    class Meta:
        model = ComplianceEvent
        fields = ("at", "kind", "rule", "actor", "subject", "message")
        attrs = {"class": "table table-sm align-middle"}


class EventFilter(django_filters.FilterSet):
    class Meta:
        model = ComplianceEvent
        fields = ["kind", "rule"]


class EventListView(RoleRequiredMixin, ObjectListView):
    required_roles = (*OFFICERS, Role.DIRECTOR, Role.REGIONAL_MANAGER, Role.DISTRICT_MANAGER)
    model = ComplianceEvent
    table_class = EventTable
    filterset_class = EventFilter
    title = _l("合规事件")

    def get_queryset(self) -> QuerySet[Any]:
        return selectors.events(user=self.request.user)


@role_required(*OFFICERS, Role.SERVICE)
def requests(request: HttpRequest) -> HttpResponse:
    form = SubjectRequestForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            created = services.open_subject_request(actor=actor(request), **form.cleaned_data)
            messages.success(request, _("已受理，答复期限 {due}。").format(due=created.due_on))
            return redirect("compliance:request_detail", created.pk)
        except DomainError as exc:
            _apply_errors(form, exc)
    rows = visible(DataSubjectRequest, user=request.user).select_related("professional")
    return render(
        request, "compliance/requests.html", {"form": form, "rows": rows, "title": _("个人信息权利请求")}
    )


@role_required(*OFFICERS, Role.SERVICE)
def request_detail(request: HttpRequest, pk: int) -> HttpResponse:
    subject_request = get_visible_or_404(
        DataSubjectRequest.objects.select_related("professional"), user=request.user, pk=pk
    )
    form = VerifyForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.verify_subject_request(
                actor=actor(request), request_id=pk, note=form.cleaned_data["note"]
            )
            messages.success(request, _("已核验身份。"))
            return redirect("compliance:request_detail", pk)
        except DomainError as exc:
            _apply_errors(form, exc)
    return render(
        request,
        "compliance/request_detail.html",
        {
            "object": subject_request,
            "form": form,
            "title": str(subject_request),
            "breadcrumbs": [(_("个人信息权利请求"), "/compliance/requests/"), (str(subject_request), None)],
            "can_fulfil": actor(request).has_role(*OFFICERS),
        },
    )
