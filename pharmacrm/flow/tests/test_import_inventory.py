"""Importing a separate inventory (库存) file: detection, matching, units, checks, idempotency, replacement, queue."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest

from pharmacrm.flow import services
from pharmacrm.flow.importing import import_flow_file
from pharmacrm.flow.models import (
    FlowFile,
    FlowRecord,
    FlowTemplate,
    InventoryRecord,
    ProductAlias,
)
from pharmacrm.flow.parsing import detect_kind
from pharmacrm.flow.tests.conftest import GOOD_ROWS, HEADER, FlowWorld, csv_file
from pharmacrm.flow.tests.test_import_flow import _template

pytestmark = pytest.mark.django_db

STOCK_HEADER = "商品编码,商品名称,规格,批号,库存数量,单位,库存日期,仓库"
STOCK_ROWS = (
    "NXT100,诺欣妥,100mg*14片,B1,120,盒,2026-01-31,北京一号库",
    ",立普妥,20mg*7片,B2,700,片,2026-01-31,北京一号库",  # 700 tablets of a 7-tablet pack: 100 packs
    ",诺欣妥,100mg*14片,B1,30,盒,2026-01-31,天津库",  # same batch, other warehouse: not a duplicate
    ",某某新药胶囊,10粒,X9,50,粒,2026-01-31,北京一号库",  # not ours (yet): to the queue
)


def _stock(world: FlowWorld, *rows: str, header: str = STOCK_HEADER, **kwargs: Any) -> Any:
    kwargs.setdefault("dry_run", False)
    return import_flow_file(
        actor=world.user,
        distributor_code="GK01",
        fileobj=csv_file(*rows, header=header),
        name="库存202601.csv",
        **kwargs,
    )


def _counts() -> tuple[int, ...]:
    return (
        FlowFile.objects.count(),
        InventoryRecord.objects.count(),
        FlowRecord.objects.count(),
        FlowTemplate.objects.count(),
        FlowFile.history.count(),
    )


def test_the_kind_is_detected_from_the_headers() -> None:
    assert detect_kind(STOCK_HEADER.split(",")) == "inventory"
    assert detect_kind(["盘点日期", "品名", "规格", "数量"]) == "inventory"
    assert detect_kind(HEADER.split(",")) == "sales"
    # a sales file with a stock-like column still names its customers: sales
    assert detect_kind(["销售日期", "客户名称", "品名", "数量", "库存数量"]) == "sales"


def test_an_inventory_file_is_recognised_matched_normalised_and_recorded(world: FlowWorld) -> None:
    result = _stock(world, *STOCK_ROWS)
    assert result.outcome == "imported", list(result.lines())
    assert result.kind == "inventory"
    assert result.headline() == "已导入：2026-01，库存文件 4 行；产品未匹配 1 行。"
    file = FlowFile.objects.get()
    assert (file.kind, file.period, file.inventory_count, file.row_count, file.unmatched_product_count) == (
        FlowFile.Kind.INVENTORY,
        dt.date(2026, 1, 1),
        4,
        0,
        1,
    )
    template = FlowTemplate.objects.get()
    assert template.kind == "inventory" and template.column_mapping["quantity"] == "库存数量"
    assert template.column_mapping["warehouse"] == "仓库" and file.template == template
    rows = {r.row_no: r for r in InventoryRecord.objects.all()}
    assert (rows[2].sku, rows[2].quantity, rows[2].warehouse, rows[2].batch_no, rows[2].as_of) == (
        world.sku,
        Decimal(120),
        "北京一号库",
        "B1",
        dt.date(2026, 1, 31),
    )
    assert (rows[3].sku, rows[3].quantity, rows[3].unit) == (world.sku2, Decimal(100), "")
    assert (rows[4].sku, rows[4].warehouse) == (world.sku, "天津库")
    # unmatched and counted in capsules: keeps its unit until a person maps it
    assert (rows[5].sku, rows[5].quantity, rows[5].unit) == (None, Decimal(50), "粒")
    assert not FlowRecord.objects.exists()  # no sales, nothing to attribute
    assert file.history.count() >= 1


def test_the_same_inventory_file_twice_changes_nothing(world: FlowWorld) -> None:
    _stock(world, *STOCK_ROWS)
    before = (_counts(), list(InventoryRecord.objects.values_list("pk", "quantity")))
    again = _stock(world, *STOCK_ROWS)
    assert again.outcome == "unchanged" and "未做任何更改" in again.headline()
    assert (_counts(), list(InventoryRecord.objects.values_list("pk", "quantity"))) == before


def test_a_corrected_inventory_file_replaces_the_month_and_leaves_the_sales_file_alone(
    world: FlowWorld,
) -> None:
    _template(world)
    sales = import_flow_file(
        actor=world.user,
        distributor_code="GK01",
        fileobj=csv_file(*GOOD_ROWS),
        name="jan.csv",
        dry_run=False,
    )
    assert sales.outcome == "imported"
    first = _stock(world, *STOCK_ROWS)
    corrected = _stock(world, STOCK_ROWS[0].replace(",120,", ",125,"), STOCK_ROWS[1])
    assert corrected.outcome == "replaced", list(corrected.lines())
    old, new = FlowFile.objects.filter(kind=FlowFile.Kind.INVENTORY).order_by("pk")
    assert (old.pk, old.status, old.replaced_by) == (first.file.pk, FlowFile.Status.REPLACED, new)
    assert corrected.details["removed_records"] == 4
    assert sorted(InventoryRecord.objects.values_list("file_id", "quantity")) == [
        (new.pk, Decimal(100)),
        (new.pk, Decimal(125)),
    ]
    assert FlowFile.objects.get(kind=FlowFile.Kind.SALES).status == FlowFile.Status.IMPORTED
    assert FlowRecord.objects.count() == 4


def test_dry_run_checks_and_writes_nothing(world: FlowWorld) -> None:
    before = _counts()
    result = _stock(world, *STOCK_ROWS, dry_run=True)
    assert result.outcome == "checked" and result.details["inventory"] == 4
    assert _counts() == before


@pytest.mark.parametrize(
    ("row", "column", "value", "reason"),
    [
        ("NXT100,诺欣妥,100mg*14片,B7,-5,盒,2026-01-31,北京一号库", "库存数量", "-5", "库存数量不能为负数"),
        ("NXT100,诺欣妥,100mg*14片,B7,十二,盒,2026-01-31,北京一号库", "库存数量", "十二", "数量必须是数字"),
        (
            "NXT100,诺欣妥,100mg*14片,B7,5,盒,2026-02-01,北京一号库",
            "库存日期",
            "2026-02-01",
            "日期不在期间 2026-01 内",
        ),
        ("NXT100,诺欣妥,100mg*14片,B7,5,盒,上月底,北京一号库", "库存日期", "上月底", "不是有效日期"),
        (
            "NXT100,诺欣妥,100mg*14片,B1,99,盒,2026-01-31,北京一号库",
            "",
            "",
            "重复行：与第 2 行的产品、规格、批号、仓库和日期相同",
        ),
        ("ZZZ999,,,B7,5,盒,2026-01-31,北京一号库", "商品编码", "ZZZ999", "未知的产品编码，且没有产品名称"),
        (",,,B7,5,盒,2026-01-31,北京一号库", "商品名称", "", "产品编码和产品名称都为空"),
        ("NXT100,诺欣妥,100mg*14片,B7,5,打,2026-01-31,北京一号库", "单位", "打", "无法识别的单位"),
    ],
)
def test_a_bad_row_is_reported_and_nothing_is_written(
    world: FlowWorld, row: str, column: str, value: str, reason: str
) -> None:
    before = _counts()
    result = _stock(world, STOCK_ROWS[0], row)
    assert result.outcome == "refused" and result.headline() == "已拒绝：未写入任何数据。"
    error = result.report.errors[0]
    assert (error.row, error.column, error.value) == (3, column, value)
    assert reason in error.reason
    assert _counts() == before


def test_an_explicit_kind_that_contradicts_the_saved_template_is_refused(world: FlowWorld) -> None:
    _template(world)  # this header is the distributor's sales layout
    before = _counts()
    result = import_flow_file(
        actor=world.user,
        distributor_code="GK01",
        fileobj=csv_file(*GOOD_ROWS),
        name="jan.csv",
        dry_run=False,
        kind="inventory",
    )
    assert result.outcome == "refused"
    assert "已保存为“销售流向”模板" in result.report.errors[0].reason
    assert _counts() == before
    unknown = _stock(world, *STOCK_ROWS, kind="stock")
    assert "未知的文件类型“stock”" in unknown.report.errors[0].reason


def test_without_a_date_column_the_stock_is_dated_by_the_period(world: FlowWorld) -> None:
    header = "商品编码,商品名称,规格,结存数量,单位"
    refused = _stock(world, "NXT100,诺欣妥,100mg*14片,10,盒", header=header)
    assert refused.outcome == "refused" and "请指定期间" in refused.report.errors[0].reason
    result = _stock(world, "NXT100,诺欣妥,100mg*14片,10,盒", header=header, period=dt.date(2026, 2, 1))
    assert result.outcome == "imported", list(result.lines())
    assert InventoryRecord.objects.get().as_of == dt.date(2026, 2, 28)


def test_a_closed_month_refuses_its_inventory_file_too(world: FlowWorld) -> None:
    services.close_period(actor=world.user, distributor=world.distributor, period=dt.date(2026, 1, 1))
    before = _counts()
    result = _stock(world, *STOCK_ROWS)
    assert result.outcome == "refused" and "关账" in result.report.errors[0].reason
    assert _counts() == before


def test_unmatched_stock_joins_the_product_queue_and_mapping_converts_it(world: FlowWorld) -> None:
    from pharmacrm.commercial.tests.factories import ProductFactory
    from pharmacrm.flow.tests.factories import SkuFactory

    _stock(world, *STOCK_ROWS)
    groups = services.unmatched_groups(user=world.user, kind=services.PRODUCT)
    assert [(g.name, g.spec, g.rows) for g in groups] == [("某某新药胶囊", "10粒", 1)]
    capsule = SkuFactory(
        product=ProductFactory(generic_name="某某新药胶囊"), code="XY10", pack="10粒", standard_units=10
    )
    done = services.map_unmatched(
        actor=world.user,
        kind=services.PRODUCT,
        mappings=[services.Mapping(world.distributor.pk, "某某新药胶囊", capsule.pk, "10粒")],
    )
    assert done["rows"] == 1
    row = InventoryRecord.objects.get(product_name="某某新药胶囊")
    assert (row.sku, row.quantity, row.unit) == (capsule, Decimal(5), "")  # 50 capsules = 5 packs
    assert FlowFile.objects.get().unmatched_product_count == 0
    assert ProductAlias.objects.get().sku == capsule
    assert services.unmatched_groups(user=world.user, kind=services.PRODUCT) == []
    # next month the alias matches at import
    _stock(world, ",某某新药胶囊,10粒,X9,20,粒,2026-02-28,北京一号库")
    assert InventoryRecord.objects.get(period=dt.date(2026, 2, 1)).sku == capsule
