"""Scoring a channel review: built-in metrics (sales vs agreement target, manual ones) and the band maths."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.utils.translation import gettext_lazy as _

from pharmacrm.channels.metrics import MetricValue, register_metric
from pharmacrm.channels.models import Agreement, AgreementTarget, ChannelPartner, Direction
from pharmacrm.commercial import sales
from pharmacrm.core.visibility import Scope

HUNDRED = Decimal(100)
CENT = Decimal("0.01")


# --- Quarters --------------------------------------------------------------------------------------


def quarter_bounds(year: int, quarter: int) -> tuple[date, date]:
    """First and last day of a calendar quarter."""
    start = date(year, 3 * (quarter - 1) + 1, 1)
    next_start = date(year + 1, 1, 1) if quarter == 4 else date(year, 3 * quarter + 1, 1)
    return start, next_start - timedelta(days=1)


def quarter_of(day: date) -> tuple[int, int]:
    return day.year, (day.month - 1) // 3 + 1


def quarters_between(start: date, end: date) -> Iterator[tuple[int, int]]:
    year, quarter = quarter_of(start)
    while quarter_bounds(year, quarter)[0] <= end:
        yield year, quarter
        year, quarter = (year + 1, 1) if quarter == 4 else (year, quarter + 1)


def previous_quarters(on: date, count: int) -> list[tuple[int, int]]:
    """The `count` complete quarters before the one holding `on`, oldest first."""
    year, quarter = quarter_of(on)
    out: list[tuple[int, int]] = []
    for _i in range(count):
        year, quarter = (year - 1, 4) if quarter == 1 else (year, quarter - 1)
        out.append((year, quarter))
    return list(reversed(out))


# --- Band maths ------------------------------------------------------------------------------------


def band_score(*, value: Decimal | None, target: Decimal, floor: Decimal, direction: str) -> Decimal | None:
    """100 at the target or better, 0 at the floor or worse, linear in between; None when unmeasured."""
    if value is None:
        return None
    if direction == Direction.LOWER_BETTER:
        value, target, floor = -value, -target, -floor
    if value >= target:
        return HUNDRED
    if value <= floor or target == floor:
        return Decimal(0)
    return ((value - floor) / (target - floor) * HUNDRED).quantize(CENT, ROUND_HALF_UP)


def weighted_total(lines: list[tuple[Decimal | None, Decimal]]) -> Decimal | None:
    """Σ score × weight ÷ Σ weight over the scored (score, weight) lines; None when none is scored.

    A metric that cannot be measured for a partner (no inventory reported, no target set) is left
    out and the other weights scale up, so a distributor is not scored 0 for data it never had.
    Manual metrics cannot be left empty: a review is only submitted once they are entered.
    """
    scored = [(score, weight) for score, weight in lines if score is not None]
    total_weight = sum((weight for _s, weight in scored), Decimal(0))
    if not scored or total_weight <= 0:
        return None
    weighted = sum((score * weight for score, weight in scored), Decimal(0))
    return (weighted / total_weight).quantize(CENT, ROUND_HALF_UP)


# --- Built-in metrics ------------------------------------------------------------------------------


@dataclass
class _SystemReader:
    """The reader a review measures with: the partner as a whole, not the reviewer's slice of it.

    A commercial manager reviewing a distributor must see its whole sell-through, even the part
    delivered outside the territories they cover; the figures shown are the partner's own totals.
    """

    is_authenticated: bool = True
    is_active: bool = True
    pk: int = 0
    roles: frozenset[str] = frozenset({"admin"})

    def __post_init__(self) -> None:
        self._visibility_scope = Scope(user_id=0, company_wide=True)


def _money(value: Decimal) -> str:
    return f"¥{value:,.0f}"


def sales_vs_target(*, partner: ChannelPartner, start: date, end: date) -> MetricValue:
    """Sales through the partner of the agreements' products ÷ the agreements' targets for the period, in %."""
    quarters = list(quarters_between(start, end))
    agreements = list(
        Agreement.objects.filter(partner=partner, start__lte=end, end__gte=start)
        .exclude(status=Agreement.Status.DRAFT)
        .prefetch_related("products")
    )
    if not agreements:
        return MetricValue(None, str(_("该期间无生效协议")))
    targets = list(
        AgreementTarget.objects.filter(agreement__in=agreements).filter(
            year__in={y for y, _q in quarters}, quarter__in={q for _y, q in quarters}
        )
    )
    targets = [t for t in targets if (t.year, t.quarter) in quarters]
    if not targets:
        return MetricValue(None, str(_("协议未设该季度目标")))
    by_amount = all(t.amount is not None for t in targets)
    target_total = sum(((t.amount if by_amount else t.volume) or Decimal(0) for t in targets), Decimal(0))
    if target_total <= 0:
        return MetricValue(None, str(_("季度目标为零")))
    agreement_ids = {t.agreement_id for t in targets}
    product_ids = {p.pk for a in agreements if a.pk in agreement_ids for p in a.products.all()}
    figures = sales.sales_totals(
        user=_SystemReader(),
        start=start,
        end=end,
        distributor_ids=[partner.pk],
        product_ids=sorted(product_ids) or None,
    )
    figure = figures.get((), sales.ZERO)
    actual = figure.amount if by_amount else figure.quantity
    rate = (actual / target_total * HUNDRED).quantize(CENT, ROUND_HALF_UP)
    codes = "、".join(sorted(a.code for a in agreements if a.pk in agreement_ids))
    if by_amount:
        detail = _("纯销金额 %(actual)s ÷ 目标 %(target)s = %(rate)s%%（协议 %(codes)s）") % {
            "actual": _money(actual),
            "target": _money(target_total),
            "rate": rate,
            "codes": codes,
        }
    else:
        detail = _("销量 %(actual)s ÷ 目标 %(target)s（标准单位）= %(rate)s%%（协议 %(codes)s）") % {
            "actual": f"{actual:,.0f}",
            "target": f"{target_total:,.0f}",
            "rate": rate,
            "codes": codes,
        }
    return MetricValue(rate, str(detail))


MANUAL_METRICS: dict[str, tuple[Any, str]] = {
    "payment_timeliness": (_("回款及时率"), "%"),
    "cooperation": (_("配合度"), "分"),
    "compliance_record": (_("合规经营"), "分"),
}


def register_builtin_metrics() -> None:
    register_metric("sales_vs_target", label=_("销售达成率"), unit="%", compute=sales_vs_target)
    for code, (label, unit) in MANUAL_METRICS.items():
        register_metric(code, label=label, unit=unit, compute=None)
