"""Factories for engagement: visits, commitments, callbacks, care reminders, rules."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import factory
from django.utils import timezone
from factory.django import DjangoModelFactory

from pharmacrm.core.tests.factories import UserFactory
from pharmacrm.customers.tests.factories import InstitutionFactory, ProfessionalFactory
from pharmacrm.engagement.models import (
    Callback,
    CareReminder,
    Commitment,
    Dismissal,
    FrequencyRule,
    ReceptionRule,
    Visit,
)


class VisitFactory(DjangoModelFactory):
    """A planned visit tomorrow at 10:00 (Asia/Shanghai). Pass `professionals=[...]` to link people."""

    class Meta:
        model = Visit
        skip_postgeneration_save = True

    owner = factory.SubFactory(UserFactory)
    institution = factory.SubFactory(InstitutionFactory)
    starts_at = factory.LazyFunction(
        lambda: timezone.make_aware(
            dt.datetime.combine(timezone.localdate() + dt.timedelta(days=1), dt.time(10, 0))
        )
    )
    objective = "介绍最新指南"

    @factory.post_generation
    def professionals(self, create: bool, extracted: list | None, **kwargs: object) -> None:
        if create and extracted:
            self.professionals.add(*extracted)


class CommitmentFactory(DjangoModelFactory):
    class Meta:
        model = Commitment

    professional = factory.SubFactory(ProfessionalFactory)
    owner = factory.SubFactory(UserFactory)
    description = "发送最新版指南解读"
    due_on = factory.LazyFunction(lambda: timezone.localdate() + dt.timedelta(days=3))


class CallbackFactory(DjangoModelFactory):
    class Meta:
        model = Callback

    professional = factory.SubFactory(ProfessionalFactory)
    owner = factory.SubFactory(UserFactory)
    reason = Callback.Reason.AFTER_VISIT
    due_on = factory.LazyFunction(timezone.localdate)


class CareReminderFactory(DjangoModelFactory):
    class Meta:
        model = CareReminder

    professional = factory.SubFactory(ProfessionalFactory)
    owner = factory.SubFactory(UserFactory)
    occasion = "doctors_day"
    due_on = factory.LazyFunction(timezone.localdate)


class DismissalFactory(DjangoModelFactory):
    class Meta:
        model = Dismissal

    user = factory.SubFactory(UserFactory)
    professional = factory.SubFactory(ProfessionalFactory)
    reason = "本周外出开会"
    until = factory.LazyFunction(lambda: timezone.localdate() + dt.timedelta(days=7))


class FrequencyRuleFactory(DjangoModelFactory):
    class Meta:
        model = FrequencyRule
        django_get_or_create = ("tier", "role", "engagement_stage")

    tier = "key"
    role = ""
    engagement_stage = ""
    visits_per_month = Decimal("4")


class ReceptionRuleFactory(DjangoModelFactory):
    class Meta:
        model = ReceptionRule

    institution = factory.SubFactory(InstitutionFactory)
    weekdays = "2,4"
    start_time = dt.time(14, 0)
    end_time = dt.time(16, 0)
