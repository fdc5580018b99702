"""Small files and a database snapshot for the import and export tests."""

from __future__ import annotations

import csv
import io
from typing import Any

from openpyxl import Workbook

from pharmacrm.core.imports.engine import Report, run_import
from pharmacrm.core.imports.registry import get_kind
from pharmacrm.customers.models import (
    Affiliation,
    Department,
    Institution,
    InstitutionTerritoryPeriod,
    Professional,
    Segment,
)

AUDITED = (Institution, Department, Professional, Affiliation, Segment, InstitutionTerritoryPeriod)

INSTITUTION_HEADER = ["外部编码", "名称", "类型", "等级", "省", "市", "区县"]


def csv_bytes(rows: list[list[Any]], *, encoding: str = "utf-8") -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows(rows)
    return buffer.getvalue().encode(encoding)


def xlsx_bytes(rows: list[list[Any]], *, merge: str | None = None) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    for row in rows:
        sheet.append(row)
    if merge:
        sheet.merge_cells(merge)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def run(kind: str, data: bytes, **options: Any) -> Report:
    return run_import(get_kind(kind), io.BytesIO(data), **options)


def snapshot() -> dict[str, int]:
    """Row counts of the customer tables and of their history tables."""
    counts = {m.__name__: m.objects.count() for m in AUDITED}
    counts.update({f"history.{m.__name__}": m.history.count() for m in AUDITED})  # type: ignore[attr-defined]
    return counts


def errors(report: Report) -> list[tuple[int | None, str, str, str]]:
    return [(i.row, i.column, i.value, i.reason) for i in report.errors]


def institutions_csv(*rows: list[Any], encoding: str = "utf-8") -> bytes:
    return csv_bytes([INSTITUTION_HEADER, *rows], encoding=encoding)


def seed_hospitals(**options: Any) -> Report:
    """Two hospitals (H1 in Beijing, H2 in Changsha) with two departments each."""
    report = run(
        "institutions",
        institutions_csv(
            ["H1", "北京协和医院", "医院", "三级甲等", "北京市", "北京市", "东城区"],
            ["H2", "湘雅医院", "医院", "三级甲等", "湖南省", "长沙市", ""],
        ),
        **options,
    )
    assert report.ok, list(report.lines())
    report = run(
        "departments",
        csv_bytes(
            [
                ["机构外部编码", "科室名称"],
                ["H1", "心内科"],
                ["H1", "内分泌科"],
                ["H2", "儿科"],
                ["H2", "心内科"],
            ]
        ),
        **options,
    )
    assert report.ok, list(report.lines())
    return report
