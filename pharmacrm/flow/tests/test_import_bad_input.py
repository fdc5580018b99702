"""Refusals: every bad input is named by row, column, value and reason, and nothing is written."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from pharmacrm.core.models import Role
from pharmacrm.core.tests.factories import UserFactory
from pharmacrm.flow import importing
from pharmacrm.flow.importing import import_flow_file
from pharmacrm.flow.models import FlowFile, FlowRecord, InventoryRecord, ProductAlias
from pharmacrm.flow.tests.conftest import GOOD_ROWS, FlowWorld, csv_file
from pharmacrm.flow.tests.factories import FlowPeriodCloseFactory, FlowRecordFactory
from pharmacrm.flow.tests.test_import_flow import _template

pytestmark = pytest.mark.django_db


def _refused(world: FlowWorld, *lines: str, code: str = "GK01", **kwargs: Any) -> Any:
    _template(world)
    before = (FlowFile.objects.count(), FlowRecord.objects.count(), InventoryRecord.objects.count())
    history = FlowFile.history.count()
    result = import_flow_file(
        actor=kwargs.pop("actor", world.user),
        distributor_code=code,
        fileobj=csv_file(*lines),
        name="bad.csv",
        dry_run=False,
        **kwargs,
    )
    assert result.outcome == "refused"
    assert not result.report.written
    assert (FlowFile.objects.count(), FlowRecord.objects.count(), InventoryRecord.objects.count()) == before
    assert FlowFile.history.count() == history
    return result


def _issue(result: Any) -> tuple[int | None, str, str]:
    issue = result.report.errors[0]
    return issue.row, issue.column, issue.value


def test_unknown_distributor(world: FlowWorld) -> None:
    result = _refused(world, *GOOD_ROWS, code="NOPE")
    assert "未知的经销商编码“NOPE”" in result.report.errors[0].reason


def test_closed_period_names_who_closed_it(world: FlowWorld) -> None:
    FlowPeriodCloseFactory(distributor=world.distributor, period=dt.date(2026, 1, 1), reason="已对账")
    result = _refused(world, *GOOD_ROWS)
    assert "2026-01 期间" in result.report.errors[0].reason and "关账" in result.report.errors[0].reason
    # with --period given the refusal comes before the file is even read
    result = _refused(world, *GOOD_ROWS, period=dt.date(2026, 1, 1))
    assert "关账" in result.report.errors[0].reason


def test_text_quantity(world: FlowWorld) -> None:
    result = _refused(
        world, GOOD_ROWS[0], "2026-01-06,H001,北京协和医院,NXT100,诺欣妥,100mg*14片,十盒,盒,,,,纯销"
    )
    assert _issue(result) == (3, "数量", "十盒")
    assert result.report.errors[0].reason == "数量必须是数字"


def test_negative_quantity_without_a_return_flag(world: FlowWorld) -> None:
    result = _refused(
        world, GOOD_ROWS[0], "2026-01-06,H001,北京协和医院,NXT100,诺欣妥,100mg*14片,-5,盒,,,,纯销"
    )
    assert _issue(result) == (3, "数量", "-5")
    assert "不是退货" in result.report.errors[0].reason


def test_date_outside_the_period(world: FlowWorld) -> None:
    result = _refused(
        world, GOOD_ROWS[0], "2026-02-01,H001,北京协和医院,NXT100,诺欣妥,100mg*14片,5,盒,,,,纯销"
    )
    assert _issue(result) == (3, "销售日期", "2026-02-01")
    assert "不在期间 2026-01 内" in result.report.errors[0].reason
    result = _refused(world, *GOOD_ROWS, period=dt.date(2025, 12, 1))
    assert result.report.error_count == 4


def test_duplicated_row(world: FlowWorld) -> None:
    result = _refused(world, GOOD_ROWS[0], GOOD_ROWS[1], GOOD_ROWS[0])
    assert result.report.errors[0].row == 4
    assert result.report.errors[0].reason == "重复行：与本文件第 2 行内容完全相同"
    assert result.report.error_rows == 1


def test_duplicated_rows_in_later_batches(world: FlowWorld, monkeypatch: pytest.MonkeyPatch) -> None:
    # One row per batch: the first copy is already written when its repeat comes (the row key
    # is unique per month, so the insert skips it); the repeats are named once the file is read.
    monkeypatch.setattr(importing, "BATCH_ROWS", 1)
    result = _refused(world, GOOD_ROWS[0], GOOD_ROWS[1], GOOD_ROWS[0], GOOD_ROWS[2], GOOD_ROWS[1])
    got = [(i.row, i.reason) for i in result.report.errors]
    assert got == [(4, "重复行：与本文件第 2 行内容完全相同"), (6, "重复行：与本文件第 3 行内容完全相同")]
    assert result.report.error_rows == 2


def test_a_duplicated_row_with_another_error_counts_once(world: FlowWorld) -> None:
    bad = "2026-01-05,H001,北京协和医院,NXT100,诺欣妥,100mg*14片,十盒,盒,,,,纯销"
    result = _refused(world, bad, GOOD_ROWS[0], bad)
    got = [(i.row, i.column) for i in result.report.errors]
    assert got == [(2, "数量"), (4, "数量"), (4, "")]
    assert result.report.error_rows == 2


def test_a_row_already_written_by_another_file_is_a_conflict(world: FlowWorld) -> None:
    # Not a repeat within the file: the month's rows were written meanwhile by another upload
    # (here a file left "checked", so this import does not replace it).
    _template(world)
    import_flow_file(
        actor=world.user, distributor_code="GK01", fileobj=csv_file(*GOOD_ROWS), name="a.csv", dry_run=False
    )
    FlowFile.objects.update(status=FlowFile.Status.CHECKED)
    result = _refused(world, GOOD_ROWS[1], GOOD_ROWS[0])
    assert "写入时与数据库中的记录冲突" in result.report.errors[0].reason


def test_product_code_mapping_to_two_skus(world: FlowWorld) -> None:
    # this distributor's code alias says NXT100 is the other SKU: the code is ambiguous
    ProductAlias.objects.create(distributor=world.distributor, kind="code", text="NXT100", sku=world.sku2)
    result = _refused(world, GOOD_ROWS[0])
    assert _issue(result) == (2, "产品编码", "NXT100")
    assert "对应两个品规" in result.report.errors[0].reason and "LPT20" in result.report.errors[0].reason


def test_one_distributor_code_used_for_two_products_in_a_file(world: FlowWorld) -> None:
    result = _refused(
        world,
        "2026-01-05,H001,北京协和医院,X1,诺欣妥,100mg*14片,1,盒,,,,纯销",
        "2026-01-06,H001,北京协和医院,X1,立普妥,20mg*7片,1,盒,,,,纯销",
    )
    assert _issue(result) == (3, "产品编码", "X1")
    assert "第 2 行" in result.report.errors[0].reason


def test_bad_date_and_unknown_kind_and_unit(world: FlowWorld) -> None:
    result = _refused(
        world,
        "2026-01-05,H001,北京协和医院,NXT100,诺欣妥,100mg*14片,1,盒,,,,赠送",
        "明天,H001,北京协和医院,NXT100,诺欣妥,100mg*14片,1,盒,,,,纯销",
        "2026-01-07,H001,北京协和医院,NXT100,诺欣妥,100mg*14片,1,吨,,,,纯销",
    )
    got = [(i.row, i.column, i.value) for i in result.report.errors]
    assert got == [(2, "业务类型", "赠送"), (3, "销售日期", "明天"), (4, "单位", "吨")]
    assert result.report.error_rows == 3


def test_error_late_in_the_file_rolls_back_the_replacement(world: FlowWorld) -> None:
    _template(world)
    import_flow_file(
        actor=world.user, distributor_code="GK01", fileobj=csv_file(*GOOD_ROWS), name="a.csv", dry_run=False
    )
    ids = set(FlowRecord.objects.values_list("pk", flat=True))
    result = _refused(
        world,
        GOOD_ROWS[0],
        GOOD_ROWS[1],
        "2026-01-09,H001,北京协和医院,NXT100,诺欣妥,100mg*14片,abc,盒,,,,纯销",
    )
    assert result.report.errors[0].row == 4
    assert set(FlowRecord.objects.values_list("pk", flat=True)) == ids
    assert FlowFile.objects.get().status == FlowFile.Status.IMPORTED


def test_reps_may_not_import(world: FlowWorld) -> None:
    rep = UserFactory(username="rep1", roles=[Role.REP])
    result = _refused(world, *GOOD_ROWS, actor=rep)
    assert "不能导入流向" in result.report.errors[0].reason


def test_existing_records_untouched_by_a_refusal(world: FlowWorld) -> None:
    FlowRecordFactory()
    _refused(world, "not,a,row")
