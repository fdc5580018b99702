"""Listing (进院) pages: the pipeline list, a listing with its stage history, open and move."""

from __future__ import annotations

from typing import Any, cast

import django_filters
import django_tables2 as tables
from django import forms
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.urls import reverse, reverse_lazy
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _l

from pharmacrm.commercial import services
from pharmacrm.commercial.forms import ListingForm, MoveForm
from pharmacrm.commercial.models import Listing, Product
from pharmacrm.core.models import User
from pharmacrm.core.views import ObjectDetailView, ObjectHistoryView, ObjectListView
from pharmacrm.core.visibility import get_visible_or_404
from pharmacrm.customers.models import Institution
from pharmacrm.customers.service_forms import form_page
from pharmacrm.customers.services import may_edit


def _actor(request: HttpRequest) -> User:
    """The signed-in user (login is required before any write is reached)."""
    return cast(User, request.user)


LISTINGS = (_l("进院"), reverse_lazy("commercial:listing_list"))


class ListingTable(tables.Table):
    institution = tables.Column(
        linkify=lambda record: record.get_absolute_url(), order_by=("institution__name",)
    )
    product = tables.Column(order_by=("product__generic_name",))
    owner = tables.Column(verbose_name=_l("负责人"), order_by=("owner__display_name",))

    class Meta:
        model = Listing
        fields = (
            "institution",
            "product",
            "stage",
            "intro_on",
            "submitted_on",
            "decided_on",
            "first_purchase_on",
            "owner",
        )
        attrs = {"class": "table table-sm table-hover align-middle"}


class ListingFilter(django_filters.FilterSet):
    product = django_filters.ModelChoiceFilter(queryset=Product.objects.all(), label=_l("产品"))
    institution = django_filters.NumberFilter(field_name="institution_id", widget=forms.HiddenInput)

    class Meta:
        model = Listing
        fields = ["stage"]


class ListingListView(ObjectListView):
    model = Listing
    table_class = ListingTable
    filterset_class = ListingFilter
    title = _l("进院")

    def base_queryset(self) -> QuerySet[Any]:
        return Listing.objects.select_related("institution", "product", "owner")

    create_url_name = "commercial:listing_create"

    def may_create(self) -> bool:
        return bool(may_edit(self.request.user))


class ListingDetailView(ObjectDetailView):
    model = Listing
    template_name = "commercial/listing_page.html"
    body_template = "commercial/listing_detail.html"
    history_url_name = "commercial:listing_history"
    list_crumb = LISTINGS

    def base_queryset(self) -> QuerySet[Any]:
        return Listing.objects.select_related("institution", "product", "owner")

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        ctx = super().get_context_data(**kwargs)
        ctx["can_edit"] = may_edit(self.request.user)
        ctx["move_form"] = MoveForm(
            prefix="move", initial={"stage": next(iter(services.FORWARD[self.object.stage]), "")}
        )
        ctx["next_stages"] = [Listing.Stage(s).label for s in services.FORWARD[self.object.stage]]
        return ctx


class ListingHistoryView(ObjectHistoryView, ListingDetailView):
    active_tab = "history"
    body_template = "core/history_tab.html"


@login_required
def listing_create(request: HttpRequest) -> HttpResponse:
    if not may_edit(request.user):
        raise PermissionDenied(_("您的角色只能查看进院信息，不能修改。"))
    institution = None
    if request.GET.get("institution"):
        institution = get_visible_or_404(Institution, user=request.user, pk=request.GET["institution"])
    form = ListingForm(request.POST or None, user=request.user, institution=institution)
    return form_page(
        request,
        form=form,
        save=lambda data: services.open_listing(actor=_actor(request), **data),
        success_url=lambda listing: listing.get_absolute_url(),
        title=_("新建进院"),
        success_message=_("进院记录已创建。"),
        breadcrumbs=[LISTINGS],
        cancel_url=institution.get_absolute_url() if institution else reverse("commercial:listing_list"),
    )


@login_required
def listing_move(request: HttpRequest, pk: int) -> HttpResponse:
    listing = get_visible_or_404(
        Listing.objects.select_related("institution", "product"), user=request.user, pk=pk
    )
    if not may_edit(request.user):
        raise PermissionDenied(_("您的角色只能查看进院信息，不能修改。"))
    form = MoveForm(request.POST or None, prefix="move")
    return form_page(
        request,
        form=form,
        save=lambda data: services.move_listing(actor=_actor(request), listing=listing, **data),
        success_url=lambda item: item.get_absolute_url(),
        title=_("更新进院阶段：{listing}").format(listing=listing),
        success_message=_("进院阶段已更新。"),
        breadcrumbs=[LISTINGS, (str(listing), listing.get_absolute_url())],
        cancel_url=listing.get_absolute_url(),
    )
