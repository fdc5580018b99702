"""Writes on flow data besides the import itself: mapping the unmatched queue, closing a period."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import Count, F, Q, QuerySet
from django.utils.translation import gettext as _

from pharmacrm.channels.models import ChannelPartner
from pharmacrm.commercial.models import Sku
from pharmacrm.core.audit import acting_as
from pharmacrm.core.errors import DomainError, NotAllowed
from pharmacrm.core.models import Role
from pharmacrm.core.visibility import visible
from pharmacrm.customers.models import Institution
from pharmacrm.flow.importing import IMPORT_ROLES, may_import
from pharmacrm.flow.matching import fuzzy_candidates, sku_texts
from pharmacrm.flow.models import (
    AliasKind,
    AliasSource,
    CustomerAlias,
    FlowFile,
    FlowPeriodClose,
    FlowRecord,
    InventoryRecord,
    MatchMethod,
    ProductAlias,
)
from pharmacrm.flow.parsing import STANDARD_UNITS, normalise_name, product_text

# Who may open flow pages (read); reps never (RULES_CN §1).
FLOW_ROLES = (*IMPORT_ROLES, Role.REGIONAL_MANAGER, Role.DISTRICT_MANAGER)
CUSTOMER, PRODUCT = "customer", "product"


def may_view_flow(user: Any) -> bool:
    return bool(getattr(user, "is_authenticated", False) and user.has_role(*FLOW_ROLES))


def _check_may_edit(actor: Any) -> None:
    if not may_import(actor):
        raise NotAllowed(_("您的角色不能修改流向数据。"))


# --- Unmatched queue ---------------------------------------------------------------------------------


@dataclass
class UnmatchedGroup:
    """Unmatched rows sharing one raw name (and spec, for products) from one distributor."""

    kind: str
    distributor_id: int
    distributor_code: str
    name: str
    spec: str
    rows: int
    candidates: list[tuple[Any, float]] = field(default_factory=list)  # (Institution or Sku, score)

    @property
    def key(self) -> str:
        return f"{self.distributor_id}\x1f{self.name}\x1f{self.spec}"


def unmatched_records(*, user: Any, kind: str) -> QuerySet[FlowRecord]:
    rows = visible(FlowRecord, user=user)
    return rows.filter(institution__isnull=True) if kind == CUSTOMER else rows.filter(sku__isnull=True)


def unmatched_inventory(*, user: Any) -> QuerySet[InventoryRecord]:
    """Stock rows whose product is not matched yet (they join the product queue)."""
    return visible(InventoryRecord, user=user).filter(sku__isnull=True)


def unmatched_groups(
    *, user: Any, kind: str, distributor_id: int | None = None, limit: int = 50, with_candidates: bool = True
) -> list[UnmatchedGroup]:
    """The biggest groups first, each with its best fuzzy candidates and their scores.

    Products gather unmatched flow rows and unmatched stock rows (inventory files, 库存 rows) of
    the same distributor, name and spec into one group: one mapping matches both.
    """
    rows = unmatched_records(user=user, kind=kind)
    sources: list[QuerySet[Any]] = [rows]
    if kind == PRODUCT:
        sources.append(unmatched_inventory(user=user))
    name, spec = ("customer_name", None) if kind == CUSTOMER else ("product_name", "product_spec")
    fields = ["distributor_id", "distributor__code", name] + ([spec] if spec else [])
    counts: dict[tuple[Any, ...], int] = {}
    for source in sources:
        if distributor_id:
            source = source.filter(distributor_id=distributor_id)
        grouped = source.order_by().values(*fields).annotate(n=Count("pk")).order_by("-n", name)[:limit]
        for g in grouped:
            key = tuple(g[f] for f in fields)
            counts[key] = counts.get(key, 0) + g["n"]
    biggest = sorted(counts.items(), key=lambda item: (-item[1], item[0][2]))[:limit]
    groups = [
        UnmatchedGroup(
            kind=kind,
            distributor_id=key[0],
            distributor_code=key[1],
            name=key[2],
            spec=key[3] if spec else "",
            rows=n,
        )
        for key, n in biggest
    ]
    if with_candidates and groups:
        _add_candidates(groups, kind)
    return groups


def _add_candidates(groups: list[UnmatchedGroup], kind: str) -> None:
    """Fuzzy candidates, searched among the distributor's province (institutions) or all SKUs."""
    if kind == PRODUCT:
        skus = {s.pk: s for s in Sku.objects.select_related("product")}
        choices = {pk * 4 + i: text for pk, s in skus.items() for i, text in enumerate(sku_texts(s))}
        for g in groups:
            seen: dict[int, float] = {}
            for key, score in fuzzy_candidates(product_text(g.name, g.spec), choices, limit=6):
                seen.setdefault(key // 4, score)
            g.candidates = [(skus[pk], score) for pk, score in list(seen.items())[:3]]
        return
    provinces = dict(
        ChannelPartner.objects.filter(pk__in={g.distributor_id for g in groups}).values_list(
            "pk", "institution__province_id"
        )
    )
    by_province: dict[str | None, dict[int, str]] = {}
    for province in set(provinces.values()):
        qs = Institution.objects.exclude(kind=Institution.Kind.DISTRIBUTOR)
        if province:
            qs = qs.filter(province_id=province)
        by_province[province] = {pk: normalise_name(n) for pk, n in qs.values_list("pk", "name")}
    found = {
        g.key: fuzzy_candidates(normalise_name(g.name), by_province[provinces.get(g.distributor_id)], limit=3)
        for g in groups
    }
    institutions = Institution.objects.in_bulk({pk for pairs in found.values() for pk, _s in pairs})
    for g in groups:
        g.candidates = [(institutions[pk], score) for pk, score in found[g.key] if pk in institutions]


@dataclass(frozen=True)
class Mapping:
    """One queue decision: this distributor's raw name (and spec) is that institution or SKU."""

    distributor_id: int
    name: str
    target_id: int
    spec: str = ""


def map_unmatched(*, actor: Any, kind: str, mappings: Iterable[Mapping]) -> dict[str, int]:
    """Remember each raw name as an alias and match every unmatched row carrying it; then attribute them.

    All mappings in one transaction: a bad target refuses the lot. Returns counts of aliases and rows.
    """
    _check_may_edit(actor)
    mappings = list(mappings)
    if kind not in (CUSTOMER, PRODUCT):
        raise DomainError(_("类型必须是 customer 或 product。"), fields={"kind": [kind]})
    if not mappings:
        raise DomainError(_("请至少选择一组要映射的记录。"), code="empty")
    visible_partners = set(
        visible(ChannelPartner, user=actor)
        .filter(pk__in={m.distributor_id for m in mappings})
        .values_list("pk", flat=True)
    )
    target_model: Any = Institution if kind == CUSTOMER else Sku
    targets = target_model.objects.in_bulk({m.target_id for m in mappings})
    for m in mappings:
        if m.distributor_id not in visible_partners:
            raise DomainError(_("经销商不存在或不可见。"), fields={"distributor": [str(m.distributor_id)]})
        if m.target_id not in targets:
            label = _("机构") if kind == CUSTOMER else _("品规")
            message = _("{label} {id} 不存在。").format(label=label, id=m.target_id)
            raise DomainError(message, fields={"target": [message]})
        if not m.name.strip():
            raise DomainError(_("原始名称不能为空。"), fields={"name": [_("原始名称不能为空。")]})
    aliases = rows = 0
    record_ids: list[int] = []
    stock_file_ids: set[int] = set()
    with acting_as(actor), transaction.atomic():
        for m in mappings:
            records = unmatched_records(user=actor, kind=kind).filter(distributor_id=m.distributor_id)
            if kind == CUSTOMER:
                CustomerAlias.objects.update_or_create(
                    distributor_id=m.distributor_id,
                    kind=AliasKind.NAME,
                    text=normalise_name(m.name),
                    defaults={
                        "institution_id": m.target_id,
                        "raw_text": m.name[:200],
                        "source": AliasSource.MANUAL,
                        "created_by": actor,
                    },
                )
                records = records.filter(customer_name=m.name)
                ids = list(records.values_list("pk", flat=True))
                FlowRecord.objects.filter(pk__in=ids).update(
                    institution_id=m.target_id,
                    customer_match=MatchMethod.MANUAL,
                    customer_confidence=Decimal(100),
                )
            else:
                sku = targets[m.target_id]
                ProductAlias.objects.update_or_create(
                    distributor_id=m.distributor_id,
                    kind=AliasKind.NAME,
                    text=product_text(m.name, m.spec),
                    defaults={
                        "sku_id": m.target_id,
                        "raw_text": f"{m.name} {m.spec}".strip()[:300],
                        "source": AliasSource.MANUAL,
                        "created_by": actor,
                    },
                )
                records = records.filter(product_name=m.name, product_spec=m.spec)
                ids = list(records.values_list("pk", flat=True))
                matched = FlowRecord.objects.filter(pk__in=ids)
                # rows counted in tablets wait for their SKU to know the pack size
                matched.filter(unit__in=STANDARD_UNITS).update(
                    quantity=F("quantity") / sku.standard_units, unit="盒"
                )
                matched.update(
                    sku_id=m.target_id,
                    product_match=MatchMethod.MANUAL,
                    product_confidence=Decimal(100),
                    standard_quantity=F("quantity") * sku.standard_units,
                )
                stock = unmatched_inventory(user=actor).filter(
                    distributor_id=m.distributor_id, product_name=m.name, product_spec=m.spec
                )
                pairs = list(stock.values_list("pk", "file_id"))
                stock_ids = [pk for pk, _file in pairs]
                stock_file_ids.update(file_id for _pk, file_id in pairs)
                matched_stock = InventoryRecord.objects.filter(pk__in=stock_ids)
                matched_stock.filter(unit__in=STANDARD_UNITS).update(
                    quantity=F("quantity") / sku.standard_units, unit=""
                )
                matched_stock.update(sku_id=m.target_id)
                rows += len(stock_ids)
            aliases += 1
            rows += len(ids)
            record_ids.extend(ids)
        _recount_files(record_ids, stock_file_ids)
        attributed = _attribute(record_ids)
    return {"aliases": aliases, "rows": rows, "attributed": attributed}


def _recount_files(record_ids: list[int], stock_file_ids: set[int]) -> None:
    """A file's unmatched counts after mapping: its flow rows, and its stock rows for products."""
    file_ids = set(FlowRecord.objects.filter(pk__in=record_ids).values_list("file_id", flat=True))
    for file in FlowFile.objects.filter(pk__in=file_ids | stock_file_ids):
        counts = FlowRecord.objects.filter(file=file).aggregate(
            c=Count("pk", filter=Q(institution__isnull=True)), p=Count("pk", filter=Q(sku__isnull=True))
        )
        stock = InventoryRecord.objects.filter(file=file, sku__isnull=True).count()
        file.unmatched_customer_count, file.unmatched_product_count = counts["c"], counts["p"] + stock
        file.save(update_fields=["unmatched_customer_count", "unmatched_product_count"])


def _attribute(record_ids: list[int]) -> int:
    from pharmacrm.flow.attribution import attribute_records

    if not record_ids:
        return 0
    return attribute_records(record_ids=record_ids).rows


# --- Period close ------------------------------------------------------------------------------------


def close_period(
    *, actor: Any, distributor: ChannelPartner, period: dt.date, reason: str = ""
) -> FlowPeriodClose:
    """Close one distributor's month: files for it are refused from now on."""
    _check_may_edit(actor)
    if not visible(ChannelPartner, user=actor).filter(pk=distributor.pk).exists():
        raise NotAllowed(_("您不能管理该经销商的流向。"))
    period = period.replace(day=1)
    with acting_as(actor), transaction.atomic():
        if FlowPeriodClose.objects.filter(distributor=distributor, period=period).exists():
            raise DomainError(
                _("{code} 的 {period} 已经关账。").format(code=distributor.code, period=f"{period:%Y-%m}"),
                code="already_closed",
            )
        return FlowPeriodClose.objects.create(
            distributor=distributor, period=period, closed_by=actor, reason=reason[:200]
        )


def reopen_period(*, actor: Any, close: FlowPeriodClose) -> None:
    """Reopen a closed month (audited: the close's history keeps who closed and who reopened)."""
    _check_may_edit(actor)
    with acting_as(actor), transaction.atomic():
        close.delete()
