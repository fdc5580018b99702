"""The flow app's sales source (contracts §1): sales totals from matched flow records, by database GROUP BY.

Registered with `pharmacrm.commercial.sales.register_sales_source` in FlowConfig.ready(). Sales are
the distributors' sales to their customers (纯销) net of returns (退货); transfers between
distributors (调拨) are not sales (counting them would count the same packs twice). Only matched
rows count (institution and SKU known). The finest grouping is the institution: there is no
per-professional figure (统方 rule, RULES_CN §2).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from decimal import Decimal
from typing import Any

from django.db.models import Case, DecimalField, F, Q, QuerySet, Sum, Value, When
from django.db.models.functions import Abs, Coalesce, TruncMonth

from pharmacrm.commercial.sales import GroupBy, SalesFigure
from pharmacrm.core.visibility import visible
from pharmacrm.flow.models import FlowRecord

# The ORM path of each grouping (month is an expression, added below).
GROUP_FIELDS: dict[str, str] = {
    "product": "sku__product_id",
    "sku": "sku_id",
    "province": "institution__province_id",
    "institution": "institution_id",
    "distributor": "distributor_id",
    "month": "sales_month",
}
QUANTITY = DecimalField(max_digits=24, decimal_places=4)
AMOUNT = DecimalField(max_digits=20, decimal_places=2)


def signed_quantity() -> Case:
    """Standard units of a row (packs × Sku.standard_units unless the import stored them); returns negative."""
    units = Coalesce(F("standard_quantity"), F("quantity") * F("sku__standard_units"), output_field=QUANTITY)
    return Case(When(kind=FlowRecord.Kind.RETURN, then=-Abs(units)), default=units, output_field=QUANTITY)


def signed_amount() -> Case:
    amount = Coalesce(F("amount"), Value(Decimal("0")), output_field=AMOUNT)
    return Case(When(kind=FlowRecord.Kind.RETURN, then=-Abs(amount)), default=amount, output_field=AMOUNT)


def sales_records(
    *,
    user: Any,
    start: date,
    end: date,
    product_ids: Iterable[int] | None = None,
    province_codes: Iterable[str] | None = None,
    institution_ids: Iterable[int] | None = None,
    distributor_ids: Iterable[int] | None = None,
) -> QuerySet[FlowRecord]:
    """The matched sale and return rows `user` may see in the period, filtered."""
    rows = visible(FlowRecord, user=user).filter(
        institution__isnull=False,
        sku__isnull=False,
        sale_date__gte=start,
        sale_date__lte=end,
        kind__in=[FlowRecord.Kind.SALE, FlowRecord.Kind.RETURN],
    )
    if product_ids is not None:
        rows = rows.filter(sku__product_id__in=list(product_ids))
    if province_codes is not None:
        rows = rows.filter(Q(institution__province_id__in=list(province_codes)))
    if institution_ids is not None:
        rows = rows.filter(institution_id__in=list(institution_ids))
    if distributor_ids is not None:
        rows = rows.filter(distributor_id__in=list(distributor_ids))
    return rows


def flow_sales_totals(
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
    """Sales per `group_by` key (one GROUP BY query); keys with no rows are absent."""
    unknown = [g for g in group_by if g not in GROUP_FIELDS]
    if unknown:
        raise ValueError(f"unknown sales grouping: {', '.join(unknown)}")
    rows = sales_records(
        user=user,
        start=start,
        end=end,
        product_ids=product_ids,
        province_codes=province_codes,
        institution_ids=institution_ids,
        distributor_ids=distributor_ids,
    )
    if "month" in group_by:
        rows = rows.annotate(sales_month=TruncMonth("sale_date"))
    fields = [GROUP_FIELDS[g] for g in group_by]
    if not fields:
        sums = rows.aggregate(total_quantity=Sum(signed_quantity()), total_amount=Sum(signed_amount()))
        if sums["total_quantity"] is None:
            return {}
        return {(): _figure(sums["total_quantity"], sums["total_amount"])}
    totals = (
        rows.order_by()
        .values(*fields)
        .annotate(total_quantity=Sum(signed_quantity()), total_amount=Sum(signed_amount()))
        .values_list(*fields, "total_quantity", "total_amount")
    )
    result: dict[tuple[Any, ...], SalesFigure] = {}
    for *key, quantity, amount in totals:
        result[tuple(_month(k) if g == "month" else k for g, k in zip(group_by, key, strict=True))] = _figure(
            quantity, amount
        )
    return result


def _figure(quantity: Any, amount: Any) -> SalesFigure:
    return SalesFigure(quantity=Decimal(quantity or 0), amount=Decimal(amount or 0).quantize(Decimal("0.01")))


def _month(value: Any) -> date:
    # TruncMonth answers a datetime on some backends for some column types; the key is a date.
    return value.date() if hasattr(value, "date") and callable(value.date) else value


# --- 统方: per-professional estimates ---------------------------------------------------------------

ESTIMATE_RULE = "professional_estimate_roles"


def professional_estimate_decision(*, user: Any) -> Any:
    """May `user` see an institution's sales split by its professionals (an estimate, never flow data)?

    The flow app builds no such estimate today; anything that ever shows one must ask here first.
    The compliance rule `professional_estimate_roles` decides (China default: no rep, no district
    manager). Fail-closed: when the active policy set was written before the rule existed, the
    catalogue's default parameters apply rather than letting everyone through.
    """
    from pharmacrm.compliance.policy import active_rules, check
    from pharmacrm.compliance.rules import CATALOGUE, Decision, validate_params

    if ESTIMATE_RULE in active_rules():
        return check("sales_estimate.view", actor=user, level="professional")
    definition = CATALOGUE[ESTIMATE_RULE]
    roles = set(user.roles) if getattr(user, "is_authenticated", False) else set()
    reason = definition.evaluate(validate_params(ESTIMATE_RULE, {}), {"actor_roles": roles})
    return (
        Decision(True) if reason is None else Decision(False, ESTIMATE_RULE, definition.deny_message(reason))
    )
