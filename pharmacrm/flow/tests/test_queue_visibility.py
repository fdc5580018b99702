"""Who sees flow data: managers their subtree, commercial staff their distributors, company-wide roles all, reps nothing."""

from __future__ import annotations

from typing import Any

import pytest

from pharmacrm.core import visibility
from pharmacrm.core.models import Role
from pharmacrm.core.testing import Personas, visibility_test
from pharmacrm.core.tests.factories import AssignmentFactory, UserFactory
from pharmacrm.customers.tests.factories import InstitutionFactory
from pharmacrm.flow.models import FlowFile, FlowRecord
from pharmacrm.flow.tests.factories import DistributorFactory, FlowFileFactory, FlowRecordFactory

F: Any = FlowRecordFactory
FLOW_SEES = ("district_manager", "regional_manager", "director")
# the owner is a rep: the customer is in their territory, yet reps see no flow (RULES_CN §1)
FLOW_BLIND = ("owner", "colleague", "outsider", "other_manager", "no_role")


def _record_in_own_territory(p: Personas) -> FlowRecord:
    distributor: Any = DistributorFactory(org_unit=p.team_n1a)
    institution: Any = InstitutionFactory(territory=p.own_territory)
    file: Any = FlowFileFactory(distributor=distributor)
    record: FlowRecord = F(file=file, institution=institution, territory=p.own_territory)
    return record


def _file_in_own_team(p: Personas) -> FlowFile:
    distributor: Any = DistributorFactory(org_unit=p.team_n1a)
    file: FlowFile = FlowFileFactory(distributor=distributor)
    return file


test_flow_record_visibility = visibility_test(_record_in_own_territory, sees=FLOW_SEES, blind=FLOW_BLIND)
test_flow_file_visibility = visibility_test(
    _file_in_own_team,
    url="flow:file_detail",
    api="/api/v1/flow/files/{pk}",
    sees=FLOW_SEES,
    blind=FLOW_BLIND,
)


@pytest.mark.django_db
def test_commercial_sees_the_distributors_they_manage_and_their_territories(personas: Personas) -> None:
    commercial: Any = UserFactory(username="kam", org_unit=personas.team_n1a, roles=[Role.COMMERCIAL])
    AssignmentFactory(territory=personas.colleague_territory, user=commercial)
    managed = F(
        file=FlowFileFactory(distributor=DistributorFactory(manager=commercial, org_unit=personas.team_s1a))
    )
    in_territory = F(territory=personas.colleague_territory)
    elsewhere = F(territory=personas.outside_territory)
    seen = set(visibility.visible(FlowRecord, user=commercial).values_list("pk", flat=True))
    assert managed.pk in seen
    assert in_territory.pk in seen
    assert elsewhere.pk not in seen
