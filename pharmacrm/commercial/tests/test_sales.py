"""The sales-source registry: contract checks that do not need the flow app."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from pharmacrm.commercial import sales


@pytest.fixture
def no_source():
    saved = sales._source
    sales.unregister_sales_source()
    yield
    sales._source = saved


def test_no_source_raises_lookup_error(no_source):
    with pytest.raises(LookupError, match="no sales source"):
        sales.sales_totals(user=None, start=date(2026, 1, 1), end=date(2026, 1, 31))
    assert not sales.has_sales_source()


def test_registered_source_receives_normalised_arguments(no_source):
    calls = []

    def source(**kwargs):
        calls.append(kwargs)
        return {(1,): sales.SalesFigure(quantity=Decimal("10"), amount=Decimal("99.50"))}

    sales.register_sales_source(source)
    result = sales.sales_totals(
        user="u", start=date(2026, 1, 1), end=date(2026, 1, 31), product_ids=iter([1]), group_by=("product",)
    )
    assert result == {(1,): sales.SalesFigure(quantity=Decimal("10"), amount=Decimal("99.50"))}
    assert calls[0]["product_ids"] == [1]
    assert calls[0]["province_codes"] is None
    assert calls[0]["group_by"] == ("product",)


def test_bad_grouping_and_inverted_period_are_refused(no_source):
    sales.register_sales_source(lambda **kw: {})
    with pytest.raises(ValueError, match="unknown sales grouping: doctor"):
        sales.sales_totals(user=None, start=date(2026, 1, 1), end=date(2026, 1, 2), group_by=("doctor",))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="ends"):
        sales.sales_totals(user=None, start=date(2026, 2, 1), end=date(2026, 1, 1))


def test_figures_add():
    a = sales.SalesFigure(quantity=Decimal("1"), amount=Decimal("2"))
    assert a + a == sales.SalesFigure(quantity=Decimal("2"), amount=Decimal("4"))
