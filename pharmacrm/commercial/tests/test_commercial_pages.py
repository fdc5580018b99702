"""Pages and API of products, prices, tenders, promotions and market data: who sees what, refusals, query counts.

RULES_CN §1: a rep sees products, SKUs and key messages, but no prices, tenders, sales or market
share. Managers, director, admin, commercial and marketing staff see them; only admin/commercial
write prices and tenders, only admin/marketing write promotions.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse

from pharmacrm.commercial.models import KeyMessage, PricePolicy, Promotion
from pharmacrm.commercial.tests.factories import (
    MarketDataFactory,
    PricePolicyFactory,
    ProductFactory,
    PromotionFactory,
    SkuFactory,
    TenderFactory,
    TherapeuticAreaFactory,
    province,
)
from pharmacrm.core.models import Role
from pharmacrm.core.testing import visibility_test
from pharmacrm.core.tests.factories import UserFactory
from pharmacrm.core.tests.query_counts import assert_flat_query_count

D = dt.date
SEES = ("district_manager", "regional_manager", "other_manager", "director", "admin")
BLIND = ("owner", "colleague", "outsider", "no_role")

test_price_visibility = visibility_test(
    lambda p: PricePolicyFactory(),
    url="commercial:price_detail",
    api="/api/v1/prices/{pk}",
    sees=SEES,
    blind=BLIND,
)
test_tender_visibility = visibility_test(
    lambda p: TenderFactory(),
    url="commercial:tender_detail",
    api="/api/v1/tenders/{pk}",
    sees=SEES,
    blind=BLIND,
)
test_promotion_visibility = visibility_test(
    lambda p: PromotionFactory(owner=p.director),
    url="commercial:promotion_detail",
    api="/api/v1/promotions/{pk}",
    sees=SEES,
    blind=BLIND,
)
test_market_data_visibility = visibility_test(lambda p: MarketDataFactory(), sees=SEES, blind=BLIND)


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def commercial(db):
    return UserFactory(roles=[Role.COMMERCIAL])


@pytest.fixture
def marketing(db):
    return UserFactory(roles=[Role.MARKETING])


LISTS = ("price_list", "tender_list", "promotion_list", "market_list", "market_share", "price_lookup")


@pytest.mark.django_db
@pytest.mark.parametrize("page", LISTS)
def test_commercial_pages_refused_to_reps_service_and_compliance(personas, page):
    for role in (Role.SERVICE, Role.COMPLIANCE):
        assert client_for(UserFactory(roles=[role])).get(reverse(f"commercial:{page}")).status_code == 403
    for persona in ("owner", "colleague", "outsider"):
        assert client_for(personas[persona]).get(reverse(f"commercial:{page}")).status_code == 403
    for user in (personas.district_manager, personas.director, UserFactory(roles=[Role.COMMERCIAL])):
        assert client_for(user).get(reverse(f"commercial:{page}")).status_code == 200


@pytest.mark.django_db
def test_a_commercial_user_sees_every_price_without_covering_a_territory(commercial):
    policy = PricePolicyFactory()
    assert client_for(commercial).get(reverse("commercial:price_detail", args=[policy.pk])).status_code == 200


@pytest.mark.django_db
def test_rep_product_page_shows_skus_and_key_messages_but_no_prices(personas, commercial):
    sku = SkuFactory(code="ENT-100")
    KeyMessage.objects.create(
        product=sku.product, code="KM1", text="降低心衰住院风险", approved=True, valid_from=D(2025, 1, 1)
    )
    PricePolicyFactory(sku=sku, price=Decimal("123.45"), effective_from=D(2020, 1, 1))
    TenderFactory(sku=sku, name="第七批国家集采")
    url = reverse("commercial:product_detail", args=[sku.product_id])
    rep_page = client_for(personas.owner).get(url).content.decode()
    assert "ENT-100" in rep_page and "降低心衰住院风险" in rep_page
    assert "123.45" not in rep_page and "第七批国家集采" not in rep_page and "现行价格政策" not in rep_page
    page = client_for(commercial).get(url).content.decode()
    assert "123.45" in page and "第七批国家集采" in page
    # The navigation (rendered on every page) offers the commercial pages only to those who may open them.
    commercial_links = [
        reverse(f"commercial:{n}") for n in ("price_list", "tender_list", "promotion_list", "market_list")
    ]
    assert f'href="{reverse("commercial:product_list")}"' in rep_page
    assert not any(f'href="{link}"' in rep_page for link in commercial_links)
    assert all(f'href="{link}"' in page for link in commercial_links)


@pytest.mark.django_db
def test_price_form_saves_and_refuses_overlap_with_the_message(commercial, marketing):
    sku = SkuFactory()
    url = reverse("commercial:price_create")
    form = {"kind": "bid", "sku": sku.pk, "province": "44", "price": "25.8", "effective_from": "2026-01-01"}
    assert client_for(commercial).post(url, form).status_code == 302
    before = (PricePolicy.objects.count(), PricePolicy.history.count())
    again = client_for(commercial).post(url, {**form, "price": "20", "effective_from": "2026-03-01"})
    assert again.status_code == 200
    assert "有效期重叠" in again.content.decode()
    assert client_for(marketing).post(url, {**form, "province": "11"}).status_code == 403
    assert (PricePolicy.objects.count(), PricePolicy.history.count()) == before
    lookup = client_for(marketing).get(
        reverse("commercial:price_lookup"),
        {"sku": sku.pk, "on": "2026-06-01", "kind": "bid", "province": "44"},
    )
    assert "¥25.8000" in lookup.content.decode()


@pytest.mark.django_db
def test_sku_and_key_message_pages(marketing, personas):
    product = ProductFactory()
    created = client_for(marketing).post(
        reverse("commercial:sku_create"),
        {
            "product": product.pk,
            "code": "N-50",
            "strength": "50mg",
            "pack": "28片",
            "unit": "盒",
            "standard_units": "28",
            "standard_unit": "片",
            "is_active": "on",
        },
    )
    assert created.status_code == 302 and product.skus.filter(code="N-50").exists()
    url = reverse("commercial:key_message_add", args=[product.pk])
    client_for(marketing).post(
        url, {"code": "KM", "text": "旧版", "valid_from": "2025-01-01", "approved": "on"}
    )
    client_for(marketing).post(
        url, {"code": "KM", "text": "新版", "valid_from": "2026-01-01", "approved": "on"}
    )
    page = client_for(personas.owner).get(product.get_absolute_url()).content.decode()
    assert "旧版" in page and "新版" in page and "v2" in page
    assert (
        client_for(personas.owner)
        .post(url, {"code": "KM", "text": "x", "valid_from": "2027-01-01"})
        .status_code
        == 403
    )
    assert KeyMessage.objects.filter(product=product).count() == 2


@pytest.mark.django_db
def test_promotion_page_shows_uplift_or_says_why_not(marketing, fake_sales):
    promo = PromotionFactory(owner=marketing)
    product = promo.products.get()
    fake_sales.add(
        on=D(2026, 4, 1), product=product.pk, sku=1, province="11", institution=1, quantity=120, amount=1200
    )
    fake_sales.add(
        on=D(2025, 4, 1), product=product.pk, sku=1, province="11", institution=1, quantity=100, amount=1000
    )
    page = client_for(marketing).get(promo.get_absolute_url()).content.decode()
    assert "20.0%" in page and "去年同期" in page
    matched = (
        client_for(marketing).get(promo.get_absolute_url() + "?baseline=matched_regions").content.decode()
    )
    assert "对照省份" in matched and "无法计算" in matched  # no control sales last year


@pytest.mark.django_db
def test_promotion_page_without_a_sales_source(marketing, no_sales_source):
    promo = PromotionFactory(owner=marketing)
    page = client_for(marketing).get(promo.get_absolute_url()).content.decode()
    assert "没有可用的销售数据来源" in page


@pytest.mark.django_db
def test_promotion_form_for_marketing_only(marketing, commercial):
    product = ProductFactory()
    form = {
        "name": "夏季患者教育",
        "kind": "patient_education",
        "products": [product.pk],
        "provinces": ["11", "44"],
        "start": "2026-06-01",
        "end": "2026-08-31",
        "budget": "300000",
        "status": "planned",
    }
    assert client_for(commercial).post(reverse("commercial:promotion_create"), form).status_code == 403
    assert Promotion.objects.count() == 0
    assert client_for(marketing).post(reverse("commercial:promotion_create"), form).status_code == 302
    promo = Promotion.objects.get()
    assert sorted(promo.provinces.values_list("code", flat=True)) == ["11", "44"]


@pytest.mark.django_db
def test_tender_and_market_pages(commercial, fake_sales):
    tender = TenderFactory()
    page = client_for(commercial).get(tender.get_absolute_url()).content.decode()
    assert "医院约定量与执行进度" in page and "还没有医院约定量" in page
    area = TherapeuticAreaFactory()
    MarketDataFactory(therapeutic_area=area, month=D(2026, 3, 1))
    share = (
        client_for(commercial)
        .get(
            reverse("commercial:market_share"), {"area": area.pk, "start": "2026-01-01", "end": "2026-06-30"}
        )
        .content.decode()
    )
    assert "北京" in share and "份额" in share


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("name", "factory"),
    [
        ("price_list", lambda: PricePolicyFactory(province=province("44"))),
        ("tender_list", TenderFactory),
        ("promotion_list", PromotionFactory),
        (
            "market_list",
            lambda: MarketDataFactory(
                month=D(
                    2000 + MarketDataFactory._meta.model.objects.count() // 12,
                    1 + MarketDataFactory._meta.model.objects.count() % 12,
                    1,
                )
            ),
        ),
        ("product_list", ProductFactory),
        ("sku_list", SkuFactory),
    ],
)
def test_list_query_counts(name, factory, django_assert_max_num_queries):
    client = client_for(UserFactory(roles=[Role.DIRECTOR]))
    assert_flat_query_count(
        django_assert_max_num_queries,
        fetch=lambda: client.get(reverse(f"commercial:{name}")),
        add_rows=lambda n: [factory() for _ in range(n)],
        pinned=12,
    )


# --- API --------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_api_prices(commercial, personas):
    sku = SkuFactory()
    api = client_for(commercial)
    body = {"kind": "supply", "sku_id": sku.pk, "price": "30.5", "effective_from": "2026-01-01"}
    created = api.post("/api/v1/prices", body, content_type="application/json")
    assert created.status_code == 201, created.content
    assert created.json()["price"] == "30.5000" or Decimal(created.json()["price"]) == Decimal("30.5")
    clash = api.post("/api/v1/prices", {**body, "price": "29"}, content_type="application/json")
    assert clash.status_code == 409
    assert (
        "有效期重叠" in clash.json()["error"]["message"]
        and "effective_from" in clash.json()["error"]["fields"]
    )
    bad = api.post(
        "/api/v1/prices", {**body, "price": "0", "province": "44"}, content_type="application/json"
    )
    assert bad.status_code == 400 and bad.json()["error"]["fields"] == {"price": ["价格须大于 0：0"]}
    extra = api.post("/api/v1/prices", {**body, "surprise": 1}, content_type="application/json")
    assert extra.status_code == 422
    assert PricePolicy.objects.count() == 1
    found = api.get(
        "/api/v1/prices/in-force", {"sku_id": sku.pk, "on": "2026-02-01", "kind": "supply", "province": "44"}
    )
    assert found.status_code == 200 and found.json()["id"] == created.json()["id"]
    assert api.get("/api/v1/prices").json()["results"][0]["id"] == created.json()["id"]
    none = api.get("/api/v1/prices/in-force", {"sku_id": sku.pk, "on": "2025-01-01", "kind": "supply"})
    assert none.status_code == 200 and none.json() is None
    bad_kind = api.get("/api/v1/prices/in-force", {"sku_id": sku.pk, "on": "2026-01-01", "kind": "cheap"})
    assert bad_kind.status_code == 400 and "cheap" in bad_kind.json()["error"]["message"]
    rep = client_for(personas.owner)
    assert rep.get("/api/v1/prices").status_code == 403
    assert rep.get("/api/v1/prices/in-force", {"sku_id": sku.pk, "on": "2026-02-01"}).status_code == 403
    assert (
        rep.post("/api/v1/prices", {**body, "province": "11"}, content_type="application/json").status_code
        == 403
    )
    assert rep.get("/api/v1/skus").status_code == 200  # SKUs are for everyone
    assert PricePolicy.objects.count() == 1


@pytest.mark.django_db
def test_api_skus_tenders_promotions_market(commercial, marketing, fake_sales):
    product = ProductFactory()
    api = client_for(commercial)
    sku = api.post(
        "/api/v1/skus",
        {"product_id": product.pk, "code": "A-1", "strength": "5mg", "pack": "7片", "standard_units": "7"},
        content_type="application/json",
    )
    assert sku.status_code == 201, sku.content
    sku_id = sku.json()["id"]
    km = api.post(
        f"/api/v1/products/{product.pk}/key-messages",
        {"code": "K", "text": "一", "valid_from": "2026-01-01"},
        content_type="application/json",
    )
    assert km.status_code == 201 and km.json()["version"] == 1
    tender = api.post(
        "/api/v1/tenders",
        {
            "name": "第十批",
            "province": "11",
            "sku_id": sku_id,
            "status": "won",
            "winning_price": "3.2",
            "period_start": "2026-01-01",
            "period_end": "2027-12-31",
        },
        content_type="application/json",
    )
    assert tender.status_code == 201, tender.content
    delivery = api.get(f"/api/v1/tenders/{tender.json()['id']}/delivery")
    assert delivery.status_code == 200 and delivery.json()["lines"] == []
    promo = client_for(marketing).post(
        "/api/v1/promotions",
        {
            "name": "P",
            "kind": "digital",
            "product_ids": [product.pk],
            "provinces": ["11"],
            "start": "2026-03-01",
            "end": "2026-03-31",
            "budget": "1000",
        },
        content_type="application/json",
    )
    assert promo.status_code == 201, promo.content
    assert promo.json()["provinces"] == ["11"]
    uplift = api.get(f"/api/v1/promotions/{promo.json()['id']}/uplift", {"baseline": "matched_regions"})
    assert uplift.status_code == 200 and uplift.json()["available"] is True
    MarketDataFactory(therapeutic_area=product.therapeutic_area)
    assert len(api.get("/api/v1/market-data").json()["results"]) == 1
    share = api.get(
        "/api/v1/market-share",
        {"therapeutic_area_id": product.therapeutic_area_id, "start": "2026-01-01", "end": "2026-12-31"},
    )
    assert share.status_code == 200 and len(share.json()["lines"]) == 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("path", "factory"),
    [
        ("/api/v1/prices", PricePolicyFactory),
        ("/api/v1/tenders", TenderFactory),
        ("/api/v1/promotions", PromotionFactory),
        ("/api/v1/skus", SkuFactory),
    ],
)
def test_api_list_query_counts(path, factory, django_assert_max_num_queries):
    client = client_for(UserFactory(roles=[Role.COMMERCIAL]))
    assert_flat_query_count(
        django_assert_max_num_queries,
        fetch=lambda: client.get(path),
        add_rows=lambda n: [factory() for _ in range(n)],
        pinned=8,
    )
