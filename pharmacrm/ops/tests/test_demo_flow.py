"""The demo's flow files: messy names of every kind, and every distributor layout readable by the importer."""

from __future__ import annotations

import datetime as dt
import io
import random
from collections import Counter
from decimal import Decimal

from pharmacrm.core.spreadsheets import open_sheet
from pharmacrm.flow.parsing import parse_date, parse_decimal
from pharmacrm.ops.demo.flow import LAYOUTS, messy_name, render


def test_messy_names_cover_the_kinds_of_mess_and_keep_most_of_the_name() -> None:
    rng = random.Random(1)
    names = [
        "北京市朝阳区第二人民医院",
        "北京大学第三医院",
        "上海交通大学医学院附属瑞金医院",
        "同仁堂大药房（王府井店）",
    ]
    kinds = Counter()
    for _ in range(400):
        name = rng.choice(names)
        messy, kind = messy_name(name, rng, kind="hospital")
        kinds[kind] += 1
        assert messy and len(messy) <= 200
    assert {"exact", "brackets/space", "company suffix", "campus", "typo", "abbreviation", "short"} <= set(
        kinds
    )


def test_every_layout_renders_a_file_the_importer_reads_back() -> None:
    day = dt.date(2026, 1, 5)
    row = {
        "sale_date": day, "customer_name": "北京协和医院（东院）", "customer_code": "", "product_code": "SKU1",
        "product_name": "信脉乐 卡莫地平缓释片", "spec": "5mg*7片", "quantity": Decimal("12"), "unit": "盒",
        "unit_price": Decimal("30.50"), "amount": Decimal("366.00"), "batch": "260101", "kind": "纯销", "upstream": "",
    }  # fmt: skip
    formats = Counter()
    for layout in LAYOUTS:
        content, extension = render(layout, [row])
        formats[layout.file_format] += 1
        sheet = open_sheet(io.BytesIO(content))
        assert sheet.header == [h for _c, h in layout.columns]
        if layout.file_format == "csv-gbk":
            assert sheet.encoding.lower() in {"gbk", "gb18030"}
        cells = dict(zip((c for c, _h in layout.columns), next(iter(sheet.rows))[1], strict=True))
        assert parse_date(cells["sale_date"]) == day, layout.date_format
        assert parse_decimal(cells["quantity"]) == Decimal("12")
        assert cells["customer_name"] == "北京协和医院（东院）"
        assert extension == ("xlsx" if layout.file_format == "xlsx" else "csv")
    assert len(LAYOUTS) == 12 and set(formats) == {"xlsx", "csv-gbk", "csv-utf8"}
    assert len({tuple(layout.columns) for layout in LAYOUTS}) == 12  # each distributor its own layout


def test_every_inventory_layout_is_detected_and_mapped_from_its_headers_alone() -> None:
    from pharmacrm.flow.parsing import detect_kind, suggest_mapping
    from pharmacrm.ops.demo.flow import INVENTORY_LAYOUTS, SEPARATE_INVENTORY

    row = {
        "as_of": dt.date(2026, 1, 31), "product_code": "SKU1", "product_name": "信脉乐 卡莫地平缓释片",
        "spec": "5mg*7片", "batch": "260101", "quantity": Decimal("120"), "unit": "盒", "warehouse": "一号库",
    }  # fmt: skip
    for layout in INVENTORY_LAYOUTS:
        content, _extension = render(layout, [row])
        sheet = open_sheet(io.BytesIO(content))
        assert detect_kind(sheet.header) == "inventory"
        assert suggest_mapping(sheet.header, "inventory") == dict(layout.columns)
        cells = dict(zip((c for c, _h in layout.columns), next(iter(sheet.rows))[1], strict=True))
        assert parse_date(cells["as_of"]) == dt.date(2026, 1, 31)
    assert set(SEPARATE_INVENTORY.values()) == set(INVENTORY_LAYOUTS)
    # the distributors that send stock separately do not also put it in their sales file
    assert not any(LAYOUTS[i].inventory for i in SEPARATE_INVENTORY)
