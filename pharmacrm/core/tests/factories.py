"""Factories for the organisation: org units, users with roles, territories and assignments."""

from __future__ import annotations

import datetime as dt
from typing import Any

import factory
from factory.django import DjangoModelFactory

from pharmacrm.core.models import OrgUnit, Territory, TerritoryAssignment, User, UserRole

PASSWORD = "pharmacrm-test-pw"


class OrgUnitFactory(DjangoModelFactory):
    class Meta:
        model = OrgUnit
        django_get_or_create = ("code",)

    name = factory.Sequence(lambda n: f"组织{n}")
    code = factory.Sequence(lambda n: f"OU{n}")
    kind = OrgUnit.Kind.TEAM
    parent = None


class UserFactory(DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    display_name = factory.Sequence(lambda n: f"用户{n}")
    org_unit = None
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def roles(self, create: bool, extracted: list[str] | None, **kwargs: Any) -> None:
        self.save()
        for role in extracted or []:
            UserRole.objects.get_or_create(user=self, role=role)


class TerritoryFactory(DjangoModelFactory):
    class Meta:
        model = Territory

    name = factory.Sequence(lambda n: f"辖区{n}")
    code = factory.Sequence(lambda n: f"T{n}")
    org_unit = factory.SubFactory(OrgUnitFactory)


class AssignmentFactory(DjangoModelFactory):
    class Meta:
        model = TerritoryAssignment

    territory = factory.SubFactory(TerritoryFactory)
    user = factory.SubFactory(UserFactory)
    valid_from = dt.date(2020, 1, 1)
