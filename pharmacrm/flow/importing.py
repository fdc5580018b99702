"""Importing one distributor's monthly flow (or inventory) file: template, checks, matching, all-or-nothing write.

The file is streamed in batches: each batch is parsed, checked and matched, and (unless this is
a dry run or an error has been seen) written with one executemany. The whole file runs in one
transaction; any error rolls it back, so a refused file leaves the database as it was. Memory
stays bounded: besides the current batch only the matchers' dictionaries are kept; duplicated
rows are found once the file has been read, from row hashes spilled to a temporary file.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import operator
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import IO, TYPE_CHECKING, Any, ClassVar

from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from pharmacrm.channels.models import ChannelPartner
from pharmacrm.commercial.market import month_end
from pharmacrm.commercial.models import Sku
from pharmacrm.core.audit import Source, acting_as, audit_context
from pharmacrm.core.errors import DomainError
from pharmacrm.core.imports.engine import ImportKind, Issue, Report, preview
from pharmacrm.core.imports.registry import register
from pharmacrm.core.imports.repeats import RepeatedKeys
from pharmacrm.core.imports.seen import SeenKeys
from pharmacrm.core.models import Role
from pharmacrm.core.spreadsheets import SpreadsheetError, open_sheet
from pharmacrm.core.visibility import visible
from pharmacrm.flow.matching import CustomerMatcher, ProductMatcher
from pharmacrm.flow.models import FlowFile, FlowPeriodClose, FlowRecord, FlowTemplate, InventoryRecord
from pharmacrm.flow.parsing import (
    CASE_UNITS,
    INVENTORY,
    KINDS,
    PACK_UNITS,
    SALES,
    STANDARD_UNITS,
    detect_kind,
    field_codes,
    field_labels,
    header_signature,
    missing_fields,
    month_start,
    normalise_unit,
    parse_date,
    parse_decimal,
    parse_kind,
    parse_period,
    row_key,
    suggest_mapping,
)

if TYPE_CHECKING:
    from django.core.files.uploadedfile import UploadedFile

    from pharmacrm.core.imports.columns import Column
    from pharmacrm.core.models import ImportJob

BATCH_ROWS = 5000
AUTO = "auto"  # the file's kind (sales or inventory) from its template or its headers
IMPORT_ROLES = frozenset({Role.ADMIN, Role.DIRECTOR, Role.COMMERCIAL})
ProgressCallback = Callable[[int, float], None]


class _Refused(Exception):
    """Raised inside the transaction to roll a refused file back."""


@dataclass
class FlowImportResult:
    """What happened to one file: the row-level report and, when written, the FlowFile."""

    report: Report
    outcome: str = "refused"  # checked | imported | replaced | unchanged | refused
    kind: str = SALES  # the file's kind: sales (流向) or inventory (库存)
    file: FlowFile | None = None
    period: dt.date | None = None
    template: FlowTemplate | None = None
    mapping: dict[str, str] = field(default_factory=dict)
    header: list[str] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.outcome != "refused"

    def lines(self) -> list[str]:
        out = [self.headline()]
        out.extend(self.report.lines())
        return out

    def headline(self) -> str:
        d = self.details
        if self.outcome == "refused":
            return _("已拒绝：未写入任何数据。")
        if self.outcome == "unchanged":
            return _("与已导入的 {period} 文件完全相同，未做任何更改。").format(period=f"{self.period:%Y-%m}")
        text = {
            "checked": _("检查通过（试运行，未写入）"),
            "imported": _("已导入"),
            "replaced": _("已导入并替换该月原有数据"),
        }[self.outcome]
        if self.kind == INVENTORY:
            return _("{what}：{period}，库存文件 {inventory} 行；产品未匹配 {up} 行。").format(
                what=text,
                period=f"{self.period:%Y-%m}" if self.period else "",
                inventory=d.get("inventory", 0),
                up=d.get("unmatched_products", 0),
            )
        return _(
            "{what}：{period}，流向 {records} 行，库存 {inventory} 行；客户未匹配 {uc} 行，产品未匹配 {up} 行。"
        ).format(
            what=text,
            period=f"{self.period:%Y-%m}" if self.period else "",
            records=d.get("records", 0),
            inventory=d.get("inventory", 0),
            uc=d.get("unmatched_customers", 0),
            up=d.get("unmatched_products", 0),
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "outcome": self.outcome,
            "kind": self.kind,
            "period": self.period.isoformat() if self.period else None,
            "file_id": self.file.pk if self.file else None,
            "template_id": self.template.pk if self.template else None,
            "mapping": self.mapping,
            "headline": self.headline(),
            "details": self.details,
            "report": self.report.to_dict(),
        }


def may_import(user: Any) -> bool:
    return bool(user.is_authenticated and user.roles & IMPORT_ROLES)


def resolve_distributor(code: str) -> ChannelPartner | None:
    return ChannelPartner.objects.select_related("institution").filter(code=code.strip()).first()


def _distributor_for(actor: Any, code: str) -> ChannelPartner | None:
    """The distributor with this code, if `actor` may see it (None at the shell sees all).

    A partner the user may not see is reported as unknown, like one that does not exist (no leak).
    """
    distributor = resolve_distributor(code)
    if (
        distributor is not None
        and actor is not None
        and not visible(ChannelPartner, user=actor).filter(pk=distributor.pk).exists()
    ):
        return None
    return distributor


def _unknown_kind(kind: str) -> str | None:
    """The refusal for a file kind that is not auto, sales or inventory; None when it is one of them."""
    if kind in (AUTO, *KINDS):
        return None
    return _("未知的文件类型“{kind}”（可选：auto、sales、inventory）。").format(kind=kind)


def find_template(distributor: ChannelPartner, header: list[str]) -> FlowTemplate | None:
    return FlowTemplate.objects.filter(
        distributor=distributor, header_signature=header_signature(header)
    ).first()


def save_template(
    *,
    actor: Any,
    distributor: ChannelPartner,
    header: list[str],
    mapping: dict[str, str],
    name: str = "",
    date_format: str = "",
    unit_conversions: dict[str, str] | None = None,
    kind: str = SALES,
) -> FlowTemplate:
    """Create or update the distributor's template for this header layout (a sales or an inventory layout)."""
    clean = {code: mapping[code] for code in field_codes(kind) if mapping.get(code)}
    unknown = [h for h in clean.values() if h not in header]
    missing = missing_fields(clean, kind)
    if unknown or missing:
        labels = field_labels(kind)
        reasons = [_("表头中没有列“{h}”").format(h=h) for h in unknown]
        reasons += [_("必须指定“{f}”对应的列").format(f=labels[m]) for m in missing]
        raise DomainError("；".join(reasons), fields={"mapping": reasons}, code="bad_mapping")
    signature = header_signature(header)
    with acting_as(actor), transaction.atomic():
        template = FlowTemplate.objects.filter(distributor=distributor, header_signature=signature).first()
        if template is None:
            template = FlowTemplate(distributor=distributor, header_signature=signature, created_by=actor)
        # The default name carries the layout's signature, so two layouts saved on one day don't clash.
        template.name = (
            name
            or template.name
            or _("{code} 模板 {day} {sig}").format(
                code=distributor.code, day=timezone.localdate().isoformat(), sig=signature[:6]
            )
        )
        clash = FlowTemplate.objects.filter(distributor=distributor, name=template.name)
        if template.pk:
            clash = clash.exclude(pk=template.pk)
        if clash.exists():
            message = _("该经销商已有名为“{name}”的模板，请换一个名称。").format(name=template.name)
            raise DomainError(message, fields={"name": [message]}, code="duplicate_name")
        template.headers = header
        template.kind = kind
        template.column_mapping = clean
        template.date_format = date_format
        template.unit_conversions = unit_conversions or template.unit_conversions or {}
        template.save()
    return template


def _sha256(fileobj: IO[bytes]) -> str:
    fileobj.seek(0)
    digest = hashlib.sha256()
    for chunk in iter(lambda: fileobj.read(1024 * 1024), b""):
        digest.update(chunk)
    fileobj.seek(0)
    return digest.hexdigest()


class _Rows:
    """Checks, matches and (when writing) inserts the rows of one file, batch by batch."""

    def __init__(
        self,
        *,
        result: FlowImportResult,
        distributor: ChannelPartner,
        columns: dict[str, int],
        template_units: dict[str, str],
        date_format: str,
        period: dt.date | None,
        kind: str = SALES,
    ):
        self.result = result
        self.report = result.report
        self.kind = kind
        self.distributor = distributor
        self.columns = columns
        self.width = max(columns.values()) + 1  # a row this long has every mapped cell
        self.key_codes = sorted(columns)  # the cells a row's key is made of, in a fixed order
        self.labels = {code: result.mapping[code] for code in columns}
        self.date_format = date_format
        self.case_packs = {normalise_unit(k): parse_decimal(str(v)) for k, v in template_units.items()}
        self.period = period
        # an inventory file names no customers: no institution list to load
        self.customers = CustomerMatcher(distributor) if kind == SALES else None
        self.products = ProductMatcher(distributor)
        self.standard_units = dict(Sku.objects.values_list("pk", "standard_units"))
        self.sku_codes = dict(Sku.objects.values_list("pk", "code"))
        self.keys = RepeatedKeys()  # row hashes, to find duplicated rows after the last one
        self.skipped = False  # a row was not written: its key was already in the month
        # inventory: identity (all cells but quantity and unit) → its first row, in bounded memory
        self.identities = SeenKeys()
        self.identity_codes = [code for code in self.key_codes if code not in ("quantity", "unit")]
        self.code_to_sku: dict[str, tuple[int, int]] = {}  # product code → (sku, first row)
        # rows as column → value dicts: building model instances cost more than matching them
        self.records: list[dict[str, Any]] = []
        self.inventory: list[dict[str, Any]] = []
        self.file: FlowFile | None = None
        self.counts = {"records": 0, "inventory": 0, "unmatched_customers": 0, "unmatched_products": 0}
        self.error_rows = 0

    def cell(self, cells: list[str], code: str) -> str:
        index = self.columns.get(code)
        if index is None or index >= len(cells):
            return ""
        return cells[index]

    def error(self, number: int, code: str, value: str, reason: str) -> None:
        self.report.add(
            Issue(row=number, column=self.labels.get(code, ""), value=preview(value), reason=reason)
        )

    def raw(self, cells: list[str]) -> dict[str, str]:
        """The row's mapped cells by code ("" for a cell past the end of a short row)."""
        if len(cells) >= self.width:
            return {code: cells[index] for code, index in self.columns.items()}
        return {code: self.cell(cells, code) for code in self.columns}

    def check_day(self, number: int, code: str, text: str) -> dt.date | None:
        """The row's date, which must fall in the file's month (the first date read sets it when unnamed)."""
        day = parse_date(text, self.date_format)
        if day is None:
            self.error(
                number, code, text, _("不是有效日期（可用：2026-01-05、2026/1/5、20260105、2026年1月5日）")
            )
            return None
        if self.period is None:
            self.period = month_start(day)
        if month_start(day) != self.period:
            self.error(
                number, code, text, _("日期不在期间 {period} 内").format(period=f"{self.period:%Y-%m}")
            )
        return day

    def row(self, number: int, cells: list[str]) -> bool:
        if self.kind == INVENTORY:
            return self.inventory_row(number, cells)
        errors_before = self.report.error_count
        raw = self.raw(cells)
        kind = parse_kind(raw.get("kind", ""))
        if kind is None:
            self.error(number, "kind", raw["kind"], _("无法识别的业务类型（可用：纯销、调拨、退货、库存）"))
        day = self.check_day(number, "sale_date", raw.get("sale_date", ""))
        quantity = parse_decimal(raw.get("quantity", ""))
        if quantity is None:
            self.error(number, "quantity", raw.get("quantity", ""), _("数量必须是数字"))
        elif quantity < 0 and kind not in ("return", None):
            self.error(number, "quantity", raw["quantity"], _("数量为负数，但业务类型不是退货"))
        unit_price = parse_decimal(raw["unit_price"]) if raw.get("unit_price") else None
        if raw.get("unit_price") and unit_price is None:
            self.error(number, "unit_price", raw["unit_price"], _("单价必须是数字"))
        amount = parse_decimal(raw["amount"]) if raw.get("amount") else None
        if raw.get("amount") and amount is None:
            self.error(number, "amount", raw["amount"], _("金额必须是数字"))
        unit = self.check_unit(number, raw)
        customer_code, customer_name = raw.get("customer_code", ""), raw.get("customer_name", "")
        product_code, product_name = raw.get("product_code", ""), raw.get("product_name", "")
        spec = raw.get("spec", "")
        if kind != "inventory" and not (customer_code or customer_name):
            self.error(number, "customer_name", "", _("客户编码和客户名称都为空"))
        if not (product_code or product_name):
            self.error(number, "product_name", "", _("产品编码和产品名称都为空"))
        key = row_key(tuple(raw[code] for code in self.key_codes))
        product = self.match_product(number, product_code, product_name, spec)
        refused = self.report.error_count > errors_before
        self.keys.add(int(key[:16], 16), number, flagged=refused)
        if refused:
            self.error_rows += 1
            return False
        if self.report.error_count:
            return True  # checking only from here on: nothing will be written
        assert day is not None and quantity is not None and self.period is not None and kind is not None
        packs, pending_unit = self.packs(quantity, unit, product.target_id)
        sku_id = product.target_id
        standard = packs * self.standard_units[sku_id] if sku_id and not pending_unit else None
        if kind == "inventory":
            self.add_inventory(number, key, day, raw, packs, pending_unit, sku_id)
            return True
        if kind == "return" and packs > 0:
            packs, standard = -packs, (-standard if standard is not None else None)
            quantity = -quantity
        if amount is None and unit_price is not None:
            amount = (unit_price * quantity).quantize(Decimal("0.01"))
        if unit_price is not None and packs and packs != quantity:
            unit_price = (unit_price * quantity / packs).quantize(
                Decimal("0.0001")
            )  # the price is per row unit
        assert self.customers is not None
        customer = self.customers.match(customer_code, customer_name)
        self.records.append(
            {
                "distributor_id": self.distributor.pk,
                "period": self.period,
                "row_no": number,
                "row_key": key,
                "sale_date": day,
                "kind": kind,
                "customer_code": customer_code[:64],
                "customer_name": customer_name[:200],
                "upstream_name": raw.get("upstream", "")[:200],
                "institution_id": customer.target_id,
                "customer_match": customer.method,
                "customer_confidence": customer.confidence,
                "product_code": product_code[:64],
                "product_name": product_name[:200],
                "product_spec": spec[:100],
                "sku_id": sku_id,
                "product_match": product.method,
                "product_confidence": product.confidence,
                "unit": pending_unit or "盒",
                "quantity": packs,
                "standard_quantity": standard,
                "unit_price": unit_price,
                "amount": amount.quantize(Decimal("0.01")) if amount is not None else None,
                "batch_no": raw.get("batch", "")[:64],
            }
        )
        self.counts["records"] += 1
        if customer.target_id is None:
            self.counts["unmatched_customers"] += 1
        if sku_id is None:
            self.counts["unmatched_products"] += 1
        return True

    def check_unit(self, number: int, raw: dict[str, str]) -> str:
        unit = normalise_unit(raw.get("unit", ""))
        if unit not in PACK_UNITS and unit not in STANDARD_UNITS and unit not in self.case_packs:
            reason = (
                _("单位“箱”需要在模板中设置每箱盒数")
                if unit in CASE_UNITS
                else _("无法识别的单位（可用：盒、箱、片等）")
            )
            self.error(number, "unit", unit, reason)
        return unit

    def match_product(self, number: int, product_code: str, product_name: str, spec: str) -> Any:
        """The row's SKU match; a code that maps to two SKUs (here or against an earlier row) is an error."""
        product = self.products.match(product_code, product_name, spec)
        if product.ambiguous:
            codes = "、".join(self.sku_codes.get(pk, str(pk)) for pk in product.ambiguous)
            self.error(
                number,
                "product_code",
                product_code,
                _("产品编码对应两个品规（{codes}）").format(codes=codes),
            )
        elif product_code and product.target_id:
            first = self.code_to_sku.setdefault(product_code, (product.target_id, number))
            if first[0] != product.target_id:
                self.error(
                    number,
                    "product_code",
                    product_code,
                    _("产品编码对应两个品规（{a}，第 {row} 行；{b}，本行）").format(
                        a=self.sku_codes.get(first[0]), row=first[1], b=self.sku_codes.get(product.target_id)
                    ),
                )
        return product

    def packs(self, quantity: Decimal, unit: str, sku_id: int | None) -> tuple[Decimal, str]:
        """The quantity in packs, and the unit still to convert (tablets of an unmatched product)."""
        if unit in self.case_packs:
            return quantity * (self.case_packs[unit] or Decimal(1)), ""
        if unit in STANDARD_UNITS:
            per_pack = self.standard_units.get(sku_id) if sku_id else None
            if per_pack:
                return quantity / per_pack, ""
            return quantity, unit  # converted when the SKU is mapped in the unmatched queue
        return quantity, ""

    def inventory_row(self, number: int, cells: list[str]) -> bool:
        """One row of an inventory file: product, batch, warehouse, quantity in stock, stock date."""
        errors_before = self.report.error_count
        raw = self.raw(cells)
        day: dt.date | None
        if "as_of" in self.columns:
            day = self.check_day(number, "as_of", raw["as_of"])
        else:  # no date column: stock at the end of the month the user named
            assert self.period is not None
            day = month_end(self.period)
        quantity = parse_decimal(raw.get("quantity", ""))
        if quantity is None:
            self.error(number, "quantity", raw.get("quantity", ""), _("数量必须是数字"))
        elif quantity < 0:
            self.error(number, "quantity", raw["quantity"], _("库存数量不能为负数"))
        unit = self.check_unit(number, raw)
        product_code, product_name = raw.get("product_code", ""), raw.get("product_name", "")
        spec = raw.get("spec", "")
        if not (product_code or product_name):
            self.error(number, "product_name", "", _("产品编码和产品名称都为空"))
        key = row_key(("inventory", *(raw[code] for code in self.key_codes)))
        # The same product, batch, warehouse and date twice is one stock counted twice, whatever
        # the quantities say.
        first = self.identities.add(row_key(tuple(raw[code] for code in self.identity_codes)), number)
        if first is not None:
            self.error(
                number,
                "",
                "",
                _("重复行：与第 {row} 行的产品、规格、批号、仓库和日期相同").format(row=first),
            )
        product = self.match_product(number, product_code, product_name, spec)
        if product_code and not product_name and product.target_id is None and not product.ambiguous:
            self.error(
                number,
                "product_code",
                product_code,
                _("未知的产品编码，且没有产品名称：无法匹配，也无法在未匹配队列中识别"),
            )
        if self.report.error_count > errors_before:
            self.error_rows += 1
            return False
        if self.report.error_count:
            return True  # checking only from here on: nothing will be written
        assert day is not None and quantity is not None
        packs, pending_unit = self.packs(quantity, unit, product.target_id)
        self.add_inventory(number, key, day, raw, packs, pending_unit, product.target_id)
        return True

    def add_inventory(
        self,
        number: int,
        key: str,
        day: dt.date,
        raw: dict[str, str],
        packs: Decimal,
        pending_unit: str,
        sku_id: int | None,
    ) -> None:
        self.inventory.append(
            {
                "distributor_id": self.distributor.pk,
                "period": self.period,
                "row_no": number,
                "row_key": key,
                "as_of": day,
                "product_code": raw.get("product_code", "")[:64],
                "product_name": raw.get("product_name", "")[:200],
                "product_spec": raw.get("spec", "")[:100],
                "sku_id": sku_id,
                "quantity": packs,
                "unit": pending_unit,
                "batch_no": raw.get("batch", "")[:64],
                "warehouse": raw.get("warehouse", "")[:100],
            }
        )
        self.counts["inventory"] += 1
        if sku_id is None:
            self.counts["unmatched_products"] += 1

    def flush(self) -> None:
        if self.file is not None and not self.report.error_count and not self.skipped:
            written = _insert(FlowRecord, self.records, file_id=self.file.pk)
            written += _insert(InventoryRecord, self.inventory, file_id=self.file.pk)
            # Most likely a row repeating an earlier one of the file: stop writing, and let
            # report_repeats name it once the whole file has been read.
            self.skipped = written < len(self.records) + len(self.inventory)
        self.records = []
        self.inventory = []

    def report_repeats(self) -> None:
        """Refuse the rows that repeat an earlier row of the file (known only after the last row)."""
        for repeat in self.keys.repeats():
            self.error(
                repeat.row,
                "",
                "",
                _("重复行：与本文件第 {row} 行内容完全相同").format(row=repeat.first_row),
            )
            if not repeat.flagged:
                self.error_rows += 1
        if self.skipped and not self.report.error_count:
            # not a repeat: someone else wrote rows of the same month meanwhile
            raise IntegrityError("flow_record_row_key")


def _insert(model: Any, rows: list[dict[str, Any]], *, file_id: int) -> int:
    """One executemany of plain values (dates and Decimals are adapted by the driver on both databases).

    A row whose key is already in the month is skipped, not an error (ON CONFLICT … DO NOTHING, on
    SQLite and PostgreSQL alike): the caller compares the count written with the rows given. An
    error would need a savepoint per batch to keep the transaction usable on PostgreSQL, and on
    SQLite (temp_store=MEMORY) a savepoint's journal holds a copy of every page the batch
    touches, which grows with the table (measured at 10^6 rows: peak 229 MB instead of 174).
    """
    if not rows:
        return 0
    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    defaults = {f.attname: f.get_default() for f in fields}
    defaults["file_id"] = file_id
    values = operator.itemgetter(*(f.attname for f in fields))
    quote = connection.ops.quote_name
    # identifiers come from the model's own metadata, values are parameters
    sql = "INSERT INTO {} ({}) VALUES ({}) ON CONFLICT ({}) DO NOTHING".format(  # noqa: S608
        quote(model._meta.db_table),
        ", ".join(quote(f.column) for f in fields),
        ", ".join(["%s"] * len(fields)),
        ", ".join(quote(model._meta.get_field(name).column) for name in ("distributor", "period", "row_key")),
    )
    params = [values(defaults | row) for row in rows]  # in C: a third of the time of a genexpr per row
    with connection.cursor() as cursor:
        cursor.executemany(sql, params)
        return int(cursor.rowcount)


def import_flow_file(
    *,
    actor: Any,
    distributor_code: str,
    fileobj: IO[bytes],
    name: str,
    dry_run: bool = True,
    period: dt.date | None = None,
    mapping: dict[str, str] | None = None,
    received_on: dt.date | None = None,
    source: str = Source.UI,
    on_progress: ProgressCallback | None = None,
    kind: str = AUTO,
) -> FlowImportResult:
    """Check (and unless `dry_run`, import) one flow file. Bad input never raises: see the result's report.

    `kind` is sales (流向), inventory (库存) or auto: the distributor's template for this header
    decides, else the headers do (`parsing.detect_kind`).
    """
    started = time.perf_counter()
    report = Report(kind="flow", dry_run=dry_run, partial=False)
    result = FlowImportResult(report=report, period=period)
    if unknown_kind := _unknown_kind(kind):
        report.file_error(unknown_kind)
        return _finish(result, started)
    # actor None: an operator at the shell (`pharmacrm import flow` without --user), trusted like manage.py
    if actor is not None and not may_import(actor):
        report.file_error(_("您的角色不能导入流向数据。"))
        return _finish(result, started)
    distributor = _distributor_for(actor, distributor_code)
    if distributor is None:
        report.file_error(_("未知的经销商编码“{code}”。").format(code=distributor_code))
        return _finish(result, started)
    if period is not None and period.day != 1:
        period = month_start(period)
    if period is not None and (reason := _closed_reason(distributor, period)):
        report.file_error(reason)
        return _finish(result, started)
    sha = _sha256(fileobj)
    try:
        sheet = open_sheet(fileobj)
    except SpreadsheetError as exc:
        report.file_error(exc.message, row=exc.row)
        return _finish(result, started)
    report.format, report.encoding = sheet.format, sheet.encoding
    header = sheet.header
    result.header = header
    template = find_template(distributor, header)
    if template is not None and kind != AUTO and template.kind != kind:
        report.file_error(
            _("此表头已保存为“{template_kind}”模板“{name}”，与所选的文件类型“{kind}”不符。").format(
                template_kind=FlowFile.Kind(template.kind).label,
                name=template.name,
                kind=FlowFile.Kind(kind).label,
            ),
            row=1,
        )
        return _finish(result, started)
    file_kind = template.kind if template is not None else (kind if kind != AUTO else detect_kind(header))
    result.kind = file_kind
    if mapping:
        chosen = {code: mapping[code] for code in field_codes(file_kind) if mapping.get(code)}
    elif template is not None:
        chosen = dict(template.column_mapping)
    else:
        chosen = suggest_mapping(header, file_kind)
    result.template, result.mapping = template, chosen
    missing = missing_fields(chosen, file_kind)
    absent = [h for h in chosen.values() if h not in header]
    if missing or absent:
        if missing:
            labels = field_labels(file_kind)
            report.file_error(
                _(
                    "没有该经销商此表头的模板，且无法自动识别这些字段：{fields}。请先在“流向模板”中设置列映射。"
                ).format(fields="、".join(str(labels[m]) for m in missing)),
                row=1,
            )
        for h in absent:
            report.file_error(_("表头中没有模板所需的列“{h}”。").format(h=h), row=1)
        return _finish(result, started)
    if file_kind == INVENTORY and "as_of" not in chosen and period is None:
        report.file_error(
            _("库存文件没有库存日期列：请指定期间（库存按该月最后一天计），或在列映射中指定库存日期列。"),
            row=1,
        )
        return _finish(result, started)
    index = {h: i for i, h in enumerate(header)}
    columns = {code: index[h] for code, h in chosen.items()}
    rows = _Rows(
        result=result,
        distributor=distributor,
        columns=columns,
        template_units=(template.unit_conversions if template else {}),
        date_format=template.date_format if template else "",
        period=period,
        kind=file_kind,
    )
    writing = not dry_run
    with audit_context(source=source, actor=actor):
        try:
            with transaction.atomic() if writing else contextlib.nullcontext():
                batch = 0
                for number, cells in sheet.rows:
                    if not any(cells):
                        continue
                    report.rows += 1
                    rows.row(number, cells)
                    if rows.period is not None and result.period is None:
                        result.period = rows.period
                        if reason := _closed_reason(distributor, rows.period):
                            report.file_error(reason)
                            raise _Refused
                    if writing and rows.file is None and result.period is not None and not report.error_count:
                        same = _same_file(distributor, result.period, sha, kind=file_kind)
                        if same is not None:
                            result.file, result.outcome = same, "unchanged"
                            raise _Refused
                        rows.file = _start_file(
                            result=result,
                            actor=actor,
                            distributor=distributor,
                            name=name,
                            sha=sha,
                            template=template,
                            received_on=received_on,
                        )
                    batch += 1
                    if batch >= BATCH_ROWS:
                        rows.flush()
                        batch = 0
                        if on_progress is not None:
                            on_progress(report.rows, sheet.progress())
                rows.flush()
                rows.report_repeats()
                report.error_rows = rows.error_rows
                if not report.rows:
                    report.file_error(_("文件只有表头，没有数据行。"))
                if writing and not report.ok:
                    raise _Refused
                if not writing and report.ok and result.period is not None:
                    same = _same_file(distributor, result.period, sha, kind=file_kind)
                    if same is not None:
                        result.file, result.outcome = same, "unchanged"
                if writing and rows.file is not None:
                    _complete_file(result, rows, template=template, actor=actor, header=header)
        except _Refused:
            pass
        except SpreadsheetError as exc:
            report.file_error(exc.message, row=exc.row)
        except IntegrityError as exc:  # a concurrent import of the same month slipped in
            report.file_error(
                _("写入时与数据库中的记录冲突（可能有人同时导入了同一月份），请重试：{e}").format(e=exc)
            )
    report.error_rows = rows.error_rows or report.error_rows
    result.details.update(rows.counts)
    if result.outcome == "unchanged":
        report.unchanged = report.rows
        report.status = "ok"
    elif not report.ok:
        result.outcome = "refused"
        result.file = None
    elif dry_run:
        result.outcome = "checked"
        report.created = rows.counts["records"] + rows.counts["inventory"]
    return _finish(result, started)


def _finish(result: FlowImportResult, started: float) -> FlowImportResult:
    report = result.report
    if not report.ok:
        report.status = "refused"
        result.outcome = "refused"
    report.written = result.outcome in ("imported", "replaced")
    report.seconds = round(time.perf_counter() - started, 3)
    return result


def _closed_reason(distributor: ChannelPartner, period: dt.date) -> str:
    closed = (
        FlowPeriodClose.objects.filter(distributor=distributor, period=period)
        .select_related("closed_by")
        .first()
    )
    if closed is None:
        return ""
    return _("{code} 的 {period} 期间已于 {day} 由 {who} 关账，不能再导入流向文件。{reason}").format(
        code=distributor.code,
        period=f"{period:%Y-%m}",
        day=timezone.localtime(closed.closed_at).date().isoformat(),
        who=closed.closed_by.display_name or closed.closed_by.username,
        reason=closed.reason,
    )


def _same_file(distributor: ChannelPartner, period: dt.date, sha: str, *, kind: str) -> FlowFile | None:
    return FlowFile.objects.filter(
        distributor=distributor,
        period=period,
        kind=kind,
        status=FlowFile.Status.IMPORTED,
        sha256=sha,
    ).first()


def _start_file(
    *,
    result: FlowImportResult,
    actor: Any,
    distributor: ChannelPartner,
    name: str,
    sha: str,
    template: FlowTemplate | None,
    received_on: dt.date | None,
) -> FlowFile:
    """Retire the month's current file of this kind (its rows go) and open the new one, in the import's transaction."""
    assert result.period is not None
    old = (
        FlowFile.objects.select_for_update()
        .filter(
            distributor=distributor,
            period=result.period,
            kind=result.kind,
            status=FlowFile.Status.IMPORTED,
        )
        .first()
    )
    if old is not None:
        removed = FlowRecord.objects.filter(file=old).delete()[0]
        removed += InventoryRecord.objects.filter(file=old).delete()[0]
        old.status = FlowFile.Status.REPLACED
        old.save(update_fields=["status"])
        result.details["replaced_file_id"] = old.pk
        result.details["removed_records"] = removed
    return FlowFile.objects.create(
        distributor=distributor,
        period=result.period,
        kind=result.kind,
        original_name=name[:255],
        sha256=sha,
        template=template,
        uploaded_by=actor,
        received_on=received_on or timezone.localdate(),
        status=FlowFile.Status.IMPORTED,
    )


def _complete_file(
    result: FlowImportResult, rows: _Rows, *, template: FlowTemplate | None, actor: Any, header: list[str]
) -> None:
    from pharmacrm.flow.attribution import attribute_file

    file = rows.file
    assert file is not None
    if template is None:
        # First file of this layout: remember the mapping so the next file is recognised.
        template = save_template(
            actor=actor, distributor=rows.distributor, header=header, mapping=result.mapping, kind=result.kind
        )
        result.template = template
    if result.kind == SALES:  # stock has no customer: nothing to attribute
        attribution = attribute_file(file_id=file.pk)
        result.details["attribution"] = attribution.as_dict()
    file.template = template
    file.row_count = rows.counts["records"]
    file.inventory_count = rows.counts["inventory"]
    file.unmatched_customer_count = rows.counts["unmatched_customers"]
    file.unmatched_product_count = rows.counts["unmatched_products"]
    if "replaced_file_id" in result.details:
        old = FlowFile.objects.get(pk=result.details["replaced_file_id"])
        old.replaced_by = file
        old.save(update_fields=["replaced_by"])
        result.outcome = "replaced"
    else:
        result.outcome = "imported"
    result.report.created = rows.counts["records"] + rows.counts["inventory"]
    result.report.written = True
    result.details.update(rows.counts)
    file.report = {
        "headline": result.headline(),
        "details": result.details,
        "report": result.report.to_dict(),
    }
    file.save()
    result.file = file


# --- As a background job ------------------------------------------------------------------------------


@register
class FlowFileJob(ImportKind):
    """Flow files as import jobs (core.imports.jobs): the page and the API queue them, `pharmacrm
    worker` runs `import_flow_file` with live progress; check first, then import once confirmed.

    Not offered on the generic 导入 page (a flow file needs a distributor): it has its own pages.
    """

    name = "flow"
    label = gettext_lazy("流向文件")
    model = FlowFile
    columns: ClassVar[list[Column]] = []
    roles = IMPORT_ROLES
    listed = False
    job_url_name = "flow:job_detail"

    @classmethod
    def clean_params(cls, params: dict[str, Any], *, actor: Any) -> dict[str, Any]:
        """distributor (its code, visible to the actor), period (YYYY-MM, optional), kind, source."""
        unknown = sorted(set(params) - {"distributor", "period", "kind", "source"})
        if unknown:
            message = _("流向文件不接受参数：{names}").format(names="、".join(unknown))
            raise DomainError(message, code="unexpected_params")
        code = str(params.get("distributor") or "").strip()
        distributor = _distributor_for(actor, code) if code else None
        if distributor is None:
            message = _("未知的经销商编码“{code}”。").format(code=code) if code else _("请指定经销商。")
            raise DomainError(message, fields={"distributor": [message]}, code="unknown_distributor")
        period = _clean_period(params.get("period"))
        if period is not None and (reason := _closed_reason(distributor, period)):
            raise DomainError(reason, fields={"period": [reason]}, code="period_closed")
        kind = str(params.get("kind") or AUTO)
        if refusal := _unknown_kind(kind):
            raise DomainError(refusal, fields={"kind": [refusal]}, code="unknown_kind")
        source = str(params.get("source") or Source.IMPORT)
        if source not in Source.values:
            source = Source.IMPORT
        return {
            "distributor": distributor.code,
            "period": period.isoformat() if period else "",
            "kind": kind,
            "source": source,
        }

    @classmethod
    def run(
        cls,
        fileobj: IO[bytes],
        *,
        actor: Any,
        dry_run: bool,
        partial: bool,
        params: dict[str, Any],
        name: str = "",
        on_progress: ProgressCallback | None = None,
    ) -> tuple[Report, dict[str, Any]]:
        result = import_flow_file(
            actor=actor,
            distributor_code=params["distributor"],
            fileobj=fileobj,
            name=name or "upload",
            dry_run=dry_run,
            period=dt.date.fromisoformat(params["period"]) if params.get("period") else None,
            source=params.get("source") or Source.IMPORT,
            on_progress=on_progress,
            kind=params.get("kind") or AUTO,
        )
        return result.report, result.as_dict()


def _clean_period(value: Any) -> dt.date | None:
    if not value:
        return None
    if isinstance(value, dt.date):
        return month_start(value)
    text = str(value)
    try:
        return month_start(dt.date.fromisoformat(text))
    except ValueError:
        month = parse_period(text)
    if month is None:
        message = _("期间格式应为 YYYY-MM：{value}").format(value=text)
        raise DomainError(message, fields={"period": [message]}, code="bad_period")
    return month


def flow_job_for(user: Any, pk: int) -> ImportJob:
    """The user's flow job (or one a company-wide importer may see); anything else is a 404."""
    from django.http import Http404

    from pharmacrm.core.imports.jobs import job_for

    job = job_for(user, pk)
    if job.kind != FlowFileJob.name:
        raise Http404
    return job


def flow_job_kind(job: ImportJob) -> str:
    """The job's file kind: as its check found it, else as asked for (auto when neither says)."""
    return (job.result or {}).get("kind") or job.params.get("kind") or AUTO


def flow_job_checked(job: ImportJob) -> bool:
    """Its check passed: the file may be imported as it is."""
    return (job.result or {}).get("outcome") == "checked"


def confirm_checked_flow_job(*, actor: Any, job: ImportJob) -> ImportJob:
    """Import a checked flow file in the background (core.imports.jobs.confirm_import's other checks apply)."""
    from pharmacrm.core.imports.jobs import confirm_import

    if not flow_job_checked(job):
        raise DomainError(_("只有检查通过的文件可以导入。"), code="not_confirmable")
    return confirm_import(actor=actor, job_id=job.pk)


def queue_flow_file(
    *,
    actor: Any,
    upload: UploadedFile,
    distributor_code: str,
    period: dt.date | str | None = None,
    kind: str = AUTO,
    dry_run: bool = True,
    source: str = Source.UI,
) -> ImportJob:
    """Store an uploaded flow file as an import job and queue its check (or, with dry_run=False, its import).

    Refused before anything is stored when the user may not import flow, or the distributor, the
    period or the kind is wrong.
    """
    from pharmacrm.core.imports.jobs import start_import

    return start_import(
        actor=actor,
        kind=FlowFileJob.name,
        upload=upload,
        dry_run=dry_run,
        params={"distributor": distributor_code, "period": period or "", "kind": kind, "source": source},
    )
