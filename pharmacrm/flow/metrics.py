"""Scorecard metrics measured from flow data (contracts §2), registered in FlowConfig.ready().

Each compute(partner=…, start=…, end=…) is a system read for the channel review (the review page
scopes who sees the partner); it returns a value, or None when the period holds nothing to
measure, and one line saying how the value was computed.
"""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.db.models import Count, DecimalField, Max, Min, Q, Sum
from django.db.models.functions import Abs, Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from pharmacrm.channels.metrics import MetricValue, register_metric
from pharmacrm.commercial.market import month_end
from pharmacrm.flow.models import FlowFile, FlowRecord, InventoryRecord

ONE_DECIMAL = Decimal("0.1")
QUANTITY = DecimalField(max_digits=24, decimal_places=4)


def _round(value: Decimal) -> Decimal:
    return value.quantize(ONE_DECIMAL, rounding=ROUND_HALF_UP)


def _months(start: dt.date, end: dt.date) -> list[dt.date]:
    """First days of the months lying wholly inside [start, end]."""
    months = []
    month = start.replace(day=1) if start.day == 1 else _next_month(start)
    while month_end(month) <= end:
        months.append(month)
        month = _next_month(month)
    return months


def _next_month(day: dt.date) -> dt.date:
    return (day.replace(day=28) + dt.timedelta(days=4)).replace(day=1)


def _sales(partner: Any, start: dt.date, end: dt.date) -> Any:
    return FlowRecord.objects.filter(
        distributor=partner, sale_date__gte=start, sale_date__lte=end, kind=FlowRecord.Kind.SALE
    )


def flow_timeliness(*, partner: Any, start: dt.date, end: dt.date) -> MetricValue:
    """Days after month end the month's sales file arrived, averaged over the period's months.

    The first file received for a month counts (a later correction does not make it late). A month
    without any file counts as late until today: the days from its end to today.
    """
    today = timezone.localdate()
    months = [m for m in _months(start, end) if month_end(m) < today]
    if not months:
        return MetricValue(None, _("期间内没有已结束的完整月份"))
    received = dict(
        FlowFile.objects.filter(
            distributor=partner,
            kind=FlowFile.Kind.SALES,
            period__in=months,
            status__in=[FlowFile.Status.IMPORTED, FlowFile.Status.REPLACED],
        )
        .order_by()
        .values_list("period")
        .annotate(first=Min("received_on"))
    )
    parts, days = [], []
    for month in months:
        arrived = received.get(month)
        late = ((arrived or today) - month_end(month)).days
        days.append(max(late, 0))
        label = f"{month:%Y-%m}"
        parts.append(
            _("{month} 第{days}天").format(month=label, days=max(late, 0))
            if arrived
            else _("{month} 缺失（按{days}天计）").format(month=label, days=late)
        )
    value = _round(Decimal(sum(days)) / len(days))
    return MetricValue(value, _("月结后平均 {value} 天收到流向：").format(value=value) + "；".join(parts))


def coverage(*, partner: Any, start: dt.date, end: dt.date) -> MetricValue:
    """Distinct matched institutions the partner sold to in the period."""
    served = _sales(partner, start, end).filter(institution__isnull=False)
    counts = served.aggregate(institutions=Count("institution_id", distinct=True), rows=Count("pk"))
    unmatched = _sales(partner, start, end).filter(institution__isnull=True).count()
    if not counts["rows"] and not unmatched:
        return MetricValue(None, _("期间内没有纯销流向"))
    detail = _("{start}至{end}纯销覆盖 {n} 家已匹配机构").format(
        start=start, end=end, n=counts["institutions"]
    )
    if unmatched:
        detail += _("（另有 {n} 行客户未匹配，未计入）").format(n=unmatched)
    return MetricValue(Decimal(counts["institutions"]), detail)


def stock_records(*, partner: Any, start: dt.date, end: dt.date) -> Any:
    """The partner's stock rows dated in [start, end], from inventory files or 库存 rows of sales files.

    A month with an imported inventory file takes its stock from that file only: the 库存 rows a
    sales file of the same month may also carry would count the same stock twice.
    """
    stock = InventoryRecord.objects.filter(distributor=partner, as_of__gte=start, as_of__lte=end)
    with_file = FlowFile.objects.filter(
        distributor=partner,
        kind=FlowFile.Kind.INVENTORY,
        status=FlowFile.Status.IMPORTED,
        period__gte=start.replace(day=1),
        period__lte=end,
    ).values("period")
    return stock.exclude(Q(file__kind=FlowFile.Kind.SALES) & Q(period__in=with_file))


def inventory_days(*, partner: Any, start: dt.date, end: dt.date) -> MetricValue:
    """Closing inventory (packs, the last stock date in the period) ÷ average daily sell-through (packs).

    Stock comes from the partner's inventory files or the 库存 rows of its sales files (stock_records).
    """
    stock = stock_records(partner=partner, start=start, end=end)
    last = stock.aggregate(last=Max("as_of"))["last"]
    if last is None:
        return MetricValue(None, _("期间内没有库存数据"))
    closing = stock.filter(as_of=last).aggregate(
        total=Coalesce(Sum("quantity"), Decimal("0"), output_field=QUANTITY)
    )["total"]
    sold = _sales(partner, start, end).aggregate(
        total=Coalesce(Sum("quantity"), Decimal("0"), output_field=QUANTITY)
    )["total"]
    returned = FlowRecord.objects.filter(
        distributor=partner, sale_date__gte=start, sale_date__lte=end, kind=FlowRecord.Kind.RETURN
    ).aggregate(total=Coalesce(Sum(Abs("quantity")), Decimal("0"), output_field=QUANTITY))["total"]
    days = (end - start).days + 1
    daily = (Decimal(sold) - Decimal(returned)) / days
    if daily <= 0:
        return MetricValue(
            None, _("期末库存 {closing} 盒，期间无净销售，无法计算库存天数").format(closing=_round(closing))
        )
    value = _round(Decimal(closing) / daily)
    return MetricValue(
        value,
        _("{last} 库存 {closing} 盒 ÷ 日均纯销 {daily} 盒（{days} 天净销售 {net} 盒）").format(
            last=last,
            closing=_round(closing),
            daily=_round(daily),
            days=days,
            net=_round(Decimal(sold) - returned),
        ),
    )


def out_of_region_share(*, partner: Any, start: dt.date, end: dt.date) -> MetricValue:
    """Share (%) of the period's matched sales quantity flagged 窜货 (outside the agreed regions)."""
    rows = _sales(partner, start, end).filter(institution__isnull=False)
    sums = rows.aggregate(
        total=Coalesce(Sum("quantity"), Decimal("0"), output_field=QUANTITY),
        outside=Coalesce(Sum("quantity", filter=Q(out_of_region=True)), Decimal("0"), output_field=QUANTITY),
        flagged=Count("pk", filter=Q(out_of_region=True)),
    )
    total, outside = Decimal(sums["total"]), Decimal(sums["outside"])
    if total <= 0:
        return MetricValue(None, _("期间内没有已匹配的纯销流向"))
    value = _round(outside * 100 / total)
    return MetricValue(
        value,
        _("协议区域外销售 {outside} 盒 / 纯销 {total} 盒（{rows} 行窜货）").format(
            outside=_round(outside), total=_round(total), rows=sums["flagged"]
        ),
    )


def register() -> None:
    register_metric("flow_timeliness", label=gettext_lazy("流向及时性"), unit="天", compute=flow_timeliness)
    register_metric("coverage", label=gettext_lazy("终端覆盖"), unit="家", compute=coverage)
    register_metric("inventory_days", label=gettext_lazy("库存天数"), unit="天", compute=inventory_days)
    register_metric(
        "out_of_region_share", label=gettext_lazy("窜货占比"), unit="%", compute=out_of_region_share
    )
