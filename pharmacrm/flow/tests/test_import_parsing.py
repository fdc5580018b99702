"""Normalising what distributors write: dates, numbers, kinds, names, header signatures and mapping suggestions."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from pharmacrm.flow.parsing import (
    header_signature,
    missing_fields,
    normalise_name,
    parse_date,
    parse_decimal,
    parse_kind,
    parse_period,
    product_text,
    suggest_mapping,
)


@pytest.mark.parametrize(
    "text",
    [
        "2026-01-05",
        "2026/1/5",
        "2026.1.5",
        "20260105",
        "2026年1月5日",
        "46027",
        "2026-01-05 00:00:00",
        "２０２６/１/５",
    ],
)
def test_dates_in_every_shape_distributors_send(text: str) -> None:
    assert parse_date(text) == dt.date(2026, 1, 5)


@pytest.mark.parametrize("text", ["", "明天", "2026-13-01", "12", "2026/02/30"])
def test_not_a_date(text: str) -> None:
    assert parse_date(text) is None


def test_date_with_a_template_format() -> None:
    assert parse_date("05/01/2026", "%d/%m/%Y") == dt.date(2026, 1, 5)
    assert parse_date("2026-01-05", "%d/%m/%Y") is None


def test_numbers() -> None:
    assert parse_decimal("1,200") == Decimal("1200")
    assert parse_decimal("１２") == Decimal("12")
    assert parse_decimal("¥25.50") == Decimal("25.50")
    assert parse_decimal("(3)") == Decimal("-3")
    assert parse_decimal("十二") is None
    assert parse_decimal("12盒") is None
    assert parse_decimal("NaN") is None


def test_kinds() -> None:
    assert parse_kind("纯销") == "sale"
    assert parse_kind("") == "sale"
    assert parse_kind("调拨") == "transfer"
    assert parse_kind("销售退回") == "return"
    assert parse_kind("库存") == "inventory"
    assert parse_kind("赠品") is None


def test_names_compare_as_people_read_them() -> None:
    assert (
        normalise_name("北京协和医院（东院）") == normalise_name("北京协和医院(东院)") == "北京协和医院东院"
    )
    assert normalise_name(" 国药控股 北京 有限公司 ") == "国药控股北京"
    assert normalise_name("ＡＢＣ医院") == "abc医院"
    assert product_text("诺欣妥", "100mg*14片") == product_text("诺欣妥 ", "100MG×14片")


def test_header_signature_ignores_spacing_and_width() -> None:
    assert header_signature(["销售日期", "客户名称 "]) == header_signature(["销售日期", "客户名称"])
    assert header_signature(["销售日期", "客户名称"]) != header_signature(["客户名称", "销售日期"])


def test_mapping_suggestion_and_what_is_missing() -> None:
    mapping = suggest_mapping(["单据日期", "购货单位", "商品名称", "规格", "数量", "金额", "备注"])
    assert mapping == {
        "sale_date": "单据日期",
        "customer_name": "购货单位",
        "product_name": "商品名称",
        "spec": "规格",
        "quantity": "数量",
        "amount": "金额",
    }
    assert missing_fields(mapping) == []
    assert missing_fields({"sale_date": "日期"}) == ["quantity", "customer_name", "product_name"]


def test_period() -> None:
    assert parse_period("2026-01") == dt.date(2026, 1, 1)
    assert parse_period("202601") == dt.date(2026, 1, 1)
    assert parse_period("2026-13") is None
