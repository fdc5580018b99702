"""Price policy, tender (带量采购), promotion and market pages: commercial, marketing, managers, director, admin.

A rep never reaches them: the list pages answer 403 (the page is not secret, the figures are),
and every object is outside a rep's visibility scope, so its page answers 404 (RULES_CN §1).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import django_filters
import django_tables2 as tables
from django import forms
from django.core.exceptions import PermissionDenied
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse, reverse_lazy
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _l

from pharmacrm.commercial import market, prices, promotions, tenders
from pharmacrm.commercial.forms import (
    CommitmentForm,
    EndPriceForm,
    PriceLookupForm,
    PricePolicyForm,
    PromotionForm,
    TenderForm,
)
from pharmacrm.commercial.models import (
    MarketData,
    PricePolicy,
    Product,
    Promotion,
    Sku,
    Tender,
    TherapeuticArea,
)
from pharmacrm.commercial.scoping import COMMERCIAL_DATA_ROLES
from pharmacrm.core.models import Division
from pharmacrm.core.views import (
    ObjectDetailView,
    ObjectHistoryView,
    ObjectListView,
    RoleRequiredMixin,
    actor,
    role_required,
)
from pharmacrm.core.visibility import get_visible_or_404
from pharmacrm.customers.forms import DateInput
from pharmacrm.customers.service_forms import form_page

ROLES = tuple(COMMERCIAL_DATA_ROLES)
PRICES = (_l("价格政策"), reverse_lazy("commercial:price_list"))
TENDERS = (_l("带量采购/招标"), reverse_lazy("commercial:tender_list"))
PROMOTIONS = (_l("促销活动"), reverse_lazy("commercial:promotion_list"))
MARKET = (_l("市场数据"), reverse_lazy("commercial:market_list"))


class CommercialDataDetail(ObjectDetailView):
    """Detail pages of commercial figures: outside the roles (or the scope) the object does not exist."""

    def get_queryset(self) -> QuerySet[Any]:
        if not self.request.user.is_authenticated or not self.request.user.has_role(*ROLES):
            return self.model._default_manager.none()
        return super().get_queryset()


def _provinces() -> QuerySet[Division]:
    return Division.objects.filter(level=Division.Level.PROVINCE).order_by("code")


# --- Price policies ---------------------------------------------------------------------------------


class PriceTable(tables.Table):
    sku = tables.Column(linkify=lambda record: record.get_absolute_url(), order_by=("sku__code",))
    province = tables.Column(default=_l("全国"), order_by=("province_id",))
    customer_kind = tables.Column(default=_l("所有客户类型"))
    price = tables.Column(attrs={"td": {"class": "text-end"}})
    effective_to = tables.Column(default=_l("长期"))

    class Meta:
        model = PricePolicy
        fields = ("sku", "kind", "province", "customer_kind", "price", "effective_from", "effective_to")
        attrs = {"class": "table table-sm table-hover align-middle"}


class PriceFilter(django_filters.FilterSet):
    product = django_filters.ModelChoiceFilter(
        field_name="sku__product", queryset=Product.objects.all(), label=_l("产品")
    )
    sku = django_filters.ModelChoiceFilter(queryset=Sku.objects.select_related("product"), label=_l("品规"))
    province = django_filters.ModelChoiceFilter(queryset=_provinces(), label=_l("省份"))
    in_force_on = django_filters.DateFilter(method="in_force", label=_l("有效日期"), widget=DateInput())

    class Meta:
        model = PricePolicy
        fields = ["kind"]

    def in_force(self, queryset: QuerySet[Any], name: str, value: dt.date) -> QuerySet[Any]:
        return queryset.filter(effective_from__lte=value).filter(
            Q(effective_to__isnull=True) | Q(effective_to__gte=value)
        )


class PriceListView(RoleRequiredMixin, ObjectListView):
    required_roles = ROLES
    model = PricePolicy
    table_class = PriceTable
    filterset_class = PriceFilter
    title = _l("价格政策")
    template_name = "commercial/price_list.html"

    def base_queryset(self) -> QuerySet[Any]:
        return PricePolicy.objects.select_related("sku__product", "province")

    create_url_name = "commercial:price_create"

    def may_create(self) -> bool:
        return bool(prices.may_edit_prices(self.request.user))


class PriceDetailView(CommercialDataDetail):
    model = PricePolicy
    body_template = "commercial/price_detail.html"
    history_url_name = "commercial:price_history"
    list_crumb = PRICES

    def base_queryset(self) -> QuerySet[Any]:
        return PricePolicy.objects.select_related("sku__product", "province", "created_by")

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        ctx = super().get_context_data(**kwargs)
        ctx["can_edit"] = prices.may_edit_prices(self.request.user)
        ctx["end_form"] = EndPriceForm(initial={"on": timezone.localdate()})
        return ctx


class PriceHistoryView(ObjectHistoryView, PriceDetailView):
    active_tab = "history"
    body_template = "core/history_tab.html"


@role_required(*ROLES)
def price_create(request: HttpRequest) -> HttpResponse:
    if not prices.may_edit_prices(request.user):
        raise PermissionDenied(_("您的角色不能维护价格政策。"))
    initial: dict[str, Any] = {"effective_from": timezone.localdate()}
    if request.GET.get("sku"):
        initial["sku"] = request.GET["sku"]
    form = PricePolicyForm(request.POST or None, initial=initial)
    return form_page(
        request,
        form=form,
        save=lambda data: prices.save_price_policy(actor=actor(request), **data),
        success_url=lambda policy: policy.get_absolute_url(),
        title=_("新建价格政策"),
        success_message=_("价格政策已保存。"),
        breadcrumbs=[PRICES],
        cancel_url=reverse("commercial:price_list"),
    )


@role_required(*ROLES)
def price_end(request: HttpRequest, pk: int) -> HttpResponse:
    policy = get_visible_or_404(PricePolicy, user=request.user, pk=pk)
    if not prices.may_edit_prices(request.user):
        raise PermissionDenied(_("您的角色不能维护价格政策。"))
    form = EndPriceForm(request.POST or None)
    return form_page(
        request,
        form=form,
        save=lambda data: prices.end_price_policy(actor=actor(request), policy=policy, **data),
        success_url=lambda saved: saved.get_absolute_url(),
        title=_("设置失效日期：{policy}").format(policy=policy),
        success_message=_("价格政策已设置失效日期。"),
        breadcrumbs=[PRICES, (str(policy), policy.get_absolute_url())],
        cancel_url=policy.get_absolute_url(),
    )


@role_required(*ROLES)
def price_lookup(request: HttpRequest) -> HttpResponse:
    """The price in force: one query, most specific policy first."""
    form = PriceLookupForm(request.GET or None, initial={"on": timezone.localdate()})
    result: PricePolicy | None = None
    asked = False
    if request.GET and form.is_valid():
        asked = True
        data = form.cleaned_data
        result = prices.price_in_force(
            sku=data["sku"],
            on=data["on"],
            province=data["province"],
            kind=data["kind"],
            customer_kind=data["customer_kind"] or None,
        )
    return render(
        request,
        "commercial/price_lookup.html",
        {
            "form": form,
            "result": result,
            "asked": asked,
            "title": _("查询有效价格"),
            "breadcrumbs": [PRICES, (_("查询有效价格"), None)],
        },
    )


# --- Tenders ----------------------------------------------------------------------------------------


class TenderTable(tables.Table):
    name = tables.Column(linkify=lambda record: record.get_absolute_url())
    province = tables.Column(order_by=("province_id",))
    sku = tables.Column(order_by=("sku__code",))
    winning_price = tables.Column(attrs={"td": {"class": "text-end"}})

    class Meta:
        model = Tender
        fields = ("name", "kind", "province", "sku", "status", "winning_price", "period_start", "period_end")
        attrs = {"class": "table table-sm table-hover align-middle"}


class TenderFilter(django_filters.FilterSet):
    product = django_filters.ModelChoiceFilter(
        field_name="sku__product", queryset=Product.objects.all(), label=_l("产品")
    )
    province = django_filters.ModelChoiceFilter(queryset=_provinces(), label=_l("省份"))

    class Meta:
        model = Tender
        fields = ["kind", "status"]


class TenderListView(RoleRequiredMixin, ObjectListView):
    required_roles = ROLES
    model = Tender
    table_class = TenderTable
    filterset_class = TenderFilter
    title = _l("带量采购/招标")

    def base_queryset(self) -> QuerySet[Any]:
        return Tender.objects.select_related("sku__product", "province")

    create_url_name = "commercial:tender_create"

    def may_create(self) -> bool:
        return bool(prices.may_edit_prices(self.request.user))


class TenderDetailView(CommercialDataDetail):
    model = Tender
    body_template = "commercial/tender_detail.html"
    history_url_name = "commercial:tender_history"
    list_crumb = TENDERS

    def base_queryset(self) -> QuerySet[Any]:
        return Tender.objects.select_related("sku__product", "province")

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        ctx = super().get_context_data(**kwargs)
        ctx["can_edit"] = prices.may_edit_prices(self.request.user)
        if self.active_tab == "overview":
            ctx["delivery"] = tenders.tender_delivery(user=self.request.user, tender=self.object)
        return ctx


class TenderHistoryView(ObjectHistoryView, TenderDetailView):
    active_tab = "history"
    body_template = "core/history_tab.html"


def _tender_form_page(request: HttpRequest, tender: Tender | None) -> HttpResponse:
    if not prices.may_edit_prices(request.user):
        raise PermissionDenied(_("您的角色不能维护招标/带量采购。"))
    initial: dict[str, Any] = {}
    if tender is not None:
        initial = {
            "kind": tender.kind,
            "name": tender.name,
            "province": tender.province_id,
            "sku": tender.sku_id,
            "status": tender.status,
            "winning_price": tender.winning_price,
            "period_start": tender.period_start,
            "period_end": tender.period_end,
            "notes": tender.notes,
        }
    form = TenderForm(request.POST or None, initial=initial)
    return form_page(
        request,
        form=form,
        save=lambda data: tenders.save_tender(actor=actor(request), tender=tender, **data),
        success_url=lambda saved: saved.get_absolute_url(),
        title=_("修改：{tender}").format(tender=tender) if tender else _("新建带量采购/招标"),
        success_message=_("已保存。"),
        breadcrumbs=[TENDERS],
        cancel_url=tender.get_absolute_url() if tender else reverse("commercial:tender_list"),
    )


@role_required(*ROLES)
def tender_create(request: HttpRequest) -> HttpResponse:
    return _tender_form_page(request, None)


@role_required(*ROLES)
def tender_edit(request: HttpRequest, pk: int) -> HttpResponse:
    return _tender_form_page(request, get_visible_or_404(Tender, user=request.user, pk=pk))


@role_required(*ROLES)
def commitment_add(request: HttpRequest, pk: int) -> HttpResponse:
    tender = get_visible_or_404(Tender.objects.select_related("province", "sku"), user=request.user, pk=pk)
    if not prices.may_edit_prices(request.user):
        raise PermissionDenied(_("您的角色不能维护招标/带量采购。"))
    form = CommitmentForm(request.POST or None, user=request.user, province_id=tender.province_id)
    return form_page(
        request,
        form=form,
        save=lambda data: tenders.set_commitment(actor=actor(request), tender=tender, **data),
        success_url=lambda _c: tender.get_absolute_url(),
        title=_("医院约定采购量：{tender}").format(tender=tender),
        success_message=_("约定采购量已保存。"),
        breadcrumbs=[TENDERS, (str(tender), tender.get_absolute_url())],
        cancel_url=tender.get_absolute_url(),
    )


# --- Promotions -------------------------------------------------------------------------------------


class PromotionTable(tables.Table):
    name = tables.Column(linkify=lambda record: record.get_absolute_url())
    owner = tables.Column(order_by=("owner__display_name",))
    budget = tables.Column(attrs={"td": {"class": "text-end"}})

    class Meta:
        model = Promotion
        fields = ("name", "kind", "status", "start", "end", "budget", "owner")
        attrs = {"class": "table table-sm table-hover align-middle"}


class PromotionFilter(django_filters.FilterSet):
    product = django_filters.ModelChoiceFilter(
        field_name="products", queryset=Product.objects.all(), label=_l("产品")
    )

    class Meta:
        model = Promotion
        fields = ["kind", "status"]


class PromotionListView(RoleRequiredMixin, ObjectListView):
    required_roles = ROLES
    model = Promotion
    table_class = PromotionTable
    filterset_class = PromotionFilter
    title = _l("促销活动")

    def base_queryset(self) -> QuerySet[Any]:
        return Promotion.objects.select_related("owner")

    create_url_name = "commercial:promotion_create"

    def may_create(self) -> bool:
        return bool(promotions.may_edit_promotions(self.request.user))


class PromotionDetailView(CommercialDataDetail):
    model = Promotion
    body_template = "commercial/promotion_detail.html"
    history_url_name = "commercial:promotion_history"
    list_crumb = PROMOTIONS

    def base_queryset(self) -> QuerySet[Any]:
        return Promotion.objects.select_related("owner").prefetch_related("products", "provinces")

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        ctx = super().get_context_data(**kwargs)
        ctx["can_edit"] = promotions.may_edit_promotions(self.request.user)
        if self.active_tab == "overview":
            baseline = self.request.GET.get("baseline", "last_year")
            if baseline not in promotions.BASELINES:
                baseline = "last_year"
            ctx["baselines"] = promotions.BASELINES
            ctx["uplift"] = promotions.promotion_uplift(
                user=self.request.user, promotion=self.object, baseline=baseline
            )
        return ctx


class PromotionHistoryView(ObjectHistoryView, PromotionDetailView):
    active_tab = "history"
    body_template = "core/history_tab.html"


def _promotion_form_page(request: HttpRequest, promotion: Promotion | None) -> HttpResponse:
    if not promotions.may_edit_promotions(request.user):
        raise PermissionDenied(_("您的角色不能维护促销活动。"))
    initial: dict[str, Any] = {"status": Promotion.Status.PLANNED}
    if promotion is not None:
        initial = {
            "name": promotion.name,
            "kind": promotion.kind,
            "products": list(promotion.products.values_list("pk", flat=True)),
            "provinces": list(promotion.provinces.values_list("code", flat=True)),
            "start": promotion.start,
            "end": promotion.end,
            "budget": promotion.budget,
            "status": promotion.status,
            "notes": promotion.notes,
        }
    form = PromotionForm(request.POST or None, initial=initial)

    def save(data: dict[str, Any]) -> Promotion:
        data = {**data, "products": list(data["products"]), "provinces": list(data["provinces"])}
        return promotions.save_promotion(actor=actor(request), promotion=promotion, **data)

    return form_page(
        request,
        form=form,
        save=save,
        success_url=lambda saved: saved.get_absolute_url(),
        title=_("修改促销活动：{name}").format(name=promotion) if promotion else _("新建促销活动"),
        success_message=_("促销活动已保存。"),
        breadcrumbs=[PROMOTIONS],
        cancel_url=promotion.get_absolute_url() if promotion else reverse("commercial:promotion_list"),
    )


@role_required(*ROLES)
def promotion_create(request: HttpRequest) -> HttpResponse:
    return _promotion_form_page(request, None)


@role_required(*ROLES)
def promotion_edit(request: HttpRequest, pk: int) -> HttpResponse:
    return _promotion_form_page(request, get_visible_or_404(Promotion, user=request.user, pk=pk))


# --- Market data ------------------------------------------------------------------------------------


class MarketTable(tables.Table):
    province = tables.Column(order_by=("province_id",))
    therapeutic_area = tables.Column(order_by=("therapeutic_area__name",))
    month = tables.DateColumn(format="Y-m")
    market_amount = tables.Column(attrs={"td": {"class": "text-end"}})
    market_volume = tables.Column(attrs={"td": {"class": "text-end"}})

    class Meta:
        model = MarketData
        fields = ("month", "province", "therapeutic_area", "provider", "market_amount", "market_volume")
        attrs = {"class": "table table-sm table-hover align-middle"}


class MarketFilter(django_filters.FilterSet):
    province = django_filters.ModelChoiceFilter(queryset=_provinces(), label=_l("省份"))

    class Meta:
        model = MarketData
        fields = ["therapeutic_area", "provider"]


class MarketListView(RoleRequiredMixin, ObjectListView):
    required_roles = ROLES
    model = MarketData
    table_class = MarketTable
    filterset_class = MarketFilter
    title = _l("市场数据")
    template_name = "commercial/market_list.html"

    def base_queryset(self) -> QuerySet[Any]:
        return MarketData.objects.select_related("province", "therapeutic_area")


class ShareForm(forms.Form):
    area = forms.ModelChoiceField(queryset=TherapeuticArea.objects.all(), label=_l("治疗领域"))
    start = forms.DateField(widget=DateInput(), label=_l("开始月份"))
    end = forms.DateField(widget=DateInput(), label=_l("结束月份"))
    province = forms.ModelChoiceField(
        queryset=_provinces(), required=False, label=_l("省份"), to_field_name="code"
    )
    provider = forms.CharField(required=False, label=_l("数据来源"))


@role_required(*ROLES)
def market_share(request: HttpRequest) -> HttpResponse:
    today = timezone.localdate()
    default_start = promotions.shift_year(today.replace(day=1))
    form = ShareForm(
        request.GET or None,
        initial={
            "area": TherapeuticArea.objects.order_by("name").first(),
            "start": default_start,
            "end": today,
        },
    )
    share = None
    if request.GET and form.is_valid():
        data = form.cleaned_data
        share = market.market_share(
            user=request.user,
            area=data["area"],
            start=data["start"],
            end=data["end"],
            provider=data["provider"] or None,
            province_codes=[data["province"].code] if data["province"] else None,
        )
    return render(
        request,
        "commercial/market_share.html",
        {
            "form": form,
            "share": share,
            "title": _("市场份额"),
            "breadcrumbs": [MARKET, (_("市场份额"), None)],
        },
    )
