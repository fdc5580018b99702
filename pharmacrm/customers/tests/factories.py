"""Factories for institutions, departments and professionals, their profile parts, segments and plans."""

import datetime as dt

import factory
from django.utils import timezone
from factory.django import DjangoModelFactory

from pharmacrm.core.models import Division
from pharmacrm.customers import territory_history
from pharmacrm.customers.models import (
    Affiliation,
    Department,
    DevelopmentPlan,
    DevelopmentStep,
    Dimension,
    Institution,
    KeyDate,
    Need,
    Professional,
    Segment,
)
from pharmacrm.customers.pinyin import search_keys


class InstitutionFactory(DjangoModelFactory):
    class Meta:
        model = Institution
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"第{n}人民医院")
    kind = Institution.Kind.HOSPITAL
    grade = Institution.Grade.G3A
    # get_or_create: a transactional test's flush may have removed the migrated reference rows.
    province = factory.LazyFunction(
        lambda: Division.objects.get_or_create(code="11", defaults={"name": "北京市", "level": "province"})[0]
    )
    city = factory.LazyFunction(
        lambda: Division.objects.get_or_create(
            code="1101", defaults={"name": "北京市", "level": "city", "parent_id": "11"}
        )[0]
    )
    territory = None
    search_pinyin = factory.LazyAttribute(lambda o: search_keys(o.name)[0])
    search_initials = factory.LazyAttribute(lambda o: search_keys(o.name)[1])

    @factory.post_generation
    def territory_periods(self, create: bool, extracted: object, **kwargs: object) -> None:
        """Its first territory period, as create_institution writes it (attribution reads periods)."""
        if create:
            territory_history.realign(institution_ids=[self.pk], actor=None, notify=False)


class DepartmentFactory(DjangoModelFactory):
    class Meta:
        model = Department

    institution = factory.SubFactory(InstitutionFactory)
    name = factory.Sequence(lambda n: f"心内{n}科")


class ProfessionalFactory(DjangoModelFactory):
    class Meta:
        model = Professional

    name = "张伟"
    role = Professional.Role.PHYSICIAN
    institution = factory.SubFactory(InstitutionFactory)
    search_pinyin = factory.LazyAttribute(lambda o: search_keys(o.name)[0])
    search_initials = factory.LazyAttribute(lambda o: search_keys(o.name)[1])


# --- Profile parts, segments and plans (issue 4) ---------------------------------------------------


class AffiliationFactory(DjangoModelFactory):
    class Meta:
        model = Affiliation

    professional = factory.SubFactory(ProfessionalFactory)
    institution = factory.LazyAttribute(lambda o: o.professional.institution)
    is_primary = False
    valid_from = dt.date(2024, 1, 1)


class KeyDateFactory(DjangoModelFactory):
    class Meta:
        model = KeyDate

    professional = factory.SubFactory(ProfessionalFactory)
    kind = KeyDate.Kind.BIRTHDAY
    month = 3
    day = factory.Sequence(lambda n: n % 28 + 1)
    shared_by_customer = True


class NeedFactory(DjangoModelFactory):
    class Meta:
        model = Need

    professional = factory.SubFactory(ProfessionalFactory)
    kind = Need.Kind.ACADEMIC
    description = factory.Sequence(lambda n: f"想了解心衰指南更新（{n}）")
    found_on = dt.date(2026, 1, 5)


class SegmentFactory(DjangoModelFactory):
    class Meta:
        model = Segment

    professional = factory.SubFactory(ProfessionalFactory)
    dimension = Dimension.TIER
    computed_value = Professional.Tier.GENERAL
    explanation = "无特定条件 → 一般客户（规则：其他 → 一般客户）"
    computed_at = factory.LazyFunction(timezone.now)


class PlanFactory(DjangoModelFactory):
    class Meta:
        model = DevelopmentPlan

    title = factory.Sequence(lambda n: f"推动科室会 {n}")
    professional = factory.SubFactory(ProfessionalFactory)
    owner = factory.SubFactory("pharmacrm.core.tests.factories.UserFactory")
    status = DevelopmentPlan.Status.ACTIVE


class StepFactory(DjangoModelFactory):
    class Meta:
        model = DevelopmentStep

    plan = factory.SubFactory(PlanFactory)
    title = factory.Sequence(lambda n: f"步骤 {n}")
    position = factory.Sequence(lambda n: n)
