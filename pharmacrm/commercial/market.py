"""Market share (市场份额): our sales ÷ the market, by province × therapeutic area × month.

The market comes from imported `MarketData` (one provider at a time: providers measure
differently, mixing them would be meaningless); our sales from the sales-source registry, summed
over the area's products. Share by amount uses market_amount, share by volume market_volume;
a missing market figure gives no share for that cell, never a zero.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db.models import QuerySet
from django.utils.translation import gettext as _

from pharmacrm.commercial import sales
from pharmacrm.commercial.models import CompetitorProduct, MarketData, Product, TherapeuticArea
from pharmacrm.core.visibility import visible


@dataclass(frozen=True)
class ShareLine:
    province_code: str
    province_name: str
    month: dt.date
    market_amount: Decimal | None
    market_volume: Decimal | None
    our_amount: Decimal | None
    our_quantity: Decimal | None

    @staticmethod
    def _pct(part: Decimal | None, whole: Decimal | None) -> Decimal | None:
        if part is None or whole is None or whole <= 0:
            return None
        return (part / whole * 100).quantize(Decimal("0.01"))

    @property
    def amount_share(self) -> Decimal | None:
        return self._pct(self.our_amount, self.market_amount)

    @property
    def volume_share(self) -> Decimal | None:
        return self._pct(self.our_quantity, self.market_volume)


@dataclass(frozen=True)
class MarketShare:
    area: TherapeuticArea
    provider: str
    start: dt.date
    end: dt.date
    lines: list[ShareLine]
    products: list[Product]
    competitors: list[CompetitorProduct]
    available: bool
    note: str


def month_end(day: dt.date) -> dt.date:
    nxt = (day.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    return nxt - dt.timedelta(days=1)


def visible_market_data(*, user: Any) -> QuerySet[MarketData]:
    return visible(MarketData, user=user).select_related("province", "therapeutic_area")


def providers(*, user: Any, area: TherapeuticArea | None = None) -> list[str]:
    qs = visible(MarketData, user=user)
    if area is not None:
        qs = qs.filter(therapeutic_area=area)
    return list(qs.order_by("provider").values_list("provider", flat=True).distinct())


def market_share(
    *,
    user: Any,
    area: TherapeuticArea,
    start: dt.date,
    end: dt.date,
    provider: str | None = None,
    province_codes: list[str] | None = None,
) -> MarketShare:
    """Share per (province, month) with market data for `area` between the months of `start` and `end`."""
    start, end = start.replace(day=1), month_end(end)
    provider = provider or next(iter(providers(user=user, area=area)), "")
    market = visible_market_data(user=user).filter(
        therapeutic_area=area, provider=provider, month__gte=start, month__lte=end
    )
    if province_codes:
        market = market.filter(province_id__in=province_codes)
    rows = list(market.order_by("province_id", "month"))
    products = list(Product.objects.filter(therapeutic_area=area).order_by("generic_name"))
    competitors = list(
        CompetitorProduct.objects.filter(therapeutic_area=area)
        .prefetch_related("competes_with")
        .order_by("name")
    )
    figures: dict[tuple[Any, ...], sales.SalesFigure] = {}
    available = True
    if rows and products:
        try:
            figures = sales.sales_totals(
                user=user,
                start=start,
                end=end,
                product_ids=[p.pk for p in products],
                province_codes=sorted({r.province_id for r in rows}),
                group_by=("province", "month"),
            )
        except LookupError:
            available = False
    lines = []
    for r in rows:
        fig = figures.get((r.province_id, r.month), sales.ZERO) if available else None
        lines.append(
            ShareLine(
                province_code=r.province_id,
                province_name=r.province.name,
                month=r.month,
                market_amount=r.market_amount,
                market_volume=r.market_volume,
                our_amount=fig.amount if fig else None,
                our_quantity=fig.quantity if fig else None,
            )
        )
    if not available:
        note = _("没有可用的销售数据来源（流向数据未接入），只显示市场规模，无法计算份额。")
    elif not rows:
        note = _("该治疗领域在所选期间没有市场数据，请先导入。")
    else:
        note = _(
            "份额 = 我方该治疗领域全部产品（{products}）在该省该月的流向销售 ÷ {provider} 报告的市场规模；"
            "金额份额用市场金额，数量份额用市场数量（标准单位）。"
        ).format(products="、".join(str(p) for p in products) or "—", provider=provider)
    return MarketShare(
        area=area,
        provider=provider,
        start=start,
        end=end,
        lines=lines,
        products=products,
        competitors=competitors,
        available=available,
        note=note,
    )
