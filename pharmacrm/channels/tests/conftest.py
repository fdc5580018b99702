"""Channel tests use the standard personas with the field users as 商务/KA (commercial), not reps.

The 医药代表 role gets no channel pages at all (RULES_CN §1), so the owner/colleague/outsider of
the visibility tests are commercial managers covering the same territories; `rep` is an extra
persona: a rep covering the owner's territory, who must still see nothing.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from pharmacrm.core.models import Role, UserRole
from pharmacrm.core.testing import Personas, build_personas


@pytest.fixture
def personas(db: Any) -> Personas:
    p = build_personas()
    UserRole.objects.filter(user__in=[p.owner, p.colleague, p.outsider], role=Role.REP).update(
        role=Role.COMMERCIAL
    )
    for user in (p.owner, p.colleague, p.outsider):
        if hasattr(user, "_roles_cache"):
            del user._roles_cache
    return p


@pytest.fixture
def rep(personas: Personas) -> Any:
    from pharmacrm.core.tests.factories import AssignmentFactory, UserFactory

    user = UserFactory(username="rep", display_name="钱代表", org_unit=personas.team_n1a, roles=[Role.REP])
    AssignmentFactory(territory=personas.own_territory, user=user, valid_from=dt.date(2020, 1, 1))
    return user
