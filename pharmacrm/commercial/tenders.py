"""Tenders and volume-based procurement (带量采购): results per province, hospitals' agreed volumes, delivery.

Delivery against commitment reads sales through the sales-source registry (`commercial.sales`):
the tender SKU's sales to each committed hospital during the tender period so far, in standard
units, compared with the committed annual volume pro rata to the days elapsed.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from pharmacrm.commercial import sales
from pharmacrm.commercial.models import Sku, Tender, TenderCommitment
from pharmacrm.commercial.prices import may_edit_prices
from pharmacrm.core.audit import acting_as
from pharmacrm.core.errors import Conflict, DomainError, NotAllowed
from pharmacrm.core.models import Division, User
from pharmacrm.core.visibility import get_visible_or_404, visible
from pharmacrm.customers.models import Institution


def _refuse(field: str, message: str, *, cls: type[DomainError] = DomainError) -> DomainError:
    return cls(message, fields={field: [message]})


def _require_writer(actor: Any) -> None:
    if not may_edit_prices(actor):
        raise NotAllowed(_("您的角色不能维护招标/带量采购。"))


def _decimal(field: str, value: Any, label: str) -> Decimal | None:
    if value in (None, ""):
        return None
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise _refuse(field, _("{label}不是数字：{value}").format(label=label, value=value)) from None
    if not number.is_finite() or number <= 0:
        raise _refuse(field, _("{label}须大于 0：{value}").format(label=label, value=value))
    return number


@transaction.atomic
def save_tender(
    *,
    actor: User,
    tender: Tender | None = None,
    name: str,
    province: Division | str,
    sku: Sku | int,
    period_start: dt.date,
    period_end: dt.date,
    status: str = Tender.Status.PENDING,
    winning_price: Decimal | str | None = None,
    kind: str = Tender.Kind.VBP,
    notes: str = "",
) -> Tender:
    _require_writer(actor)
    name = (name or "").strip()
    if not name:
        raise _refuse("name", _("名称/批次不能为空。"))
    code = getattr(province, "code", province)
    prov = Division.objects.filter(code=code, level=Division.Level.PROVINCE).first()
    if prov is None:
        raise _refuse("province", _("不是省级行政区代码：{value}").format(value=code))
    sku_obj = Sku.objects.filter(pk=getattr(sku, "pk", sku)).first()
    if sku_obj is None:
        raise _refuse("sku", _("品规不存在：{value}").format(value=getattr(sku, "pk", sku)))
    if kind not in Tender.Kind.values:
        raise _refuse("kind", _("类型“{value}”不在可选值中。").format(value=kind))
    if status not in Tender.Status.values:
        raise _refuse("status", _("结果“{value}”不在可选值中。").format(value=status))
    if period_end < period_start:
        raise _refuse(
            "period_end",
            _("执行结束（{end}）不能早于执行开始（{start}）。").format(end=period_end, start=period_start),
        )
    price = _decimal("winning_price", winning_price, _("中标价"))
    if status == Tender.Status.WON and price is None:
        raise _refuse("winning_price", _("中标的结果须填写中标价。"))
    if tender is not None:
        tender = get_visible_or_404(Tender.objects.select_for_update(of=("self",)), user=actor, pk=tender.pk)
    clash = Tender.objects.filter(province=prov, name=name, sku=sku_obj)
    if tender is not None:
        clash = clash.exclude(pk=tender.pk)
    if clash.exists():
        raise _refuse(
            "name",
            _("{province}“{name}”中已有品规“{sku}”的记录。").format(
                province=prov.name, name=name, sku=sku_obj
            ),
            cls=Conflict,
        )
    obj = tender or Tender()
    obj.name, obj.province, obj.sku, obj.kind, obj.status = name, prov, sku_obj, kind, status
    obj.period_start, obj.period_end, obj.winning_price = period_start, period_end, price
    obj.notes = (notes or "").strip()
    with acting_as(actor):
        obj.save()
    return obj


@transaction.atomic
def set_commitment(
    *, actor: User, tender: Tender, institution: Institution | int, volume: Decimal | str
) -> TenderCommitment:
    """Record (or change) a hospital's agreed annual volume; the hospital must be in the tender's province."""
    _require_writer(actor)
    tender = get_visible_or_404(Tender, user=actor, pk=tender.pk)
    inst = get_visible_or_404(Institution, user=actor, pk=getattr(institution, "pk", institution))
    if inst.province_id != tender.province_id:
        raise _refuse(
            "institution",
            _("“{name}”不在{province}，不能参加该省的带量采购。").format(
                name=inst.name, province=tender.province.name
            ),
        )
    amount = _decimal("volume", volume, _("约定采购量"))
    if amount is None:
        raise _refuse("volume", _("约定采购量不能为空。"))
    with acting_as(actor):
        obj, created = TenderCommitment.objects.select_for_update(of=("self",)).get_or_create(
            tender=tender, institution=inst, defaults={"volume": amount}
        )
        if not created and obj.volume != amount:
            obj.volume = amount
            obj.save(update_fields=["volume"])
    return obj


@dataclass(frozen=True)
class DeliveryLine:
    institution: Institution
    committed: Decimal  # annual, standard units
    expected_to_date: Decimal  # committed × elapsed days / 365
    delivered: Decimal | None  # standard units of the tender SKU sold to the hospital so far
    amount: Decimal | None

    @property
    def ratio(self) -> Decimal | None:
        if self.delivered is None or not self.expected_to_date:
            return None
        return (self.delivered / self.expected_to_date * 100).quantize(Decimal("0.1"))


@dataclass(frozen=True)
class Delivery:
    lines: list[DeliveryLine]
    start: dt.date
    end: dt.date  # last day counted (today or the tender's end)
    elapsed_days: int
    available: bool  # a sales source answered
    note: str  # how it was computed, or why not


def tender_delivery(*, user: Any, tender: Tender, today: dt.date | None = None) -> Delivery:
    """Delivered vs committed volume per hospital (standard units), from the tender start to today."""
    today = today or timezone.localdate()
    commitments = list(
        visible(TenderCommitment, user=user)
        .filter(tender=tender)
        .select_related("institution")
        .order_by("institution__name")
    )
    end = min(today, tender.period_end)
    elapsed = max((end - tender.period_start).days + 1, 0)
    figures: dict[tuple[Any, ...], sales.SalesFigure] = {}
    available = True
    if commitments and elapsed > 0:
        try:
            figures = sales.sales_totals(
                user=user,
                start=tender.period_start,
                end=end,
                product_ids=[tender.sku.product_id],
                institution_ids=[c.institution_id for c in commitments],
                group_by=("institution", "sku"),
            )
        except LookupError:
            available = False
    lines = []
    for c in commitments:
        expected = (c.volume * Decimal(elapsed) / Decimal(365)).quantize(Decimal("0.01"))
        fig = figures.get((c.institution_id, tender.sku_id), sales.ZERO) if available else None
        lines.append(
            DeliveryLine(
                institution=c.institution,
                committed=c.volume,
                expected_to_date=expected,
                delivered=fig.quantity if fig is not None else None,
                amount=fig.amount if fig is not None else None,
            )
        )
    if not available:
        note = _("没有可用的销售数据来源（流向数据未接入），无法计算执行进度。")
    elif elapsed <= 0:
        note = _("带量采购尚未开始执行。")
    else:
        note = _(
            "执行量 = {start} 至 {end} 流向中该品规销往各医院的数量（标准单位，退货为负）；"
            "应执行量 = 约定年采购量 × 已执行 {days} 天 ÷ 365。"
        ).format(start=tender.period_start, end=end, days=elapsed)
    return Delivery(
        lines=lines, start=tender.period_start, end=end, elapsed_days=elapsed, available=available, note=note
    )
