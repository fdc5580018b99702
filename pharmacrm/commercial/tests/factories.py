"""Factories for products and hospital listings."""

import datetime as dt

import factory
from factory.django import DjangoModelFactory

from pharmacrm.commercial.models import Listing, Product, TherapeuticArea
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
