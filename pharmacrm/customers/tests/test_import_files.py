"""What files the import accepts (GBK, BOM, xlsx, English headers, templates) and how it refuses the rest."""

from __future__ import annotations

import pytest

from pharmacrm.core.imports.registry import all_kinds, get_kind
from pharmacrm.core.imports.template import template_bytes
from pharmacrm.core.spreadsheets import escape_formula
from pharmacrm.customers.models import Institution
from pharmacrm.customers.tests.import_helpers import (
    INSTITUTION_HEADER,
    csv_bytes,
    errors,
    institutions_csv,
    run,
    snapshot,
    xlsx_bytes,
)

pytestmark = pytest.mark.django_db

ROW = ["H1", "北京协和医院", "医院", "三级甲等", "北京市", "北京市", "东城区"]


@pytest.mark.parametrize("encoding", ["gbk", "gb18030", "utf-8-sig", "utf-8"])
def test_csv_in_the_encodings_chinese_excel_writes_is_accepted(encoding):
    report = run("institutions", institutions_csv(ROW, encoding=encoding))
    assert report.ok, list(report.lines())
    assert Institution.objects.get().name == "北京协和医院"


def test_xlsx_is_read_with_numbers_and_codes_as_text():
    data = xlsx_bytes(
        [
            ["external_id", "name", "kind", "grade", "province", "city", "beds"],
            [1001, "湘雅医院", "医院", "3a", 43, 4301, 3500.0],
        ]
    )
    report = run("institutions", data)
    assert (report.ok, report.format) == (True, "xlsx"), list(report.lines())
    xiangya = Institution.objects.get()
    assert (xiangya.external_id, xiangya.province_id, xiangya.beds) == ("1001", "43", 3500)


def test_xlsx_with_merged_header_cells_is_refused():
    data = xlsx_bytes([["机构信息", None, "类型", "省"], ["H1", "某医院", "医院", "湖南"]], merge="A1:B1")
    before = snapshot()
    report = run("institutions", data)
    assert errors(report) == [(1, "", "", "表头（第 1 行）有合并单元格 A1:B1：请取消合并，每列一个列名。")]
    assert snapshot() == before


def test_a_pdf_renamed_csv_is_refused_for_what_it_is():
    before = snapshot()
    report = run("institutions", b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n")
    assert errors(report) == [
        (None, "", "", "这是一个 PDF 文件，不是 CSV 或 xlsx 表格。请从 Excel 另存为 .xlsx 或 CSV 后再上传。")
    ]
    assert snapshot() == before


def test_old_xls_and_binary_files_are_refused():
    assert (
        "不支持旧版 Excel"
        in run("institutions", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 100).errors[0].reason
    )
    assert "不是文本格式的 CSV" in run("institutions", b"abc\x00def\x00").errors[0].reason


def test_empty_file_and_header_only_file_are_refused():
    before = snapshot()
    assert errors(run("institutions", b"")) == [(None, "", "", "文件是空的。")]
    assert errors(run("institutions", csv_bytes([INSTITUTION_HEADER]))) == [
        (None, "", "", "文件只有表头，没有数据行。")
    ]
    assert snapshot() == before


def test_ten_megabytes_in_one_cell_is_refused_naming_row_and_column():
    before = snapshot()
    huge = "医" * (10 * 1024 * 1024)
    report = run("institutions", institutions_csv(ROW, ["H2", "某医院", "医院", "", "湖南省", "", huge]))
    [(row, column, value, reason)] = errors(report)
    assert (row, column) == (3, "区县")
    assert value == "医" * 60 + "…"
    assert reason == "单元格内容过长（10,485,760 个字符），单元格上限 32,767 个字符，已拒绝。"
    assert snapshot() == before


def test_missing_required_and_duplicate_columns_are_refused_before_any_row():
    report = run("institutions", csv_bytes([["名称", "name", "省"], ["甲", "甲", "湖南"]]))
    reasons = [e[3] for e in errors(report)]
    assert reasons == ["列“name”重复：第 1 列和第 2 列都是“名称”。", "缺少必填列：类型（kind）。"]
    assert Institution.objects.count() == 0


def test_unknown_columns_are_ignored_with_a_warning_and_english_code_names_work():
    report = run(
        "institutions", csv_bytes([["Name", "KIND", "province", "备注"], ["甲医院", "hospital", "湖南", "x"]])
    )
    assert report.ok
    assert report.warnings[0].reason == "未识别的列将被忽略：备注"


@pytest.mark.parametrize("fmt", ["xlsx", "csv"])
@pytest.mark.parametrize("kind", ["institutions", "departments", "professionals", "affiliations"])
def test_every_template_has_chinese_headers_and_reads_back(kind, fmt):
    data = template_bytes(get_kind(kind), fmt)
    report = run(kind, data, dry_run=True)
    # The example rows point at records that do not exist yet; the header must be fully understood.
    assert report.ignored_columns == []
    assert not report.fatal, list(report.lines())
    assert {k.name for k in all_kinds()} >= {"institutions", "departments", "professionals", "affiliations"}


def test_the_institution_template_example_imports_cleanly():
    report = run("institutions", template_bytes(get_kind("institutions"), "xlsx"))
    assert report.ok and report.created == 2, list(report.lines())


@pytest.mark.parametrize(
    ("value", "escaped"),
    [
        ("=1+2", "'=1+2"),
        ("+86 138", "'+86 138"),
        ("-cmd", "'-cmd"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("-5", "-5"),
        ("张伟", "张伟"),
    ],
)
def test_formula_escaping(value, escaped):
    assert escape_formula(value) == escaped
