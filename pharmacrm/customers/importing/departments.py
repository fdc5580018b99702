"""Import departments: upsert by institution + department name (a department has no external id)."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from pharmacrm.core.imports import columns as c
from pharmacrm.core.imports.engine import ImportKind, Row
from pharmacrm.core.imports.registry import register
from pharmacrm.core.imports.seen import SeenKeys
from pharmacrm.customers.importing.refs import (
    MASTER_DATA_ROLES,
    apply_changes,
    create_with_history,
    may_change,
    resolve_institutions,
    update_with_history,
)
from pharmacrm.customers.models import Department

COLUMNS = [
    c.Column(
        "institution_external_id",
        "机构外部编码",
        c.text(64),
        aliases=("机构编码",),
        help=gettext_lazy("机构外部编码与机构名称至少填一个；都填时以编码为准"),
        example="H000001",
    ),
    c.Column("institution_name", "机构名称", c.text(200), aliases=("机构", "医院"), example="北京协和医院"),
    c.Column("name", "科室名称", c.text(100), required=True, aliases=("科室", "名称"), example="心内科"),
    c.Column("specialty", "专业方向", c.text(200), example="冠心病介入"),
    c.Column(
        "headcount", "人数", c.integer(maximum=100_000), blank=None, aliases=("科室人数",), example="45"
    ),
]


@register
class DepartmentImport(ImportKind):
    name = "departments"
    label = gettext_lazy("科室")
    model = Department
    columns = COLUMNS
    roles = MASTER_DATA_ROLES
    examples = [
        ["H000001", "北京协和医院", "心内科", "冠心病介入", "45"],
        ["H000001", "北京协和医院", "内分泌科", "糖尿病", "30"],
    ]
    notes = [gettext_lazy("机构须已存在（先导入机构）；同一机构下科室名称相同即为同一科室。")]

    def begin(self) -> None:
        self.file_keys = SeenKeys()

    def check(self, rows: list[Row]) -> None:
        resolve_institutions(self, rows, ext_field="institution_external_id", name_field="institution_name")
        inst_ids = {r.extra["institution"].pk for r in rows if r.extra.get("institution")}
        names = {r.get("name") for r in rows if r.get("name")}
        existing: dict[tuple[int, str], Department] = {}
        if inst_ids and names:
            for dept in Department.objects.filter(institution_id__in=inst_ids, name__in=names):
                existing[(dept.institution_id, dept.name)] = dept
        allowed = may_change(self, Department, [d.pk for d in existing.values()])
        for row in rows:
            inst = row.extra.get("institution")
            if inst is None or row.errors:
                continue
            key = (inst.pk, row.get("name"))
            first = self.file_keys.add(key, row.number)
            if first is not None:
                row.error("name", _("与第 {row} 行是同一机构的同一科室").format(row=first))
                continue
            values: dict[str, Any] = {n: row.get(n) for n in ("specialty", "headcount") if row.has(n)}
            match = existing.get(key)
            if match is None:
                row.action = "create"
                row.obj = Department(institution_id=inst.pk, name=row.get("name"), **values)
            elif match.pk not in allowed:
                row.error("name", _("对应的已有科室不在您的可见范围内，不能通过导入修改"))
            else:
                row.extra["changed"] = apply_changes(match, values)
                row.obj = match
                row.action = "update" if row.extra["changed"] else "unchanged"

    def write(self, rows: list[Row]) -> None:
        create_with_history(self, Department, [r.obj for r in rows if r.action == "create"])
        updates = [r for r in rows if r.action == "update"]
        update_with_history(
            self, Department, [r.obj for r in updates], {f for r in updates for f in r.extra["changed"]}
        )
