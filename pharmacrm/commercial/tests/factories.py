"""Factories for products and hospital listings."""

import datetime as dt
from decimal import Decimal
from typing import Any

import factory
from factory.django import DjangoModelFactory

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
from pharmacrm.core.models import Division
from pharmacrm.customers.tests.factories import InstitutionFactory


class TherapeuticAreaFactory(DjangoModelFactory):
    class Meta:
        model = TherapeuticArea
        django_get_or_create = ("code",)

    name = "心血管"
    code = "cv"


class ProductFactory(DjangoModelFactory):
    class Meta:
        model = Product

    code = factory.Sequence(lambda n: f"P{n:03d}")
    generic_name = factory.Sequence(lambda n: f"沙库巴曲缬沙坦{n}")
    brand_name = "诺欣妥"
    therapeutic_area = factory.SubFactory(TherapeuticAreaFactory)


class ListingFactory(DjangoModelFactory):
    class Meta:
        model = Listing

    institution = factory.SubFactory(InstitutionFactory)
    product = factory.SubFactory(ProductFactory)
    owner = factory.SubFactory("pharmacrm.core.tests.factories.UserFactory")
    stage = Listing.Stage.INTRO
    intro_on = dt.date(2026, 1, 10)


class SkuFactory(DjangoModelFactory):
    class Meta:
        model = Sku
        django_get_or_create = ("code",)

    product = factory.SubFactory(ProductFactory)
    code = factory.Sequence(lambda n: f"CSKU{n:04d}")
    strength = "100mg"
    pack = "14片"
    unit = "盒"
    standard_units = Decimal("14")
    standard_unit = "片"


def province(code: str = "11") -> Division:
    return Division.objects.get(code=code)


class PricePolicyFactory(DjangoModelFactory):
    class Meta:
        model = PricePolicy

    kind = PricePolicy.Kind.LIST
    sku = factory.SubFactory(SkuFactory)
    price = Decimal("100.00")
    effective_from = dt.date(2026, 1, 1)


class TenderFactory(DjangoModelFactory):
    class Meta:
        model = Tender

    kind = Tender.Kind.VBP
    name = factory.Sequence(lambda n: f"第{n}批国家集采")
    province = factory.LazyFunction(lambda: province("11"))
    sku = factory.SubFactory(SkuFactory)
    status = Tender.Status.WON
    winning_price = Decimal("12.50")
    period_start = dt.date(2026, 1, 1)
    period_end = dt.date(2027, 12, 31)


class PromotionFactory(DjangoModelFactory):
    class Meta:
        model = Promotion
        skip_postgeneration_save = True  # the hooks set many-to-many rows; the promotion itself is saved

    name = factory.Sequence(lambda n: f"春季学术推广{n}")
    kind = Promotion.Kind.ACADEMIC
    start = dt.date(2026, 3, 1)
    end = dt.date(2026, 5, 31)
    budget = Decimal("500000")
    owner = factory.SubFactory("pharmacrm.core.tests.factories.UserFactory")

    @factory.post_generation
    def products(self, create: bool, extracted: Any, **kwargs: Any) -> None:
        if create:
            self.products.set(extracted or [ProductFactory()])

    @factory.post_generation
    def provinces(self, create: bool, extracted: Any, **kwargs: Any) -> None:
        if create:
            self.provinces.set(extracted or [province("11")])


class MarketDataFactory(DjangoModelFactory):
    class Meta:
        model = MarketData

    province = factory.LazyFunction(lambda: province("11"))
    therapeutic_area = factory.SubFactory(TherapeuticAreaFactory)
    month = dt.date(2026, 3, 1)
    provider = "IQVIA"
    market_amount = Decimal("1000000")
    market_volume = Decimal("50000")
