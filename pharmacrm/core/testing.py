"""Test support shared by every app: the personas and the one-line visibility test.

The personas sit in one company with two regions:

    company HQ
      region N (regional_manager)            region S (other_manager)
        district N1 (district_manager)          district S1
          team N1A                                team S1A
            territory OWN  ← owner (rep)            territory OUT ← outsider (rep)
            territory COL  ← colleague (rep)
    director (company-wide, no unit)

A model gets its visibility test with one line:

    test_visibility = visibility_test(lambda p: InstitutionFactory(territory=p.own_territory),
                                      url="customers:institution_detail", api="/api/v1/institutions/{pk}")
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from django.conf import settings
from django.db.models import Model
from django.test import Client
from django.urls import reverse
from django.utils import translation

from pharmacrm.core import visibility
from pharmacrm.core.models import OrgUnit, Role, Territory, User

SEES = ("owner", "district_manager", "regional_manager", "director")
BLIND = ("colleague", "outsider", "other_manager", "no_role")


@dataclass
class Personas:
    company: OrgUnit
    region_n: OrgUnit
    district_n1: OrgUnit
    team_n1a: OrgUnit
    region_s: OrgUnit
    team_s1a: OrgUnit
    own_territory: Territory
    colleague_territory: Territory
    outside_territory: Territory
    owner: User
    colleague: User
    outsider: User
    district_manager: User
    regional_manager: User
    other_manager: User
    director: User
    admin: User
    no_role: User

    def __getitem__(self, name: str) -> User:
        user = getattr(self, name)
        assert isinstance(user, User)
        return user


def build_personas() -> Personas:
    from pharmacrm.core.tests import factories

    # factory_boy's stubs type a factory call as the factory; these build model instances.
    OrgUnitFactory: Any = factories.OrgUnitFactory
    TerritoryFactory: Any = factories.TerritoryFactory
    UserFactory: Any = factories.UserFactory
    AssignmentFactory: Any = factories.AssignmentFactory

    company = OrgUnitFactory(code="HQ", name="总部", kind=OrgUnit.Kind.COMPANY)
    region_n = OrgUnitFactory(code="N", name="北区", kind=OrgUnit.Kind.REGION, parent=company)
    district_n1 = OrgUnitFactory(code="N1", name="北一地区", kind=OrgUnit.Kind.DISTRICT, parent=region_n)
    team_n1a = OrgUnitFactory(code="N1A", name="北一A组", kind=OrgUnit.Kind.TEAM, parent=district_n1)
    region_s = OrgUnitFactory(code="S", name="南区", kind=OrgUnit.Kind.REGION, parent=company)
    district_s1 = OrgUnitFactory(code="S1", name="南一地区", kind=OrgUnit.Kind.DISTRICT, parent=region_s)
    team_s1a = OrgUnitFactory(code="S1A", name="南一A组", kind=OrgUnit.Kind.TEAM, parent=district_s1)
    own = TerritoryFactory(code="OWN", name="本辖区", org_unit=team_n1a)
    col = TerritoryFactory(code="COL", name="同事辖区", org_unit=team_n1a)
    out = TerritoryFactory(code="OUT", name="外区辖区", org_unit=team_s1a)
    owner = UserFactory(username="owner", display_name="王代表", org_unit=team_n1a, roles=[Role.REP])
    colleague = UserFactory(username="colleague", display_name="李代表", org_unit=team_n1a, roles=[Role.REP])
    outsider = UserFactory(username="outsider", display_name="赵代表", org_unit=team_s1a, roles=[Role.REP])
    start = dt.date(2020, 1, 1)
    AssignmentFactory(territory=own, user=owner, valid_from=start)
    AssignmentFactory(territory=col, user=colleague, valid_from=start)
    AssignmentFactory(territory=out, user=outsider, valid_from=start)
    return Personas(
        company=company,
        region_n=region_n,
        district_n1=district_n1,
        team_n1a=team_n1a,
        region_s=region_s,
        team_s1a=team_s1a,
        own_territory=own,
        colleague_territory=col,
        outside_territory=out,
        owner=owner,
        colleague=colleague,
        outsider=outsider,
        district_manager=UserFactory(
            username="dm", display_name="孙经理", org_unit=district_n1, roles=[Role.DISTRICT_MANAGER]
        ),
        regional_manager=UserFactory(
            username="rm", display_name="周经理", org_unit=region_n, roles=[Role.REGIONAL_MANAGER]
        ),
        other_manager=UserFactory(
            username="om", display_name="吴经理", org_unit=region_s, roles=[Role.REGIONAL_MANAGER]
        ),
        director=UserFactory(
            username="director", display_name="郑总监", org_unit=company, roles=[Role.DIRECTOR]
        ),
        admin=UserFactory(username="admin", display_name="管理员", org_unit=company, roles=[Role.ADMIN]),
        no_role=UserFactory(username="norole", display_name="无角色", org_unit=team_n1a, roles=[]),
    )


@pytest.fixture
def personas(db: Any) -> Personas:
    return build_personas()


def signed_in(user: Any) -> Client:
    """A test client logged in as `user`."""
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def restore_language() -> Any:
    """Pages in English activate it for the thread; later tests expect the project's language."""
    with translation.override(settings.LANGUAGE_CODE):
        yield


def visibility_test(
    build: Callable[[Personas], Model],
    *,
    url: str | None = None,
    api: str | None = None,
    sees: tuple[str, ...] = SEES,
    blind: tuple[str, ...] = BLIND,
) -> Callable[..., None]:
    """A parametrised test: each persona sees exactly what it may, in the selector, the page and the API.

    `build` makes the object in the owner's territory (or wherever the model's rule puts it).
    `url` is a detail URL name taking the pk; `api` a path with `{pk}`. Hidden answers 404.
    """

    @pytest.mark.django_db
    @pytest.mark.parametrize("persona", [*sees, *blind])
    def test(persona: str, personas: Personas) -> None:
        obj = build(personas)
        user = personas[persona]
        expected = persona in sees
        model = type(obj)
        assert visibility.visible(model, user=user).filter(pk=obj.pk).exists() is expected, (
            f"{persona} {'should' if expected else 'should not'} see {model.__name__}"
        )
        client = Client()
        client.force_login(user)
        if url:
            response = client.get(reverse(url, args=[obj.pk]))
            assert response.status_code == (200 if expected else 404), (
                f"{persona} page → {response.status_code}"
            )
        if api:
            response = client.get(api.format(pk=obj.pk))
            assert response.status_code == (200 if expected else 404), (
                f"{persona} API → {response.status_code}"
            )

    return test
