"""Import affiliations (where a professional works or worked), upserted by professional + institution +
department + start date. A current primary affiliation becomes the professional's institution and
department; the professional's other current primary affiliation, if any, stops being primary."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from pharmacrm.core.imports import columns as c
from pharmacrm.core.imports.engine import ImportKind, Row
from pharmacrm.core.imports.registry import register
from pharmacrm.core.imports.seen import SeenKeys
from pharmacrm.core.visibility import visible
from pharmacrm.customers.importing.refs import (
    MASTER_DATA_ROLES,
    apply_changes,
    create_with_history,
    may_change,
    resolve_departments,
    resolve_institutions,
    update_with_history,
)
from pharmacrm.customers.models import Affiliation, Professional

COLUMNS = [
    c.Column(
        "professional_external_id",
        "医务人员外部编码",
        c.text(64),
        required=True,
        aliases=("医生外部编码", "医生编码"),
        example="D000001",
    ),
    c.Column("institution_external_id", "机构外部编码", c.text(64), aliases=("机构编码",), example="H000002"),
    c.Column(
        "institution_name", "机构名称", c.text(200), aliases=("机构", "医院"), example="北京大学第一医院"
    ),
    c.Column("department", "科室", c.text(100), example="心内科"),
    c.Column("position", "职务", c.text(100), example="多点执业专家"),
    c.Column(
        "is_primary",
        "主要执业点",
        c.boolean,
        blank=False,
        aliases=("是否主要执业点",),
        help=gettext_lazy("填“是”即成为该医务人员当前的主要执业机构"),
        example="否",
    ),
    c.Column("valid_from", "开始日期", c.date, blank=None, example="2023-03-01"),
    c.Column("valid_to", "结束日期", c.date, blank=None, help=gettext_lazy("不填表示仍在执业"), example=""),
]


@register
class AffiliationImport(ImportKind):
    name = "affiliations"
    label = gettext_lazy("执业关系")
    model = Affiliation
    columns = COLUMNS
    roles = MASTER_DATA_ROLES
    examples = [["D000001", "H000002", "北京大学第一医院", "心内科", "多点执业专家", "否", "2023-03-01", ""]]
    notes = [gettext_lazy("医务人员与机构须已存在；同一医务人员在文件中只能有一条当前的主要执业点。")]

    def begin(self) -> None:
        self.file_keys = SeenKeys()
        self.file_primary = SeenKeys()

    def check(self, rows: list[Row]) -> None:
        resolve_institutions(self, rows, ext_field="institution_external_id", name_field="institution_name")
        resolve_departments(self, rows, field="department")
        ext_ids = sorted(
            {r.get("professional_external_id") for r in rows if r.get("professional_external_id")}
        )
        base = (
            visible(Professional, user=self.actor) if self.actor is not None else Professional.objects.all()
        )
        professionals = {p.external_id: p for p in base.filter(external_id__in=ext_ids)} if ext_ids else {}
        existing: dict[int, list[Affiliation]] = defaultdict(list)
        if professionals:
            for a in Affiliation.objects.filter(professional_id__in=[p.pk for p in professionals.values()]):
                existing[a.professional_id].append(a)
        allowed = may_change(self, Affiliation, [a.pk for v in existing.values() for a in v])
        for row in rows:
            professional = professionals.get(row.get("professional_external_id"))
            if row.get("professional_external_id") and professional is None:
                row.error(
                    "professional_external_id",
                    _("找不到外部编码为此值的医务人员（或您无权查看），请先导入医务人员"),
                )
            if row.get("valid_from") and row.get("valid_to") and row.get("valid_to") < row.get("valid_from"):
                row.error("valid_to", _("结束日期不能早于开始日期"))
            inst = row.extra.get("institution")
            if inst is None and not row.errors:
                row.error("institution_external_id", _("请填写机构外部编码或机构名称"))
            if row.errors or professional is None or inst is None:
                continue
            self._check_row(row, professional, existing[professional.pk], allowed)

    def _check_row(
        self, row: Row, professional: Professional, existing: list[Affiliation], allowed: set[int]
    ) -> None:
        dept = row.extra.get("department")
        key = (professional.pk, row.extra["institution"].pk, dept.pk if dept else None, row.get("valid_from"))
        first = self.file_keys.add(key, row.number)
        if first is not None:
            row.error(
                "professional_external_id",
                _("与第 {row} 行是同一条执业关系（医务人员+机构+科室+开始日期相同）").format(row=first),
            )
            return
        primary_now = bool(row.get("is_primary")) and row.get("valid_to") is None
        if primary_now:
            first = self.file_primary.add(professional.pk, row.number)
            if first is not None:
                row.error("is_primary", _("该医务人员在第 {row} 行已有当前的主要执业点").format(row=first))
                return
        values: dict[str, Any] = {n: row.get(n) for n in ("position", "is_primary", "valid_to") if row.has(n)}
        match = next(
            (a for a in existing if (a.institution_id, a.department_id, a.valid_from) == key[1:]), None
        )
        row.extra["professional"] = professional
        row.extra["primary_now"] = primary_now
        if match is None:
            row.action = "create"
            row.obj = Affiliation(
                professional_id=professional.pk,
                institution_id=key[1],
                department_id=key[2],
                valid_from=row.get("valid_from"),
                **values,
            )
        elif match.pk not in allowed:
            row.error("professional_external_id", _("对应的已有执业关系不在您的可见范围内，不能通过导入修改"))
            return
        else:
            row.extra["changed"] = apply_changes(match, values)
            row.obj = match
            row.action = "update" if row.extra["changed"] else "unchanged"
        # Becoming the current primary also re-points the professional (the mirror on Professional).
        if primary_now and (professional.institution_id, professional.department_id) != (key[1], key[2]):
            row.action = row.action if row.action == "create" else "update"
            row.extra.setdefault("changed", [])

    def write(self, rows: list[Row]) -> None:
        primaries = [r for r in rows if r.extra.get("primary_now")]
        # Demote the professionals' other current primary affiliations first (one current primary each).
        keep = {r.obj.pk for r in primaries if r.obj.pk}
        demoted = [
            a
            for a in Affiliation.objects.filter(
                professional_id__in=[r.extra["professional"].pk for r in primaries],
                is_primary=True,
                valid_to__isnull=True,
            )
            if a.pk not in keep
        ]
        for a in demoted:
            a.is_primary = False
        update_with_history(self, Affiliation, demoted, ["is_primary"])
        create_with_history(self, Affiliation, [r.obj for r in rows if r.action == "create"])
        updates = [r for r in rows if r.action == "update" and r.extra.get("changed")]
        update_with_history(
            self, Affiliation, [r.obj for r in updates], {f for r in updates for f in r.extra["changed"]}
        )
        mirrored = []
        for row in primaries:
            professional = row.extra["professional"]
            if (professional.institution_id, professional.department_id) != (
                row.obj.institution_id,
                row.obj.department_id,
            ):
                professional.institution_id = row.obj.institution_id
                professional.department_id = row.obj.department_id
                mirrored.append(professional)
        update_with_history(self, Professional, mirrored, ["institution_id", "department_id"])
