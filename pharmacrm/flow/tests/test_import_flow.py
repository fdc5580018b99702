"""Importing a flow file: templates, normalisation, matching, dry run, idempotent reload and replacement."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest

from pharmacrm.flow.importing import import_flow_file, save_template
from pharmacrm.flow.models import FlowFile, FlowRecord, FlowTemplate, InventoryRecord, MatchMethod
from pharmacrm.flow.tests.conftest import GOOD_ROWS, HEADER, FlowWorld, csv_file

pytestmark = pytest.mark.django_db


def _import(world: FlowWorld, f: Any, **kwargs: Any) -> Any:
    kwargs.setdefault("dry_run", False)
    return import_flow_file(actor=world.user, distributor_code="GK01", fileobj=f, name="jan.csv", **kwargs)


def _template(world: FlowWorld) -> FlowTemplate:
    return save_template(
        actor=world.user,
        distributor=world.distributor,
        header=HEADER.split(","),
        mapping={
            "sale_date": "销售日期",
            "customer_code": "客户编码",
            "customer_name": "客户名称",
            "product_code": "产品编码",
            "product_name": "产品名称",
            "spec": "规格",
            "quantity": "数量",
            "unit": "单位",
            "unit_price": "单价",
            "amount": "金额",
            "batch": "批号",
            "kind": "业务类型",
        },
        unit_conversions={"箱": "20"},
    )


def test_import_normalises_matches_and_records_the_file(world: FlowWorld) -> None:
    template = _template(world)
    result = _import(world, csv_file(*GOOD_ROWS, encoding="gbk"))
    assert result.outcome == "imported", list(result.lines())
    assert result.template == template
    file = FlowFile.objects.get()
    assert (file.period, file.status, file.row_count, file.template) == (
        dt.date(2026, 1, 1),
        FlowFile.Status.IMPORTED,
        4,
        template,
    )
    rows = {r.row_no: r for r in FlowRecord.objects.all()}
    first = rows[2]
    assert (first.institution, first.customer_match, first.sku, first.product_match) == (
        world.union,
        MatchMethod.CODE,
        world.sku,
        MatchMethod.CODE,
    )
    assert (first.quantity, first.standard_quantity, first.amount) == (
        Decimal(10),
        Decimal(140),
        Decimal("255.00"),
    )
    # 2 cases × 20 packs, name matched exactly, product by name + spec
    second = rows[3]
    assert (second.sale_date, second.quantity, second.institution, second.sku) == (
        dt.date(2026, 1, 6),
        Decimal(40),
        world.peking,
        world.sku,
    )
    assert second.customer_match == MatchMethod.FUZZY and second.customer_confidence == Decimal(100)
    assert (second.amount, second.unit_price) == (Decimal("1020.00"), Decimal("25.5"))
    # 70 tablets of a 7-tablet pack = 10 packs; 协和（东院） scores below the threshold: a campus is
    # for a person to confirm in the unmatched queue
    third = rows[4]
    assert (third.quantity, third.standard_quantity, third.sku) == (Decimal(10), Decimal(70), world.sku2)
    assert third.institution is None and third.customer_match == ""
    assert result.details["unmatched_customers"] == 1
    returned = rows[5]
    assert (returned.kind, returned.quantity) == (FlowRecord.Kind.RETURN, Decimal(-1))
    assert file.history.count() >= 1


def test_dry_run_checks_and_writes_nothing(world: FlowWorld) -> None:
    _template(world)
    result = _import(world, csv_file(*GOOD_ROWS), dry_run=True)
    assert result.outcome == "checked"
    assert result.details["records"] == 4
    assert not FlowFile.objects.exists() and not FlowRecord.objects.exists()


def test_first_file_without_template_is_mapped_by_known_headers_and_remembered(world: FlowWorld) -> None:
    f = csv_file("2026-01-05,北京协和医院,诺欣妥,100mg*14片,3", header="单据日期,购货单位,商品名称,规格,数量")
    result = _import(world, f)
    assert result.outcome == "imported", list(result.lines())
    template = FlowTemplate.objects.get(distributor=world.distributor)
    assert template.column_mapping["customer_name"] == "购货单位"
    again = _import(
        world,
        csv_file(
            "2026-02-05,北京协和医院,诺欣妥,100mg*14片,3", header="单据日期,购货单位,商品名称,规格,数量"
        ),
    )
    assert again.template == template


def test_unknown_layout_is_refused_with_the_missing_fields(world: FlowWorld) -> None:
    result = _import(world, csv_file("2026-01-05,x,3", header="日子,谁,多少"))
    assert result.outcome == "refused"
    assert "销售日期" in result.report.errors[0].reason and "流向模板" in result.report.errors[0].reason
    assert not FlowFile.objects.exists()


def test_same_file_twice_changes_nothing(world: FlowWorld) -> None:
    _template(world)
    assert _import(world, csv_file(*GOOD_ROWS)).outcome == "imported"
    ids = list(FlowRecord.objects.order_by("pk").values_list("pk", flat=True))
    again = _import(world, csv_file(*GOOD_ROWS))
    assert again.outcome == "unchanged"
    assert "未做任何更改" in again.headline()
    assert list(FlowRecord.objects.order_by("pk").values_list("pk", flat=True)) == ids
    assert FlowFile.objects.count() == 1
    assert _import(world, csv_file(*GOOD_ROWS), dry_run=True).outcome == "unchanged"


def test_corrected_file_replaces_the_month(world: FlowWorld) -> None:
    _template(world)
    first = _import(world, csv_file(*GOOD_ROWS)).file
    corrected = _import(
        world,
        csv_file(
            GOOD_ROWS[0], "2026-01-09,H002,北京大学第一医院,NXT100,诺欣妥,100mg*14片,5,盒,25.5,,B9,纯销"
        ),
    )
    assert corrected.outcome == "replaced"
    first.refresh_from_db()
    assert first.status == FlowFile.Status.REPLACED and first.replaced_by == corrected.file
    assert set(FlowRecord.objects.values_list("file_id", flat=True)) == {corrected.file.pk}
    assert FlowRecord.objects.count() == 2
    assert corrected.details["removed_records"] == 4
    assert first.history.filter(status=FlowFile.Status.REPLACED).exists()


def test_inventory_rows_go_to_inventory_records(world: FlowWorld) -> None:
    _template(world)
    result = _import(world, csv_file(GOOD_ROWS[0], "2026-01-31,,,NXT100,诺欣妥,100mg*14片,300,盒,,,B1,库存"))
    assert result.outcome == "imported", list(result.lines())
    inventory = InventoryRecord.objects.get()
    assert (inventory.sku, inventory.quantity, inventory.as_of) == (
        world.sku,
        Decimal(300),
        dt.date(2026, 1, 31),
    )
    assert FlowRecord.objects.count() == 1


def test_unmatched_rows_are_kept_for_the_queue(world: FlowWorld) -> None:
    _template(world)
    result = _import(world, csv_file("2026-01-05,,某某县卫生院,,神秘药,1支,3,盒,,,,纯销"))
    assert result.outcome == "imported"
    record = FlowRecord.objects.get()
    assert record.institution is None and record.sku is None and record.customer_match == ""
    assert result.details["unmatched_customers"] == 1 and result.file.unmatched_product_count == 1


def test_fuzzy_name_match_above_the_threshold_stores_method_and_confidence(world: FlowWorld) -> None:
    _template(world)
    result = _import(world, csv_file("2026-01-05,,北京市 协和医院,,诺欣妥片,100mg×14片,3,盒,,,,纯销"))
    assert result.outcome == "imported"
    record = FlowRecord.objects.get()
    assert (record.institution, record.customer_match) == (world.union, MatchMethod.FUZZY)
    assert Decimal(88) <= record.customer_confidence < Decimal(100)
    assert (record.sku, record.product_match) == (world.sku, MatchMethod.FUZZY)


def test_matching_order_code_before_alias_before_name(world: FlowWorld) -> None:
    from pharmacrm.flow.models import CustomerAlias

    _template(world)
    # the alias points elsewhere than the name; the code wins over both, the alias over the name
    CustomerAlias.objects.create(distributor=world.distributor, text="北京协和医院", institution=world.peking)
    _import(
        world,
        csv_file(
            "2026-01-05,H001,北京协和医院,NXT100,诺欣妥,100mg*14片,1,盒,,,,纯销",
            "2026-01-05,,北京协和医院,NXT100,诺欣妥,100mg*14片,2,盒,,,,纯销",
        ),
    )
    by_code, by_alias = FlowRecord.objects.order_by("row_no")
    assert (by_code.institution, by_code.customer_match) == (world.union, MatchMethod.CODE)
    assert (by_alias.institution, by_alias.customer_match) == (world.peking, MatchMethod.ALIAS)


def test_xlsx_with_real_date_cells_and_serial_numbers(world: FlowWorld) -> None:
    import io

    from openpyxl import Workbook

    _template(world)
    book = Workbook()
    sheet: Any = book.active
    sheet.append(HEADER.split(","))
    sheet.append(
        [
            dt.datetime(2026, 1, 5),
            "H001",
            "北京协和医院",
            "NXT100",
            "诺欣妥",
            "100mg*14片",
            10,
            "盒",
            25.5,
            255,
            "B1",
            "纯销",
        ]
    )
    sheet.append(
        [
            46028,
            "H002",
            "北京大学第一医院",
            "NXT100",
            "诺欣妥",
            "100mg*14片",
            3,
            "盒",
            25.5,
            None,
            "B1",
            "纯销",
        ]
    )
    out = io.BytesIO()
    book.save(out)
    result = _import(world, out)
    assert result.outcome == "imported", list(result.lines())
    assert sorted(FlowRecord.objects.values_list("sale_date", flat=True)) == [
        dt.date(2026, 1, 5),
        dt.date(2026, 1, 6),
    ]
    assert result.report.format == "xlsx"


def test_two_layouts_saved_the_same_day_get_distinct_names_and_a_named_clash_is_refused(
    world: FlowWorld,
) -> None:
    from pharmacrm.core.errors import DomainError

    first = _template(world)
    other_header = [*HEADER.split(","), "备注"]
    second = save_template(
        actor=world.user,
        distributor=world.distributor,
        header=other_header,
        mapping=dict(first.column_mapping),
    )
    assert first.name != second.name
    with pytest.raises(DomainError, match="已有名为"):
        save_template(
            actor=world.user,
            distributor=world.distributor,
            header=other_header,
            mapping=dict(first.column_mapping),
            name=first.name,
        )
    second.refresh_from_db()
    assert FlowTemplate.objects.filter(distributor=world.distributor).count() == 2
    assert second.name != first.name
