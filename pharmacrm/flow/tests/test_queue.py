"""The unmatched queue: groups by raw name with candidates, one mapping matches every row and is remembered."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest

from pharmacrm.core.errors import DomainError, NotAllowed
from pharmacrm.core.models import Role
from pharmacrm.core.tests.factories import UserFactory
from pharmacrm.flow import services
from pharmacrm.flow.importing import import_flow_file
from pharmacrm.flow.models import CustomerAlias, FlowPeriodClose, FlowRecord, MatchMethod, ProductAlias
from pharmacrm.flow.services import CUSTOMER, PRODUCT, Mapping, map_unmatched, unmatched_groups
from pharmacrm.flow.tests.conftest import FlowWorld, csv_file
from pharmacrm.flow.tests.test_import_flow import _template

pytestmark = pytest.mark.django_db

EAST = "北京协和医院（东院）"
ROWS = (
    f"2026-01-05,,{EAST},,诺欣妥,100mg*14片,1,盒,,,,纯销",
    f"2026-01-06,,{EAST},,诺欣妥,100mg*14片,2,盒,,,,纯销",
    "2026-01-07,,北京协和医院,,新药X,10mg*28片,56,片,,,,纯销",
)


def _load(world: FlowWorld, *rows: str, month: int = 1) -> Any:
    _template(world)
    lines = [r.replace("2026-01-", f"2026-{month:02d}-") for r in rows]
    result = import_flow_file(
        actor=world.user, distributor_code="GK01", fileobj=csv_file(*lines), name="f.csv", dry_run=False
    )
    assert result.outcome in ("imported", "replaced"), list(result.lines())
    return result


def test_groups_count_rows_and_offer_scored_candidates(world: FlowWorld) -> None:
    _load(world, *ROWS)
    (group,) = unmatched_groups(user=world.user, kind=CUSTOMER)
    assert (group.name, group.rows, group.distributor_code) == (EAST, 2, "GK01")
    best, score = group.candidates[0]
    assert best == world.union and 80 < score < 88
    (product,) = unmatched_groups(user=world.user, kind=PRODUCT)
    assert (product.name, product.spec, product.rows) == ("新药X", "10mg*28片", 1)


def test_mapping_matches_every_row_remembers_the_alias_and_attributes(world: FlowWorld) -> None:
    _load(world, *ROWS)
    done = map_unmatched(
        actor=world.user, kind=CUSTOMER, mappings=[Mapping(world.distributor.pk, EAST, world.union.pk)]
    )
    assert (done["aliases"], done["rows"]) == (1, 2)
    rows = FlowRecord.objects.filter(customer_name=EAST)
    assert {(r.institution_id, r.customer_match) for r in rows} == {(world.union.pk, MatchMethod.MANUAL)}
    alias = CustomerAlias.objects.get()
    assert (alias.distributor, alias.institution, alias.raw_text) == (world.distributor, world.union, EAST)
    assert alias.history.get().history_user == world.user
    assert unmatched_groups(user=world.user, kind=CUSTOMER) == []
    # next month the alias matches the same raw name without anyone touching the queue
    _load(world, ROWS[0], month=2)
    february = FlowRecord.objects.get(period=dt.date(2026, 2, 1))
    assert (february.institution, february.customer_match) == (world.union, MatchMethod.ALIAS)


def test_mapping_a_product_converts_tablets_to_packs(world: FlowWorld) -> None:
    from pharmacrm.flow.tests.factories import SkuFactory

    new = SkuFactory(code="X10", strength="10mg", pack="28片", standard_units=Decimal(28))
    result = _load(world, *ROWS)
    record = FlowRecord.objects.get(product_name="新药X")
    assert (record.quantity, record.unit, record.standard_quantity) == (Decimal(56), "片", None)
    map_unmatched(
        actor=world.user,
        kind=PRODUCT,
        mappings=[Mapping(world.distributor.pk, "新药X", new.pk, spec="10mg*28片")],
    )
    record.refresh_from_db()
    assert (record.sku, record.quantity, record.unit, record.standard_quantity) == (
        new,
        Decimal(2),
        "盒",
        Decimal(56),
    )
    assert ProductAlias.objects.get().sku == new
    result.file.refresh_from_db()
    assert result.file.unmatched_product_count == 0


def test_bulk_mapping_is_all_or_nothing(world: FlowWorld) -> None:
    _load(world, *ROWS)
    with pytest.raises(DomainError, match="不存在"):
        map_unmatched(
            actor=world.user,
            kind=CUSTOMER,
            mappings=[
                Mapping(world.distributor.pk, EAST, world.union.pk),
                Mapping(world.distributor.pk, "x", 999999),
            ],
        )
    assert not CustomerAlias.objects.exists()
    assert FlowRecord.objects.filter(institution__isnull=True).count() == 2


def test_reps_cannot_map_or_see_the_queue(world: FlowWorld) -> None:
    _load(world, *ROWS)
    rep = UserFactory(username="rep2", roles=[Role.REP])
    with pytest.raises(NotAllowed):
        map_unmatched(
            actor=rep, kind=CUSTOMER, mappings=[Mapping(world.distributor.pk, EAST, world.union.pk)]
        )
    assert unmatched_groups(user=rep, kind=CUSTOMER) == []
    assert not CustomerAlias.objects.exists()


def test_close_period_then_refuse_and_close_twice(world: FlowWorld) -> None:
    close = services.close_period(
        actor=world.user, distributor=world.distributor, period=dt.date(2026, 3, 15)
    )
    assert close.period == dt.date(2026, 3, 1)
    with pytest.raises(DomainError, match="已经关账"):
        services.close_period(actor=world.user, distributor=world.distributor, period=dt.date(2026, 3, 1))
    assert FlowPeriodClose.objects.count() == 1
