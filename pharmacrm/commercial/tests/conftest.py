"""A fake sales source for commercial tests: sales rows in memory, grouped the way contracts §1 says."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest

from pharmacrm.commercial import sales


@dataclass
class Sale:
    on: dt.date
    product: int
    sku: int
    province: str
    institution: int
    quantity: Decimal
    amount: Decimal
    distributor: int = 0


class FakeSales:
    def __init__(self) -> None:
        self.rows: list[Sale] = []
        self.calls: list[dict[str, Any]] = []

    def add(self, **kwargs: Any) -> None:
        kwargs["quantity"] = Decimal(str(kwargs["quantity"]))
        kwargs["amount"] = Decimal(str(kwargs["amount"]))
        self.rows.append(Sale(**kwargs))

    def __call__(self, **kw: Any) -> dict[tuple[Any, ...], sales.SalesFigure]:
        self.calls.append(kw)
        out: dict[tuple[Any, ...], sales.SalesFigure] = defaultdict(lambda: sales.ZERO)
        for r in self.rows:
            if not kw["start"] <= r.on <= kw["end"]:
                continue
            if kw["product_ids"] is not None and r.product not in kw["product_ids"]:
                continue
            if kw["province_codes"] is not None and r.province not in kw["province_codes"]:
                continue
            if kw["institution_ids"] is not None and r.institution not in kw["institution_ids"]:
                continue
            values = {
                "product": r.product,
                "sku": r.sku,
                "province": r.province,
                "institution": r.institution,
                "distributor": r.distributor,
                "month": r.on.replace(day=1),
            }
            key = tuple(values[g] for g in kw["group_by"])
            out[key] = out[key] + sales.SalesFigure(quantity=r.quantity, amount=r.amount)
        return dict(out)


@pytest.fixture
def fake_sales():
    saved = sales._source
    fake = FakeSales()
    sales.register_sales_source(fake)
    yield fake
    sales._source = saved


@pytest.fixture
def no_sales_source():
    saved = sales._source
    sales.unregister_sales_source()
    yield
    sales._source = saved
