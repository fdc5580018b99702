"""Import kind for market data (市场数据): province × therapeutic area × month figures from any provider.

Found by core.imports.registry (it imports every app's `importing` module). Upsert by
(provider, province, therapeutic area, month): loading the same file twice changes nothing, a
corrected file updates the figures. A provider's own headers are accepted through the aliases
(e.g. 省份/地区, 领域/治疗类别, 年月/期间, 销售额/市场规模).
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from pharmacrm.commercial.models import MarketData, TherapeuticArea
from pharmacrm.core.imports import columns as c
from pharmacrm.core.imports.engine import ImportKind, Row
from pharmacrm.core.imports.registry import register
from pharmacrm.core.imports.seen import SeenKeys
from pharmacrm.core.models import Role
from pharmacrm.customers.importing.refs import (
    Divisions,
    apply_changes,
    create_with_history,
    update_with_history,
)

_MONTH = re.compile(r"^\s*(\d{4})\s*[-/.年]?\s*(\d{1,2})\s*(?:月)?(?:[-/.]\s*\d{1,2}\s*日?)?(?:\s.*)?$")


def month(value: str) -> dt.date:
    """'2026-03', '2026/3', '202603', '2026年3月', '2026-03-01' → 2026-03-01."""
    found = _MONTH.match(value)
    if not found:
        raise c.CellError(_("月份格式应为 YYYY-MM"))
    year, mon = int(found.group(1)), int(found.group(2))
    if not (1 <= mon <= 12 and 2000 <= year <= 2100):
        raise c.CellError(_("月份格式应为 YYYY-MM"))
    return dt.date(year, mon, 1)


_NUMBER = c.number(minimum=Decimal(0), maximum=Decimal("99999999999999"), places=2)


def amount(value: str) -> Decimal:
    """Providers write thousands separators (12,500,000); the figure is the same."""
    parsed: Decimal = _NUMBER(value.replace(",", "").replace("，", "").strip())
    return parsed


AMOUNT = amount

COLUMNS = [
    c.Column(
        "province", "省份", c.text(32), required=True, aliases=("省", "地区", "province_name"), example="广东"
    ),
    c.Column(
        "therapeutic_area",
        "治疗领域",
        c.text(64),
        required=True,
        aliases=("领域", "治疗类别", "治疗领域编码", "area"),
        help=gettext_lazy("治疗领域的名称或编码"),
        example="心血管",
    ),
    c.Column(
        "month",
        "月份",
        month,
        required=True,
        aliases=("年月", "期间", "period"),
        help=gettext_lazy("YYYY-MM，也接受 2026年3月、202603"),
        example="2026-03",
    ),
    c.Column(
        "provider",
        "数据来源",
        c.text(64),
        required=True,
        aliases=("来源", "数据提供方", "供应商"),
        example="IQVIA",
    ),
    c.Column(
        "market_amount",
        "市场金额",
        AMOUNT,
        blank=None,
        aliases=("市场金额（元）", "销售额", "市场规模", "amount"),
        help=gettext_lazy("元；与市场数量至少填一个"),
        example="12500000",
    ),
    c.Column(
        "market_volume",
        "市场数量",
        AMOUNT,
        blank=None,
        aliases=("市场数量（标准单位）", "销量", "volume"),
        help=gettext_lazy("标准单位（片、支……）"),
        example="3400000",
    ),
]


@register
class MarketDataImport(ImportKind):
    name = "market_data"
    label = gettext_lazy("市场数据")
    model = MarketData
    columns = COLUMNS
    roles = frozenset({Role.ADMIN, Role.COMMERCIAL, Role.MARKETING})
    examples = [
        ["广东", "心血管", "2026-03", "IQVIA", "12500000", "3400000"],
        ["北京", "CV", "2026-03", "IQVIA", "8300000", ""],
    ]
    notes = [
        gettext_lazy(
            "同一数据来源、省份、治疗领域和月份为同一条记录：重复导入不会重复写入，修正后的文件会更新数值。"
        ),
        gettext_lazy("省份可填全称、简称或 2 位代码；治疗领域可填名称或编码。"),
    ]

    def begin(self) -> None:
        self.divisions = Divisions()
        self.areas: dict[str, TherapeuticArea] = {}
        for area in TherapeuticArea.objects.all():
            self.areas[area.name.lower()] = area
            self.areas[area.code.lower()] = area
        self.file_keys = SeenKeys()

    def check(self, rows: list[Row]) -> None:
        keys: dict[int, tuple[Any, ...]] = {}
        for row in rows:
            province = self.divisions.province(row.get("province") or "") if row.get("province") else None
            if row.get("province") and province is None:
                row.error("province", _("未知的省份（请填写省级行政区全称、简称或 2 位代码）"))
            area = self.areas.get((row.get("therapeutic_area") or "").lower())
            if row.get("therapeutic_area") and area is None:
                row.error(
                    "therapeutic_area",
                    _("未知的治疗领域，可选：{areas}").format(
                        areas="、".join(sorted({a.name for a in self.areas.values()}))
                    ),
                )
            if row.has("market_amount") and row.has("market_volume"):
                if row.get("market_amount") is None and row.get("market_volume") is None:
                    row.error("market_amount", _("市场金额与市场数量至少填一个"))
            elif not row.has("market_amount") and not row.has("market_volume"):
                row.error("market_amount", _("文件须有“市场金额”或“市场数量”列"))
            elif row.get("market_amount") is None and row.get("market_volume") is None:
                row.error("market_amount", _("市场金额与市场数量至少填一个"))
            if row.errors or province is None or area is None:
                continue
            key = (row.get("provider"), province.code, area.pk, row.get("month"))
            first = self.file_keys.add(key, row.number)
            if first is not None:
                row.error(
                    "month",
                    _("与第 {row} 行是同一数据来源、省份、治疗领域和月份").format(row=first),
                )
                continue
            keys[row.number] = key
        existing: dict[tuple[Any, ...], MarketData] = {}
        if keys:
            providers = {k[0] for k in keys.values()}
            months = {k[3] for k in keys.values()}
            for obj in MarketData.objects.filter(provider__in=providers, month__in=months):
                existing[(obj.provider, obj.province_id, obj.therapeutic_area_id, obj.month)] = obj
        for row in rows:
            found_key = keys.get(row.number)
            if found_key is None or row.errors:
                continue
            values: dict[str, Any] = {n: row.get(n) for n in ("market_amount", "market_volume") if row.has(n)}
            match = existing.get(found_key)
            if match is None:
                row.action = "create"
                row.obj = MarketData(
                    provider=found_key[0],
                    province_id=found_key[1],
                    therapeutic_area_id=found_key[2],
                    month=found_key[3],
                    **values,
                )
            else:
                changed = apply_changes(match, values)
                if match.market_amount is None and match.market_volume is None:
                    row.error("market_amount", _("市场金额与市场数量至少填一个"))
                    continue
                row.extra["changed"] = changed
                row.obj = match
                row.action = "update" if changed else "unchanged"

    def write(self, rows: list[Row]) -> None:
        create_with_history(self, MarketData, [r.obj for r in rows if r.action == "create"])
        updates = [r for r in rows if r.action == "update"]
        update_with_history(
            self, MarketData, [r.obj for r in updates], {f for r in updates for f in r.extra["changed"]}
        )
