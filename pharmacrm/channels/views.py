"""Channel pages: partners (contacts, licences, agreements), scorecards and quarterly reviews.

Every page needs a channel role (the 医药代表 gets 403: a rep holds no sales task, RULES_CN §1)
and starts from the user's visible rows (a hidden partner is a 404).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import django_filters
import django_tables2 as tables
from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse, reverse_lazy
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _l
from django.views.decorators.http import require_POST

from pharmacrm.channels import scoring, selectors, services
from pharmacrm.channels.forms import (
    AgreementForm,
    ContactForm,
    LicenceForm,
    PartnerForm,
    ReviewActionForm,
    ReviewCreateForm,
    ScorecardForm,
    format_targets,
    format_tiers,
)
from pharmacrm.channels.metrics import registered_metrics
from pharmacrm.channels.models import (
    Agreement,
    ChannelPartner,
    ChannelReview,
    Licence,
    PartnerContact,
    Scorecard,
)
from pharmacrm.core.errors import DomainError, NotAllowed
from pharmacrm.core.views import (
    ObjectDetailView,
    ObjectHistoryView,
    ObjectListView,
    RoleRequiredMixin,
    actor,
    role_required,
)
from pharmacrm.core.visibility import get_visible_or_404
from pharmacrm.customers.service_forms import add_domain_error, form_page

ROLES = services.CHANNEL_ROLES
PARTNERS = (_l("渠道伙伴"), reverse_lazy("channels:partner_list"))
AGREEMENTS = (_l("渠道协议"), reverse_lazy("channels:agreement_list"))
REVIEWS = (_l("渠道评估"), reverse_lazy("channels:review_list"))
SCORECARDS = (_l("评估计分卡"), reverse_lazy("channels:scorecard_list"))


class ChannelObjectMixin(RoleRequiredMixin):
    """Object pages: a user without a channel role gets 404 (the object's existence does not leak)."""

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.user.is_authenticated and not services.may_view_channels(request.user):
            raise Http404
        return super().dispatch(request, *args, **kwargs)


def _require_editor(request: HttpRequest) -> None:
    if not services.may_edit_channels(request.user):
        raise PermissionDenied(_("您的角色只能查看渠道信息，不能修改。"))


# --- Workbench ---------------------------------------------------------------------------------


@role_required(*ROLES)
def home(request: HttpRequest) -> HttpResponse:
    """The channel workbench: licences about to expire, reviews to approve, last quarter's missing reviews."""
    user = request.user
    today = timezone.localdate()
    ((year, quarter),) = scoring.previous_quarters(today, 1)
    context = {
        "title": _("渠道工作台"),
        "alerts": list(selectors.open_licence_alerts(user=user)[:20]),
        "expiring": list(selectors.expiring_licences(user=user, within_days=60)[:20]),
        "to_approve": list(selectors.reviews_to_approve(user=user)[:20])
        if services.may_approve_reviews(user)
        else [],
        "missing": list(
            services.partners_without_review(actor=user, year=year, quarter=quarter).select_related(
                "institution"
            )[:20]
        ),
        "last_quarter": f"{year}Q{quarter}",
        "last_year": year,
        "last_q": quarter,
        "today": today,
        "can_edit": services.may_edit_channels(user),
    }
    return render(request, "channels/home.html", context)


# --- Partners ----------------------------------------------------------------------------------


class PartnerTable(tables.Table):
    code = tables.Column(linkify=lambda record: record.get_absolute_url())
    institution = tables.Column(verbose_name=_l("名称"), order_by=("institution__name",))
    province = tables.Column(
        accessor="institution__province__name",
        verbose_name=_l("省份"),
        order_by=("institution__province_id",),
    )
    manager = tables.Column(verbose_name=_l("渠道负责人"), order_by=("manager__display_name",))

    class Meta:
        model = ChannelPartner
        fields = ("code", "institution", "kind", "status", "province", "org_unit", "manager")
        attrs = {"class": "table table-sm table-hover align-middle"}

    def render_institution(self, value: Any) -> str:
        return value.name


class PartnerFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(method="search", label=_l("编码/名称"))

    class Meta:
        model = ChannelPartner
        fields = ["kind", "status"]

    def search(self, qs: QuerySet[Any], name: str, value: str) -> QuerySet[Any]:
        from django.db.models import Q

        return qs.filter(Q(code__icontains=value) | Q(institution__name__icontains=value))


class PartnerListView(RoleRequiredMixin, ObjectListView):
    required_roles = ROLES
    model = ChannelPartner
    table_class = PartnerTable
    filterset_class = PartnerFilter
    title = _l("渠道伙伴")

    def base_queryset(self) -> QuerySet[Any]:
        return ChannelPartner.objects.select_related("institution__province", "org_unit", "manager")

    create_url_name = "channels:partner_create"

    def may_create(self) -> bool:
        return bool(services.may_edit_channels(self.request.user))


class PartnerDetailView(ChannelObjectMixin, ObjectDetailView):
    required_roles = ROLES
    model = ChannelPartner
    template_name = "channels/partner_page.html"
    body_template = "channels/partner_detail.html"
    history_url_name = "channels:partner_history"
    list_crumb = PARTNERS

    def base_queryset(self) -> QuerySet[Any]:
        return ChannelPartner.objects.select_related("institution__province", "org_unit", "manager")

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        ctx = super().get_context_data(**kwargs)
        partner = self.object
        user = self.request.user
        contacts = list(partner.contacts.all())
        for contact in contacts:
            contact.shown = services.contact_details(contact=contact, user=user)
        reviews = selectors.review_history(partner=partner, user=user)
        today = timezone.localdate()
        ctx.update(
            contacts=contacts,
            licences=list(partner.licences.all()),
            agreements=list(partner.agreements.prefetch_related("regions", "products")),
            reviews=list(reversed(reviews)),
            chart=selectors.review_chart(reviews),
            soon=today + dt.timedelta(days=60),
            today=today,
            can_edit=services.may_edit_channels(user),
        )
        return ctx


class PartnerHistoryView(ObjectHistoryView, PartnerDetailView):
    active_tab = "history"
    body_template = "core/history_tab.html"


@role_required(*ROLES)
def partner_create(request: HttpRequest) -> HttpResponse:
    _require_editor(request)
    form = PartnerForm(request.POST or None, user=request.user)
    return form_page(
        request,
        form=form,
        save=lambda data: services.create_partner(actor=actor(request), **form.service_kwargs()),
        success_url=lambda partner: partner.get_absolute_url(),
        title=_("新建渠道伙伴"),
        success_message=_("渠道伙伴已创建。"),
        breadcrumbs=[PARTNERS],
        cancel_url=reverse("channels:partner_list"),
    )


@role_required(*ROLES)
def partner_edit(request: HttpRequest, pk: int) -> HttpResponse:
    _require_editor(request)
    partner = get_visible_or_404(
        ChannelPartner.objects.select_related("institution"), user=request.user, pk=pk
    )
    initial = {
        f: getattr(partner, f"{f}_id" if f in ("org_unit", "manager") else f) for f in services.PARTNER_FIELDS
    }
    form = PartnerForm(request.POST or None, user=request.user, editing=True, initial=initial)
    return form_page(
        request,
        form=form,
        save=lambda data: services.update_partner(
            actor=actor(request), partner=partner, changes=form.service_kwargs()
        ),
        success_url=lambda p: p.get_absolute_url(),
        title=_("编辑渠道伙伴：{partner}").format(partner=partner),
        success_message=_("已保存。"),
        breadcrumbs=[PARTNERS, (str(partner), partner.get_absolute_url())],
        cancel_url=partner.get_absolute_url(),
    )


# --- Contacts and licences ---------------------------------------------------------------------


def _model_form_values(form: forms.ModelForm) -> dict[str, Any]:
    return {name: form.cleaned_data[name] for name in form.Meta.fields}  # type: ignore[attr-defined]


@role_required(*ROLES)
def contact_edit(request: HttpRequest, partner_pk: int, pk: int | None = None) -> HttpResponse:
    _require_editor(request)
    partner = get_visible_or_404(
        ChannelPartner.objects.select_related("institution"), user=request.user, pk=partner_pk
    )
    contact = get_visible_or_404(PartnerContact, user=request.user, pk=pk, partner=partner) if pk else None
    form = ContactForm(request.POST or None, instance=contact)

    def save(data: dict[str, Any]) -> PartnerContact:
        values = _model_form_values(form)
        if contact is None:
            return services.add_contact(actor=actor(request), partner=partner, **values)
        return services.update_contact(actor=actor(request), contact=contact, changes=values)

    return form_page(
        request,
        form=form,
        save=save,
        success_url=lambda c: partner.get_absolute_url(),
        title=_("联系人：{partner}").format(partner=partner),
        success_message=_("联系人已保存。"),
        breadcrumbs=[PARTNERS, (str(partner), partner.get_absolute_url())],
        cancel_url=partner.get_absolute_url(),
    )


@require_POST
@role_required(*ROLES)
def contact_delete(request: HttpRequest, partner_pk: int, pk: int) -> HttpResponse:
    _require_editor(request)
    contact = get_visible_or_404(PartnerContact, user=request.user, pk=pk, partner_id=partner_pk)
    services.remove_contact(actor=actor(request), contact=contact)
    messages.success(request, _("联系人已删除。"))
    return redirect("channels:partner_detail", pk=partner_pk)


@role_required(*ROLES)
def licence_edit(request: HttpRequest, partner_pk: int, pk: int | None = None) -> HttpResponse:
    _require_editor(request)
    partner = get_visible_or_404(
        ChannelPartner.objects.select_related("institution"), user=request.user, pk=partner_pk
    )
    licence = get_visible_or_404(Licence, user=request.user, pk=pk, partner=partner) if pk else None
    form = LicenceForm(request.POST or None, instance=licence)

    def save(data: dict[str, Any]) -> Licence:
        values = _model_form_values(form)
        if licence is None:
            return services.add_licence(actor=actor(request), partner=partner, **values)
        return services.update_licence(actor=actor(request), licence=licence, changes=values)

    return form_page(
        request,
        form=form,
        save=save,
        success_url=lambda c: partner.get_absolute_url(),
        title=_("证照：{partner}").format(partner=partner),
        success_message=_("证照已保存。"),
        breadcrumbs=[PARTNERS, (str(partner), partner.get_absolute_url())],
        cancel_url=partner.get_absolute_url(),
    )


class LicenceTable(tables.Table):
    partner = tables.Column(
        linkify=lambda record: record.partner.get_absolute_url(), order_by=("partner__code",)
    )
    days_left = tables.Column(verbose_name=_l("剩余天数"), empty_values=(), orderable=False)

    class Meta:
        model = Licence
        fields = ("partner", "kind", "number", "issued_on", "expires_on", "days_left")
        attrs = {"class": "table table-sm table-hover align-middle"}

    def render_days_left(self, record: Licence) -> str:
        days = (record.expires_on - timezone.localdate()).days
        return _("已过期 {days} 天").format(days=-days) if days < 0 else str(days)


class LicenceFilter(django_filters.FilterSet):
    days = django_filters.NumberFilter(method="within", label=_l("到期天数内"))

    class Meta:
        model = Licence
        fields = ["kind"]

    def within(self, qs: QuerySet[Any], name: str, value: Decimal) -> QuerySet[Any]:
        return qs.filter(expires_on__lte=timezone.localdate() + dt.timedelta(days=int(value)))


class LicenceListView(RoleRequiredMixin, ObjectListView):
    """Licences, soonest expiry first; `?days=N` keeps those expiring within N days."""

    required_roles = ROLES
    model = Licence
    table_class = LicenceTable
    filterset_class = LicenceFilter
    title = _l("证照到期")

    def base_queryset(self) -> QuerySet[Any]:
        return Licence.objects.select_related("partner__institution").order_by("expires_on", "id")


@require_POST
@role_required(*ROLES)
def alert_acknowledge(request: HttpRequest, pk: int) -> HttpResponse:
    services.acknowledge_alert(actor=actor(request), alert=pk)
    messages.success(request, _("已确认该提醒。"))
    return redirect("channels:home")


# --- Agreements --------------------------------------------------------------------------------


class AgreementTable(tables.Table):
    code = tables.Column(linkify=lambda record: record.get_absolute_url())
    partner = tables.Column(order_by=("partner__code",))

    class Meta:
        model = Agreement
        fields = ("code", "partner", "start", "end", "status")
        attrs = {"class": "table table-sm table-hover align-middle"}


class AgreementFilter(django_filters.FilterSet):
    partner = django_filters.NumberFilter(field_name="partner_id", widget=forms.HiddenInput)

    class Meta:
        model = Agreement
        fields = ["status"]


class AgreementListView(RoleRequiredMixin, ObjectListView):
    required_roles = ROLES
    model = Agreement
    table_class = AgreementTable
    filterset_class = AgreementFilter
    title = _l("渠道协议")

    def base_queryset(self) -> QuerySet[Any]:
        return Agreement.objects.select_related("partner__institution")


class AgreementDetailView(ChannelObjectMixin, ObjectDetailView):
    required_roles = ROLES
    model = Agreement
    body_template = "channels/agreement_detail.html"
    history_url_name = "channels:agreement_history"
    list_crumb = AGREEMENTS

    def base_queryset(self) -> QuerySet[Any]:
        return Agreement.objects.select_related("partner__institution", "created_by").prefetch_related(
            "regions", "products", "targets", "rebate_tiers"
        )

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        ctx = super().get_context_data(**kwargs)
        ctx["can_edit"] = (
            services.may_edit_channels(self.request.user) and self.object.status != Agreement.Status.ENDED
        )
        return ctx


class AgreementHistoryView(ObjectHistoryView, AgreementDetailView):
    active_tab = "history"
    body_template = "core/history_tab.html"


def _agreement_values(data: dict[str, Any]) -> dict[str, Any]:
    return {
        "code": data["code"],
        "start": data["start"],
        "end": data["end"],
        "status": data["status"],
        "regions": [d.code for d in data["regions"]],
        "products": [p.pk for p in data["products"]],
        "targets": data["targets"],
        "rebate_tiers": data["rebate_tiers"],
        "notes": data["notes"],
    }


@role_required(*ROLES)
def agreement_create(request: HttpRequest, partner_pk: int) -> HttpResponse:
    _require_editor(request)
    partner = get_visible_or_404(
        ChannelPartner.objects.select_related("institution"), user=request.user, pk=partner_pk
    )
    initial = {"regions": [partner.institution.province_id] if partner.institution.province_id else []}
    form = AgreementForm(request.POST or None, initial=initial)
    return form_page(
        request,
        form=form,
        save=lambda data: services.create_agreement(
            actor=actor(request), partner=partner, **_agreement_values(data)
        ),
        success_url=lambda a: a.get_absolute_url(),
        title=_("新建渠道协议：{partner}").format(partner=partner),
        success_message=_("协议已保存。"),
        breadcrumbs=[PARTNERS, (str(partner), partner.get_absolute_url())],
        cancel_url=partner.get_absolute_url(),
    )


@role_required(*ROLES)
def agreement_edit(request: HttpRequest, pk: int) -> HttpResponse:
    _require_editor(request)
    agreement = get_visible_or_404(
        Agreement.objects.prefetch_related("regions", "products", "targets", "rebate_tiers"),
        user=request.user,
        pk=pk,
    )
    initial = {
        "code": agreement.code,
        "start": agreement.start,
        "end": agreement.end,
        "status": agreement.status,
        "regions": [d.code for d in agreement.regions.all()],
        "products": [p.pk for p in agreement.products.all()],
        "targets": format_targets(agreement),
        "rebate_tiers": format_tiers(agreement),
        "notes": agreement.notes,
    }
    form = AgreementForm(request.POST or None, initial=initial)
    return form_page(
        request,
        form=form,
        save=lambda data: services.update_agreement(
            actor=actor(request), agreement=agreement, changes=_agreement_values(data)
        ),
        success_url=lambda a: a.get_absolute_url(),
        title=_("编辑渠道协议：{code}").format(code=agreement.code),
        success_message=_("协议已保存。"),
        breadcrumbs=[AGREEMENTS, (str(agreement), agreement.get_absolute_url())],
        cancel_url=agreement.get_absolute_url(),
    )


# --- Scorecards --------------------------------------------------------------------------------


@role_required(*ROLES)
def scorecard_list(request: HttpRequest) -> HttpResponse:
    cards = Scorecard.objects.prefetch_related("metrics").order_by("-is_active", "name")
    return render(
        request,
        "channels/scorecard_list.html",
        {
            "title": _("评估计分卡"),
            "cards": cards,
            "metrics": registered_metrics(),
            "can_edit": services.may_edit_scorecards(request.user),
            "breadcrumbs": [(_("评估计分卡"), None)],
        },
    )


@role_required(*ROLES)
def scorecard_edit(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    if not services.may_edit_scorecards(request.user):
        raise PermissionDenied(_("只有系统管理员、销售总监或商务/KA经理可以维护评估计分卡。"))
    card = Scorecard.objects.get(pk=pk) if pk else None
    initial: dict[str, Any] = {}
    if card is not None:
        initial = {
            "name": card.name,
            "applies_to": card.applies_to,
            "is_active": card.is_active,
            "notes": card.notes,
            "metrics": "\n".join(
                f"{m.code}, {m.weight}, {m.target}, {m.floor}, {m.direction}"
                + (f", {m.label}" if m.label else "")
                for m in card.metrics.all()
            ),
        }
    form = ScorecardForm(request.POST or None, initial=initial)
    return form_page(
        request,
        form=form,
        save=lambda data: services.save_scorecard(actor=actor(request), scorecard=card, **data),
        success_url=lambda c: reverse("channels:scorecard_list"),
        title=_("编辑计分卡") if card else _("新建计分卡"),
        success_message=_("计分卡已保存。"),
        breadcrumbs=[SCORECARDS],
        cancel_url=reverse("channels:scorecard_list"),
        extra={"metric_choices": registered_metrics()},
    )


# --- Reviews -----------------------------------------------------------------------------------


class ReviewTable(tables.Table):
    partner = tables.Column(linkify=lambda record: record.get_absolute_url(), order_by=("partner__code",))
    period = tables.Column(accessor="period_label", verbose_name=_l("季度"), order_by=("year", "quarter"))
    reviewer = tables.Column(order_by=("reviewer__display_name",))

    class Meta:
        model = ChannelReview
        fields = ("partner", "period", "status", "total_score", "reviewer", "approved_at")
        attrs = {"class": "table table-sm table-hover align-middle"}


class ReviewFilter(django_filters.FilterSet):
    partner = django_filters.NumberFilter(field_name="partner_id", widget=forms.HiddenInput)

    class Meta:
        model = ChannelReview
        fields = ["status", "year", "quarter"]


class ReviewListView(RoleRequiredMixin, ObjectListView):
    required_roles = ROLES
    model = ChannelReview
    table_class = ReviewTable
    filterset_class = ReviewFilter
    title = _l("渠道评估")

    def base_queryset(self) -> QuerySet[Any]:
        return ChannelReview.objects.select_related("partner__institution", "reviewer")

    create_url_name = "channels:review_create"

    def may_create(self) -> bool:
        return bool(services.may_edit_channels(self.request.user))


class ReviewValuesForm(forms.Form):
    comments = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 4}), label=_l("评语"))

    def __init__(self, *args: Any, review: ChannelReview, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.manual_codes = []
        for line in review.scores.all():
            if line.manual:
                self.fields[f"value_{line.code}"] = forms.DecimalField(
                    required=False,
                    max_digits=16,
                    decimal_places=4,
                    label=f"{line.label}（{line.unit}）" if line.unit else line.label,
                    initial=line.value,
                )
                self.manual_codes.append(line.code)
        self.fields["comments"].initial = review.comments


class ReviewDetailView(ChannelObjectMixin, ObjectDetailView):
    required_roles = ROLES
    model = ChannelReview
    body_template = "channels/review_detail.html"
    history_url_name = "channels:review_history"
    list_crumb = REVIEWS

    def base_queryset(self) -> QuerySet[Any]:
        return ChannelReview.objects.select_related(
            "partner__institution", "scorecard", "reviewer", "approved_by"
        ).prefetch_related("scores", "actions__owner")

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        ctx = super().get_context_data(**kwargs)
        review = self.object
        user = self.request.user
        editable = services.may_edit_channels(user) and review.status == ChannelReview.Status.DRAFT
        ctx.update(
            editable=editable,
            values_form=kwargs.get("values_form") or (ReviewValuesForm(review=review) if editable else None),
            action_form=kwargs.get("action_form") or (ReviewActionForm(user=user) if editable else None),
            can_decide=services.may_approve_reviews(user)
            and review.status == ChannelReview.Status.SUBMITTED
            and review.reviewer_id != user.pk,
        )
        return ctx


class ReviewHistoryView(ObjectHistoryView, ReviewDetailView):
    active_tab = "history"
    body_template = "core/history_tab.html"


@role_required(*ROLES)
def review_create(request: HttpRequest) -> HttpResponse:
    _require_editor(request)
    today = timezone.localdate()
    ((year, quarter),) = scoring.previous_quarters(today, 1)
    initial = {"year": year, "quarter": quarter, "partner": request.GET.get("partner")}
    form = ReviewCreateForm(request.POST or None, user=request.user, initial=initial)
    return form_page(
        request,
        form=form,
        save=lambda data: services.create_review(actor=actor(request), **data),
        success_url=lambda r: r.get_absolute_url(),
        title=_("新建渠道评估"),
        success_message=_("评估已创建，系统指标已预填。"),
        breadcrumbs=[REVIEWS],
        cancel_url=reverse("channels:review_list"),
    )


def _review_or_404(request: HttpRequest, pk: int) -> ChannelReview:
    return get_visible_or_404(ChannelReview.objects.select_related("partner"), user=request.user, pk=pk)


def _rerender_review(request: HttpRequest, review: ChannelReview, **forms_: Any) -> HttpResponse:
    view = ReviewDetailView()
    view.setup(request, pk=review.pk)
    view.object = view.get_object()
    return render(request, view.template_name, view.get_context_data(**forms_), status=400)


@require_POST
@role_required(*ROLES)
def review_save(request: HttpRequest, pk: int) -> HttpResponse:
    """Manual values and comments; with `refresh=1` the automatic metrics are measured again."""
    _require_editor(request)
    review = _review_or_404(request, pk)
    form = ReviewValuesForm(request.POST, review=review)
    if form.is_valid():
        values = {code: form.cleaned_data[f"value_{code}"] for code in form.manual_codes}
        try:
            services.update_review(
                actor=actor(request),
                review=review,
                values=values,
                comments=form.cleaned_data["comments"],
                refresh=request.POST.get("refresh") == "1",
            )
        except NotAllowed as exc:
            raise PermissionDenied(exc.message) from exc
        except DomainError as exc:
            add_domain_error(form, exc)
        else:
            if request.POST.get("submit") == "1":
                try:
                    services.submit_review(actor=actor(request), review=review)
                except DomainError as exc:
                    messages.error(request, exc.message)
                else:
                    messages.success(request, _("评估已提交审批。"))
            else:
                messages.success(request, _("已保存。"))
            return redirect(review.get_absolute_url())
    return _rerender_review(request, review, values_form=form)


@require_POST
@role_required(*ROLES)
def review_action_add(request: HttpRequest, pk: int) -> HttpResponse:
    _require_editor(request)
    review = _review_or_404(request, pk)
    form = ReviewActionForm(request.POST, user=request.user)
    if form.is_valid():
        try:
            services.add_review_action(actor=actor(request), review=review, **form.cleaned_data)
        except DomainError as exc:
            add_domain_error(form, exc)
        else:
            messages.success(request, _("改进措施已添加。"))
            return redirect(review.get_absolute_url())
    return _rerender_review(request, review, action_form=form)


@require_POST
@role_required(*ROLES)
def review_decide(request: HttpRequest, pk: int) -> HttpResponse:
    review = _review_or_404(request, pk)
    approve = request.POST.get("decision") == "approve"
    try:
        services.decide_review(
            actor=actor(request), review=review, approve=approve, note=request.POST.get("note", "")
        )
    except NotAllowed as exc:
        raise PermissionDenied(exc.message) from exc
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("评估已审批。") if approve else _("评估已退回修改。"))
    return redirect(review.get_absolute_url())
