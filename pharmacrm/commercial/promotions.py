"""Promotions (促销活动): the plan, and its measured uplift against a baseline.

Two baselines, both read through the sales-source registry (`commercial.sales`), on sales
amounts (CNY) and quantities (standard units) of the promotion's products:

* ``last_year`` — the promotion's provinces in the same period one year earlier:
  uplift = actual ÷ last year − 1.
* ``matched_regions`` — the provinces NOT in the promotion act as control: their growth over the
  same period last year is what the promotion's provinces would have done without it, so
  expected = promotion provinces last year × (control this year ÷ control last year) and
  uplift = actual ÷ expected − 1 (a difference-in-differences ratio).

A baseline of zero (no sales) gives no uplift (shown as "not measurable"), never a division by zero.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from pharmacrm.commercial import sales
from pharmacrm.commercial.models import Product, Promotion
from pharmacrm.commercial.scoping import PROMOTION_WRITERS
from pharmacrm.core.audit import acting_as
from pharmacrm.core.errors import DomainError, NotAllowed
from pharmacrm.core.models import Division, User
from pharmacrm.core.visibility import get_visible_or_404

BASELINES = {
    "last_year": gettext_lazy("去年同期"),
    "matched_regions": gettext_lazy("对照地区（未参加活动的省份）"),
}


def may_edit_promotions(user: Any) -> bool:
    return bool(getattr(user, "is_authenticated", False) and user.roles & PROMOTION_WRITERS)


def _refuse(field_name: str, message: str) -> DomainError:
    return DomainError(message, fields={field_name: [message]})


@transaction.atomic
def save_promotion(
    *,
    actor: User,
    promotion: Promotion | None = None,
    name: str,
    kind: str,
    products: list[Product] | list[int],
    provinces: list[Division] | list[str],
    start: dt.date,
    end: dt.date,
    budget: Decimal | str | int,
    owner: User | int | None = None,
    status: str = Promotion.Status.PLANNED,
    notes: str = "",
) -> Promotion:
    if not may_edit_promotions(actor):
        raise NotAllowed(_("您的角色不能维护促销活动。"))
    name = (name or "").strip()
    if not name:
        raise _refuse("name", _("名称不能为空。"))
    if kind not in Promotion.Kind.values:
        raise _refuse("kind", _("类型“{value}”不在可选值中。").format(value=kind))
    if status not in Promotion.Status.values:
        raise _refuse("status", _("状态“{value}”不在可选值中。").format(value=status))
    if end < start:
        raise _refuse("end", _("结束日期（{end}）不能早于开始日期（{start}）。").format(end=end, start=start))
    try:
        amount = Decimal(str(budget))
    except InvalidOperation:
        raise _refuse("budget", _("预算不是数字：{value}").format(value=budget)) from None
    if not amount.is_finite() or amount < 0:
        raise _refuse("budget", _("预算不能为负数：{value}").format(value=budget))
    product_ids: set[int] = {p.pk if isinstance(p, Product) else int(p) for p in products}
    found_products = list(Product.objects.filter(pk__in=product_ids))
    if not product_ids:
        raise _refuse("products", _("请至少选择一个产品。"))
    if len(found_products) != len(product_ids):
        missing = sorted(product_ids - {p.pk for p in found_products})
        raise _refuse("products", _("产品不存在：{value}").format(value=missing))
    codes: set[str] = {str(getattr(p, "code", p)) for p in provinces}
    found_provinces = list(Division.objects.filter(code__in=codes, level=Division.Level.PROVINCE))
    if not codes:
        raise _refuse("provinces", _("请至少选择一个省份。"))
    if len(found_provinces) != len(codes):
        missing_codes = sorted(codes - {d.code for d in found_provinces})
        raise _refuse("provinces", _("不是省级行政区代码：{value}").format(value="、".join(missing_codes)))
    owner_user = actor
    if owner not in (None, ""):
        found = User.objects.filter(pk=getattr(owner, "pk", owner), is_active=True).first()
        if found is None:
            raise _refuse("owner", _("负责人不存在：{value}").format(value=getattr(owner, "pk", owner)))
        owner_user = found
    if promotion is not None:
        promotion = get_visible_or_404(
            Promotion.objects.select_for_update(of=("self",)), user=actor, pk=promotion.pk
        )
    obj = promotion or Promotion()
    obj.name, obj.kind, obj.status, obj.start, obj.end = name, kind, status, start, end
    obj.budget, obj.owner, obj.notes = amount, owner_user, (notes or "").strip()
    with acting_as(actor):
        obj.save()
        obj.products.set(found_products)
        obj.provinces.set(found_provinces)
    return obj


def shift_year(day: dt.date, years: int = -1) -> dt.date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


@dataclass(frozen=True)
class UpliftLine:
    label: Any
    actual: Decimal
    baseline: Decimal | None
    uplift: Decimal | None  # percent, 1 decimal


@dataclass
class Uplift:
    baseline: str
    baseline_label: Any
    available: bool
    amount: UpliftLine | None = None
    quantity: UpliftLine | None = None
    figures: list[tuple[Any, Decimal, Decimal]] = field(default_factory=list)  # (label, amount, quantity)
    method: str = ""


def _pct(actual: Decimal, expected: Decimal | None) -> Decimal | None:
    if expected is None or expected <= 0:
        return None
    return ((actual / expected - 1) * 100).quantize(Decimal("0.1"))


def _total(
    user: Any, *, start: dt.date, end: dt.date, products: list[int], provinces: list[str] | None
) -> sales.SalesFigure:
    if provinces is not None and not provinces:
        return sales.ZERO
    result = sales.sales_totals(
        user=user, start=start, end=end, product_ids=products, province_codes=provinces
    )
    return result.get((), sales.ZERO)


def promotion_uplift(*, user: Any, promotion: Promotion, baseline: str = "last_year") -> Uplift:
    """Sales uplift of the promotion against `baseline` (see module doc); figures for the page."""
    if baseline not in BASELINES:
        raise _refuse("baseline", _("基准“{value}”不在可选值中。").format(value=baseline))
    result = Uplift(baseline=baseline, baseline_label=BASELINES[baseline], available=True)
    products = list(promotion.products.values_list("pk", flat=True))
    provinces = list(promotion.provinces.values_list("code", flat=True))
    start, end = promotion.start, promotion.end
    ly_start, ly_end = shift_year(start), shift_year(end)
    try:
        actual = _total(user, start=start, end=end, products=products, provinces=provinces)
        last_year = _total(user, start=ly_start, end=ly_end, products=products, provinces=provinces)
        if baseline == "matched_regions":
            others = list(
                Division.objects.filter(level=Division.Level.PROVINCE)
                .exclude(code__in=provinces)
                .values_list("code", flat=True)
            )
            control = _total(user, start=start, end=end, products=products, provinces=others)
            control_ly = _total(user, start=ly_start, end=ly_end, products=products, provinces=others)
    except LookupError:
        result.available = False
        result.method = _("没有可用的销售数据来源（流向数据未接入），无法计算活动效果。")
        return result
    period = f"{start} ~ {end}"
    ly_period = f"{ly_start} ~ {ly_end}"
    result.figures = [
        (_("活动省份，活动期间（{period}）").format(period=period), actual.amount, actual.quantity),
        (_("活动省份，去年同期（{period}）").format(period=ly_period), last_year.amount, last_year.quantity),
    ]
    if baseline == "last_year":
        base_amount: Decimal | None = last_year.amount
        base_quantity: Decimal | None = last_year.quantity
        result.method = _("提升 = 活动期间销售 ÷ 去年同期销售 − 1；去年同期为 0 时无法计算。")
    else:
        result.figures += [
            (_("对照省份，活动期间"), control.amount, control.quantity),
            (_("对照省份，去年同期"), control_ly.amount, control_ly.quantity),
        ]

        def expected(ly: Decimal, c1: Decimal, c0: Decimal) -> Decimal | None:
            if c0 <= 0:
                return None
            return (ly * c1 / c0).quantize(Decimal("0.01"))

        base_amount = expected(last_year.amount, control.amount, control_ly.amount)
        base_quantity = expected(last_year.quantity, control.quantity, control_ly.quantity)
        result.method = _(
            "预期 = 活动省份去年同期 × 对照省份增长（对照省份活动期间 ÷ 对照省份去年同期）；"
            "提升 = 活动期间销售 ÷ 预期 − 1。对照省份去年同期为 0 时无法计算。"
        )
    result.amount = UpliftLine(_("金额（元）"), actual.amount, base_amount, _pct(actual.amount, base_amount))
    result.quantity = UpliftLine(
        _("数量（标准单位）"), actual.quantity, base_quantity, _pct(actual.quantity, base_quantity)
    )
    return result
