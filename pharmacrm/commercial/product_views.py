"""Product pages: products with their SKUs, key message versions, prices and tenders; SKU and competitor forms."""

from __future__ import annotations

from typing import Any

import django_filters
import django_tables2 as tables
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.urls import reverse, reverse_lazy
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _l

from pharmacrm.commercial import products as product_services
from pharmacrm.commercial.forms import CompetitorForm, KeyMessageForm, ProductForm, SkuForm
from pharmacrm.commercial.models import (
    CompetitorProduct,
    KeyMessage,
    PricePolicy,
    Product,
    Sku,
    Tender,
)
from pharmacrm.commercial.scoping import COMMERCIAL_DATA_ROLES
from pharmacrm.core.views import ObjectDetailView, ObjectHistoryView, ObjectListView, actor
from pharmacrm.core.visibility import visible
from pharmacrm.customers.service_forms import form_page

PRODUCTS = (_l("产品"), reverse_lazy("commercial:product_list"))


def sees_commercial_data(user: Any) -> bool:
    """Prices, tenders, sales and market figures: not for reps, service or compliance (RULES_CN §1)."""
    return bool(getattr(user, "is_authenticated", False) and user.roles & COMMERCIAL_DATA_ROLES)


def _require_product_writer(request: HttpRequest) -> None:
    if not product_services.may_edit_products(request.user):
        raise PermissionDenied(_("您的角色只能查看产品信息，不能修改。"))


class ProductTable(tables.Table):
    generic_name = tables.Column(
        linkify=lambda record: reverse("commercial:product_detail", args=[record.pk])
    )
    therapeutic_area = tables.Column(order_by=("therapeutic_area__name",))
    sku_count = tables.Column(verbose_name=_l("品规数"), orderable=False)

    class Meta:
        model = Product
        fields = ("code", "generic_name", "brand_name", "therapeutic_area", "sku_count", "is_active")
        attrs = {"class": "table table-sm table-hover align-middle"}


class ProductFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(method="search", label=_l("名称/编码"))

    class Meta:
        model = Product
        fields = ["therapeutic_area", "is_active"]

    def search(self, queryset: QuerySet[Any], name: str, value: str) -> QuerySet[Any]:
        return queryset.filter(
            Q(generic_name__icontains=value) | Q(brand_name__icontains=value) | Q(code__icontains=value)
        )


class ProductListView(ObjectListView):
    model = Product
    table_class = ProductTable
    filterset_class = ProductFilter
    title = _l("产品")

    def base_queryset(self) -> QuerySet[Any]:
        return Product.objects.select_related("therapeutic_area").annotate(sku_count=Count("skus"))

    create_url_name = "commercial:product_create"

    def may_create(self) -> bool:
        return bool(product_services.may_edit_products(self.request.user))


def _product_form_page(request: HttpRequest, product: Product | None) -> HttpResponse:
    _require_product_writer(request)
    initial: dict[str, Any] = {"is_active": True}
    if product is not None:
        initial = {name: getattr(product, name) for name in product_services.PRODUCT_FIELDS}
        initial["therapeutic_area"] = product.therapeutic_area_id
    form = ProductForm(request.POST or None, initial=initial)
    return form_page(
        request,
        form=form,
        save=lambda data: product_services.save_product(actor=actor(request), product=product, **data),
        success_url=lambda saved: saved.get_absolute_url(),
        title=_("修改产品：{product}").format(product=product) if product else _("新建产品"),
        success_message=_("产品已保存。"),
        breadcrumbs=[PRODUCTS],
        cancel_url=product.get_absolute_url() if product else reverse("commercial:product_list"),
    )


@login_required
def product_create(request: HttpRequest) -> HttpResponse:
    return _product_form_page(request, None)


@login_required
def product_edit(request: HttpRequest, pk: int) -> HttpResponse:
    return _product_form_page(request, get_object_or_404(visible(Product, user=request.user), pk=pk))


class ProductDetailView(ObjectDetailView):
    model = Product
    template_name = "commercial/product_page.html"
    body_template = "commercial/product_detail.html"
    list_crumb = PRODUCTS
    history_url_name = "commercial:product_history"

    def base_queryset(self) -> QuerySet[Any]:
        return Product.objects.select_related("therapeutic_area")

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        ctx = super().get_context_data(**kwargs)
        product = self.object
        user = self.request.user
        today = timezone.localdate()
        ctx["today"] = today
        ctx["skus"] = list(product.skus.all())
        ctx["key_messages"] = list(KeyMessage.objects.filter(product=product).order_by("code", "-version"))
        ctx["competitors"] = list(CompetitorProduct.objects.filter(competes_with=product).order_by("name"))
        ctx["can_edit"] = product_services.may_edit_products(user)
        ctx["sees_commercial"] = sees_commercial_data(user)
        if ctx["sees_commercial"]:
            ctx["prices"] = list(
                visible(PricePolicy, user=user)
                .filter(sku__product=product, effective_from__lte=today)
                .filter(Q(effective_to__isnull=True) | Q(effective_to__gte=today))
                .select_related("sku", "province")
                .order_by("sku__code", "kind", "province_id", "customer_kind")[:100]
            )
            ctx["tenders"] = list(
                visible(Tender, user=user)
                .filter(sku__product=product)
                .select_related("sku", "province")
                .order_by("-period_start")[:50]
            )
        return ctx


class ProductHistoryView(ObjectHistoryView, ProductDetailView):
    active_tab = "history"
    body_template = "core/history_tab.html"


class SkuTable(tables.Table):
    code = tables.Column(linkify=lambda record: reverse("commercial:sku_edit", args=[record.pk]))
    product = tables.Column(
        linkify=lambda record: reverse("commercial:product_detail", args=[record.product_id]),
        order_by=("product__generic_name",),
    )

    class Meta:
        model = Sku
        fields = (
            "code",
            "product",
            "strength",
            "pack",
            "unit",
            "standard_units",
            "standard_unit",
            "is_active",
        )
        attrs = {"class": "table table-sm table-hover align-middle"}


class SkuFilter(django_filters.FilterSet):
    class Meta:
        model = Sku
        fields = ["product", "is_active"]


class SkuListView(ObjectListView):
    model = Sku
    table_class = SkuTable
    filterset_class = SkuFilter
    title = _l("品规")
    breadcrumbs = [PRODUCTS]

    def base_queryset(self) -> QuerySet[Any]:
        return Sku.objects.select_related("product")

    create_url_name = "commercial:sku_create"

    def may_create(self) -> bool:
        return bool(product_services.may_edit_products(self.request.user))


@login_required
def sku_create(request: HttpRequest) -> HttpResponse:
    _require_product_writer(request)
    initial = {"product": request.GET.get("product")} if request.GET.get("product") else None
    form = SkuForm(request.POST or None, initial=initial)
    return form_page(
        request,
        form=form,
        save=lambda data: product_services.save_sku(actor=actor(request), **data),
        success_url=lambda sku: reverse("commercial:product_detail", args=[sku.product_id]),
        title=_("新建品规"),
        success_message=_("品规已创建。"),
        breadcrumbs=[PRODUCTS],
        cancel_url=reverse("commercial:sku_list"),
    )


@login_required
def sku_edit(request: HttpRequest, pk: int) -> HttpResponse:
    sku = get_object_or_404(visible(Sku, user=request.user).select_related("product"), pk=pk)
    _require_product_writer(request)
    initial = {name: getattr(sku, name) for name in product_services.SKU_FIELDS}
    initial["product"] = sku.product_id
    form = SkuForm(request.POST or None, initial=initial)
    return form_page(
        request,
        form=form,
        save=lambda data: product_services.save_sku(actor=actor(request), sku=sku, **data),
        success_url=lambda saved: reverse("commercial:product_detail", args=[saved.product_id]),
        title=_("修改品规：{sku}").format(sku=sku),
        success_message=_("品规已保存。"),
        breadcrumbs=[
            PRODUCTS,
            (str(sku.product), reverse("commercial:product_detail", args=[sku.product_id])),
        ],
        cancel_url=reverse("commercial:product_detail", args=[sku.product_id]),
    )


@login_required
def key_message_add(request: HttpRequest, pk: int) -> HttpResponse:
    product = get_object_or_404(visible(Product, user=request.user), pk=pk)
    _require_product_writer(request)
    initial: dict[str, Any] = {"valid_from": timezone.localdate()}
    if request.GET.get("code"):
        initial["code"] = request.GET["code"]
    form = KeyMessageForm(request.POST or None, initial=initial)
    url = reverse("commercial:product_detail", args=[product.pk])
    return form_page(
        request,
        form=form,
        save=lambda data: product_services.add_key_message_version(
            actor=actor(request), product=product, **data
        ),
        success_url=lambda _message: url,
        title=_("新增关键信息（或新版本）：{product}").format(product=product),
        success_message=_("关键信息已保存，旧版本保留在列表中。"),
        breadcrumbs=[PRODUCTS, (str(product), url)],
        cancel_url=url,
    )


class CompetitorTable(tables.Table):
    name = tables.Column(linkify=lambda record: reverse("commercial:competitor_edit", args=[record.pk]))
    therapeutic_area = tables.Column(order_by=("therapeutic_area__name",))
    ours = tables.Column(verbose_name=_l("竞争的我方产品"), accessor="pk", orderable=False)

    class Meta:
        model = CompetitorProduct
        fields = ("name", "maker", "therapeutic_area", "ours")
        attrs = {"class": "table table-sm table-hover align-middle"}

    def render_ours(self, record: CompetitorProduct) -> str:
        return "、".join(str(p) for p in record.competes_with.all()) or "—"


class CompetitorFilter(django_filters.FilterSet):
    class Meta:
        model = CompetitorProduct
        fields = ["therapeutic_area"]


class CompetitorListView(ObjectListView):
    model = CompetitorProduct
    table_class = CompetitorTable
    filterset_class = CompetitorFilter
    title = _l("竞品")
    breadcrumbs = [PRODUCTS]

    def base_queryset(self) -> QuerySet[Any]:
        return CompetitorProduct.objects.select_related("therapeutic_area").prefetch_related(
            "competes_with__therapeutic_area"
        )

    create_url_name = "commercial:competitor_create"

    def may_create(self) -> bool:
        return bool(product_services.may_edit_products(self.request.user))


@login_required
def competitor_create(request: HttpRequest) -> HttpResponse:
    _require_product_writer(request)
    form = CompetitorForm(request.POST or None)
    return form_page(
        request,
        form=form,
        save=lambda data: product_services.save_competitor_product(
            actor=actor(request), **{**data, "competes_with": list(data["competes_with"])}
        ),
        success_url=lambda _obj: reverse("commercial:competitor_list"),
        title=_("新建竞品"),
        success_message=_("竞品已保存。"),
        breadcrumbs=[PRODUCTS, (_("竞品"), reverse("commercial:competitor_list"))],
        cancel_url=reverse("commercial:competitor_list"),
    )


@login_required
def competitor_edit(request: HttpRequest, pk: int) -> HttpResponse:
    obj = get_object_or_404(visible(CompetitorProduct, user=request.user), pk=pk)
    _require_product_writer(request)
    initial = {
        "name": obj.name,
        "maker": obj.maker,
        "therapeutic_area": obj.therapeutic_area_id,
        "competes_with": list(obj.competes_with.values_list("pk", flat=True)),
        "notes": obj.notes,
    }
    form = CompetitorForm(request.POST or None, initial=initial)
    return form_page(
        request,
        form=form,
        save=lambda data: product_services.save_competitor_product(
            actor=actor(request), competitor=obj, **{**data, "competes_with": list(data["competes_with"])}
        ),
        success_url=lambda _obj: reverse("commercial:competitor_list"),
        title=_("修改竞品：{name}").format(name=obj),
        success_message=_("竞品已保存。"),
        breadcrumbs=[PRODUCTS, (_("竞品"), reverse("commercial:competitor_list"))],
        cancel_url=reverse("commercial:competitor_list"),
    )
