"""Factories for channel partners, contacts, licences, agreements, scorecards and reviews."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import factory
from factory.django import DjangoModelFactory

from pharmacrm.channels.models import (
    Agreement,
    AgreementTarget,
    ChannelPartner,
    Licence,
    PartnerContact,
    RebateTier,
    Scorecard,
    ScorecardMetric,
)
from pharmacrm.core.models import Division
from pharmacrm.core.tests.factories import OrgUnitFactory
from pharmacrm.customers.models import Institution
from pharmacrm.customers.tests.factories import InstitutionFactory


def division(code: str, name: str = "") -> Division:
    level = {2: "province", 4: "city", 6: "county"}[len(code)]
    parent = None if len(code) == 2 else division(code[: len(code) - 2])
    return Division.objects.get_or_create(
        code=code, defaults={"name": name or code, "level": level, "parent": parent}
    )[0]


class PartnerFactory(DjangoModelFactory):
    class Meta:
        model = ChannelPartner
        django_get_or_create = ("code",)

    institution = factory.SubFactory(
        InstitutionFactory,
        name=factory.Sequence(lambda n: f"华润第{n}医药商业有限公司"),
        kind=Institution.Kind.DISTRIBUTOR,
        grade=Institution.Grade.UNGRADED,
    )
    code = factory.Sequence(lambda n: f"CP{n:03d}")
    kind = ChannelPartner.Kind.DISTRIBUTOR
    org_unit = factory.LazyFunction(
        lambda: OrgUnitFactory(code="HQ", name="总部", kind="company")  # the root every test tree shares
    )
    manager = None


class ContactFactory(DjangoModelFactory):
    class Meta:
        model = PartnerContact

    partner = factory.SubFactory(PartnerFactory)
    name = "陈采购"
    role = PartnerContact.Role.PURCHASING
    phone = "13812345678"
    email = "chen@example.cn"


class LicenceFactory(DjangoModelFactory):
    class Meta:
        model = Licence

    partner = factory.SubFactory(PartnerFactory)
    kind = Licence.Kind.DRUG_TRADING
    number = factory.Sequence(lambda n: f"京AA{n:07d}")
    issued_on = dt.date(2021, 1, 1)
    expires_on = dt.date(2026, 12, 31)


class AgreementFactory(DjangoModelFactory):
    class Meta:
        model = Agreement
        skip_postgeneration_save = True

    partner = factory.SubFactory(PartnerFactory)
    code = factory.Sequence(lambda n: f"AG{n:04d}")
    start = dt.date(2026, 1, 1)
    end = dt.date(2026, 12, 31)
    status = Agreement.Status.ACTIVE

    @factory.post_generation
    def regions(self, create: bool, extracted: list[str] | None, **kwargs: Any) -> None:
        if create:
            self.regions.set([division(code) for code in (extracted if extracted is not None else ["11"])])

    @factory.post_generation
    def products(self, create: bool, extracted: list[Any] | None, **kwargs: Any) -> None:
        if create and extracted:
            self.products.set(extracted)


class TargetFactory(DjangoModelFactory):
    class Meta:
        model = AgreementTarget

    agreement = factory.SubFactory(AgreementFactory)
    year = 2026
    quarter = 1
    amount = Decimal("1000000")
    volume = None


class RebateTierFactory(DjangoModelFactory):
    class Meta:
        model = RebateTier

    agreement = factory.SubFactory(AgreementFactory)
    threshold = Decimal("100")
    rate = Decimal("2")


class ScorecardFactory(DjangoModelFactory):
    class Meta:
        model = Scorecard
        django_get_or_create = ("name",)

    name = "渠道季度评估"
    applies_to = Scorecard.AppliesTo.ALL


class ScorecardMetricFactory(DjangoModelFactory):
    class Meta:
        model = ScorecardMetric

    scorecard = factory.SubFactory(ScorecardFactory)
    code = "sales_vs_target"
    weight = Decimal("60")
    target = Decimal("100")
    floor = Decimal("60")


def standard_scorecard() -> Scorecard:
    """sales_vs_target 60 + payment_timeliness 40."""
    card: Any = ScorecardFactory()
    ScorecardMetricFactory(scorecard=card, code="sales_vs_target", weight=Decimal("60"), position=1)
    ScorecardMetricFactory(
        scorecard=card,
        code="payment_timeliness",
        weight=Decimal("40"),
        target=Decimal("100"),
        floor=Decimal("80"),
        position=2,
    )
    return card
