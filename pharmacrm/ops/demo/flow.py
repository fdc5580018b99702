"""Demo flow data (流向): 24 months of files from a dozen distributors, imported through the real pipeline.

Each distributor has its own layout (headers, column order, date format, CSV in GBK or UTF-8, or
xlsx) and its own way of writing customer and product names: full-width or half-width brackets,
campus suffixes (（东院）, 分院), company suffixes (有限公司), a stray space, a typo, a short name.
Files go through `pharmacrm.flow.importing.import_flow_file` exactly as an uploaded file would:
the first file of a layout is mapped by hand (the template is saved), later months are recognised
by their header; each month the sales-operations user works the unmatched queue
(`flow.services.map_unmatched`), so names are learned as aliases and the next month matches them.
The last month's queue is left as it is, with a few rows nobody could map. Three distributors put
their month-end stock (库存 rows) in the sales file; three others have sent it for the last year as
a separate monthly inventory file in a layout of its own (SEPARATE_INVENTORY).

`messy_name` and `messy_names_for` are shared with `bench/flow.py` (match rate on messy names).
"""

from __future__ import annotations

import calendar
import csv
import datetime as dt
import io
import random
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db.models import Count, Q, QuerySet

from pharmacrm.channels.models import ChannelPartner
from pharmacrm.commercial.models import Product, Sku
from pharmacrm.core.audit import Source
from pharmacrm.core.models import OrgUnit, Role, User
from pharmacrm.customers.models import Institution
from pharmacrm.ops.demo.institutions import DEMO_PREFIX
from pharmacrm.ops.demo.moves import move_customers
from pharmacrm.ops.demo.organisation import COMPANY_CODE
from pharmacrm.ops.demo.portfolio import PRODUCT_PREFIX

MONTHS = 24
DISTRIBUTORS = 12
PARTNER_PREFIX = "DEMO-FD"  # codes of the channel partners this module had to create itself

# --- Messy names ------------------------------------------------------------------------------------

TYPOS = {
    "医": "依",
    "院": "苑",
    "民": "名",
    "第": "弟",
    "中": "忠",
    "心": "新",
    "药": "要",
    "店": "点",
    "区": "曲",
}
CAMPUSES = ("（东院）", "（西院）", "(南院)", "分院", "东院区", "（本部）")
COMPANY_SUFFIXES = ("有限公司", "有限责任公司", "股份有限公司")
# Well-known short names people actually use (the demo's real hospitals include some of these).
ABBREVIATIONS = {
    "北京大学第三医院": "北医三院",
    "北京大学第一医院": "北大医院",
    "北京大学人民医院": "北大人民医院",
    "中国医学科学院北京协和医院": "北京协和医院",
    "首都医科大学附属北京天坛医院": "天坛医院",
    "首都医科大学附属北京安贞医院": "安贞医院",
    "复旦大学附属中山医院": "中山医院",
    "复旦大学附属华山医院": "华山医院",
    "上海交通大学医学院附属瑞金医院": "瑞金医院",
    "四川大学华西医院": "华西医院",
}


def messy_name(name: str, rng: random.Random, *, kind: str = "") -> tuple[str, str]:
    """(how a distributor writes `name`, which kind of mess it is)."""
    if name in ABBREVIATIONS and rng.random() < 0.7:
        return ABBREVIATIONS[name], "abbreviation"
    roll = rng.random()
    if roll < 0.30:
        return name, "exact"
    if roll < 0.42:
        if "（" in name:
            return name.replace("（", "(").replace("）", ")"), "brackets/space"
        if "(" in name:
            return name.replace("(", "（").replace(")", "）"), "brackets/space"
        return name[:2] + " " + name[2:], "brackets/space"
    if roll < 0.55:
        if kind in ("pharmacy", "retailer", "distributor") or rng.random() < 0.3:
            return name + rng.choice(COMPANY_SUFFIXES), "company suffix"
        return name + "有限公司", "company suffix"
    if roll < 0.68:
        return name + rng.choice(CAMPUSES), "campus"
    if roll < 0.80:
        spots = [i for i, ch in enumerate(name) if ch in TYPOS]
        if spots:
            i = rng.choice(spots)
            return name[:i] + TYPOS[name[i]] + name[i + 1 :], "typo"
        return name + " ", "brackets/space"
    if roll < 0.90:
        # The city prefix dropped, or added: "北京市朝阳医院" ↔ "朝阳医院".
        for prefix in ("北京市", "上海市", "天津市", "重庆市", "广州市", "深圳市"):
            if name.startswith(prefix) and len(name) > len(prefix) + 3:
                return name[len(prefix) :], "city dropped"
        half = len(name) // 2
        return name[:half] + " " + name[half:], "brackets/space"
    # Abbreviated: a clerk keeps the distinctive part ("朝阳区第二人民医院" → "朝阳二院").
    for word in ("人民医院", "中医医院", "医院"):
        head = name.split(word)[0]
        if word in name and len(head) >= 3:
            return head[-3:].replace("第", "") + ("院" if word == "医院" else word[:2] + "院"), "short"
    return name + rng.choice(COMPANY_SUFFIXES), "company suffix"


def messy_names_for(institutions: Iterable[tuple[int, str, str]], *, seed: str) -> list[tuple[int, str, str]]:
    """(institution id, messy name, kind of mess) for each (id, name, kind); deterministic per seed."""
    rng = random.Random(seed)
    return [(pk, *messy_name(name, rng, kind=kind)) for pk, name, kind in institutions]


# --- Layouts ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Layout:
    """One distributor's file: header per field in column order, date format, file type, naming habits."""

    columns: tuple[tuple[str, str], ...]  # (our field code, their header)
    date_format: str
    file_format: str  # "xlsx" | "csv-gbk" | "csv-utf8"
    product_style: str  # "brand+generic" | "generic(brand)" | "generic" | "code"
    spec_style: str  # "*" | "×/盒" | "upper"
    unit: str = "盒"  # "盒" or "片" (standard units, converted by the pipeline)
    inventory: bool = False
    kind_words: tuple[str, str, str] = ("纯销", "调拨", "退货")


def _cols(*pairs: str) -> tuple[tuple[str, str], ...]:
    return tuple((p.split("=")[0], p.split("=")[1]) for p in pairs)


LAYOUTS: tuple[Layout, ...] = (
    Layout(_cols("sale_date=销售日期", "customer_code=客户编码", "customer_name=客户名称", "product_name=产品名称",
                 "spec=规格", "batch=批号", "quantity=数量", "unit=单位", "unit_price=单价", "amount=金额",
                 "kind=业务类型"), "%Y-%m-%d", "xlsx", "brand+generic", "*", inventory=True),
    Layout(_cols("sale_date=单据日期", "kind=单据类型", "customer_name=购货单位", "product_code=商品编码",
                 "product_name=商品名称", "spec=规格型号", "quantity=出库数量", "unit=计量单位", "amount=价税合计"),
           "%Y/%m/%d", "csv-gbk", "generic(brand)", "×/盒", kind_words=("销售出库", "调拨", "销售退回")),
    Layout(_cols("customer_name=终端名称", "product_name=品名", "spec=包装规格", "quantity=发货数量",
                 "sale_date=发货日期", "unit_price=含税单价", "batch=生产批号"), "%Y%m%d", "csv-utf8", "generic",
           "upper"),
    Layout(_cols("sale_date=开单日期", "customer_name=终端客户全称", "product_name=药品", "spec=品规说明",
                 "quantity=出货量", "unit=单位", "amount=销售额", "kind=出库类型"), "%Y年%m月%d日", "xlsx",
           "brand+generic", "×/盒", unit="片"),
    Layout(_cols("sale_date=日期", "customer_name=医院名称", "product_name=通用名", "spec=规格", "quantity=数量",
                 "amount=金额"), "%Y.%m.%d", "csv-gbk", "generic", "*"),
    Layout(_cols("kind=类型", "sale_date=业务日期", "customer_code=医院编码", "customer_name=医院名称",
                 "product_code=品规编码", "product_name=货品名称", "spec=规格", "quantity=销售数量",
                 "unit=单位", "unit_price=销售单价", "amount=销售金额", "batch=批次", "upstream=上游单位"),
           "%Y-%m-%d", "xlsx", "code", "*", inventory=True),
    Layout(_cols("sale_date=出库日期", "customer_name=下游客户", "product_name=商品名称",
                 "spec=规格", "quantity=数量", "unit=单位", "unit_price=价格", "kind=销售类型"), "%Y/%m/%d",
           "csv-utf8", "generic(brand)", "*", kind_words=("正常", "分销", "红冲")),
    Layout(_cols("customer_name=收货单位", "sale_date=开票日期", "product_name=药品名称", "spec=规格",
                 "quantity=数量", "amount=含税金额", "batch=批号"), "%Y-%m-%d", "csv-gbk", "brand+generic", "upper"),
    Layout(_cols("sale_date=出库日期", "customer_code=终端编码", "customer_name=终端名称",
                 "product_name=商品名称", "spec=规格", "quantity=数量", "unit=单位", "amount=金额",
                 "kind=退货标志"), "%Y%m%d", "xlsx", "generic(brand)", "*", inventory=True,
           kind_words=("", "调拨", "退")),
    Layout(_cols("sale_date=日期", "customer_name=客户", "product_name=产品", "spec=规格", "quantity=销量",
                 "amount=金额"), "%Y-%m-%d", "csv-utf8", "generic", "×/盒"),
    Layout(_cols("sale_date=单据日期", "customer_name=客户名称", "product_code=产品编码", "product_name=产品名称",
                 "spec=规格", "quantity=数量", "unit=单位", "unit_price=单价", "kind=业务类型"), "%Y/%m/%d",
           "xlsx", "code", "*"),
    Layout(_cols("sale_date=销售日期", "customer_name=销往单位", "product_name=品名", "spec=规格",
                 "quantity=数量", "unit=单位", "amount=金额", "kind=业务类型"), "%Y-%m-%d", "csv-gbk",
           "brand+generic", "upper", unit="片"),
)  # fmt: skip


def _spec_text(sku: Sku, style: str) -> str:
    if style == "×/盒":
        return f"{sku.strength}×{sku.pack}/盒"
    if style == "upper":
        return f"{sku.strength}*{sku.pack}".upper()
    return f"{sku.strength}*{sku.pack}"


@dataclass(frozen=True)
class InventoryLayout:
    """A distributor's separate monthly inventory (库存) file: header per field, date format, file type."""

    columns: tuple[tuple[str, str], ...]  # (our field code, their header)
    date_format: str
    file_format: str  # "xlsx" | "csv-gbk" | "csv-utf8"
    warehouses: tuple[str, ...] = ("",)


INVENTORY_LAYOUTS: tuple[InventoryLayout, ...] = (
    InventoryLayout(_cols("product_code=商品编码", "product_name=商品名称", "spec=规格", "batch=批号",
                          "quantity=库存数量", "unit=单位", "as_of=库存日期", "warehouse=仓库"), "%Y-%m-%d", "xlsx",
                    warehouses=("一号库", "二号库")),
    InventoryLayout(_cols("as_of=盘点日期", "product_name=品名", "spec=规格型号", "quantity=结存数量",
                          "unit=计量单位", "warehouse=仓库名称"), "%Y/%m/%d", "csv-gbk", warehouses=("中心库",)),
)  # fmt: skip
# Distributor index → the layout of the inventory file it sends besides its sales file, for the
# last INVENTORY_MONTHS months (it started a year ago; the demo's load time stays about the same).
# Index 1 is among the tiny demo's two distributors, so every scale shows both sources of stock.
SEPARATE_INVENTORY = {1: INVENTORY_LAYOUTS[0], 4: INVENTORY_LAYOUTS[1], 7: INVENTORY_LAYOUTS[0]}
INVENTORY_MONTHS = 12


def _product_text(sku: Sku, style: str) -> str:
    product = sku.product
    if style == "generic(brand)":
        return f"{product.generic_name}({product.brand_name})"
    if style == "generic":
        return product.generic_name
    return f"{product.brand_name} {product.generic_name}"


# --- Files ------------------------------------------------------------------------------------------


def render(layout: Layout | InventoryLayout, rows: list[dict[str, Any]]) -> tuple[bytes, str]:
    """The file's bytes and its extension, in the distributor's format."""
    header = [h for _c, h in layout.columns]
    table = [[_cell(row.get(code, ""), code, layout) for code, _h in layout.columns] for row in rows]
    if layout.file_format == "xlsx":
        from openpyxl import Workbook

        book = Workbook(write_only=True)
        sheet = book.create_sheet("库存" if isinstance(layout, InventoryLayout) else "流向")
        sheet.append(header)
        for line in table:
            sheet.append(line)
        buffer = io.BytesIO()
        book.save(buffer)
        return buffer.getvalue(), "xlsx"
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow(header)
    writer.writerows(table)
    encoding = "gbk" if layout.file_format == "csv-gbk" else "utf-8-sig"
    return text.getvalue().encode(encoding, errors="replace"), "csv"


def _cell(value: Any, code: str, layout: Layout | InventoryLayout) -> Any:
    if code in ("sale_date", "as_of") and isinstance(value, dt.date):
        return value.strftime(layout.date_format)
    if isinstance(value, Decimal):
        return str(value)
    return value


# --- Planning one distributor's months ------------------------------------------------------------


@dataclass
class Customer:
    institution_id: int
    name: str  # how this distributor usually writes it
    alternative: str  # how it writes it now and then
    mess: str
    code: str  # our external id when the distributor sends codes
    public_hospital: bool
    weight: float


@dataclass
class DistributorPlan:
    partner: ChannelPartner
    layout: Layout
    customers: list[Customer]
    unknown: list[str]  # customers that are not in our master data at all
    lateness: tuple[int, int]  # days after month end the file usually arrives
    missing_month: dt.date | None = None
    transfers_to: list[ChannelPartner] = field(default_factory=list)
    inventory_layout: InventoryLayout | None = None  # sends its stock as a separate file


def _months(today: dt.date) -> list[dt.date]:
    """The MONTHS complete months before `today`'s month, oldest first."""
    month = today.replace(day=1)
    out = []
    for _ in range(MONTHS):
        month = (month - dt.timedelta(days=1)).replace(day=1)
        out.append(month)
    return out[::-1]


def _month_rows(
    plan: DistributorPlan, month: dt.date, skus: list[Sku], prices: dict[int, Decimal], rng: random.Random
) -> list[dict[str, Any]]:
    layout = plan.layout
    last = calendar.monthrange(month.year, month.month)[1]
    kinds = dict(zip(("sale", "transfer", "return"), layout.kind_words, strict=True))
    rows: list[dict[str, Any]] = []
    seen: set[tuple[Any, ...]] = set()

    has_kind = any(code == "kind" for code, _h in layout.columns)

    def add(row: dict[str, Any]) -> None:
        key = tuple(str(_cell(row.get(code, ""), code, layout)) for code, _h in layout.columns)
        if key not in seen:  # identical cells twice are refused as a duplicated row
            seen.add(key)
            rows.append(row)

    def line(name: str, code: str, sku: Sku, packs: int, kind: str) -> dict[str, Any]:
        price = prices[sku.pk]
        quantity: Decimal = Decimal(packs) * (sku.standard_units if layout.unit == "片" else 1)
        if kind == "return":
            quantity = -quantity
        row = {
            "sale_date": month.replace(day=rng.randint(1, last)),
            "customer_name": name,
            "customer_code": code,
            "product_code": sku.code if layout.product_style == "code" else "",
            "product_name": _product_text(sku, layout.product_style),
            "spec": _spec_text(sku, layout.spec_style),
            "quantity": quantity,
            "unit": layout.unit,
            "unit_price": price
            if layout.unit == "盒"
            else (price / sku.standard_units).quantize(Decimal("0.0001")),
            "amount": (price * packs * (-1 if kind == "return" else 1)).quantize(Decimal("0.01")),
            "batch": f"{month:%y%m}{rng.randint(10, 99)}",
            "kind": kinds[kind],
            "upstream": "",
        }
        return row

    growth = 1 + 0.01 * ((month.year - 2020) * 12 + month.month) % 7  # a little seasonality
    for customer in plan.customers:
        if rng.random() > min(0.95, 0.35 + customer.weight):
            continue  # not every customer orders every month
        for sku in rng.sample(skus, k=min(len(skus), rng.randint(1, 3))):
            name = customer.alternative if rng.random() < 0.08 else customer.name
            packs = max(1, int(rng.gauss(20 * customer.weight * growth + 3, 5)))
            add(line(name, customer.code, sku, packs, "sale"))
            if has_kind and rng.random() < 0.02:
                add(line(name, customer.code, sku, max(1, packs // 4), "return"))
    for name in plan.unknown:
        if rng.random() < 0.5:
            add(line(name, "", rng.choice(skus), rng.randint(1, 10), "sale"))
    for other in plan.transfers_to if has_kind else ():
        for sku in rng.sample(skus, k=min(2, len(skus))):
            add(line(other.institution.name + "有限公司", "", sku, rng.randint(50, 200), "transfer"))
    if layout.inventory and has_kind:
        for sku in skus:
            add(
                {
                    **line("", "", sku, rng.randint(100, 900), "sale"),
                    "sale_date": month.replace(day=last),
                    "kind": "库存",
                    "customer_name": "",
                    "amount": "",
                }
            )
    rng.shuffle(rows)
    return rows


def _stock_rows(
    plan: DistributorPlan, month: dt.date, skus: list[Sku], rng: random.Random
) -> list[dict[str, Any]]:
    """One month-end stock row per SKU, batch and warehouse, written the way this distributor writes products."""
    assert plan.inventory_layout is not None
    layout = plan.layout
    last = month.replace(day=calendar.monthrange(month.year, month.month)[1])
    # without a batch column two batches of one product in one warehouse would be one row twice
    has_batch = any(code == "batch" for code, _h in plan.inventory_layout.columns)
    rows = []
    for sku in skus:
        for warehouse in plan.inventory_layout.warehouses:
            for batch in range(rng.randint(1, 2) if has_batch else 1):
                packs = rng.randint(20, 400)
                rows.append(
                    {
                        "as_of": last,
                        "product_code": sku.code if layout.product_style == "code" else "",
                        "product_name": _product_text(sku, layout.product_style),
                        "spec": _spec_text(sku, layout.spec_style),
                        "batch": f"{month:%y%m}{batch + 1:02d}",
                        "quantity": Decimal(packs) * (sku.standard_units if layout.unit == "片" else 1),
                        "unit": layout.unit,
                        "warehouse": warehouse,
                    }
                )
    return rows


# --- Setting up what the files need ---------------------------------------------------------------


def _skus(writer_today: dt.date) -> list[Sku]:
    """The demo products' SKUs: the commercial demo's when it made some, else one or two per product here."""
    products = list(Product.objects.filter(code__startswith=PRODUCT_PREFIX).order_by("code"))
    skus = list(Sku.objects.filter(product__in=products).select_related("product").order_by("code"))
    if skus:
        return skus
    made = []
    packs = (("5mg", "7片", 7), ("10mg", "14片", 14), ("100mg", "28片", 28))
    for i, product in enumerate(products):
        for j in range(1 + i % 2):
            strength, pack, units = packs[(i + j) % len(packs)]
            made.append(
                Sku(
                    product=product,
                    code=f"{product.code}-{j + 1:02d}",
                    strength=strength,
                    pack=pack,
                    unit="盒",
                    standard_units=Decimal(units),
                    standard_unit="片",
                )
            )
    Sku.objects.bulk_create(made)
    return list(Sku.objects.filter(product__in=products).select_related("product").order_by("code"))


def _partners(rng: random.Random) -> list[ChannelPartner]:
    """A dozen demo distributors as channel partners (the channels demo's when it made them)."""
    demo = Institution.objects.filter(external_id__startswith=DEMO_PREFIX, kind=Institution.Kind.DISTRIBUTOR)
    partners = list(
        ChannelPartner.objects.filter(institution__in=demo, kind=ChannelPartner.Kind.DISTRIBUTOR)
        .select_related("institution")
        .order_by("code")
    )
    if len(partners) < DISTRIBUTORS:
        taken = {p.institution_id for p in partners}
        spare = list(demo.exclude(pk__in=taken).order_by("external_id")[: DISTRIBUTORS - len(partners)])
        unit = OrgUnit.objects.filter(code=COMPANY_CODE).first()
        assert unit is not None, "the demo organisation is written first"
        made = [
            ChannelPartner(institution=inst, code=f"{PARTNER_PREFIX}{i:02d}", org_unit=unit)
            for i, inst in enumerate(spare, start=len(partners) + 1)
        ]
        ChannelPartner.objects.bulk_create(made)
        partners = list(
            ChannelPartner.objects.filter(institution__in=demo).select_related("institution").order_by("code")
        )
    # Spread over provinces: one per province first, then seconds.
    by_province: dict[str, list[ChannelPartner]] = defaultdict(list)
    for p in partners:
        by_province[p.institution.province_id].append(p)
    ordered = [p for rank in range(3) for ps in by_province.values() for p in ps[rank : rank + 1]]
    return ordered[:DISTRIBUTORS]


def _plan(
    partners: list[ChannelPartner], months: list[dt.date], rng: random.Random, customers_per: int
) -> list[DistributorPlan]:
    plans = []
    for i, partner in enumerate(partners):
        province = partner.institution.province_id
        local = list(
            Institution.objects.filter(external_id__startswith=DEMO_PREFIX, province_id=province)
            .exclude(kind=Institution.Kind.DISTRIBUTOR)
            .values_list("pk", "name", "kind", "ownership", "external_id")
            .order_by("pk")
        )
        chosen = rng.sample(local, k=min(customers_per, len(local)))
        # A few sales into another province: 窜货 where an agreement limits the region.
        elsewhere = list(
            Institution.objects.filter(external_id__startswith=DEMO_PREFIX, kind=Institution.Kind.HOSPITAL)
            .exclude(province_id=province)
            .values_list("pk", "name", "kind", "ownership", "external_id")
            .order_by("?")[:2]
        )
        layout = LAYOUTS[i % len(LAYOUTS)]
        sends_codes = any(code == "customer_code" for code, _h in layout.columns)
        customers = []
        for pk, name, kind, ownership, external_id in chosen + elsewhere:
            messy, mess = messy_name(name, rng, kind=kind)
            alternative, _m = messy_name(name, rng, kind=kind)
            customers.append(
                Customer(
                    institution_id=pk,
                    name=messy,
                    alternative=alternative,
                    mess=mess,
                    # Code-sending distributors know our codes for some of their customers only.
                    code=(external_id or "") if sends_codes and rng.random() < 0.4 else "",
                    public_hospital=kind == Institution.Kind.HOSPITAL
                    and ownership == Institution.Ownership.PUBLIC,
                    weight=rng.random()
                    * (0.2 if (pk, name, kind, ownership, external_id) in elsewhere else 1.0),
                )
            )
        plans.append(
            DistributorPlan(
                partner=partner,
                layout=layout,
                customers=customers,
                unknown=[
                    f"{rng.choice('张王李赵刘陈')}氏个体诊所",
                    f"便民药店（{rng.choice('东西南北')}街店）",
                ],
                lateness=(2, 12) if i % 4 else (15, 35),
                missing_month=months[rng.randrange(6, len(months) - 2)] if i % 5 == 3 else None,
                inventory_layout=SEPARATE_INVENTORY.get(i),
            )
        )
    # The first distributor is a national platform: it transfers (调拨) to two others each month, who
    # sell those packs on to public hospitals — a third invoice (两票制 extra hop).
    if len(plans) > 2:
        plans[0].transfers_to = [plans[1].partner, plans[2].partner]
    return plans


# --- Loading ----------------------------------------------------------------------------------------


def _operator() -> User:
    """Who uploads the files and works the queue: the demo's admin (sales operations sees every distributor)."""
    return User.objects.get(username="admin", role_rows__role=Role.ADMIN)


def write_flow(
    *, seed: int, today: dt.date, customers_per_distributor: int, progress: Callable[[str], None]
) -> dict[str, int]:
    """Generate, import, map and attribute the demo's flow data; returns counts for the summary."""
    from pharmacrm.flow import services
    from pharmacrm.flow.importing import import_flow_file
    from pharmacrm.flow.models import FlowRecord

    rng = random.Random(f"{seed}:flow")
    # its own stream, so adding inventory files left the sales files as they were
    stock_rng = random.Random(f"{seed}:flow-inventory")
    months = _months(today)
    skus = _skus(today)
    partners = _partners(rng)
    if not skus or not partners:
        progress("flow: skipped (no demo products or distributors)")
        return {"flow records": 0}
    prices = {sku.pk: Decimal(rng.randint(25, 320)) + Decimal("0.50") for sku in skus}
    plans = _plan(partners, months, rng, customers_per_distributor)
    truth = {(plan.partner.pk, c.name): c.institution_id for plan in plans for c in plan.customers}
    truth |= {(plan.partner.pk, c.alternative): c.institution_id for plan in plans for c in plan.customers}
    for plan in plans:  # transfers name the receiving distributor
        for other in plan.transfers_to:
            truth[(plan.partner.pk, other.institution.name + "有限公司")] = other.institution_id
    product_truth = {
        (_product_text(sku, layout.product_style), _spec_text(sku, layout.spec_style)): sku.pk
        for sku in skus
        for layout in LAYOUTS
    }
    operator = _operator()
    # A few customers move to another territory mid-way: their earlier sales stay with the old rep.
    moved = move_customers(
        customers=[
            (c.institution_id, plan.partner.institution.province_id) for plan in plans for c in plan.customers
        ],
        effective=months[len(months) // 2],
        operator=operator,
        seed=seed,
    )
    refused = 0
    for index, month in enumerate(months):
        for plan in plans:
            if month == plan.missing_month:
                continue  # this distributor never sent that month (timeliness counts it late)
            rows = _month_rows(plan, month, skus, prices, rng)
            content, extension = render(plan.layout, rows)
            month_end = month.replace(day=calendar.monthrange(month.year, month.month)[1])
            received = month_end + dt.timedelta(days=rng.randint(*plan.lateness))
            result = import_flow_file(
                actor=operator,
                distributor_code=plan.partner.code,
                fileobj=io.BytesIO(content),
                name=f"{plan.partner.code}_流向_{month:%Y%m}.{extension}",
                dry_run=False,
                period=month,
                # The first file of a layout is mapped by hand; the saved template recognises the rest.
                mapping=dict(plan.layout.columns) if index == 0 else None,
                received_on=min(received, today),
                source=Source.SYSTEM,
            )
            if not result.ok:
                refused += 1
                progress(
                    f"  flow: {plan.partner.code} {month:%Y-%m} refused: {' / '.join(result.lines()[:3])}"
                )
            first_stock = len(months) - INVENTORY_MONTHS
            if plan.inventory_layout is not None and index >= first_stock:
                content, extension = render(plan.inventory_layout, _stock_rows(plan, month, skus, stock_rng))
                stock = import_flow_file(
                    actor=operator,
                    distributor_code=plan.partner.code,
                    fileobj=io.BytesIO(content),
                    name=f"{plan.partner.code}_库存_{month:%Y%m}.{extension}",
                    dry_run=False,
                    period=month,
                    mapping=dict(plan.inventory_layout.columns) if index == first_stock else None,
                    received_on=min(received, today),
                    source=Source.SYSTEM,
                    kind="inventory",
                )
                if not stock.ok:
                    refused += 1
                    progress(
                        f"  flow: {plan.partner.code} {month:%Y-%m} inventory refused: "
                        + " / ".join(stock.lines()[:3])
                    )
        if index < len(months) - 1:
            _work_queue(operator=operator, truth=truth, product_truth=product_truth, services=services)
        if index % 6 == 5:
            progress(f"flow: {month:%Y-%m} imported ({FlowRecord.objects.count():,} rows so far)")
    counts = flow_counts()
    counts["flow files refused"] = refused
    counts["flow customers moved mid-way"] = len(moved)
    return counts


def _work_queue(
    *,
    operator: User,
    truth: dict[tuple[int, str], int],
    product_truth: dict[tuple[str, str], int],
    services: Any,
) -> None:
    """Map every unmatched customer name the operator recognises (the unknown ones stay in the queue)."""
    from pharmacrm.flow.models import FlowRecord

    pending = (
        FlowRecord.objects.filter(institution__isnull=True)
        .values_list("distributor_id", "customer_name")
        .distinct()
    )
    mappings = [
        services.Mapping(distributor_id=d, name=name, target_id=truth[(d, name)])
        for d, name in pending
        if (d, name) in truth
    ]
    if mappings:
        services.map_unmatched(actor=operator, kind=services.CUSTOMER, mappings=mappings)
    from pharmacrm.flow.models import InventoryRecord

    products = {
        *FlowRecord.objects.filter(sku__isnull=True)
        .values_list("distributor_id", "product_name", "product_spec")
        .distinct(),
        *InventoryRecord.objects.filter(sku__isnull=True)
        .values_list("distributor_id", "product_name", "product_spec")
        .distinct(),
    }
    product_mappings = [
        services.Mapping(distributor_id=d, name=name, spec=spec, target_id=product_truth[(name, spec)])
        for d, name, spec in products
        if (name, spec) in product_truth
    ]
    if product_mappings:
        services.map_unmatched(actor=operator, kind=services.PRODUCT, mappings=product_mappings)


METHODS = ("code", "alias", "exact name", "fuzzy", "manual")


def flow_counts() -> dict[str, int]:
    """Rows, files and the customer match rate by method (for the demo summary and docs)."""
    from pharmacrm.flow.models import CustomerAlias, FlowFile, FlowRecord, InventoryRecord

    records = FlowRecord.objects.filter(distributor__institution__external_id__startswith=DEMO_PREFIX)
    files = FlowFile.objects.filter(distributor__institution__external_id__startswith=DEMO_PREFIX)
    methods = Counter(dict(records.values_list("customer_match").annotate(n=Count("pk")).order_by()))
    # The pipeline files an exact match of the normalised name under fuzzy with confidence 100.
    exact = records.filter(customer_match="fuzzy", customer_confidence=100).count()
    methods["exact name"], methods["fuzzy"] = exact, methods.get("fuzzy", 0) - exact
    total = sum(methods.values())
    counts = {
        "flow files": files.filter(kind=FlowFile.Kind.SALES).count(),
        "inventory files": files.filter(kind=FlowFile.Kind.INVENTORY).count(),
        "inventory records": InventoryRecord.objects.filter(
            distributor__institution__external_id__startswith=DEMO_PREFIX
        ).count(),
        "flow records": total,
        "flow aliases learned": CustomerAlias.objects.count(),
        "flow rows still unmatched (customer)": methods.get("", 0),
        "flow rows out of region": records.filter(out_of_region=True).count(),
        "flow rows with an extra hop": records.filter(extra_hop=True).count(),
        "flow rows attributed to a rep": records.filter(rep__isnull=False).count(),
    }
    for method in METHODS:
        counts[f"flow customer match: {method} ‰"] = (
            round(1000 * methods.get(method, 0) / total) if total else 0
        )
    return counts


def match_rate_lines() -> list[str]:
    """Human-readable match rates by method (used by `pharmacrm demo` output and bench/flow.py)."""
    counts = flow_counts()
    total = counts["flow records"] or 1
    lines = [f"flow: {counts['flow records']:,} rows in {counts['flow files']} files"]
    for method in METHODS:
        lines.append(f"  {method:<10} {counts[f'flow customer match: {method} ‰'] / 10:.1f}%")
    lines.append(f"  unmatched  {100 * counts['flow rows still unmatched (customer)'] / total:.1f}%")
    return lines


def flow_rows_to_reset(
    *, institutions: QuerySet[Institution], users: QuerySet[User]
) -> list[tuple[str, Any, Any]]:
    """(label, model, queryset) steps removing the demo's flow data, for loader.reset_demo."""
    from pharmacrm.flow.models import (
        CustomerAlias,
        FlowFile,
        FlowPeriodClose,
        FlowRecord,
        FlowTemplate,
        InventoryRecord,
        ProductAlias,
    )

    partners = ChannelPartner.objects.filter(institution__in=institutions)
    return [
        ("flow records", FlowRecord, FlowRecord._base_manager.filter(distributor__in=partners)),
        (
            "inventory records",
            InventoryRecord,
            InventoryRecord._base_manager.filter(distributor__in=partners),
        ),
        (
            "flow period closes",
            FlowPeriodClose,
            FlowPeriodClose._base_manager.filter(distributor__in=partners),
        ),
        ("flow files", FlowFile, FlowFile._base_manager.filter(distributor__in=partners)),
        ("flow templates", FlowTemplate, FlowTemplate._base_manager.filter(distributor__in=partners)),
        (
            "customer aliases",
            CustomerAlias,
            CustomerAlias._base_manager.filter(Q(distributor__in=partners) | Q(institution__in=institutions)),
        ),
        (
            "product aliases",
            ProductAlias,
            ProductAlias._base_manager.filter(
                Q(distributor__in=partners) | Q(sku__product__code__startswith=PRODUCT_PREFIX)
            ),
        ),
        (
            "flow channel partners",
            ChannelPartner,
            ChannelPartner._base_manager.filter(code__startswith=PARTNER_PREFIX),
        ),
        ("demo SKUs", Sku, Sku._base_manager.filter(product__code__startswith=PRODUCT_PREFIX)),
    ]
