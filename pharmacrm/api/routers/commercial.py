"""Commercial API: hospital listings (进院), products and SKUs, price policies, tenders, promotions, market data."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, cast

from django.http import Http404, HttpRequest
from django.utils.translation import gettext as _
from ninja import Router, Schema, Status
from ninja.pagination import CursorPagination, paginate

from pharmacrm.api.schemas import ErrorOut, InputSchema
from pharmacrm.commercial import market, prices, products, promotions, services, tenders
from pharmacrm.commercial.models import (
    Listing,
    MarketData,
    PricePolicy,
    Product,
    Promotion,
    Sku,
    Tender,
    TherapeuticArea,
)
from pharmacrm.commercial.scoping import COMMERCIAL_DATA_ROLES
from pharmacrm.core.errors import DomainError, NotAllowed
from pharmacrm.core.models import User
from pharmacrm.core.visibility import get_visible_or_404, visible


def _actor(request: HttpRequest) -> User:
    """The signed-in user (login is required before any write is reached)."""
    return cast(User, request.user)


router = Router(tags=["commercial"])


class ListingOut(Schema):
    id: int
    institution_id: int
    product_id: int
    owner_id: int
    stage: str
    intro_on: dt.date | None
    submitted_on: dt.date | None
    decided_on: dt.date | None
    urgent_purchase_on: dt.date | None
    first_purchase_on: dt.date | None
    notes: str


class ListingIn(InputSchema):
    institution_id: int
    product_id: int
    intro_on: dt.date | None = None
    owner_id: int | None = None
    notes: str = ""


class MoveIn(InputSchema):
    stage: str
    on: dt.date | None = None
    reason: str = ""


@router.get("/listings", response=list[ListingOut])
@paginate(CursorPagination, ordering=("id",))
def list_listings(
    request: HttpRequest,
    stage: str | None = None,
    product_id: int | None = None,
    institution_id: int | None = None,
) -> Any:
    qs = visible(Listing, user=request.user)
    filters = {"stage": stage, "product_id": product_id, "institution_id": institution_id}
    return qs.filter(**{k: v for k, v in filters.items() if v not in (None, "")})


@router.get("/listings/{listing_id}", response={200: ListingOut, 404: ErrorOut})
def get_listing(request: HttpRequest, listing_id: int) -> Any:
    return get_visible_or_404(Listing, user=request.user, pk=listing_id)


@router.post(
    "/listings", response={201: ListingOut, 400: ErrorOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut}
)
def open_listing(request: HttpRequest, payload: ListingIn) -> Any:
    return Status(
        201,
        services.open_listing(
            actor=_actor(request),
            institution=payload.institution_id,
            product=payload.product_id,
            intro_on=payload.intro_on,
            owner=payload.owner_id,
            notes=payload.notes,
        ),
    )


@router.post(
    "/listings/{listing_id}/stage", response={200: ListingOut, 400: ErrorOut, 403: ErrorOut, 404: ErrorOut}
)
def move_listing(request: HttpRequest, listing_id: int, payload: MoveIn) -> Any:
    """Move to a stage on a date (default today). Skipping ahead is refused; going back needs a reason."""
    listing = get_visible_or_404(Listing, user=request.user, pk=listing_id)
    return services.move_listing(
        actor=_actor(request),
        listing=listing,
        stage=payload.stage,
        on=payload.on,
        reason=payload.reason,
    )


# --- Products, SKUs, key messages --------------------------------------------------------------------
#
# Products, SKUs and key messages: every signed-in role. Prices, tenders, promotions and market
# data: commercial, marketing, managers, director and admin only; for anyone else a list answers
# 403 and an object 404 (a rep holds no sales task, RULES_CN §1).


def _commercial_data_or_403(request: HttpRequest) -> None:
    if not request.user.has_role(*COMMERCIAL_DATA_ROLES):  # type: ignore[union-attr]
        raise NotAllowed(_("您的角色不能查看价格、招标、促销和市场数据。"))


def _commercial_object(request: HttpRequest, model: Any, pk: int) -> Any:
    if not request.user.has_role(*COMMERCIAL_DATA_ROLES):  # type: ignore[union-attr]
        raise Http404
    return get_visible_or_404(model, user=request.user, pk=pk)


class ProductOut(Schema):
    id: int
    code: str
    generic_name: str
    brand_name: str
    therapeutic_area_id: int
    is_active: bool


class SkuOut(Schema):
    id: int
    product_id: int
    code: str
    strength: str
    pack: str
    unit: str
    standard_units: Decimal
    standard_unit: str
    is_active: bool


class SkuIn(InputSchema):
    product_id: int
    code: str
    strength: str
    pack: str
    unit: str = "盒"
    standard_units: Decimal
    standard_unit: str = "片"
    is_active: bool = True


class SkuPatch(InputSchema):
    code: str | None = None
    strength: str | None = None
    pack: str | None = None
    unit: str | None = None
    standard_units: Decimal | None = None
    standard_unit: str | None = None
    is_active: bool | None = None


class KeyMessageOut(Schema):
    id: int
    product_id: int
    code: str
    version: int
    text: str
    approved: bool
    valid_from: dt.date
    valid_to: dt.date | None


class KeyMessageIn(InputSchema):
    code: str
    text: str
    valid_from: dt.date
    valid_to: dt.date | None = None
    approved: bool = False


@router.get("/products", response=list[ProductOut])
@paginate(CursorPagination, ordering=("id",))
def list_products(request: HttpRequest, therapeutic_area_id: int | None = None) -> Any:
    qs = visible(Product, user=request.user)
    return qs.filter(therapeutic_area_id=therapeutic_area_id) if therapeutic_area_id else qs


class ProductIn(InputSchema):
    code: str
    generic_name: str
    brand_name: str = ""
    therapeutic_area_id: int
    is_active: bool = True


@router.post("/products", response={201: ProductOut, 400: ErrorOut, 403: ErrorOut, 409: ErrorOut})
def create_product(request: HttpRequest, payload: ProductIn) -> Any:
    data = payload.dict()
    return Status(
        201,
        products.save_product(
            actor=_actor(request), therapeutic_area=data.pop("therapeutic_area_id"), **data
        ),
    )


@router.get("/skus", response=list[SkuOut])
@paginate(CursorPagination, ordering=("id",))
def list_skus(request: HttpRequest, product_id: int | None = None) -> Any:
    qs = visible(Sku, user=request.user)
    return qs.filter(product_id=product_id) if product_id else qs


@router.get("/skus/{sku_id}", response={200: SkuOut, 404: ErrorOut})
def get_sku(request: HttpRequest, sku_id: int) -> Any:
    return get_visible_or_404(Sku, user=request.user, pk=sku_id)


@router.post("/skus", response={201: SkuOut, 400: ErrorOut, 403: ErrorOut, 409: ErrorOut})
def create_sku(request: HttpRequest, payload: SkuIn) -> Any:
    data = payload.dict()
    return Status(201, products.save_sku(actor=_actor(request), product=data.pop("product_id"), **data))


@router.patch(
    "/skus/{sku_id}", response={200: SkuOut, 400: ErrorOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut}
)
def update_sku(request: HttpRequest, sku_id: int, payload: SkuPatch) -> Any:
    sku = get_visible_or_404(Sku, user=request.user, pk=sku_id)
    return products.save_sku(actor=_actor(request), sku=sku, **payload.dict(exclude_unset=True))


@router.get("/products/{product_id}/key-messages", response={200: list[KeyMessageOut], 404: ErrorOut})
def list_key_messages(request: HttpRequest, product_id: int) -> Any:
    product = get_visible_or_404(Product, user=request.user, pk=product_id)
    return list(product.key_messages.order_by("code", "-version"))


@router.post(
    "/products/{product_id}/key-messages",
    response={201: KeyMessageOut, 400: ErrorOut, 403: ErrorOut, 404: ErrorOut},
)
def add_key_message(request: HttpRequest, product_id: int, payload: KeyMessageIn) -> Any:
    """Add a key message, or a new version of one with the same code (the old version is kept)."""
    product = get_visible_or_404(Product, user=request.user, pk=product_id)
    return Status(
        201, products.add_key_message_version(actor=_actor(request), product=product, **payload.dict())
    )


# --- Price policies -----------------------------------------------------------------------------------


class PriceOut(Schema):
    id: int
    kind: str
    sku_id: int
    province_id: str | None
    customer_kind: str
    price: Decimal
    effective_from: dt.date
    effective_to: dt.date | None
    notes: str


class PriceIn(InputSchema):
    kind: str
    sku_id: int
    province: str | None = None
    customer_kind: str = ""
    price: Decimal
    effective_from: dt.date
    effective_to: dt.date | None = None
    notes: str = ""


class PriceEndIn(InputSchema):
    on: dt.date


@router.get("/prices", response={200: list[PriceOut], 403: ErrorOut})
@paginate(CursorPagination, ordering=("id",))
def list_prices(
    request: HttpRequest,
    sku_id: int | None = None,
    kind: str | None = None,
    province: str | None = None,
    product_id: int | None = None,
) -> Any:
    _commercial_data_or_403(request)
    qs = visible(PricePolicy, user=request.user)
    filters = {"sku_id": sku_id, "kind": kind, "province_id": province, "sku__product_id": product_id}
    return qs.filter(**{k: v for k, v in filters.items() if v not in (None, "")})


@router.get("/prices/in-force", response={200: PriceOut | None, 400: ErrorOut, 403: ErrorOut})
def get_price_in_force(
    request: HttpRequest,
    sku_id: int,
    on: dt.date,
    kind: str = PricePolicy.Kind.LIST,
    province: str | None = None,
    customer_kind: str | None = None,
) -> Any:
    """The policy in force (most specific first: province+customer kind, province, national+customer kind, national); null when none."""
    _commercial_data_or_403(request)
    if kind not in PricePolicy.Kind.values:
        raise DomainError(
            _("价格类型“{value}”不在可选值中。").format(value=kind), fields={"kind": [_("不在可选值中。")]}
        )
    return prices.price_in_force(sku=sku_id, on=on, province=province, kind=kind, customer_kind=customer_kind)


@router.get("/prices/{price_id}", response={200: PriceOut, 404: ErrorOut})
def get_price(request: HttpRequest, price_id: int) -> Any:
    return _commercial_object(request, PricePolicy, price_id)


@router.post("/prices", response={201: PriceOut, 400: ErrorOut, 403: ErrorOut, 409: ErrorOut})
def create_price(request: HttpRequest, payload: PriceIn) -> Any:
    data = payload.dict()
    return Status(201, prices.save_price_policy(actor=_actor(request), sku=data.pop("sku_id"), **data))


@router.post("/prices/{price_id}/end", response={200: PriceOut, 400: ErrorOut, 403: ErrorOut, 404: ErrorOut})
def end_price(request: HttpRequest, price_id: int, payload: PriceEndIn) -> Any:
    policy = _commercial_object(request, PricePolicy, price_id)
    return prices.end_price_policy(actor=_actor(request), policy=policy, on=payload.on)


# --- Tenders ----------------------------------------------------------------------------------------


class TenderOut(Schema):
    id: int
    kind: str
    name: str
    province_id: str
    sku_id: int
    status: str
    winning_price: Decimal | None
    period_start: dt.date
    period_end: dt.date
    notes: str


class TenderIn(InputSchema):
    kind: str = "vbp"
    name: str
    province: str
    sku_id: int
    status: str = "pending"
    winning_price: Decimal | None = None
    period_start: dt.date
    period_end: dt.date
    notes: str = ""


class CommitmentIn(InputSchema):
    institution_id: int
    volume: Decimal


class DeliveryLineOut(Schema):
    institution_id: int
    institution_name: str
    committed: Decimal
    expected_to_date: Decimal
    delivered: Decimal | None
    ratio_percent: Decimal | None


class DeliveryOut(Schema):
    start: dt.date
    end: dt.date
    elapsed_days: int
    available: bool
    note: str
    lines: list[DeliveryLineOut]


@router.get("/tenders", response={200: list[TenderOut], 403: ErrorOut})
@paginate(CursorPagination, ordering=("id",))
def list_tenders(
    request: HttpRequest, province: str | None = None, sku_id: int | None = None, status: str | None = None
) -> Any:
    _commercial_data_or_403(request)
    qs = visible(Tender, user=request.user)
    filters = {"province_id": province, "sku_id": sku_id, "status": status}
    return qs.filter(**{k: v for k, v in filters.items() if v not in (None, "")})


@router.get("/tenders/{tender_id}", response={200: TenderOut, 404: ErrorOut})
def get_tender(request: HttpRequest, tender_id: int) -> Any:
    return _commercial_object(request, Tender, tender_id)


@router.post("/tenders", response={201: TenderOut, 400: ErrorOut, 403: ErrorOut, 409: ErrorOut})
def create_tender(request: HttpRequest, payload: TenderIn) -> Any:
    data = payload.dict()
    return Status(201, tenders.save_tender(actor=_actor(request), sku=data.pop("sku_id"), **data))


@router.post(
    "/tenders/{tender_id}/commitments",
    response={200: DeliveryOut, 400: ErrorOut, 403: ErrorOut, 404: ErrorOut},
)
def set_commitment(request: HttpRequest, tender_id: int, payload: CommitmentIn) -> Any:
    """Set a hospital's agreed annual volume; answers the tender's delivery view."""
    tender = _commercial_object(request, Tender, tender_id)
    tenders.set_commitment(
        actor=_actor(request), tender=tender, institution=payload.institution_id, volume=payload.volume
    )
    return _delivery(request, tender)


@router.get("/tenders/{tender_id}/delivery", response={200: DeliveryOut, 404: ErrorOut})
def get_delivery(request: HttpRequest, tender_id: int) -> Any:
    """Delivered vs committed volume per hospital (standard units) from the tender start to today."""
    return _delivery(request, _commercial_object(request, Tender, tender_id))


def _delivery(request: HttpRequest, tender: Tender) -> dict[str, Any]:
    d = tenders.tender_delivery(user=request.user, tender=tender)
    return {
        "start": d.start,
        "end": d.end,
        "elapsed_days": d.elapsed_days,
        "available": d.available,
        "note": d.note,
        "lines": [
            {
                "institution_id": line.institution.pk,
                "institution_name": line.institution.name,
                "committed": line.committed,
                "expected_to_date": line.expected_to_date,
                "delivered": line.delivered,
                "ratio_percent": line.ratio,
            }
            for line in d.lines
        ],
    }


# --- Promotions -------------------------------------------------------------------------------------


class PromotionOut(Schema):
    id: int
    name: str
    kind: str
    status: str
    start: dt.date
    end: dt.date
    budget: Decimal
    owner_id: int
    notes: str
    product_ids: list[int]
    provinces: list[str]

    @staticmethod
    def resolve_product_ids(obj: Promotion) -> list[int]:
        return [p.pk for p in obj.products.all()]

    @staticmethod
    def resolve_provinces(obj: Promotion) -> list[str]:
        return [d.code for d in obj.provinces.all()]


class PromotionIn(InputSchema):
    name: str
    kind: str
    product_ids: list[int]
    provinces: list[str]
    start: dt.date
    end: dt.date
    budget: Decimal
    owner_id: int | None = None
    status: str = "planned"
    notes: str = ""


class UpliftLineOut(Schema):
    actual: Decimal
    baseline: Decimal | None
    uplift_percent: Decimal | None


class UpliftOut(Schema):
    baseline: str
    available: bool
    method: str
    amount: UpliftLineOut | None
    quantity: UpliftLineOut | None
    figures: list[dict[str, Any]]


@router.get("/promotions", response={200: list[PromotionOut], 403: ErrorOut})
@paginate(CursorPagination, ordering=("id",))
def list_promotions(request: HttpRequest, status: str | None = None) -> Any:
    _commercial_data_or_403(request)
    qs = visible(Promotion, user=request.user).prefetch_related("products", "provinces")
    return qs.filter(status=status) if status else qs


@router.get("/promotions/{promotion_id}", response={200: PromotionOut, 404: ErrorOut})
def get_promotion(request: HttpRequest, promotion_id: int) -> Any:
    return _commercial_object(request, Promotion, promotion_id)


@router.post("/promotions", response={201: PromotionOut, 400: ErrorOut, 403: ErrorOut})
def create_promotion(request: HttpRequest, payload: PromotionIn) -> Any:
    data = payload.dict()
    return Status(
        201,
        promotions.save_promotion(
            actor=_actor(request),
            products=data.pop("product_ids"),
            owner=data.pop("owner_id"),
            **data,
        ),
    )


@router.get("/promotions/{promotion_id}/uplift", response={200: UpliftOut, 400: ErrorOut, 404: ErrorOut})
def get_uplift(request: HttpRequest, promotion_id: int, baseline: str = "last_year") -> Any:
    """Uplift against `last_year` or `matched_regions`, with the figures and how they were computed."""
    promotion = _commercial_object(request, Promotion, promotion_id)
    u = promotions.promotion_uplift(user=request.user, promotion=promotion, baseline=baseline)

    def line(x: Any) -> dict[str, Any] | None:
        return None if x is None else {"actual": x.actual, "baseline": x.baseline, "uplift_percent": x.uplift}

    return {
        "baseline": u.baseline,
        "available": u.available,
        "method": u.method,
        "amount": line(u.amount),
        "quantity": line(u.quantity),
        "figures": [{"label": str(label), "amount": a, "quantity": q} for label, a, q in u.figures],
    }


# --- Market data ------------------------------------------------------------------------------------


class MarketDataOut(Schema):
    id: int
    province_id: str
    therapeutic_area_id: int
    month: dt.date
    provider: str
    market_amount: Decimal | None
    market_volume: Decimal | None


class ShareLineOut(Schema):
    province: str
    month: dt.date
    market_amount: Decimal | None
    market_volume: Decimal | None
    our_amount: Decimal | None
    our_quantity: Decimal | None
    amount_share_percent: Decimal | None
    volume_share_percent: Decimal | None


class ShareOut(Schema):
    therapeutic_area_id: int
    provider: str
    available: bool
    note: str
    competitors: list[str]
    lines: list[ShareLineOut]


@router.get("/market-data", response={200: list[MarketDataOut], 403: ErrorOut})
@paginate(CursorPagination, ordering=("id",))
def list_market_data(
    request: HttpRequest,
    therapeutic_area_id: int | None = None,
    province: str | None = None,
    provider: str | None = None,
) -> Any:
    _commercial_data_or_403(request)
    qs = visible(MarketData, user=request.user)
    filters = {"therapeutic_area_id": therapeutic_area_id, "province_id": province, "provider": provider}
    return qs.filter(**{k: v for k, v in filters.items() if v not in (None, "")})


@router.get("/market-share", response={200: ShareOut, 403: ErrorOut, 404: ErrorOut})
def get_market_share(
    request: HttpRequest,
    therapeutic_area_id: int,
    start: dt.date,
    end: dt.date,
    provider: str | None = None,
    province: str | None = None,
) -> Any:
    """Our sales ÷ the market by province × month for a therapeutic area (one provider)."""
    _commercial_data_or_403(request)
    area = get_visible_or_404(TherapeuticArea, user=request.user, pk=therapeutic_area_id)
    s = market.market_share(
        user=request.user,
        area=area,
        start=start,
        end=end,
        provider=provider,
        province_codes=[province] if province else None,
    )
    return {
        "therapeutic_area_id": area.pk,
        "provider": s.provider,
        "available": s.available,
        "note": s.note,
        "competitors": [str(c) for c in s.competitors],
        "lines": [
            {
                "province": line.province_code,
                "month": line.month,
                "market_amount": line.market_amount,
                "market_volume": line.market_volume,
                "our_amount": line.our_amount,
                "our_quantity": line.our_quantity,
                "amount_share_percent": line.amount_share,
                "volume_share_percent": line.volume_share,
            }
            for line in s.lines
        ],
    }
