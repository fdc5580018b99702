"""Flow scorecard metrics (contracts §2): timeliness, coverage, inventory days, 窜货 share."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from freezegun import freeze_time

from pharmacrm.channels.metrics import compute_metric, get_metric
from pharmacrm.core.testing import Personas
from pharmacrm.customers.tests.factories import InstitutionFactory
from pharmacrm.flow.models import FlowFile, FlowRecord
from pharmacrm.flow.tests.factories import (
    DistributorFactory,
    FlowFileFactory,
    FlowRecordFactory,
    InventoryRecordFactory,
)

pytestmark = pytest.mark.django_db
F: Any = FlowRecordFactory
Q1 = (dt.date(2026, 1, 1), dt.date(2026, 3, 31))


@pytest.fixture
def partner(personas: Personas) -> Any:
    return DistributorFactory(org_unit=personas.team_n1a)


def _measure(code: str, partner: Any, period: tuple[dt.date, dt.date] = Q1) -> Any:
    return compute_metric(code, partner=partner, start=period[0], end=period[1])


def test_the_flow_metrics_are_registered() -> None:
    for code in ("flow_timeliness", "coverage", "inventory_days", "out_of_region_share"):
        metric = get_metric(code)
        assert metric is not None and not metric.manual, code


@freeze_time("2026-04-10 04:00:00")
def test_timeliness_averages_the_months_and_counts_a_missing_month_late(partner: Any) -> None:
    FlowFileFactory(
        distributor=partner, period=dt.date(2026, 1, 1), received_on=dt.date(2026, 2, 5)
    )  # 5 days
    # February: a first file on 3 March, replaced by a correction on the 20th; the first one counts
    FlowFileFactory(
        distributor=partner,
        period=dt.date(2026, 2, 1),
        received_on=dt.date(2026, 3, 3),
        status=FlowFile.Status.REPLACED,
    )
    FlowFileFactory(distributor=partner, period=dt.date(2026, 2, 1), received_on=dt.date(2026, 3, 20))
    # March never arrived: late from 31 March to today (10 April) = 10 days
    value = _measure("flow_timeliness", partner)
    assert value.value == Decimal("6.0")  # (5 + 3 + 10) / 3
    assert "2026-03 缺失（按10天计）" in value.detail


@freeze_time("2026-01-20 04:00:00")
def test_timeliness_is_not_measurable_before_a_month_has_ended(partner: Any) -> None:
    assert _measure("flow_timeliness", partner).value is None


def test_coverage_counts_distinct_matched_institutions(partner: Any) -> None:
    file = FlowFileFactory(distributor=partner, period=dt.date(2026, 2, 1))
    a, b = InstitutionFactory(), InstitutionFactory()
    F(file=file, institution=a)
    F(file=file, institution=a)
    F(file=file, institution=b)
    F(file=file, institution=None, customer_name="未知诊所")
    F(file=file, institution=InstitutionFactory(), kind=FlowRecord.Kind.TRANSFER)  # not a sale
    value = _measure("coverage", partner)
    assert value.value == Decimal("2")
    assert "1 行客户未匹配" in value.detail


def test_inventory_days_divide_closing_stock_by_daily_sell_through(partner: Any) -> None:
    file = FlowFileFactory(distributor=partner, period=dt.date(2026, 3, 1))
    F(file=file, quantity=Decimal("950"))
    F(file=file, quantity=Decimal("-50"), kind=FlowRecord.Kind.RETURN)  # net 900 packs over 90 days: 10 a day
    inventory = FlowFileFactory(distributor=partner, period=dt.date(2026, 3, 1), kind=FlowFile.Kind.INVENTORY)
    InventoryRecordFactory(
        file=inventory, as_of=dt.date(2026, 2, 28), quantity=Decimal("999")
    )  # not the last
    InventoryRecordFactory(file=inventory, as_of=dt.date(2026, 3, 31), quantity=Decimal("150"))
    InventoryRecordFactory(file=inventory, as_of=dt.date(2026, 3, 31), quantity=Decimal("100"))
    value = _measure("inventory_days", partner)
    assert value.value == Decimal("25.0")  # 250 ÷ 10
    assert "2026-03-31 库存 250" in value.detail


def test_inventory_days_without_stock_is_not_measurable(partner: Any) -> None:
    F(file=FlowFileFactory(distributor=partner, period=dt.date(2026, 3, 1)))
    assert _measure("inventory_days", partner).value is None


def test_out_of_region_share_is_the_flagged_share_of_quantity(partner: Any) -> None:
    file = FlowFileFactory(distributor=partner, period=dt.date(2026, 1, 1))
    F(file=file, quantity=Decimal("30"))
    F(file=file, quantity=Decimal("10"), out_of_region=True)
    F(file=file, quantity=Decimal("99"), out_of_region=True, institution=None)  # unmatched: not counted
    value = _measure("out_of_region_share", partner)
    assert value.value == Decimal("25.0")
    assert "1 行窜货" in value.detail
    other = DistributorFactory(org_unit=partner.org_unit)
    assert _measure("out_of_region_share", other).value is None


def test_inventory_days_read_stock_from_either_source_and_an_inventory_file_wins_its_month(
    partner: Any,
) -> None:
    sales = FlowFileFactory(distributor=partner, period=dt.date(2026, 3, 1))
    F(file=sales, quantity=Decimal("900"))  # 10 a day over the quarter
    # January's and March's stock come as 库存 rows inside the sales files …
    InventoryRecordFactory(file=sales, as_of=dt.date(2026, 3, 31), quantity=Decimal("400"))
    january = FlowFileFactory(distributor=partner, period=dt.date(2026, 1, 1))
    InventoryRecordFactory(file=january, as_of=dt.date(2026, 1, 31), quantity=Decimal("70"))
    value = _measure("inventory_days", partner)
    assert value.value == Decimal("40.0") and "2026-03-31 库存 400" in value.detail
    # … then March's separate inventory file arrives: it alone says what was in stock in March
    stock = FlowFileFactory(distributor=partner, period=dt.date(2026, 3, 1), kind=FlowFile.Kind.INVENTORY)
    InventoryRecordFactory(file=stock, as_of=dt.date(2026, 3, 31), quantity=Decimal("150"))
    InventoryRecordFactory(file=stock, as_of=dt.date(2026, 3, 31), quantity=Decimal("50"))
    value = _measure("inventory_days", partner)
    assert value.value == Decimal("20.0") and "2026-03-31 库存 200" in value.detail
