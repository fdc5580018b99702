"""`pharmacrm import`: the report on stdout, a non-zero exit on any error, templates, and a user's rights."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command
from openpyxl import load_workbook

from pharmacrm.customers.models import Institution
from pharmacrm.customers.tests.import_helpers import institutions_csv, snapshot

pytestmark = pytest.mark.django_db

GOOD = ["H1", "北京协和医院", "医院", "三级甲等", "北京市", "北京市", "东城区"]


def call(*args: str) -> tuple[int, str]:
    out = io.StringIO()
    try:
        call_command("import", *args, stdout=out)
    except SystemExit as exc:
        return int(exc.code or 0), out.getvalue()
    return 0, out.getvalue()


def test_command_module_named_after_a_keyword_is_found():
    from django.core.management import get_commands

    assert get_commands()["import"] == "pharmacrm.ops"


def test_import_prints_the_report_and_exits_zero(tmp_path):
    path = tmp_path / "institutions.csv"
    path.write_bytes(institutions_csv(GOOD, encoding="gbk"))
    code, out = call("institutions", str(path))
    assert code == 0
    assert out.startswith("已导入：共 1 行，新建 1")
    assert Institution.objects.get().history.get().history_source == "import"


def test_any_bad_row_exits_non_zero_with_the_row_report_and_writes_nothing(tmp_path):
    path = tmp_path / "institutions.csv"
    path.write_bytes(institutions_csv(GOOD, ["H2", "火星医院", "医院", "", "火星", "", ""]))
    before = snapshot()
    code, out = call("institutions", str(path))
    assert code == 1
    assert "错误  第 3 行，列“省”，值“火星”：未知的省份" in out
    assert snapshot() == before
    code, _out = call("institutions", str(path), "--dry-run")
    assert code == 1


def test_partial_writes_good_rows_but_still_exits_non_zero(tmp_path):
    path = tmp_path / "institutions.csv"
    path.write_bytes(institutions_csv(GOOD, ["H2", "火星医院", "医院", "", "火星", "", ""]))
    code, _out = call("institutions", str(path), "--partial")
    assert code == 1
    assert Institution.objects.count() == 1


def test_template_is_written(tmp_path):
    target = tmp_path / "t.xlsx"
    code, out = call("professionals", "--template", "-o", str(target))
    assert code == 0 and str(target) in out
    header = next(load_workbook(target, read_only=True).worksheets[0].iter_rows(values_only=True))
    assert header[:3] == ("外部编码", "姓名", "性别")


def test_unknown_kind_missing_file_and_user_without_rights_are_refused(tmp_path, personas):
    with pytest.raises(CommandError, match="未知的导入类型"):
        call("planets", "x.csv")
    with pytest.raises(CommandError, match="文件不存在"):
        call("institutions", str(tmp_path / "nope.csv"))
    path = tmp_path / "i.csv"
    path.write_bytes(institutions_csv(GOOD))
    with pytest.raises(CommandError, match="不能导入"):
        call("institutions", str(path), "--user", "owner")
    code, _out = call("institutions", str(path), "--user", "admin")
    assert code == 0
    assert Institution.objects.get().history.get().history_user == personas.admin
