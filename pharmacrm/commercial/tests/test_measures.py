"""Tender delivery, promotion uplift and market share, computed from a fake sales source (contracts §1)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from pharmacrm.commercial import market, promotions, tenders
from pharmacrm.commercial.models import CompetitorProduct, TenderCommitment
from pharmacrm.commercial.tests.factories import (
    MarketDataFactory,
    ProductFactory,
    PromotionFactory,
    SkuFactory,
    TenderFactory,
    TherapeuticAreaFactory,
    province,
)
from pharmacrm.core.errors import DomainError, NotAllowed
from pharmacrm.core.models import Role
from pharmacrm.core.tests.factories import UserFactory
from pharmacrm.customers.tests.factories import InstitutionFactory

D = dt.date
pytestmark = pytest.mark.django_db


@pytest.fixture
def commercial():
    # Admin: sees every hospital (a commercial user sees the hospitals of the territories covered).
    return UserFactory(roles=[Role.ADMIN])


def test_tender_delivery_against_commitment(commercial, fake_sales):
    sku = SkuFactory()
    other_sku = SkuFactory(product=sku.product)
    tender = TenderFactory(sku=sku, period_start=D(2026, 1, 1), period_end=D(2026, 12, 31))
    h1, h2 = InstitutionFactory(), InstitutionFactory()
    tenders.set_commitment(actor=commercial, tender=tender, institution=h1, volume="3650")
    tenders.set_commitment(actor=commercial, tender=tender, institution=h2.pk, volume=Decimal("730"))
    fake_sales.add(
        on=D(2026, 2, 1),
        product=sku.product_id,
        sku=sku.pk,
        province="11",
        institution=h1.pk,
        quantity=200,
        amount=2500,
    )
    fake_sales.add(
        on=D(2026, 3, 1),
        product=sku.product_id,
        sku=sku.pk,
        province="11",
        institution=h1.pk,
        quantity=-20,
        amount=-250,
    )
    # Another SKU of the product does not count towards this tender.
    fake_sales.add(
        on=D(2026, 3, 1),
        product=sku.product_id,
        sku=other_sku.pk,
        province="11",
        institution=h1.pk,
        quantity=999,
        amount=1,
    )
    delivery = tenders.tender_delivery(user=commercial, tender=tender, today=D(2026, 4, 10))
    assert delivery.available and delivery.elapsed_days == 100
    by_name = {line.institution.pk: line for line in delivery.lines}
    assert by_name[h1.pk].committed == 3650
    assert by_name[h1.pk].expected_to_date == Decimal("1000.00")
    assert by_name[h1.pk].delivered == Decimal("180")
    assert by_name[h1.pk].ratio == Decimal("18.0")
    assert by_name[h2.pk].delivered == 0 and by_name[h2.pk].ratio == Decimal("0.0")
    assert "已执行 100 天" in delivery.note
    assert fake_sales.calls[-1]["group_by"] == ("institution", "sku")


def test_tender_delivery_without_sales_source(commercial, no_sales_source):
    tender = TenderFactory()
    tenders.set_commitment(actor=commercial, tender=tender, institution=InstitutionFactory(), volume="100")
    delivery = tenders.tender_delivery(user=commercial, tender=tender, today=D(2026, 3, 1))
    assert not delivery.available
    assert delivery.lines[0].delivered is None and delivery.lines[0].ratio is None
    assert "没有可用的销售数据来源" in delivery.note


def test_commitment_refusals_change_nothing(commercial):
    tender = TenderFactory()  # Beijing
    other_province = InstitutionFactory(province=province("44"))
    with pytest.raises(DomainError, match="不在北京市，不能参加该省的带量采购"):
        tenders.set_commitment(actor=commercial, tender=tender, institution=other_province, volume="10")
    with pytest.raises(DomainError, match="约定采购量须大于 0：-5"):
        tenders.set_commitment(actor=commercial, tender=tender, institution=InstitutionFactory(), volume="-5")
    with pytest.raises(NotAllowed):
        tenders.set_commitment(
            actor=UserFactory(roles=[Role.MARKETING]),
            tender=tender,
            institution=InstitutionFactory(),
            volume="5",
        )
    # A commercial user may only name hospitals within their visibility scope: others do not exist.
    from django.http import Http404

    with pytest.raises(Http404):
        tenders.set_commitment(
            actor=UserFactory(roles=[Role.COMMERCIAL]),
            tender=tender,
            institution=InstitutionFactory(),
            volume="5",
        )
    assert TenderCommitment.objects.count() == 0


def test_won_tender_needs_a_price(commercial):
    with pytest.raises(DomainError, match="中标的结果须填写中标价"):
        tenders.save_tender(
            actor=commercial,
            name="第九批",
            province="11",
            sku=SkuFactory(),
            period_start=D(2026, 1, 1),
            period_end=D(2027, 1, 1),
            status="won",
        )


def _promotion_with_sales(fake_sales):
    product = ProductFactory()
    sku = SkuFactory(product=product)
    promo = PromotionFactory(
        products=[product], provinces=[province("11")], start=D(2026, 3, 1), end=D(2026, 5, 31)
    )
    row = {"product": product.pk, "sku": sku.pk, "institution": 1}
    fake_sales.add(
        on=D(2026, 4, 1), province="11", quantity=1300, amount=13000, **row
    )  # promotion, this year
    fake_sales.add(
        on=D(2025, 4, 1), province="11", quantity=1000, amount=10000, **row
    )  # promotion, last year
    fake_sales.add(on=D(2026, 4, 1), province="44", quantity=1100, amount=22000, **row)  # control, this year
    fake_sales.add(on=D(2025, 4, 1), province="44", quantity=1000, amount=20000, **row)  # control, last year
    fake_sales.add(on=D(2026, 7, 1), province="11", quantity=9999, amount=99999, **row)  # after the promotion
    return promo


def test_uplift_against_last_year(fake_sales):
    promo = _promotion_with_sales(fake_sales)
    uplift = promotions.promotion_uplift(user=UserFactory(roles=[Role.MARKETING]), promotion=promo)
    assert uplift.available
    assert uplift.amount is not None and uplift.quantity is not None
    assert (uplift.amount.actual, uplift.amount.baseline, uplift.amount.uplift) == (
        13000,
        10000,
        Decimal("30.0"),
    )
    assert uplift.quantity.uplift == Decimal("30.0")
    assert "去年同期" in uplift.method


def test_uplift_against_matched_regions(fake_sales):
    promo = _promotion_with_sales(fake_sales)
    uplift = promotions.promotion_uplift(
        user=UserFactory(roles=[Role.MARKETING]), promotion=promo, baseline="matched_regions"
    )
    # Control grew 10 %: expected 10000 × 1.1 = 11000; actual 13000 → +18.2 %.
    assert uplift.amount is not None
    assert uplift.amount.baseline == Decimal("11000.00")
    assert uplift.amount.uplift == Decimal("18.2")
    assert len(uplift.figures) == 4
    control_call = [c for c in fake_sales.calls if c["province_codes"] and "44" in c["province_codes"]]
    assert control_call and all("11" not in c["province_codes"] for c in control_call)


def test_uplift_not_measurable_and_no_source(fake_sales, no_sales_source):
    promo = PromotionFactory()
    uplift = promotions.promotion_uplift(user=UserFactory(roles=[Role.MARKETING]), promotion=promo)
    assert not uplift.available and "没有可用的销售数据来源" in uplift.method


def test_uplift_zero_baseline_is_not_a_division_by_zero(fake_sales):
    promo = PromotionFactory()
    uplift = promotions.promotion_uplift(user=UserFactory(roles=[Role.MARKETING]), promotion=promo)
    assert uplift.available and uplift.amount is not None
    assert uplift.amount.baseline == 0 and uplift.amount.uplift is None


def test_promotion_refusals():
    marketing = UserFactory(roles=[Role.MARKETING])
    args = {
        "name": "秋季",
        "kind": "academic",
        "products": [ProductFactory()],
        "provinces": ["11"],
        "start": D(2026, 9, 1),
        "end": D(2026, 10, 1),
        "budget": "1000",
    }
    with pytest.raises(DomainError, match="结束日期（2026-08-01）不能早于开始日期（2026-09-01）"):
        promotions.save_promotion(actor=marketing, **{**args, "end": D(2026, 8, 1)})
    with pytest.raises(DomainError, match="预算不能为负数：-1"):
        promotions.save_promotion(actor=marketing, **{**args, "budget": "-1"})
    with pytest.raises(DomainError, match="不是省级行政区代码：99"):
        promotions.save_promotion(actor=marketing, **{**args, "provinces": ["99"]})
    with pytest.raises(NotAllowed, match="不能维护促销活动"):
        promotions.save_promotion(actor=UserFactory(roles=[Role.COMMERCIAL]), **args)
    from pharmacrm.commercial.models import Promotion

    assert Promotion.objects.count() == 0
    assert promotions.save_promotion(actor=marketing, **args).pk


def test_market_share(fake_sales):
    area = TherapeuticAreaFactory()
    ours = ProductFactory(therapeutic_area=area)
    sku = SkuFactory(product=ours)
    comp = CompetitorProduct.objects.create(name="竞品A", maker="某公司", therapeutic_area=area)
    MarketDataFactory(therapeutic_area=area, month=D(2026, 3, 1), market_amount=100000, market_volume=None)
    MarketDataFactory(therapeutic_area=area, month=D(2026, 4, 1), market_amount=200000, market_volume=10000)
    MarketDataFactory(therapeutic_area=area, month=D(2026, 4, 1), provider="Other", market_amount=1)
    fake_sales.add(
        on=D(2026, 3, 15),
        product=ours.pk,
        sku=sku.pk,
        province="11",
        institution=1,
        quantity=100,
        amount=5000,
    )
    fake_sales.add(
        on=D(2026, 4, 2),
        product=ours.pk,
        sku=sku.pk,
        province="11",
        institution=1,
        quantity=500,
        amount=30000,
    )
    share = market.market_share(
        user=UserFactory(roles=[Role.DIRECTOR]),
        area=area,
        start=D(2026, 3, 10),
        end=D(2026, 4, 5),
        provider="IQVIA",
    )
    assert [(line.month, line.amount_share, line.volume_share) for line in share.lines] == [
        (D(2026, 3, 1), Decimal("5.00"), None),
        (D(2026, 4, 1), Decimal("15.00"), Decimal("5.00")),
    ]
    assert share.competitors == [comp]
    # The whole months count, whatever day the period starts or ends on.
    assert fake_sales.calls[-1]["start"] == D(2026, 3, 1) and fake_sales.calls[-1]["end"] == D(2026, 4, 30)
