"""Segmentation rule pages (admin only): list, create, edit, enable/disable, and recompute with live progress."""

from __future__ import annotations

from typing import Any, cast

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST
from django_htmx.http import HttpResponseClientRedirect, HttpResponseStopPolling

from pharmacrm.core.errors import DomainError
from pharmacrm.core.models import Role, User
from pharmacrm.customers import segmentation
from pharmacrm.customers.forms import ConditionFormSet, RuleForm, conditions_initial
from pharmacrm.customers.models import Dimension, SegmentationRule, SegmentationRun
from pharmacrm.customers.service_forms import add_domain_error, is_validation, keep_touched_errors


def _actor(request: HttpRequest) -> User:
    """The signed-in user (login is required before any write is reached)."""
    return cast(User, request.user)


def _require_admin(request: HttpRequest) -> None:
    if not request.user.has_role(Role.ADMIN):  # type: ignore[union-attr]
        raise PermissionDenied(_("只有系统管理员可以维护分类规则。"))


def _rules_context() -> dict[str, Any]:
    rules = list(SegmentationRule.objects.order_by("dimension", "priority", "id"))
    grouped = [(Dimension(dim).label, [r for r in rules if r.dimension == dim]) for dim in Dimension.values]
    return {
        "groups": grouped,
        "run": SegmentationRun.objects.select_related("started_by").first(),
        "fields": segmentation.FIELDS,
        "operators": segmentation.OPERATORS,
    }


@login_required
def rule_list(request: HttpRequest) -> HttpResponse:
    _require_admin(request)
    title = _("分类规则")
    context = {**_rules_context(), "title": title, "breadcrumbs": [(title, None)]}
    return render(request, "customers/rule_list.html", context)


@login_required
def rule_edit(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    """Create or edit a rule. Errors name the condition and field inline; overlaps are shown as warnings."""
    _require_admin(request)
    rule = get_object_or_404(SegmentationRule, pk=pk) if pk else None
    data = request.POST if request.method == "POST" else None
    form = RuleForm(
        data, instance=rule, initial=None if rule else {"priority": 100, "dimension": Dimension.TIER}
    )
    formset = ConditionFormSet(data, prefix="cond", initial=conditions_initial(rule))
    warnings: list[str] = []
    if request.method == "POST" and form.is_valid() and formset.is_valid():
        conditions = [
            c
            for f in formset.forms
            if not f.cleaned_data.get("DELETE") and (c := f.as_condition()) is not None
        ]
        values = {k: form.cleaned_data[k] for k in ("name", "dimension", "priority", "result", "is_active")}
        try:
            if is_validation(request):
                warnings = segmentation.check_rule(
                    **values, conditions=conditions, rule_id=rule.pk if rule else None
                ).warnings
            else:
                saved, warnings = segmentation.save_rule(
                    actor=_actor(request), rule=rule, conditions=conditions, **values
                )
                messages.success(request, _("规则“{name}”已保存。").format(name=saved.name))
                for warning in warnings:
                    messages.warning(request, warning)
                url = reverse("customers:rule_list")
                return HttpResponseClientRedirect(url) if getattr(request, "htmx", False) else redirect(url)
        except DomainError as exc:
            _place_condition_errors(formset, exc)
            add_domain_error(form, exc)
    if is_validation(request):
        keep_touched_errors(form, request.POST)
    title = _("编辑分类规则") if rule else _("新建分类规则")
    context = {
        "form": form,
        "formset": formset,
        "warnings": warnings,
        "rule": rule,
        "title": title,
        "breadcrumbs": [(_("分类规则"), reverse("customers:rule_list")), (title, None)],
        "cancel_url": reverse("customers:rule_list"),
        "fields": segmentation.FIELDS,
        "operators": segmentation.OPERATORS,
    }
    htmx = getattr(request, "htmx", None)
    if htmx and not htmx.boosted and request.method == "POST":
        return render(request, "customers/rule_form.html#form", context)
    return render(request, "customers/rule_form.html", context)


def _place_condition_errors(formset: Any, exc: DomainError) -> None:
    """ "conditions.2.value" → the value field of the third non-empty condition row."""
    rows = [f for f in formset.forms if not f.cleaned_data.get("DELETE") and f.cleaned_data.get("field")]
    remaining = {}
    for key, messages_ in exc.fields.items():
        parts = key.split(".")
        if parts[0] == "conditions" and len(parts) >= 2 and parts[1].isdigit() and int(parts[1]) < len(rows):
            target = parts[2] if len(parts) > 2 else None
            for message in messages_:
                rows[int(parts[1])].add_error(target, message)
        else:
            remaining[key] = messages_
    exc.fields = remaining


@require_POST
@login_required
def rule_toggle(request: HttpRequest, pk: int) -> HttpResponse:
    _require_admin(request)
    rule = get_object_or_404(SegmentationRule, pk=pk)
    rule = segmentation.set_rule_active(actor=_actor(request), rule=rule, is_active=not rule.is_active)
    messages.success(
        request,
        (_("规则“{name}”已启用。") if rule.is_active else _("规则“{name}”已停用。")).format(name=rule.name),
    )
    return redirect("customers:rule_list")


@require_POST
@login_required
def recompute(request: HttpRequest) -> HttpResponse:
    """Queue a recompute of every professional; the rules page then polls its progress."""
    _require_admin(request)
    run = segmentation.start_recompute(actor=_actor(request))
    messages.info(request, _("已开始重新分类（任务 #{id}）。").format(id=run.pk))
    return redirect(reverse("customers:rule_list") + "#run")


@login_required
def run_progress(request: HttpRequest, pk: int) -> HttpResponse:
    """The progress partial the rules page polls every second until the run is finished."""
    _require_admin(request)
    run = get_object_or_404(SegmentationRun.objects.select_related("started_by"), pk=pk)
    response = render(request, "customers/rule_list.html#run", {"run": run})
    if run.is_finished and getattr(request, "htmx", False):
        # Swap the final state in and stop polling.
        response.status_code = HttpResponseStopPolling.status_code
    return response
