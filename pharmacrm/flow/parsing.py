"""Reading a distributor's flow file: our fields, header signatures, and normalising dates, numbers, units and names."""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import re
import unicodedata
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from django.utils.translation import gettext_lazy as _

# Excel's day 0 (its 1900 leap-year bug is why it is the 30th, not the 31st).
EXCEL_EPOCH = dt.date(1899, 12, 30)


@dataclass(frozen=True)
class FlowField:
    code: str
    label: Any  # lazy translation
    synonyms: tuple[str, ...]


# The two kinds of file a distributor sends (FlowFile.Kind): its sales (流向) and its stock (库存).
SALES, INVENTORY = "sales", "inventory"
KINDS = (SALES, INVENTORY)

PRODUCT_CODE = FlowField(
    "product_code", _("产品编码"), ("产品编码", "商品编码", "药品编码", "货品编码", "品规编码")
)
PRODUCT_NAME = FlowField(
    "product_name", _("产品名称"), ("产品名称", "商品名称", "药品名称", "品名", "通用名", "货品名称")
)
SPEC = FlowField("spec", _("规格"), ("规格", "品规", "规格型号", "包装规格"))
UNIT = FlowField("unit", _("单位"), ("单位", "计量单位", "包装单位"))
BATCH = FlowField("batch", _("批号"), ("批号", "生产批号", "批次"))

# Our fields and the headers distributors commonly use for them (for a first mapping suggestion).
FIELDS: tuple[FlowField, ...] = (
    FlowField(
        "sale_date",
        _("销售日期"),
        ("销售日期", "日期", "单据日期", "出库日期", "开票日期", "业务日期", "发货日期"),
    ),
    FlowField(
        "customer_code", _("客户编码"), ("客户编码", "客户代码", "购货单位编码", "医院编码", "终端编码")
    ),
    FlowField(
        "customer_name",
        _("客户名称"),
        ("客户名称", "客户", "购货单位", "医院名称", "终端名称", "销往单位", "收货单位", "下游客户"),
    ),
    PRODUCT_CODE,
    PRODUCT_NAME,
    SPEC,
    FlowField("quantity", _("数量"), ("数量", "销售数量", "出库数量", "发货数量")),
    UNIT,
    FlowField("unit_price", _("单价"), ("单价", "销售单价", "含税单价", "价格")),
    FlowField("amount", _("金额"), ("金额", "销售金额", "含税金额", "价税合计")),
    BATCH,
    FlowField("kind", _("业务类型"), ("业务类型", "类型", "单据类型", "销售类型", "退货标志", "出库类型")),
    FlowField("upstream", _("上游"), ("上游", "上游单位", "供货单位", "调出单位")),
)
# A separate monthly inventory file: one row per product (and batch, warehouse) in stock on a day.
INVENTORY_QUANTITY_HEADERS = (
    "库存数量",
    "结存数量",
    "库存量",
    "实际库存",
    "期末库存",
    "期末数量",
    "盘点数量",
    "可用库存",
    "现存量",
)
INVENTORY_DATE_HEADERS = ("库存日期", "盘点日期", "结存日期", "统计日期", "截止日期")
INVENTORY_FIELDS: tuple[FlowField, ...] = (
    FlowField("as_of", _("库存日期"), (*INVENTORY_DATE_HEADERS, "日期", "业务日期")),
    PRODUCT_CODE,
    PRODUCT_NAME,
    SPEC,
    BATCH,
    FlowField("quantity", _("库存数量"), (*INVENTORY_QUANTITY_HEADERS, "数量")),
    UNIT,
    FlowField("warehouse", _("仓库"), ("仓库", "仓库名称", "库房", "仓位", "存放地点")),
)
FIELDS_BY_KIND = {SALES: FIELDS, INVENTORY: INVENTORY_FIELDS}
REQUIRED = ("sale_date", "quantity")
# at least one of each pair identifies the customer and the product
ONE_OF = (("customer_code", "customer_name"), ("product_code", "product_name"))
# An inventory file without a date column is dated by its period (the month's last day).
REQUIRED_BY_KIND = {SALES: (REQUIRED, ONE_OF), INVENTORY: (("quantity",), (ONE_OF[1],))}


def fields_for(kind: str) -> tuple[FlowField, ...]:
    return FIELDS_BY_KIND[kind]


def field_codes(kind: str) -> tuple[str, ...]:
    return tuple(f.code for f in FIELDS_BY_KIND[kind])


def field_labels(kind: str) -> dict[str, Any]:
    return {f.code: f.label for f in FIELDS_BY_KIND[kind]}


KIND_WORDS = {
    "sale": ("纯销", "销售", "销售出库", "sale", "正常", "出库", ""),
    "transfer": ("调拨", "调出", "分销", "transfer"),
    "return": ("退货", "销售退回", "退回", "退", "return", "红冲"),
    "inventory": ("库存", "期末库存", "inventory", "stock"),
}
_KIND_LOOKUP = {word.lower(): kind for kind, words in KIND_WORDS.items() for word in words}
PACK_UNITS = frozenset({"盒", "瓶", "袋", "支装", "盒装", "包", ""})
CASE_UNITS = frozenset({"箱", "件", "大箱"})
STANDARD_UNITS = frozenset({"片", "粒", "支", "丸", "袋装", "贴"})


def normalise_header(text: str) -> str:
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text or "")).lower()


def header_signature(header: list[str]) -> str:
    """The same layout gives the same signature, whatever the spacing or full-width characters."""
    joined = "\x1f".join(normalise_header(h) for h in header if h.strip())
    return hashlib.sha256(joined.encode()).hexdigest()


def suggest_mapping(header: list[str], kind: str = SALES) -> dict[str, str]:
    """Our field → their header, for headers that are a known synonym (exact, then contained)."""
    normalised = {normalise_header(h): h for h in header if h.strip()}
    mapping: dict[str, str] = {}
    used: set[str] = set()
    for field in FIELDS_BY_KIND[kind]:
        for synonym in field.synonyms:
            key = normalise_header(synonym)
            if key in normalised and normalised[key] not in used:
                mapping[field.code] = normalised[key]
                used.add(normalised[key])
                break
    return mapping


def missing_fields(mapping: dict[str, str], kind: str = SALES) -> list[str]:
    """Field codes a mapping must still provide."""
    required, one_of = REQUIRED_BY_KIND[kind]
    missing = [code for code in required if not mapping.get(code)]
    for pair in one_of:
        if not any(mapping.get(code) for code in pair):
            missing.append(pair[1])
    return missing


_INVENTORY_MARKERS = frozenset(
    normalise_header(h) for h in (*INVENTORY_QUANTITY_HEADERS, *INVENTORY_DATE_HEADERS)
)
_CUSTOMER_HEADERS = frozenset(normalise_header(h) for f in FIELDS if f.code in ONE_OF[0] for h in f.synonyms)


def detect_kind(header: list[str]) -> str:
    """Inventory when a header says stock (库存数量, 盘点日期, …) and none names a customer; else sales.

    A sales file always names its customers; an inventory file never does, and its quantity
    column is called 库存/结存 rather than a plain 数量. A sales file that carries 库存 rows keeps
    a customer column, so it stays a sales file.
    """
    names = {normalise_header(h) for h in header if h.strip()}
    if names & _INVENTORY_MARKERS and not names & _CUSTOMER_HEADERS:
        return INVENTORY
    return SALES


# --- values ----------------------------------------------------------------------------------------

_DATE_PATTERNS = (
    re.compile(r"^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?:[ T].*)?$"),
    re.compile(r"^(\d{4})年(\d{1,2})月(\d{1,2})日?$"),
    re.compile(r"^(\d{4})(\d{2})(\d{2})$"),
)


def parse_date(text: str, date_format: str = "") -> dt.date | None:
    """2026-01-05, 2026/1/5, 2026.1.5, 20260105, 2026年1月5日, an Excel serial number (46027), or a strftime format."""
    value = unicodedata.normalize("NFKC", text).strip()
    if not value:
        return None
    if date_format:
        try:
            return dt.datetime.strptime(value, date_format).date()  # noqa: DTZ007 - a calendar date
        except ValueError:
            return None
    for pattern in _DATE_PATTERNS:
        match = pattern.match(value)
        if match:
            try:
                return dt.date(int(match[1]), int(match[2]), int(match[3]))
            except ValueError:
                return None
    if re.fullmatch(r"\d{5}(\.\d+)?", value):
        serial = int(float(value))
        if 20000 < serial < 80000:  # 1954…2119: anything else is not a date
            return EXCEL_EPOCH + dt.timedelta(days=serial)
    return None


def parse_decimal(text: str) -> Decimal | None:
    """A number as a distributor writes it: '1,200', '１２', '-3', '¥25.50'; None when it is not a number."""
    value = unicodedata.normalize("NFKC", text).strip().replace(",", "").replace("¥", "").replace("￥", "")
    if not value:
        return None
    if value.startswith("(") and value.endswith(")"):  # accountants' negative
        value = "-" + value[1:-1]
    try:
        number = Decimal(value)
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def parse_kind(text: str) -> str | None:
    """sale / transfer / return / inventory from the distributor's wording; None when unknown."""
    value = unicodedata.normalize("NFKC", text).strip().lower()
    return _KIND_LOOKUP.get(value)


def normalise_unit(text: str) -> str:
    return unicodedata.normalize("NFKC", text).strip()


# --- names -----------------------------------------------------------------------------------------

_NAME_DROP = re.compile(r"[\s()\[\]{}【】〔〕<>《》\"'“”‘’·・,，。.、:：;；\-_/\\]+")
_SUFFIXES = ("股份有限公司", "有限责任公司", "有限公司", "公司")


def normalise_name(text: str) -> str:
    """Compare names as people would: half-width, no spaces or brackets, lower-case, no company suffix.

    '北京协和医院（东院）' → '北京协和医院东院'; '国药控股 北京 有限公司' → '国药控股北京'.
    """
    value = _NAME_DROP.sub("", unicodedata.normalize("NFKC", text or "")).lower()
    for suffix in _SUFFIXES:
        if value.endswith(suffix) and len(value) > len(suffix):
            value = value[: -len(suffix)]
            break
    return value


def normalise_spec(text: str) -> str:
    value = unicodedata.normalize("NFKC", text or "").lower()
    value = value.replace("×", "x").replace("*", "x")
    return _NAME_DROP.sub("", value)


def product_text(name: str, spec: str) -> str:
    """The normalised key a product alias is stored under: name and spec together."""
    return normalise_name(name) + normalise_spec(spec)


_nfkc = functools.partial(unicodedata.normalize, "NFKC")


def row_key(values: tuple[str, ...]) -> str:
    """A row's identity within its distributor and month: a hash of its normalised mapped cells."""
    joined = "\x1f".join(map(str.strip, map(_nfkc, values)))  # map: no Python frame per cell
    return hashlib.blake2b(joined.encode(), digest_size=16).hexdigest()


def month_start(day: dt.date) -> dt.date:
    return day.replace(day=1)


def parse_period(text: str) -> dt.date | None:
    """'2026-01' / '202601' / '2026/1' → 2026-01-01."""
    match = re.fullmatch(r"(\d{4})[-/.年]?(\d{1,2})月?", text.strip())
    if not match or not 1 <= int(match[2]) <= 12:
        return None
    return dt.date(int(match[1]), int(match[2]), 1)
