"""The flow sales source (contracts §1): GROUP BY keys, signs, filters and visibility per persona."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest

from pharmacrm.commercial.sales import SalesFigure, sales_totals
from pharmacrm.core.models import Division, Role
from pharmacrm.core.testing import Personas
from pharmacrm.core.tests.factories import AssignmentFactory, UserFactory
from pharmacrm.customers.tests.factories import InstitutionFactory
from pharmacrm.flow.attribution import attribute_records
from pharmacrm.flow.models import FlowRecord
from pharmacrm.flow.tests.factories import DistributorFactory, FlowFileFactory, FlowRecordFactory, SkuFactory

pytestmark = pytest.mark.django_db
F: Any = FlowRecordFactory
JAN, FEB = dt.date(2026, 1, 1), dt.date(2026, 2, 1)


@pytest.fixture
def world(personas: Personas) -> dict[str, Any]:
    """North distributor (managed by a commercial user) sells in OWN; south distributor in OUT."""
    commercial = UserFactory(username="ka", org_unit=personas.team_n1a, roles=[Role.COMMERCIAL])
    north = DistributorFactory(code="DN", org_unit=personas.team_n1a, manager=commercial)
    south = DistributorFactory(code="DS", org_unit=personas.team_s1a)
    shanghai = Division.objects.get_or_create(code="31", defaults={"name": "上海市", "level": "province"})[0]
    h_own = InstitutionFactory(territory=personas.own_territory)
    h_out = InstitutionFactory(territory=personas.outside_territory, province=shanghai, city=None)
    sku = SkuFactory(standard_units=Decimal("14"))
    other_sku = SkuFactory(standard_units=Decimal("28"))
    n_jan, n_feb = (
        FlowFileFactory(distributor=north, period=JAN),
        FlowFileFactory(distributor=north, period=FEB),
    )
    s_jan = FlowFileFactory(distributor=south, period=JAN)
    rows = [
        # 10 packs × 14 = 140 units, 255.00; the import left standard_quantity to us
        F(file=n_jan, institution=h_own, sku=sku, quantity=Decimal("10"), standard_quantity=None, amount=Decimal("255.00")),
        F(file=n_jan, institution=h_own, sku=sku, kind=FlowRecord.Kind.RETURN, quantity=Decimal("-2"),
          standard_quantity=Decimal("-28"), amount=Decimal("-51.00")),
        F(file=n_feb, institution=h_own, sku=other_sku, sale_date=dt.date(2026, 2, 3), quantity=Decimal("5"),
          standard_quantity=Decimal("140"), amount=Decimal("500.00")),
        F(file=s_jan, institution=h_out, sku=sku, quantity=Decimal("3"), standard_quantity=Decimal("42"),
          amount=Decimal("76.50")),
        # not sales: a transfer to another distributor, an unmatched product, a row outside the period
        F(file=n_jan, institution=south.institution, sku=sku, kind=FlowRecord.Kind.TRANSFER, amount=Decimal("999")),
        F(file=n_jan, institution=h_own, sku=None, product_name="不认识的药", amount=Decimal("999")),
        F(file=n_jan, institution=h_own, sku=sku, sale_date=dt.date(2025, 12, 31), amount=Decimal("999")),
    ]  # fmt: skip
    attribute_records(record_ids=[r.pk for r in rows], flags=False)
    return {"commercial": commercial, "north": north, "south": south, "h_own": h_own, "h_out": h_out,
            "sku": sku, "other_sku": other_sku}  # fmt: skip


def _totals(user: Any, **kwargs: Any) -> dict[tuple[Any, ...], SalesFigure]:
    return sales_totals(user=user, start=JAN, end=dt.date(2026, 3, 31), **kwargs)


def test_month_and_distributor_keys_net_returns_and_skip_transfers(
    personas: Personas, world: dict[str, Any]
) -> None:
    north, south = world["north"].pk, world["south"].pk
    assert _totals(personas.director, group_by=("month", "distributor")) == {
        (JAN, north): SalesFigure(Decimal("112"), Decimal("204.00")),  # 140 − 28 units, 255 − 51
        (FEB, north): SalesFigure(Decimal("140"), Decimal("500.00")),
        (JAN, south): SalesFigure(Decimal("42"), Decimal("76.50")),
    }
    assert _totals(personas.director) == {(): SalesFigure(Decimal("294"), Decimal("780.50"))}


def test_groupings_by_province_product_sku_and_institution(personas: Personas, world: dict[str, Any]) -> None:
    director = personas.director
    assert {k: v.amount for k, v in _totals(director, group_by=("province",)).items()} == {
        ("11",): Decimal("704.00"),
        ("31",): Decimal("76.50"),
    }
    by_product = _totals(director, group_by=("product", "sku"))
    assert by_product[(world["sku"].product_id, world["sku"].pk)].quantity == Decimal("154")
    assert by_product[(world["other_sku"].product_id, world["other_sku"].pk)].quantity == Decimal("140")
    assert set(_totals(director, group_by=("institution",))) == {(world["h_own"].pk,), (world["h_out"].pk,)}


def test_filters_narrow_the_rows(personas: Personas, world: dict[str, Any]) -> None:
    director = personas.director
    assert _totals(director, province_codes=["31"]) == {(): SalesFigure(Decimal("42"), Decimal("76.50"))}
    assert _totals(director, product_ids=[world["other_sku"].product_id])[()].amount == Decimal("500.00")
    assert _totals(director, institution_ids=[world["h_out"].pk])[()].amount == Decimal("76.50")
    assert _totals(director, distributor_ids=[world["north"].pk])[()].amount == Decimal("704.00")
    assert _totals(director, distributor_ids=[]) == {}


@pytest.mark.parametrize(
    ("persona", "amount"),
    [
        ("director", Decimal("780.50")),
        ("district_manager", Decimal("704.00")),  # North's subtree
        ("regional_manager", Decimal("704.00")),
        ("other_manager", Decimal("76.50")),  # South's subtree only
        ("commercial", Decimal("704.00")),  # manages the north distributor
        ("owner", None),  # reps see no sales at all (RULES_CN §1), even in their own territory
        ("colleague", None),
        ("outsider", None),
        ("no_role", None),
    ],
)
def test_each_persona_gets_exactly_its_scope(
    personas: Personas, world: dict[str, Any], persona: str, amount: Decimal | None
) -> None:
    user = world["commercial"] if persona == "commercial" else personas[persona]
    totals = _totals(user)
    assert (totals[()].amount if totals else None) == amount


def test_a_commercial_user_covering_a_territory_sees_its_sales(
    personas: Personas, world: dict[str, Any]
) -> None:
    ka = UserFactory(username="ka-south", org_unit=personas.team_s1a, roles=[Role.COMMERCIAL])
    AssignmentFactory(
        territory=personas.outside_territory, user=ka, valid_from=dt.date(2020, 1, 1), kind="shared"
    )
    assert _totals(ka) == {(): SalesFigure(Decimal("42"), Decimal("76.50"))}


def test_one_query_per_call_after_the_scope(
    personas: Personas, world: dict[str, Any], django_assert_num_queries: Any
) -> None:
    user = personas.director
    _totals(user)  # the scope (roles) is cached on the user after the first call
    with django_assert_num_queries(1):
        _totals(user, group_by=("month", "product", "province"))


def test_an_unknown_grouping_is_refused(personas: Personas, world: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="professional"):
        _totals(personas.director, group_by=("professional",))  # type: ignore[arg-type]
