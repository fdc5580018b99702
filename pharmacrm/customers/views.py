"""Customer pages: lists with filters, the institution and professional pages, edit forms, profile parts, the "to fill" list."""

from __future__ import annotations

from typing import Any, cast

import django_filters
import django_tables2 as tables
from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse, reverse_lazy
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _l
from django.views.decorators.http import require_POST

from pharmacrm.core.errors import DomainError, NotAllowed
from pharmacrm.core.middleware import client_ip
from pharmacrm.core.models import Division, User
from pharmacrm.core.views import ObjectDetailView, ObjectHistoryView, ObjectListView
from pharmacrm.core.visibility import get_visible_or_404
from pharmacrm.customers import profiles, quality, segmentation, selectors, services
from pharmacrm.customers.forms import (
    AffiliationForm,
    DepartmentForm,
    InstitutionForm,
    InstitutionMoveForm,
    KeyDateForm,
    NeedForm,
    NeedStatusForm,
    OverrideForm,
    ProfessionalForm,
)
from pharmacrm.customers.models import (
    Affiliation,
    Department,
    Dimension,
    Institution,
    KeyDate,
    Need,
    Professional,
)
from pharmacrm.customers.service_forms import form_page


def _actor(request: HttpRequest) -> User:
    """The signed-in user (login is required before any write is reached)."""
    return cast(User, request.user)


TABLE_ATTRS = {"class": "table table-sm table-hover align-middle"}
INSTITUTIONS = (_l("机构"), reverse_lazy("customers:institution_list"))
PROFESSIONALS = (_l("医务人员"), reverse_lazy("customers:professional_list"))


def _require_editor(request: HttpRequest) -> None:
    if not services.may_edit(request.user):
        raise PermissionDenied(_("您的角色只能查看客户资料，不能修改。"))


# --- Institutions --------------------------------------------------------------------------------------


class InstitutionTable(tables.Table):
    name = tables.Column(linkify=True)
    city = tables.Column(verbose_name=_l("市"), order_by=("city__name",))
    territory = tables.Column(verbose_name=_l("辖区"), order_by=("territory__code",))

    class Meta:
        model = Institution
        fields = ("name", "kind", "grade", "city", "territory", "status")
        attrs = TABLE_ATTRS


class InstitutionFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(method="filter_q", label=_l("名称/拼音"))
    province = django_filters.ModelChoiceFilter(
        queryset=Division.objects.filter(level=Division.Level.PROVINCE), label=_l("省")
    )

    class Meta:
        model = Institution
        fields = ["kind", "grade", "status"]

    def filter_q(self, queryset: QuerySet[Institution], name: str, value: str) -> QuerySet[Institution]:
        return queryset.filter(selectors._name_filter(value.strip()))


class InstitutionListView(ObjectListView):
    model = Institution
    table_class = InstitutionTable
    filterset_class = InstitutionFilter
    title = _l("机构")

    def get_queryset(self) -> QuerySet[Any]:
        return selectors.visible_institutions(user=self.request.user)

    create_url_name = "customers:institution_create"

    def may_create(self) -> bool:
        return bool(services.may_edit(self.request.user))


class InstitutionDetailView(ObjectDetailView):
    model = Institution
    body_template = "customers/institution_detail.html"
    template_name = "customers/institution_page.html"
    history_url_name = "customers:institution_history"
    list_crumb = INSTITUTIONS

    def base_queryset(self) -> QuerySet[Any]:
        return Institution.objects.select_related("province", "city", "county", "territory", "parent")

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        ctx = super().get_context_data(**kwargs)
        if self.active_tab == "overview":
            ctx.update(profiles.institution_overview(institution=self.object, user=self.request.user))
            # An institution has a handful of periods; the cap keeps the page flat whatever happens.
            ctx["territory_periods"] = list(
                selectors.territory_periods(user=self.request.user, institution=self.object)[:50]
            )
        ctx["can_edit"] = services.may_edit(self.request.user)
        return ctx


class InstitutionHistoryView(ObjectHistoryView, InstitutionDetailView):
    active_tab = "history"
    body_template = "core/history_tab.html"


@login_required
def institution_create(request: HttpRequest) -> HttpResponse:
    _require_editor(request)
    form = InstitutionForm(request.POST or None, user=request.user)
    return form_page(
        request,
        form=form,
        save=lambda data: services.create_institution(actor=_actor(request), **data),
        success_url=lambda inst: inst.get_absolute_url(),
        title=_("新建机构"),
        success_message=_("机构已创建。"),
        breadcrumbs=[INSTITUTIONS],
        cancel_url=reverse("customers:institution_list"),
    )


@login_required
def institution_edit(request: HttpRequest, pk: int) -> HttpResponse:
    institution = get_visible_or_404(Institution, user=request.user, pk=pk)
    _require_editor(request)
    form = InstitutionForm(request.POST or None, instance=institution, user=request.user)
    return form_page(
        request,
        form=form,
        save=lambda data: services.update_institution(
            actor=_actor(request),
            institution=institution,
            changes={k: data[k] for k in form.changed_data},
        ),
        success_url=lambda inst: inst.get_absolute_url(),
        title=_("编辑机构：{name}").format(name=institution.name),
        success_message=_("机构已保存。"),
        breadcrumbs=[INSTITUTIONS, (institution.name, institution.get_absolute_url())],
        cancel_url=institution.get_absolute_url(),
    )


@login_required
def institution_move(request: HttpRequest, pk: int) -> HttpResponse:
    """Move the institution to another territory (today, or backdated by an admin); sales follow in the background."""
    institution = get_visible_or_404(
        Institution.objects.select_related("territory"), user=request.user, pk=pk
    )
    _require_editor(request)
    form = InstitutionMoveForm(request.POST or None, user=request.user, institution=institution)

    def done(result: services.MoveResult) -> str:
        # Said here, after the real save (the form's inline validation also runs the service, rolled back).
        if result.moved:
            day = result.since.isoformat() if result.since else _("最初")
            if result.institution.territory is not None:
                text = _("已记录辖区调整：{name} 自 {day} 起归属 {territory}。").format(
                    name=result.institution.name, day=day, territory=result.institution.territory
                )
            else:
                text = _("已记录辖区调整：{name} 自 {day} 起按所在地区的辖区规则归属。").format(
                    name=result.institution.name, day=day
                )
            messages.success(request, text + _("该日起的销售已排队在后台重新归属。"))
        else:
            messages.info(request, _("辖区归属没有变化，未做任何更改。"))
        return result.institution.get_absolute_url()

    return form_page(
        request,
        form=form,
        save=lambda data: services.move_institution(
            actor=_actor(request),
            institution=institution,
            territory=data["territory"],
            effective=data.get("effective"),
            reason=data["reason"],
        ),
        success_url=done,
        title=_("调整辖区：{name}").format(name=institution.name),
        breadcrumbs=[INSTITUTIONS, (institution.name, institution.get_absolute_url())],
        cancel_url=institution.get_absolute_url(),
        extra={"submit_label": _("记录调整")},
    )


@login_required
def department_create(request: HttpRequest, pk: int) -> HttpResponse:
    institution = get_visible_or_404(Institution, user=request.user, pk=pk)
    _require_editor(request)
    form = DepartmentForm(request.POST or None)
    return form_page(
        request,
        form=form,
        save=lambda data: services.create_department(actor=_actor(request), institution=institution, **data),
        success_url=lambda d: institution.get_absolute_url(),
        title=_("新建科室：{name}").format(name=institution.name),
        success_message=_("科室已创建。"),
        breadcrumbs=[INSTITUTIONS, (institution.name, institution.get_absolute_url())],
        cancel_url=institution.get_absolute_url(),
    )


@login_required
def department_edit(request: HttpRequest, pk: int) -> HttpResponse:
    department = get_visible_or_404(
        Department.objects.select_related("institution"), user=request.user, pk=pk
    )
    _require_editor(request)
    institution = department.institution
    form = DepartmentForm(request.POST or None, instance=department)
    return form_page(
        request,
        form=form,
        save=lambda data: services.update_department(
            actor=_actor(request),
            department=department,
            changes={k: data[k] for k in form.changed_data},
        ),
        success_url=lambda d: institution.get_absolute_url(),
        title=_("编辑科室：{name}").format(name=department.name),
        success_message=_("科室已保存。"),
        breadcrumbs=[INSTITUTIONS, (institution.name, institution.get_absolute_url())],
        cancel_url=institution.get_absolute_url(),
    )


# --- Professionals ------------------------------------------------------------------------------------


class ProfessionalTable(tables.Table):
    name = tables.Column(linkify=True)
    institution = tables.Column(verbose_name=_l("机构"), order_by=("institution__name",))
    # The name only: Department.__str__ reads its institution, a query per row.
    department = tables.Column(
        accessor="department__name", verbose_name=_l("科室"), order_by=("department__name",)
    )
    completeness = tables.Column(verbose_name=_l("档案完整度"), attrs={"td": {"class": "text-end"}})

    class Meta:
        model = Professional
        fields = (
            "name",
            "role",
            "title",
            "institution",
            "department",
            "tier",
            "prescribing_potential",
            "engagement_stage",
            "completeness",
        )
        attrs = TABLE_ATTRS

    def render_completeness(self, value: int) -> str:
        return f"{value}%"


class ProfessionalFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(method="filter_q", label=_l("姓名/拼音/首字母"))
    department = django_filters.CharFilter(
        field_name="department__name", lookup_expr="contains", label=_l("科室")
    )
    institution = django_filters.NumberFilter(field_name="institution_id", widget=forms.HiddenInput)

    class Meta:
        model = Professional
        fields = ["tier", "role", "prescribing_potential", "engagement_stage", "status"]

    def filter_q(self, queryset: QuerySet[Professional], name: str, value: str) -> QuerySet[Professional]:
        value = value.strip()
        q = selectors._name_filter(value)
        if value.isdigit() and len(value) >= 4:
            q |= Q(mobile__contains=value)
        return queryset.filter(q)


class ProfessionalListView(ObjectListView):
    model = Professional
    table_class = ProfessionalTable
    filterset_class = ProfessionalFilter
    title = _l("医务人员")

    def get_queryset(self) -> QuerySet[Any]:
        return selectors.visible_professionals(user=self.request.user)


class ProfessionalDetailView(ObjectDetailView):
    model = Professional
    body_template = "customers/professional_detail.html"
    template_name = "customers/professional_page.html"
    history_url_name = "customers:professional_history"
    list_crumb = PROFESSIONALS

    def base_queryset(self) -> QuerySet[Any]:
        return Professional.objects.select_related("institution", "department")

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        ctx = super().get_context_data(**kwargs)
        ctx["can_edit"] = services.may_edit(self.request.user)
        if self.active_tab != "overview":
            return ctx
        user = self.request.user
        profile = profiles.professional_profile(
            professional=self.object, user=user, ip=client_ip(self.request)
        )
        ctx["profile"] = profile
        if profile.can_edit:
            ctx["need_form"] = NeedForm(prefix="need", initial={"status": Need.Status.OPEN})
            ctx["key_date_form"] = KeyDateForm(prefix="kd")
            ctx["affiliation_form"] = AffiliationForm(prefix="aff", user=user, professional=self.object)
            ctx["need_status_choices"] = Need.Status.choices
        if profile.can_override:
            for view in profile.segments:
                view.form = OverrideForm(
                    dimension=view.dimension,
                    initial={
                        "value": view.value,
                        "reason": view.segment.override_reason if view.segment else "",
                    },
                )
        return ctx


class ProfessionalHistoryView(ObjectHistoryView, ProfessionalDetailView):
    active_tab = "history"
    body_template = "core/history_tab.html"


@login_required
def professional_create(request: HttpRequest) -> HttpResponse:
    _require_editor(request)
    institution = None
    if request.GET.get("institution"):
        institution = get_visible_or_404(Institution, user=request.user, pk=request.GET["institution"])
    form = ProfessionalForm(request.POST or None, user=request.user, institution=institution)

    def save(data: dict[str, Any]) -> Professional:
        data = {k: v for k, v in data.items() if not form.fields[k].disabled}
        return services.create_professional(actor=_actor(request), **data)

    crumbs: list[tuple[Any, Any]] = [PROFESSIONALS]
    if institution is not None:
        crumbs = [INSTITUTIONS, (institution.name, institution.get_absolute_url())]
    return form_page(
        request,
        form=form,
        save=save,
        success_url=lambda p: p.get_absolute_url(),
        title=_("新建医务人员"),
        success_message=_("医务人员已创建。"),
        breadcrumbs=crumbs,
        cancel_url=institution.get_absolute_url() if institution else reverse("customers:professional_list"),
    )


@login_required
def professional_edit(request: HttpRequest, pk: int) -> HttpResponse:
    professional = get_visible_or_404(
        Professional.objects.select_related("institution"), user=request.user, pk=pk
    )
    _require_editor(request)
    form = ProfessionalForm(request.POST or None, instance=professional, user=request.user)
    return form_page(
        request,
        form=form,
        save=lambda data: services.update_professional(
            actor=_actor(request),
            professional=professional,
            changes=form.changes(),
        ),
        success_url=lambda p: p.get_absolute_url(),
        title=_("编辑档案：{name}").format(name=professional.name),
        success_message=_("档案已保存。"),
        breadcrumbs=[PROFESSIONALS, (professional.name, professional.get_absolute_url())],
        cancel_url=professional.get_absolute_url(),
    )


def _professional_for_write(request: HttpRequest, pk: int) -> Professional:
    professional = get_visible_or_404(Professional, user=request.user, pk=pk)
    _require_editor(request)
    return professional


def _part_page(
    request: HttpRequest, professional: Professional, form: Any, save: Any, title: str, done: str
) -> HttpResponse:
    """A profile part (need, key date, affiliation): posted from the professional page, or on its own page."""
    return form_page(
        request,
        form=form,
        save=save,
        success_url=lambda _obj: professional.get_absolute_url(),
        title=title,
        success_message=done,
        breadcrumbs=[PROFESSIONALS, (professional.name, professional.get_absolute_url())],
        cancel_url=professional.get_absolute_url(),
    )


@login_required
def need_create(request: HttpRequest, pk: int) -> HttpResponse:
    professional = _professional_for_write(request, pk)
    form = NeedForm(request.POST or None, prefix="need", initial={"status": Need.Status.OPEN})
    return _part_page(
        request,
        professional,
        form,
        lambda data: services.create_need(actor=_actor(request), professional=professional, **data),
        _("记录需求：{name}").format(name=professional.name),
        _("需求已记录。"),
    )


@require_POST
@login_required
def need_status(request: HttpRequest, pk: int) -> HttpResponse:
    need = get_visible_or_404(Need.objects.select_related("professional"), user=request.user, pk=pk)
    _require_editor(request)
    form = NeedStatusForm(request.POST)
    try:
        if not form.is_valid():
            raise DomainError(_("状态不在可选值中。"))
        services.update_need(actor=_actor(request), need=need, status=form.cleaned_data["status"])
        messages.success(request, _("需求状态已更新。"))
    except NotAllowed as exc:
        raise PermissionDenied(exc.message) from exc
    except DomainError as exc:
        messages.error(request, exc.message)
    return redirect(need.professional.get_absolute_url() + "#needs")


@login_required
def key_date_create(request: HttpRequest, pk: int) -> HttpResponse:
    professional = _professional_for_write(request, pk)
    form = KeyDateForm(request.POST or None, prefix="kd")
    return _part_page(
        request,
        professional,
        form,
        lambda data: services.add_key_date(actor=_actor(request), professional=professional, **data),
        _("记录重要纪念日：{name}").format(name=professional.name),
        _("纪念日已记录。"),
    )


@require_POST
@login_required
def key_date_delete(request: HttpRequest, pk: int) -> HttpResponse:
    key_date = get_visible_or_404(KeyDate.objects.select_related("professional"), user=request.user, pk=pk)
    _require_editor(request)
    try:
        services.remove_key_date(actor=_actor(request), key_date=key_date)
        messages.success(request, _("纪念日已删除。"))
    except NotAllowed as exc:
        raise PermissionDenied(exc.message) from exc
    return redirect(key_date.professional.get_absolute_url() + "#key-dates")


@login_required
def affiliation_create(request: HttpRequest, pk: int) -> HttpResponse:
    professional = _professional_for_write(request, pk)
    form = AffiliationForm(request.POST or None, prefix="aff", user=request.user, professional=professional)
    return _part_page(
        request,
        professional,
        form,
        lambda data: services.add_affiliation(actor=_actor(request), professional=professional, **data),
        _("添加执业关系：{name}").format(name=professional.name),
        _("执业关系已添加。"),
    )


@require_POST
@login_required
def affiliation_end(request: HttpRequest, pk: int) -> HttpResponse:
    affiliation = get_visible_or_404(
        Affiliation.objects.select_related("professional"), user=request.user, pk=pk
    )
    _require_editor(request)
    try:
        services.end_affiliation(actor=_actor(request), affiliation=affiliation)
        messages.success(request, _("执业关系已结束。"))
    except NotAllowed as exc:
        raise PermissionDenied(exc.message) from exc
    except DomainError as exc:
        messages.error(request, exc.message)
    return redirect(affiliation.professional.get_absolute_url() + "#affiliations")


@require_POST
@login_required
def profile_confirm(request: HttpRequest, pk: int) -> HttpResponse:
    """Confirm with the customer the fields ticked (default: every filled required field)."""
    professional = _professional_for_write(request, pk)
    fields = request.POST.getlist("fields") or None
    try:
        confirmed = services.confirm_profile(actor=_actor(request), professional=professional, fields=fields)
        if confirmed:
            labels = "、".join(quality.field_label(f) for f in confirmed)
            messages.success(request, _("已确认：{labels}").format(labels=labels))
        else:
            messages.info(request, _("没有可确认的字段。"))
    except NotAllowed as exc:
        raise PermissionDenied(exc.message) from exc
    except DomainError as exc:
        messages.error(request, exc.message)
    return redirect(professional.get_absolute_url() + "#quality")


@login_required
def segment_override(request: HttpRequest, pk: int, dimension: str) -> HttpResponse:
    """Set or clear a manager's override of one dimension, with the reason."""
    professional = get_visible_or_404(Professional, user=request.user, pk=pk)
    if dimension not in Dimension.values:
        raise PermissionDenied
    if not segmentation.may_override(request.user):
        raise PermissionDenied(_("只有经理或系统管理员可以人工调整客户分类。"))
    form = OverrideForm(request.POST or None, dimension=dimension)
    clearing = request.method == "POST" and request.POST.get("clear") == "1"

    def save(data: dict[str, Any]) -> Any:
        if clearing:
            return segmentation.clear_override(
                actor=_actor(request),
                professional=professional,
                dimension=dimension,
                reason=data.get("reason", ""),
            )
        return segmentation.override_segment(
            actor=_actor(request),
            professional=professional,
            dimension=dimension,
            value=data["value"],
            reason=data.get("reason", ""),
        )

    return _part_page(
        request,
        professional,
        form,
        save,
        _("人工调整{dimension}：{name}").format(dimension=Dimension(dimension).label, name=professional.name),
        _("已取消人工调整。") if clearing else _("已人工调整，原因已记录。"),
    )


# --- The "to fill" list --------------------------------------------------------------------------------


@login_required
def to_fill(request: HttpRequest) -> HttpResponse:
    """待完善档案: the user's professionals whose profile lacks something, least complete first."""
    page = Paginator(quality.to_fill(user=request.user), 25).get_page(request.GET.get("page"))
    gaps = quality.gaps_for_rows(page.object_list)
    rows = [(p, gaps[p.pk]) for p in page.object_list]
    title = _("待完善档案")
    context = {"page": page, "rows": rows, "title": title, "breadcrumbs": [(title, None)]}
    return render(request, "customers/to_fill.html", context)
