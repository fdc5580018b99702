"""The sales-source registry: commercial asks "how much did we sell" without importing flow.

Flow data lives in an app above commercial (core ← customers ← commercial ← channels ← flow),
so commercial cannot read it directly. Instead the flow app registers one function here from
``FlowConfig.ready()`` and commercial (promotion uplift, tender delivery, market share) and
channels (sales vs agreement target) call :func:`sales_totals`.

Contract (issue 6, contracts §1):

* ``start`` and ``end`` are both inclusive, by sale date.
* Keys of the returned dict are tuples in ``group_by`` order; a ``"month"`` key is the date of
  the month's first day; ``group_by=()`` gives the single key ``()``.
* Figures are scoped by ``user`` through the visibility layer; only matched rows (institution
  and SKU known) count; the finest grouping is the institution (no per-professional figures:
  统方 rule, RULES_CN §1).
* Quantities are standard units (``Sku.standard_units`` × packs), returns negative; amounts CNY.
* With no source registered, :func:`sales_totals` raises :class:`LookupError`; callers show
  "no sales data source" instead of zeros.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, Literal, Protocol

GroupBy = Literal["product", "sku", "province", "institution", "distributor", "month"]
GROUP_BY_CHOICES: tuple[GroupBy, ...] = ("product", "sku", "province", "institution", "distributor", "month")


@dataclass(frozen=True)
class SalesFigure:
    quantity: Decimal  # standard units (Sku.standard_units × packs); returns negative
    amount: Decimal  # CNY

    def __add__(self, other: SalesFigure) -> SalesFigure:
        return SalesFigure(quantity=self.quantity + other.quantity, amount=self.amount + other.amount)


ZERO = SalesFigure(quantity=Decimal(0), amount=Decimal(0))


class SalesSource(Protocol):
    def __call__(
        self,
        *,
        user: Any,
        start: date,
        end: date,
        product_ids: Iterable[int] | None = None,
        province_codes: Iterable[str] | None = None,
        institution_ids: Iterable[int] | None = None,
        distributor_ids: Iterable[int] | None = None,
        group_by: tuple[GroupBy, ...] = (),
    ) -> dict[tuple[Any, ...], SalesFigure]: ...


_source: SalesSource | Callable[..., dict[tuple[Any, ...], SalesFigure]] | None = None


def register_sales_source(fn: SalesSource | Callable[..., dict[tuple[Any, ...], SalesFigure]]) -> None:
    """Register the one sales source (called once, from ``FlowConfig.ready()``).

    Registering again replaces the source (app reloads in tests call ready() again)."""
    global _source
    _source = fn


def unregister_sales_source() -> None:
    """Forget the source (tests use it to check the "no sales source" path)."""
    global _source
    _source = None


def has_sales_source() -> bool:
    return _source is not None


def sales_totals(
    *,
    user: Any,
    start: date,
    end: date,
    product_ids: Iterable[int] | None = None,
    province_codes: Iterable[str] | None = None,
    institution_ids: Iterable[int] | None = None,
    distributor_ids: Iterable[int] | None = None,
    group_by: tuple[GroupBy, ...] = (),
) -> dict[tuple[Any, ...], SalesFigure]:
    """Sales between ``start`` and ``end`` (inclusive) for ``user``, grouped by ``group_by``.

    Raises :class:`LookupError` when no sales source is registered, :class:`ValueError` on an
    unknown grouping or an inverted period.
    """
    unknown = [g for g in group_by if g not in GROUP_BY_CHOICES]
    if unknown:
        raise ValueError(f"unknown sales grouping: {', '.join(unknown)}")
    if end < start:
        raise ValueError(f"sales period ends ({end}) before it starts ({start})")
    if _source is None:
        raise LookupError("no sales source registered (the flow app registers one)")
    return _source(
        user=user,
        start=start,
        end=end,
        product_ids=None if product_ids is None else list(product_ids),
        province_codes=None if province_codes is None else list(province_codes),
        institution_ids=None if institution_ids is None else list(institution_ids),
        distributor_ids=None if distributor_ids is None else list(distributor_ids),
        group_by=tuple(group_by),
    )
