"""SKUs and key message versions: writes, refusals, old versions kept."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from pharmacrm.commercial import products
from pharmacrm.commercial.models import CompetitorProduct, KeyMessage, Sku
from pharmacrm.commercial.tests.factories import ProductFactory, SkuFactory, TherapeuticAreaFactory
from pharmacrm.core.errors import Conflict, DomainError, NotAllowed
from pharmacrm.core.models import Role
from pharmacrm.core.tests.factories import UserFactory

D = dt.date
pytestmark = pytest.mark.django_db


@pytest.fixture
def marketing():
    return UserFactory(roles=[Role.MARKETING])


def test_sku_create_edit_and_refusals(marketing):
    product = ProductFactory()
    sku = products.save_sku(
        actor=marketing,
        product=product,
        code="X-10",
        strength="10mg",
        pack="28片",
        standard_units=Decimal("28"),
    )
    assert sku.product == product and sku.standard_units == 28
    products.save_sku(actor=marketing, sku=sku, pack="14片", standard_units=Decimal("14"))
    sku.refresh_from_db()
    assert sku.pack == "14片" and sku.standard_units == 14
    assert sku.history.count() == 2
    before = (Sku.objects.count(), Sku.history.count())
    with pytest.raises(Conflict, match="品规编码“X-10”已被使用"):
        products.save_sku(
            actor=marketing, product=product, code="X-10", strength="5mg", pack="7片", standard_units=7
        )
    with pytest.raises(DomainError, match="折合标准单位须大于 0：0"):
        products.save_sku(actor=marketing, sku=sku, standard_units=Decimal(0))
    with pytest.raises(NotAllowed, match="只能查看产品信息"):
        products.save_sku(actor=UserFactory(roles=[Role.REP]), sku=sku, pack="1片")
    assert (Sku.objects.count(), Sku.history.count()) == before
    sku.refresh_from_db()
    assert sku.pack == "14片"


def test_new_key_message_version_keeps_the_old_one(marketing):
    product = ProductFactory()
    v1 = products.add_key_message_version(
        actor=marketing,
        product=product,
        code="KM1",
        text="降低心衰住院风险",
        valid_from=D(2025, 1, 1),
        approved=True,
    )
    v2 = products.add_key_message_version(
        actor=marketing,
        product=product,
        code="KM1",
        text="降低心衰住院风险 20%",
        valid_from=D(2026, 1, 1),
        approved=True,
    )
    v1.refresh_from_db()
    assert (v1.version, v2.version) == (1, 2)
    assert v1.valid_to == D(2025, 12, 31) and v1.text == "降低心衰住院风险"
    assert KeyMessage.objects.filter(product=product, code="KM1").count() == 2
    assert products.key_messages_in_force(product=product, on=D(2025, 6, 1)) == [v1]
    assert products.key_messages_in_force(product=product, on=D(2026, 6, 1)) == [v2]
    before = KeyMessage.objects.count()
    with pytest.raises(DomainError, match="须晚于上一版本 v2 的生效日期"):
        products.add_key_message_version(
            actor=marketing, product=product, code="KM1", text="x", valid_from=D(2025, 6, 1)
        )
    with pytest.raises(DomainError, match="失效日期（2026-01-01）不能早于生效日期（2026-02-01）"):
        products.add_key_message_version(
            actor=marketing,
            product=product,
            code="KM2",
            text="x",
            valid_from=D(2026, 2, 1),
            valid_to=D(2026, 1, 1),
        )
    assert KeyMessage.objects.count() == before


def test_competitor_product(marketing):
    ours = ProductFactory()
    area = TherapeuticAreaFactory()
    comp = products.save_competitor_product(
        actor=marketing, name="倍博特", maker="某药业", therapeutic_area=area, competes_with=[ours]
    )
    assert list(comp.competes_with.all()) == [ours]
    with pytest.raises(Conflict, match="竞品“倍博特（某药业）”已存在"):
        products.save_competitor_product(
            actor=marketing, name="倍博特", maker="某药业", therapeutic_area=area
        )
    assert CompetitorProduct.objects.count() == 1


def test_sku_factory_is_ours():
    assert SkuFactory().standard_units == 14


def test_product_create_edit_page_and_api(marketing):
    from django.test import Client
    from django.urls import reverse

    from pharmacrm.commercial.models import Product

    area = TherapeuticAreaFactory()
    client = Client()
    client.force_login(marketing)
    form = {
        "code": "P-NEW",
        "generic_name": "新通用名片",
        "brand_name": "新商品",
        "therapeutic_area": area.pk,
    }
    assert client.post(reverse("commercial:product_create"), {**form, "is_active": "on"}).status_code == 302
    product = Product.objects.get(code="P-NEW")
    assert product.is_active and product.history.count() == 1
    clash = client.post(
        "/api/v1/products",
        {**{k: v for k, v in form.items() if k != "therapeutic_area"}, "therapeutic_area_id": area.pk},
        content_type="application/json",
    )
    assert clash.status_code == 409 and "P-NEW" in clash.json()["error"]["message"]
    rep = Client()
    rep.force_login(UserFactory(roles=[Role.REP]))
    assert (
        rep.post(
            reverse("commercial:product_edit", args=[product.pk]), {**form, "generic_name": "改"}
        ).status_code
        == 403
    )
    product.refresh_from_db()
    assert product.generic_name == "新通用名片" and Product.objects.count() == 1
    edited = client.post(
        reverse("commercial:product_edit", args=[product.pk]), {**form, "generic_name": "改名片"}
    )
    assert edited.status_code == 302
    product.refresh_from_db()
    assert product.generic_name == "改名片" and not product.is_active
