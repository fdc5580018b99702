"""Customer development plan pages: the list, a plan with its steps, create and edit."""

from __future__ import annotations

from typing import Any, cast

import django_filters
import django_tables2 as tables
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Prefetch, Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse, reverse_lazy
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _l
from django.views.decorators.http import require_POST

from pharmacrm.core.errors import DomainError, NotAllowed
from pharmacrm.core.models import User
from pharmacrm.core.views import ObjectDetailView, ObjectHistoryView, ObjectListView
from pharmacrm.core.visibility import get_visible_or_404
from pharmacrm.customers import services
from pharmacrm.customers.forms import PlanForm, StepForm
from pharmacrm.customers.models import DevelopmentPlan, DevelopmentStep, Institution, Professional
from pharmacrm.customers.service_forms import form_page


def _actor(request: HttpRequest) -> User:
    """The signed-in user (login is required before any write is reached)."""
    return cast(User, request.user)


PLANS = (_l("开发计划"), reverse_lazy("customers:plan_list"))


class PlanTable(tables.Table):
    title = tables.Column(linkify=True)
    subject = tables.Column(verbose_name=_l("客户"), empty_values=(), orderable=False)
    owner = tables.Column(verbose_name=_l("负责人"), order_by=("owner__display_name",))
    progress = tables.Column(verbose_name=_l("进度"), empty_values=(), orderable=False)

    class Meta:
        model = DevelopmentPlan
        fields = ("title", "subject", "owner", "status", "due_on", "progress")
        attrs = {"class": "table table-sm table-hover align-middle"}

    def render_subject(self, record: DevelopmentPlan) -> str:
        return str(record.professional or record.institution)

    def render_progress(self, record: Any) -> str:
        return f"{record.done_count}/{record.step_count}"


class PlanFilter(django_filters.FilterSet):
    mine = django_filters.BooleanFilter(method="filter_mine", label=_l("只看我负责的"))
    overdue = django_filters.BooleanFilter(method="filter_overdue", label=_l("已逾期"))

    class Meta:
        model = DevelopmentPlan
        fields = ["status"]

    def filter_mine(
        self, queryset: QuerySet[DevelopmentPlan], name: str, value: bool
    ) -> QuerySet[DevelopmentPlan]:
        return queryset.filter(owner=self.request.user) if value else queryset

    def filter_overdue(
        self, queryset: QuerySet[DevelopmentPlan], name: str, value: bool
    ) -> QuerySet[DevelopmentPlan]:
        if not value:
            return queryset
        return queryset.filter(due_on__lt=timezone.localdate(), status=DevelopmentPlan.Status.ACTIVE)


class PlanListView(ObjectListView):
    model = DevelopmentPlan
    table_class = PlanTable
    filterset_class = PlanFilter
    title = _l("开发计划")

    def base_queryset(self) -> QuerySet[Any]:
        return (
            DevelopmentPlan.objects.select_related("owner", "professional", "institution")
            .annotate(
                step_count=Count("steps"), done_count=Count("steps", filter=Q(steps__done_on__isnull=False))
            )
            .order_by("status", "due_on", "id")
        )


class PlanDetailView(ObjectDetailView):
    model = DevelopmentPlan
    body_template = "customers/plan_detail.html"
    template_name = "customers/plan_page.html"
    history_url_name = "customers:plan_history"
    list_crumb = PLANS

    def base_queryset(self) -> QuerySet[Any]:
        return DevelopmentPlan.objects.select_related(
            "owner", "professional", "institution"
        ).prefetch_related(Prefetch("steps", queryset=DevelopmentStep.objects.order_by("position", "id")))

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        ctx = super().get_context_data(**kwargs)
        ctx["can_edit"] = services.may_edit(self.request.user)
        ctx["step_form"] = StepForm(prefix="step")
        ctx["today"] = timezone.localdate()
        return ctx


class PlanHistoryView(ObjectHistoryView, PlanDetailView):
    active_tab = "history"
    body_template = "core/history_tab.html"


@login_required
def plan_create(request: HttpRequest) -> HttpResponse:
    """A plan for ?professional=<id> or ?institution=<id>."""
    if not services.may_edit(request.user):
        raise PermissionDenied(_("您的角色只能查看客户资料，不能修改。"))
    subject: Institution | Professional
    target: dict[str, Any]
    if request.GET.get("professional"):
        subject = get_visible_or_404(Professional, user=request.user, pk=request.GET["professional"])
        target = {"professional": subject}
    else:
        subject = get_visible_or_404(Institution, user=request.user, pk=request.GET.get("institution"))
        target = {"institution": subject}
    form = PlanForm(request.POST or None, user=request.user)
    del form.fields["status"]
    return form_page(
        request,
        form=form,
        save=lambda data: services.create_plan(actor=_actor(request), **target, **data),
        success_url=lambda plan: plan.get_absolute_url(),
        title=_("新建开发计划：{subject}").format(subject=subject),
        success_message=_("开发计划已创建。"),
        breadcrumbs=[PLANS],
        cancel_url=subject.get_absolute_url(),
    )


@login_required
def plan_edit(request: HttpRequest, pk: int) -> HttpResponse:
    plan = get_visible_or_404(
        DevelopmentPlan.objects.select_related("professional", "institution"), user=request.user, pk=pk
    )
    if not services.may_edit(request.user):
        raise PermissionDenied(_("您的角色只能查看客户资料，不能修改。"))
    form = PlanForm(request.POST or None, instance=plan, user=request.user)
    return form_page(
        request,
        form=form,
        save=lambda data: services.update_plan(
            actor=_actor(request),
            plan=plan,
            changes={k: data[k] for k in form.changed_data},
        ),
        success_url=lambda p: p.get_absolute_url(),
        title=_("编辑开发计划：{title}").format(title=plan.title),
        success_message=_("开发计划已保存。"),
        breadcrumbs=[PLANS, (plan.title, plan.get_absolute_url())],
        cancel_url=plan.get_absolute_url(),
    )


@login_required
def step_create(request: HttpRequest, pk: int) -> HttpResponse:
    plan = get_visible_or_404(DevelopmentPlan, user=request.user, pk=pk)
    if not services.may_edit(request.user):
        raise PermissionDenied(_("您的角色只能查看客户资料，不能修改。"))
    form = StepForm(request.POST or None, prefix="step")
    return form_page(
        request,
        form=form,
        save=lambda data: services.add_step(actor=_actor(request), plan=plan, **data),
        success_url=lambda step: plan.get_absolute_url(),
        title=_("添加步骤：{title}").format(title=plan.title),
        success_message=_("步骤已添加。"),
        breadcrumbs=[PLANS, (plan.title, plan.get_absolute_url())],
        cancel_url=plan.get_absolute_url(),
    )


@require_POST
@login_required
def step_toggle(request: HttpRequest, pk: int) -> HttpResponse:
    """Mark a step done today, or reopen it."""
    step = get_visible_or_404(DevelopmentStep.objects.select_related("plan"), user=request.user, pk=pk)
    try:
        done_on = None if step.done_on else timezone.localdate()
        services.update_step(actor=_actor(request), step=step, done_on=done_on)
        messages.success(request, _("步骤已完成。") if done_on else _("步骤已重新打开。"))
    except NotAllowed as exc:
        raise PermissionDenied(exc.message) from exc
    except DomainError as exc:
        messages.error(request, exc.message)
    return redirect(reverse("customers:plan_detail", args=[step.plan_id]))
