"""A small world for the visit tests: a filed rep, a hospital in their territory with two doctors, a product and its key messages.

The `world` fixture is offered to every engagement test by tests/conftest.py.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from pharmacrm.commercial.models import KeyMessage, Product, TherapeuticArea
from pharmacrm.compliance.models import ComplianceEvent, Consent, RepRegistration
from pharmacrm.core.testing import Personas
from pharmacrm.customers.models import Institution, Need, Professional
from pharmacrm.customers.tests.factories import InstitutionFactory, ProfessionalFactory
from pharmacrm.engagement.models import (
    Callback,
    Coaching,
    Commitment,
    Hospitality,
    LocationConsent,
    SafetySignal,
    Visit,
    VisitAmendment,
)
from pharmacrm.engagement.visits import VisitReport

# The hospital sits at Beijing's 协和 coordinates; 0.02° of latitude is about 2.2 km.
HOSPITAL_LAT = Decimal("39.912000")
HOSPITAL_LON = Decimal("116.417000")


def at(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    """A local (Asia/Shanghai) time as an aware datetime."""
    return timezone.make_aware(dt.datetime.combine(day, dt.time(hour, minute)))


def last(isoweekday: int, *, before: dt.date | None = None) -> dt.date:
    """The most recent day with this ISO weekday strictly before `before` (default today)."""
    day = (before or timezone.localdate()) - dt.timedelta(days=1)
    while day.isoweekday() != isoweekday:
        day -= dt.timedelta(days=1)
    return day


@dataclass
class World:
    personas: Personas
    rep: Any
    hospital: Institution
    other_hospital: Institution
    outside_hospital: Institution
    doctor: Professional
    nurse: Professional
    stranger: Professional
    product: Product
    other_product: Product
    message: KeyMessage
    draft_message: KeyMessage
    expired_message: KeyMessage
    other_message: KeyMessage
    yesterday: dt.date

    def report(self, **overrides: Any) -> VisitReport:
        values: dict[str, Any] = {
            "professional_ids": [self.doctor.pk],
            "product_ids": [self.product.pk],
            "key_message_ids": [self.message.pk],
            "feedback": "对新版指南很感兴趣",
            "notes": "下次带病例资料",
            "duration_minutes": 20,
        }
        values.update(overrides)
        return VisitReport(**values)

    def consent(self, professional: Professional, channel: str) -> Consent:
        return Consent.objects.create(
            professional=professional,
            purpose="contact",
            channel=channel,
            source=Consent.Source.PAPER,
            given_on=dt.date(2024, 1, 1),
            recorded_by=self.personas.admin,
        )

    def location_consent(self) -> LocationConsent:
        return LocationConsent.objects.create(user=self.rep, given_at=timezone.now() - dt.timedelta(days=30))


def file_registration(user: Any) -> RepRegistration:
    return RepRegistration.objects.create(
        user=user,
        status=RepRegistration.Status.FILED,
        number=f"BA-{user.pk:04d}",
        filed_on=dt.date(2020, 1, 1),
        expires_on=dt.date(2099, 12, 31),
    )


def build_world(personas: Personas) -> World:
    file_registration(personas.owner)
    hospital = InstitutionFactory(
        name="协和医院", territory=personas.own_territory, latitude=HOSPITAL_LAT, longitude=HOSPITAL_LON
    )
    other = InstitutionFactory(name="朝阳医院", territory=personas.own_territory)
    outside = InstitutionFactory(name="外区医院", territory=personas.outside_territory)
    area = TherapeuticArea.objects.create(name="心血管", code="CV")
    product = Product.objects.create(
        code="P1", generic_name="阿托伐他汀", brand_name="立普妥", therapeutic_area=area
    )
    other_product = Product.objects.create(code="P2", generic_name="氨氯地平", therapeutic_area=area)
    since = dt.date(2024, 1, 1)
    return World(
        personas=personas,
        rep=personas.owner,
        hospital=hospital,
        other_hospital=other,
        outside_hospital=outside,
        doctor=ProfessionalFactory(name="张医生", institution=hospital, tier=Professional.Tier.KEY),
        nurse=ProfessionalFactory(name="李护士长", institution=hospital, role=Professional.Role.HEAD_NURSE),
        stranger=ProfessionalFactory(name="赵医生", institution=other),
        product=product,
        other_product=other_product,
        message=KeyMessage.objects.create(
            product=product, code="KM1", text="降脂达标", approved=True, valid_from=since
        ),
        draft_message=KeyMessage.objects.create(
            product=product, code="KM2", text="未审批", approved=False, valid_from=since
        ),
        expired_message=KeyMessage.objects.create(
            product=product,
            code="KM3",
            text="旧版",
            approved=True,
            valid_from=since,
            valid_to=dt.date(2024, 6, 30),
        ),
        other_message=KeyMessage.objects.create(
            product=other_product, code="KM4", text="降压", approved=True, valid_from=since
        ),
        yesterday=timezone.localdate() - dt.timedelta(days=1),
    )


@pytest.fixture
def world(personas: Personas) -> World:
    return build_world(personas)


COUNTED = {
    "visits": Visit.objects,
    "visit_history": Visit.history,
    "amendments": VisitAmendment.objects,
    "coaching": Coaching.objects,
    "hospitality": Hospitality.objects,
    "commitments": Commitment.objects,
    "commitment_history": Commitment.history,
    "callbacks": Callback.objects,
    "signals": SafetySignal.objects,
    "needs": Need.objects,
    "need_history": Need.history,
}


def snapshot() -> dict[str, int]:
    """Row and history counts a refusal must leave untouched, plus the flags compliance saw."""
    counts = {name: manager.count() for name, manager in COUNTED.items()}
    counts["flagged"] = ComplianceEvent.objects.filter(kind=ComplianceEvent.Kind.FLAGGED).count()
    return counts
