"""Attribution: territory and rep at the sale date, re-attribution after a corrected takeover, 窜货 and 两票制 flags."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from pharmacrm.core import services as core_services
from pharmacrm.core.models import Division, Role, TerritoryAssignment, TerritoryRule
from pharmacrm.core.testing import Personas
from pharmacrm.core.tests.factories import UserFactory
from pharmacrm.customers import services as customer_services
from pharmacrm.customers import territory_history
from pharmacrm.customers.models import Institution
from pharmacrm.customers.tests.factories import InstitutionFactory
from pharmacrm.flow.attribution import attribute_records, reattribute
from pharmacrm.flow.models import FlowRecord
from pharmacrm.flow.tests.factories import DistributorFactory, FlowFileFactory, FlowRecordFactory

pytestmark = pytest.mark.django_db

TAKEOVER = dt.date(2026, 1, 15)
F: Any = FlowRecordFactory


@pytest.fixture
def setup(personas: Personas) -> dict[str, Any]:
    """OWN passes from the owner to a new rep on 15 January; one hospital in OWN sells before and after."""
    newcomer = UserFactory(username="newcomer", org_unit=personas.team_n1a, roles=[Role.REP])
    core_services.assign_territory(
        actor=personas.admin, territory=personas.own_territory, user=newcomer, valid_from=TAKEOVER
    )
    hospital = InstitutionFactory(territory=personas.own_territory)
    file = FlowFileFactory(
        period=dt.date(2026, 1, 1), distributor=DistributorFactory(org_unit=personas.team_n1a)
    )
    before = F(file=file, institution=hospital, sale_date=dt.date(2026, 1, 14))
    after = F(file=file, institution=hospital, sale_date=TAKEOVER)
    unmatched = F(file=file, institution=None, customer_name="某未知诊所", sale_date=dt.date(2026, 1, 20))
    return {
        "newcomer": newcomer,
        "hospital": hospital,
        "file": file,
        "before": before,
        "after": after,
        "unmatched": unmatched,
    }


def _ids(*records: FlowRecord) -> list[int]:
    return [r.pk for r in records]


def _fresh(record: FlowRecord) -> FlowRecord:
    return FlowRecord.objects.get(pk=record.pk)


def test_attribution_follows_the_coverage_history_across_a_takeover(
    personas: Personas, setup: dict[str, Any]
) -> None:
    result = attribute_records(record_ids=_ids(setup["before"], setup["after"], setup["unmatched"]))

    before, after, unmatched = _fresh(setup["before"]), _fresh(setup["after"]), _fresh(setup["unmatched"])
    assert (before.territory_id, before.rep_id) == (personas.own_territory.pk, personas.owner.pk)
    assert (after.territory_id, after.rep_id) == (personas.own_territory.pk, setup["newcomer"].pk)
    assert (unmatched.territory_id, unmatched.rep_id) == (None, None)
    assert (result.rows, result.changed, result.territory, result.rep) == (3, 2, 2, 2)


def test_attributing_twice_changes_nothing(setup: dict[str, Any]) -> None:
    ids = _ids(setup["before"], setup["after"], setup["unmatched"])
    attribute_records(record_ids=ids)
    again = attribute_records(record_ids=ids)
    assert (again.changed, again.territory, again.rep, again.out_of_region, again.extra_hop) == (
        0,
        0,
        0,
        0,
        0,
    )


def test_institution_without_territory_is_attributed_by_the_city_rule(personas: Personas) -> None:
    TerritoryRule.objects.create(territory=personas.colleague_territory, province_id="11", city_id="1101")
    clinic = InstitutionFactory(
        territory=None, kind=Institution.Kind.CLINIC, grade=Institution.Grade.UNGRADED
    )
    file = FlowFileFactory(distributor=DistributorFactory(org_unit=personas.team_n1a))
    record = F(file=file, institution=clinic, sale_date=dt.date(2026, 1, 5))
    attribute_records(record_ids=[record.pk])
    record = _fresh(record)
    assert (record.territory_id, record.rep_id) == (personas.colleague_territory.pk, personas.colleague.pk)


def test_a_corrected_takeover_reattributes_only_what_moved_and_is_idempotent(
    personas: Personas, setup: dict[str, Any]
) -> None:
    attribute_records(record_ids=_ids(setup["before"], setup["after"]))
    # The takeover really happened on the 10th: the owner's period ends on the 9th.
    newcomer_row = TerritoryAssignment.objects.get(user=setup["newcomer"])
    owner_row = TerritoryAssignment.objects.get(user=personas.owner, territory=personas.own_territory)
    core_services.correct_assignment(
        actor=personas.admin,
        assignment=owner_row,
        valid_from=owner_row.valid_from,
        valid_to=dt.date(2026, 1, 9),
    )
    core_services.correct_assignment(
        actor=personas.admin, assignment=newcomer_row, valid_from=dt.date(2026, 1, 10), valid_to=None
    )

    result = reattribute(since=dt.date(2026, 1, 1))
    assert (result.rows, result.changed, result.rep, result.territory) == (2, 1, 1, 0)
    assert _fresh(setup["before"]).rep_id == setup["newcomer"].pk
    assert _fresh(setup["after"]).rep_id == setup["newcomer"].pk
    assert reattribute(since=None).changed == 0


def test_correcting_coverage_queues_reattribution_after_commit(
    personas: Personas, setup: dict[str, Any], django_capture_on_commit_callbacks: Any
) -> None:
    attribute_records(record_ids=_ids(setup["before"], setup["after"]))
    owner_row = TerritoryAssignment.objects.get(user=personas.owner, territory=personas.own_territory)
    newcomer_row = TerritoryAssignment.objects.get(user=setup["newcomer"])
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        core_services.correct_assignment(
            actor=personas.admin, assignment=newcomer_row, valid_from=dt.date(2026, 1, 16), valid_to=None
        )
        core_services.correct_assignment(
            actor=personas.admin,
            assignment=owner_row,
            valid_from=owner_row.valid_from,
            valid_to=dt.date(2026, 1, 15),
        )
    assert len(callbacks) == 2  # one queued re-attribution per change (the immediate backend runs it)
    # Sold on the 15th: now the owner's again.
    assert _fresh(setup["after"]).rep_id == personas.owner.pk


def test_an_overlapping_correction_is_refused_and_changes_nothing(
    personas: Personas, setup: dict[str, Any]
) -> None:
    newcomer_row = TerritoryAssignment.objects.get(user=setup["newcomer"])
    with pytest.raises(core_services.Conflict, match="重叠"):
        core_services.correct_assignment(
            actor=personas.admin, assignment=newcomer_row, valid_from=dt.date(2026, 1, 1), valid_to=None
        )
    newcomer_row.refresh_from_db()
    assert newcomer_row.valid_from == TAKEOVER


def test_a_sale_outside_the_agreed_regions_is_flagged(personas: Personas) -> None:
    from pharmacrm.channels.models import Agreement

    distributor = DistributorFactory(org_unit=personas.team_n1a)
    agreement = Agreement.objects.create(
        partner=distributor,
        code="AG-1",
        start=dt.date(2025, 1, 1),
        end=dt.date(2026, 12, 31),
        status="active",
    )
    agreement.regions.add(
        Division.objects.get_or_create(code="11", defaults={"name": "北京市", "level": "province"})[0]
    )
    shanghai = Division.objects.get_or_create(code="31", defaults={"name": "上海市", "level": "province"})[0]
    file = FlowFileFactory(distributor=distributor)
    inside = F(file=file, institution=InstitutionFactory())
    outside = F(file=file, institution=InstitutionFactory(province=shanghai, city=None))
    result = attribute_records(record_ids=_ids(inside, outside))
    assert (_fresh(inside).out_of_region, _fresh(outside).out_of_region) == (False, True)
    assert result.out_of_region == 1
    # The agreement turns out never signed (back to draft): nothing is out of region any more.
    Agreement.objects.filter(pk=agreement.pk).update(status="draft")
    assert attribute_records(record_ids=_ids(inside, outside)).out_of_region == 1
    assert _fresh(outside).out_of_region is False


def test_a_public_hospital_supplied_through_a_transfer_is_an_extra_hop(personas: Personas) -> None:
    first, second = (
        DistributorFactory(org_unit=personas.team_n1a),
        DistributorFactory(org_unit=personas.team_n1a),
    )
    hospital = InstitutionFactory(ownership=Institution.Ownership.PUBLIC)
    private = InstitutionFactory(ownership=Institution.Ownership.PRIVATE)
    transfer = F(
        file=FlowFileFactory(distributor=first),
        institution=second.institution,
        kind=FlowRecord.Kind.TRANSFER,
        sale_date=dt.date(2026, 1, 3),
    )
    sku = transfer.sku
    own_file = FlowFileFactory(distributor=second)
    via_transfer = F(file=own_file, institution=hospital, sku=sku, sale_date=dt.date(2026, 1, 10))
    to_private = F(file=own_file, institution=private, sku=sku, sale_date=dt.date(2026, 1, 10))
    other_sku = F(file=own_file, institution=hospital, sale_date=dt.date(2026, 1, 10))
    result = attribute_records(record_ids=_ids(transfer, via_transfer, to_private, other_sku))
    assert [_fresh(r).extra_hop for r in (transfer, via_transfer, to_private, other_sku)] == [
        False,
        True,
        False,
        False,
    ]
    assert result.extra_hop == 1
    assert via_transfer.quantity == Decimal("10")


# --- Institutions moved to another territory ---------------------------------------------------------


@pytest.fixture
def moved(personas: Personas) -> dict[str, Any]:
    """A hospital in OWN (the owner's) sells every month; on 1 March it moves to COL (the colleague's)."""
    hospital = InstitutionFactory(territory=personas.own_territory)
    file = FlowFileFactory(distributor=DistributorFactory(org_unit=personas.team_n1a))
    days = [dt.date(2025, 1, 10), dt.date(2025, 2, 28), dt.date(2025, 3, 1), dt.date(2025, 4, 5)]
    records = [F(file=file, institution=hospital, sale_date=day) for day in days]
    attribute_records(record_ids=_ids(*records))
    return {"hospital": hospital, "records": records}


def _who(records: list[FlowRecord]) -> list[tuple[int | None, int | None]]:
    fresh = {r.pk: r for r in FlowRecord.objects.filter(pk__in=[r.pk for r in records])}
    return [(fresh[r.pk].territory_id, fresh[r.pk].rep_id) for r in records]


def test_a_moved_institution_keeps_its_earlier_sales_with_the_old_territory_and_rep(
    personas: Personas, moved: dict[str, Any], django_capture_on_commit_callbacks: Any
) -> None:
    own = (personas.own_territory.pk, personas.owner.pk)
    col = (personas.colleague_territory.pk, personas.colleague.pk)
    assert _who(moved["records"]) == [own, own, own, own]
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        customer_services.move_institution(
            actor=personas.admin,
            institution=moved["hospital"],
            territory=personas.colleague_territory,
            effective=dt.date(2025, 3, 1),
            reason="区域调整：3 月起归同事辖区",
        )
    # The move queued re-attribution of this institution from 1 March (the immediate backend ran it).
    assert len(callbacks) == 1
    assert _who(moved["records"]) == [own, own, col, col]
    # Running it again changes nothing.
    again = reattribute(since=dt.date(2025, 3, 1), institution_ids=[moved["hospital"].pk])
    assert (again.rows, again.changed) == (2, 0)
    assert reattribute().changed == 0
    # A full attribution of the file agrees with the task.
    assert attribute_records(record_ids=_ids(*moved["records"])).changed == 0


def test_a_move_today_leaves_every_past_sale_where_it_was(
    personas: Personas, moved: dict[str, Any], django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        customer_services.update_institution(
            actor=personas.district_manager,
            institution=moved["hospital"],
            changes={"territory": personas.colleague_territory},
        )
    own = (personas.own_territory.pk, personas.owner.pk)
    assert _who(moved["records"]) == [own, own, own, own]
    # A sale reported later for today goes to the new territory.
    today = F(file=moved["records"][0].file, institution=moved["hospital"], sale_date=timezone.localdate())
    attribute_records(record_ids=[today.pk])
    assert _who([today]) == [(personas.colleague_territory.pk, personas.colleague.pk)]


def test_a_coverage_correction_reaches_institutions_that_were_in_the_territory(
    personas: Personas, moved: dict[str, Any]
) -> None:
    customer_services.move_institution(
        actor=personas.admin,
        institution=moved["hospital"],
        territory=personas.colleague_territory,
        effective=dt.date(2025, 3, 1),
        reason="区域调整",
    )
    reattribute(institution_ids=[moved["hospital"].pk])
    # The owner's coverage of OWN really started on 1 February 2025: January's sale was nobody's.
    owner_row = TerritoryAssignment.objects.get(user=personas.owner, territory=personas.own_territory)
    core_services.correct_assignment(
        actor=personas.admin, assignment=owner_row, valid_from=dt.date(2025, 2, 1), valid_to=None
    )
    # The hospital is no longer in OWN, but its January sale is: narrowing by territory still finds it.
    result = reattribute(since=dt.date(2020, 1, 1), territory_ids=[personas.own_territory.pk])
    assert result.changed == 1
    assert _who(moved["records"])[0] == (personas.own_territory.pk, None)


def test_an_institution_without_a_territory_for_a_while_is_nobodys_then(personas: Personas) -> None:
    TerritoryRule.objects.create(territory=personas.colleague_territory, province_id="11", city_id="1101")
    clinic = InstitutionFactory(kind=Institution.Kind.CLINIC, grade=Institution.Grade.UNGRADED)
    file = FlowFileFactory(distributor=DistributorFactory(org_unit=personas.team_n1a))
    before = F(file=file, institution=clinic, sale_date=timezone.localdate() - dt.timedelta(days=3))
    rule = TerritoryRule.objects.get(city_id="1101")
    territory_history.remove_territory_rule(
        actor=personas.admin,
        rule=rule,
        effective=timezone.localdate() - dt.timedelta(days=2),
        reason="撤销规则",
    )
    after = F(file=file, institution=clinic, sale_date=timezone.localdate())
    attribute_records(record_ids=_ids(before, after))
    assert _who([before, after]) == [(personas.colleague_territory.pk, personas.colleague.pk), (None, None)]
