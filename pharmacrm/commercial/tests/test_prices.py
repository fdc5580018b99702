"""Price policies: refusals name the field and value and change nothing; the price in force is one query."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from pharmacrm.commercial import prices
from pharmacrm.commercial.models import PricePolicy
from pharmacrm.commercial.tests.factories import PricePolicyFactory, SkuFactory, province
from pharmacrm.core.errors import Conflict, DomainError, NotAllowed
from pharmacrm.core.models import Role
from pharmacrm.core.tests.factories import UserFactory

D = dt.date
pytestmark = pytest.mark.django_db


@pytest.fixture
def commercial():
    return UserFactory(roles=[Role.COMMERCIAL])


def history_count() -> int:
    return PricePolicy.history.count()


def test_create_and_overlap_refused(commercial):
    sku = SkuFactory()
    first = prices.save_price_policy(
        actor=commercial, kind="bid", sku=sku, price="25.80", effective_from=D(2026, 1, 1), province="44"
    )
    assert first.price == Decimal("25.80") and first.province_id == "44"
    before = (PricePolicy.objects.count(), history_count())
    with pytest.raises(Conflict) as exc:
        prices.save_price_policy(
            actor=commercial,
            kind="bid",
            sku=sku,
            price="24",
            effective_from=D(2026, 6, 1),
            effective_to=D(2026, 12, 31),
            province="44",
        )
    assert (
        "有效期重叠" in exc.value.message
        and "广东省" in exc.value.message
        and "¥25.8000" in exc.value.message
    )
    assert "effective_from" in exc.value.fields
    assert (PricePolicy.objects.count(), history_count()) == before
    # Another province, the national level or another customer kind is another key: no overlap.
    prices.save_price_policy(
        actor=commercial, kind="bid", sku=sku, price="24", effective_from=D(2026, 6, 1), province="11"
    )
    prices.save_price_policy(actor=commercial, kind="bid", sku=sku, price="26", effective_from=D(2026, 6, 1))
    prices.save_price_policy(
        actor=commercial,
        kind="bid",
        sku=sku,
        price="23",
        effective_from=D(2026, 6, 1),
        province="44",
        customer_kind="pharmacy",
    )
    # Ending the old one first lets the new price in.
    prices.end_price_policy(actor=commercial, policy=first, on=D(2026, 5, 31))
    new = prices.save_price_policy(
        actor=commercial, kind="bid", sku=sku, price="24", effective_from=D(2026, 6, 1), province="44"
    )
    assert new.pk


@pytest.mark.parametrize(
    ("changes", "field", "text"),
    [
        ({"price": "0"}, "price", "价格须大于 0：0"),
        ({"price": "-3"}, "price", "价格须大于 0：-3"),
        ({"price": "abc"}, "price", "价格不是数字：abc"),
        (
            {"effective_to": D(2025, 12, 31)},
            "effective_to",
            "失效日期（2025-12-31）不能早于生效日期（2026-01-01）",
        ),
        ({"province": "4401"}, "province", "不是省级行政区代码：4401"),
        ({"kind": "cheap"}, "kind", "价格类型“cheap”不在可选值中"),
        ({"customer_kind": "spaceship"}, "customer_kind", "客户类型“spaceship”不在可选值中"),
    ],
)
def test_bad_input_refused_and_nothing_written(commercial, changes, field, text):
    sku = SkuFactory()
    args = {"kind": "list", "sku": sku, "price": "10", "effective_from": D(2026, 1, 1), **changes}
    before = (PricePolicy.objects.count(), history_count())
    with pytest.raises(DomainError) as exc:
        prices.save_price_policy(actor=commercial, **args)
    assert text in exc.value.message
    assert field in exc.value.fields
    assert (PricePolicy.objects.count(), history_count()) == before


def test_database_refuses_non_positive_price_and_inverted_period():
    from django.db import IntegrityError, transaction

    sku = SkuFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        PricePolicy.objects.create(kind="list", sku=sku, price=0, effective_from=D(2026, 1, 1))
    with pytest.raises(IntegrityError), transaction.atomic():
        PricePolicy.objects.create(
            kind="list", sku=sku, price=1, effective_from=D(2026, 1, 2), effective_to=D(2026, 1, 1)
        )


@pytest.mark.parametrize("role", [Role.REP, Role.MARKETING, Role.DISTRICT_MANAGER, Role.SERVICE])
def test_only_admin_and_commercial_write_prices(role):
    user = UserFactory(roles=[role])
    sku = SkuFactory()
    with pytest.raises(NotAllowed, match="不能维护价格政策"):
        prices.save_price_policy(actor=user, kind="list", sku=sku, price="10", effective_from=D(2026, 1, 1))
    assert PricePolicy.objects.count() == 0
    admin = UserFactory(roles=[Role.ADMIN])
    assert prices.save_price_policy(
        actor=admin, kind="list", sku=sku, price="10", effective_from=D(2026, 1, 1)
    )


def test_price_in_force_precedence_in_one_query(django_assert_num_queries):
    sku = SkuFactory()
    gd = province("44")
    national = PricePolicyFactory(sku=sku, kind="supply", price="30", effective_from=D(2025, 1, 1))
    national_pharmacy = PricePolicyFactory(
        sku=sku, kind="supply", price="29", effective_from=D(2025, 1, 1), customer_kind="pharmacy"
    )
    provincial = PricePolicyFactory(
        sku=sku, kind="supply", price="28", effective_from=D(2025, 1, 1), province=gd
    )
    provincial_hospital = PricePolicyFactory(
        sku=sku,
        kind="supply",
        price="27",
        effective_from=D(2026, 1, 1),
        effective_to=D(2026, 12, 31),
        province=gd,
        customer_kind="hospital",
    )
    PricePolicyFactory(sku=sku, kind="list", price="99", effective_from=D(2020, 1, 1))  # other kind
    on = D(2026, 7, 1)
    with django_assert_num_queries(1):
        found = prices.price_in_force(sku=sku, on=on, province=gd, kind="supply", customer_kind="hospital")
    assert found == provincial_hospital
    assert (
        prices.price_in_force(sku=sku, on=on, province="44", kind="supply", customer_kind="pharmacy")
        == provincial
    )
    assert (
        prices.price_in_force(sku=sku, on=on, province="11", kind="supply", customer_kind="pharmacy")
        == national_pharmacy
    )
    assert prices.price_in_force(sku=sku, on=on, province="11", kind="supply") == national
    assert prices.price_in_force(sku=sku, on=on, kind="supply") == national
    # After the provincial hospital price expired, the provincial one applies again.
    assert (
        prices.price_in_force(sku=sku, on=D(2027, 1, 1), province=gd, kind="supply", customer_kind="hospital")
        == provincial
    )
    # Before anything started: none.
    assert prices.price_in_force(sku=sku, on=D(2024, 12, 31), kind="supply") is None
