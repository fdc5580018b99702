"""`pharmacrm import flow FILE --distributor CODE [--dry-run] [--period YYYY-MM]`: report and exit codes."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from pharmacrm.flow.models import FlowFile, FlowRecord
from pharmacrm.flow.tests.conftest import GOOD_ROWS, FlowWorld, csv_file
from pharmacrm.flow.tests.test_import_flow import _template

pytestmark = pytest.mark.django_db


def _write(tmp_path: Path, *rows: str) -> str:
    path = tmp_path / "gk01-2026-01.csv"
    path.write_bytes(csv_file(*rows, encoding="gbk").getvalue())
    return str(path)


def test_dry_run_then_import_then_same_file_again(
    world: FlowWorld, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _template(world)
    path = _write(tmp_path, *GOOD_ROWS)
    call_command("import", "flow", path, "--distributor", "GK01", "--dry-run")
    assert "检查通过" in capsys.readouterr().out
    assert not FlowRecord.objects.exists()
    call_command("import", "flow", path, "--distributor", "GK01", "--period", "2026-01", "--user", "kam")
    out = capsys.readouterr().out
    assert "已导入：2026-01，流向 4 行" in out
    assert FlowFile.objects.get().uploaded_by == world.user
    call_command("import", "flow", path, "--distributor", "GK01")
    assert "未做任何更改" in capsys.readouterr().out
    assert FlowRecord.objects.count() == 4


def test_refusal_prints_the_rows_and_exits_1(
    world: FlowWorld, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _template(world)
    path = _write(
        tmp_path, GOOD_ROWS[0], "2026-01-06,H001,北京协和医院,NXT100,诺欣妥,100mg*14片,十,盒,,,,纯销"
    )
    with pytest.raises(SystemExit) as exit_info:
        call_command("import", "flow", path, "--distributor", "GK01")
    assert exit_info.value.code == 1
    out = capsys.readouterr().out
    assert "已拒绝" in out and "第 3 行，列“数量”，值“十”：数量必须是数字" in out
    assert not FlowRecord.objects.exists()


def test_unknown_distributor_exits_1(
    world: FlowWorld, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):
        call_command("import", "flow", _write(tmp_path, *GOOD_ROWS), "--distributor", "XX")
    assert "未知的经销商编码“XX”" in capsys.readouterr().out


def test_bad_arguments(world: FlowWorld, tmp_path: Path) -> None:
    path = _write(tmp_path, *GOOD_ROWS)
    with pytest.raises(CommandError, match="--distributor"):
        call_command("import", "flow", path)
    with pytest.raises(CommandError, match="YYYY-MM"):
        call_command("import", "flow", path, "--distributor", "GK01", "--period", "Jan")
