"""Import institutions: upsert by external id, or by name + province + city when there is none."""

from __future__ import annotations

import decimal
from collections import defaultdict
from typing import Any

from django.db.models import Max
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from pharmacrm.core.imports import columns as c
from pharmacrm.core.imports.engine import ImportKind, Row
from pharmacrm.core.imports.registry import register
from pharmacrm.core.models import Territory
from pharmacrm.core.visibility import scope_for, visible
from pharmacrm.customers import territory_history
from pharmacrm.customers.importing.refs import (
    MASTER_DATA_ROLES,
    Divisions,
    Territories,
    apply_changes,
    create_with_history,
    institution_search_text,
    may_change,
    reindex_institutions,
    resegment,
    resolve_area,
    split_aliases,
    update_with_history,
)
from pharmacrm.customers.models import Institution, Professional
from pharmacrm.customers.pinyin import search_keys

I = Institution  # noqa: E741 (short alias for the choices below)


def _aliases(value: str) -> str:
    return split_aliases(c.text(500)(value))


COLUMNS = [
    c.Column(
        "external_id",
        "外部编码",
        c.text(64),
        blank=None,
        aliases=("外部ID", "机构编码", "机构外部编码"),
        help=gettext_lazy("贵司或主数据系统中的机构编码；有则按它更新，没有则按 名称+省+市 更新"),
        example="H000001",
    ),
    c.Column("name", "名称", c.text(200), required=True, aliases=("机构名称",), example="北京协和医院"),
    c.Column("aliases", "别名", _aliases, help=gettext_lazy("多个别名用“;”分隔"), example="协和医院;协和"),
    c.Column(
        "kind",
        "类型",
        c.choice(
            I.Kind,
            药店="pharmacy",
            零售药店="pharmacy",
            连锁药店="pharmacy",
            批发商="distributor",
            商业公司="distributor",
            配送商="distributor",
            基层医疗机构="clinic",
            诊所="clinic",
            社区卫生服务中心="clinic",
            卫生院="clinic",
        ),
        required=True,
        example="医院",
    ),
    c.Column(
        "grade",
        "等级",
        c.choice(
            I.Grade,
            三甲="3a",
            三乙="3b",
            二甲="2a",
            二乙="2b",
            一甲="1",
            一级甲等="1",
            一级乙等="1",
            未评级="none",
            无="none",
        ),
        blank=I.Grade.UNGRADED,
        help=gettext_lazy("只有医院有等级；不填为未定级"),
        example="三级甲等",
    ),
    c.Column(
        "ownership",
        "所有制",
        c.choice(I.Ownership, 私立="private", 民营医院="private"),
        blank=I.Ownership.PUBLIC,
        example="公立",
    ),
    c.Column("beds", "床位数", c.integer(maximum=100_000), blank=None, example="2000"),
    c.Column("outpatient_volume", "日均门诊量", c.integer(maximum=1_000_000), blank=None, example="15000"),
    c.Column(
        "province",
        "省",
        c.text(32),
        required=True,
        aliases=("省份",),
        help=gettext_lazy("名称或 2 位代码，如“北京市”“北京”“11”"),
        example="北京市",
    ),
    c.Column(
        "city",
        "市",
        c.text(32),
        aliases=("城市", "地级市"),
        help=gettext_lazy("名称或 4 位代码"),
        example="北京市",
    ),
    c.Column(
        "county",
        "区县",
        c.text(32),
        aliases=("区/县", "区"),
        help=gettext_lazy("名称或 6 位代码"),
        example="东城区",
    ),
    c.Column("address", "地址", c.text(300), example="东城区帅府园1号"),
    c.Column(
        "latitude",
        "纬度",
        c.number(minimum=decimal.Decimal(-90), maximum=decimal.Decimal(90), places=6),
        blank=None,
        example="39.913",
    ),
    c.Column(
        "longitude",
        "经度",
        c.number(minimum=decimal.Decimal(-180), maximum=decimal.Decimal(180), places=6),
        blank=None,
        example="116.417",
    ),
    c.Column(
        "parent",
        "上级机构外部编码",
        c.text(64),
        aliases=("上级机构",),
        help=gettext_lazy("上级机构须已存在，或在本文件中排在本行之前"),
        example="",
    ),
    c.Column(
        "network",
        "隶属关系",
        c.choice(I.Network, 分院="branch", 院区="branch", 连锁="chain", 医联体="alliance"),
        example="",
    ),
    c.Column(
        "territory",
        "辖区编码",
        c.text(32),
        aliases=("辖区",),
        help=gettext_lazy("不填则按辖区规则（省/市）自动归属"),
        example="",
    ),
    c.Column(
        "status",
        "状态",
        c.choice(I.Status, 启用="active", 有效="active", 关闭="inactive", 无效="inactive"),
        blank=I.Status.ACTIVE,
        example="正常",
    ),
    c.Column("updated_at", "更新时间", export_only=True),
]

# Changing these can move a professional's segment (same list as customers.services).
SEGMENT_INPUTS = frozenset({"kind", "grade", "ownership", "beds"})
# Changed attributes that can move an institution to another territory (its own, or its area's rule).
TERRITORY_INPUTS = frozenset({"territory_id", "province_id", "city_id"})

# Columns whose value is stored as-is under the same attribute name.
PLAIN = (
    "name",
    "aliases",
    "kind",
    "grade",
    "ownership",
    "beds",
    "outpatient_volume",
    "address",
    "latitude",
    "longitude",
    "network",
    "status",
)


@register
class InstitutionImport(ImportKind):
    name = "institutions"
    label = gettext_lazy("机构")
    model = Institution
    columns = COLUMNS
    roles = MASTER_DATA_ROLES
    examples = [
        [
            "H000001",
            "北京协和医院",
            "协和医院",
            "医院",
            "三级甲等",
            "公立",
            "2000",
            "15000",
            "北京市",
            "北京市",
            "东城区",
            "东城区帅府园1号",
            "39.913",
            "116.417",
            "",
            "",
            "",
            "正常",
        ],
        [
            "P000001",
            "老百姓大药房（长沙五一店）",
            "",
            "药房",
            "",
            "民营",
            "",
            "",
            "湖南省",
            "长沙市",
            "芙蓉区",
            "",
            "",
            "",
            "",
            "",
            "",
            "正常",
        ],
    ]
    notes = [gettext_lazy("同一文件中外部编码不能重复；没有外部编码时，名称+省+市 相同的行视为同一机构。")]

    def begin(self) -> None:
        self.divisions = Divisions()
        self.territories = Territories()
        self.visible_territories: set[int] | None = None
        if self.actor is not None and not scope_for(self.actor).company_wide:
            self.visible_territories = set(visible(Territory, user=self.actor).values_list("pk", flat=True))
        self.max_pk = Institution.objects.aggregate(m=Max("pk"))["m"] or 0
        # external id → row number (negative when that row was refused): in-file duplicates and parents.
        self.file_ext: dict[str, int] = {}
        self.file_keys: dict[tuple[str, str, str], int] = {}
        # external id → pk of what this run wrote, so later rows can name it as their parent.
        self.pk_by_ext: dict[str, int] = {}

    def check(self, rows: list[Row]) -> None:
        for row in rows:
            resolve_area(self, row, self.divisions)
        existing_by_ext, existing_by_key, parents = self._load(rows)
        for row in rows:
            self._check_row(row, existing_by_ext, existing_by_key, parents)

    def _load(
        self, rows: list[Row]
    ) -> tuple[dict[str, Institution], dict[tuple[str, str, str], list[Institution]], dict[str, int]]:
        ext_ids = [r.get("external_id") for r in rows if r.get("external_id")]
        names = sorted({r.get("name") for r in rows if r.get("name")})
        by_ext = (
            {i.external_id or "": i for i in Institution.objects.filter(external_id__in=ext_ids)}
            if ext_ids
            else {}
        )
        by_key: dict[tuple[str, str, str], list[Institution]] = defaultdict(list)
        if names:
            for inst in Institution.objects.filter(name__in=names, pk__lte=self.max_pk):
                by_key[(inst.name, inst.province_id, inst.city_id or "")].append(inst)
        parent_ext = sorted({r.get("parent") for r in rows if r.get("parent")})
        parents: dict[str, int] = {}
        if parent_ext:
            found = Institution.objects.filter(external_id__in=parent_ext).values_list("external_id", "pk")
            parents = {ext or "": pk for ext, pk in found}
        # One visibility query per batch for everything a row might update.
        self.allowed = may_change(
            self, Institution, {i.pk for i in by_ext.values()} | {i.pk for v in by_key.values() for i in v}
        )
        return by_ext, by_key, parents

    def _check_row(
        self,
        row: Row,
        by_ext: dict[str, Institution],
        by_key: dict[tuple[str, str, str], list[Institution]],
        parents: dict[str, int],
    ) -> None:
        ext = row.get("external_id")
        province, city, county = row.extra["province"], row.extra["city"], row.extra["county"]
        key = (row.get("name") or "", province.code if province else "", city.code if city else "")
        # In-file duplicates.
        if ext:
            first = self.file_ext.get(ext)
            if first is not None:
                row.error(
                    "external_id", _("外部编码在本文件中重复（与第 {row} 行相同）").format(row=abs(first))
                )
        elif row.get("name") and province:
            first = self.file_keys.get(key)
            if first is not None:
                row.error(
                    "name", _("与第 {row} 行的 名称+省+市 相同，同一机构不能出现两次").format(row=first)
                )
            else:
                self.file_keys[key] = row.number
        # The existing record this row updates.
        match = by_ext.get(ext) if ext else None
        candidates = [i for i in by_key.get(key, []) if i.pk != (match.pk if match else None)]
        if match is None and not ext and candidates:
            if len(candidates) > 1:
                row.error(
                    "name",
                    _("已有 {n} 家 名称+省+市 相同的机构，请填写外部编码以区分").format(n=len(candidates)),
                )
            else:
                match = candidates[0]
        elif match is None and ext:
            for other in candidates:
                if not other.external_id:
                    row.warn(
                        "name",
                        _("可能与已有机构重复：“{name}”（ID {pk}，无外部编码），将新建一条记录").format(
                            name=other.name, pk=other.pk
                        ),
                    )
        if match is not None and match.pk not in self.allowed:
            row.error(
                "external_id" if ext else "name", _("对应的已有机构不在您的可见范围内，不能通过导入修改")
            )
        # Grade only for hospitals (a database constraint too).
        kind = row.get("kind") or (match.kind if match else None)
        grade = row.get("grade") if row.has("grade") else (match.grade if match else I.Grade.UNGRADED)
        if kind and grade and grade != I.Grade.UNGRADED and kind != I.Kind.HOSPITAL:
            row.error(
                "grade", _("只有医院可以填写等级，此机构类型为“{kind}”").format(kind=I.Kind(kind).label)
            )
        # Territory: a code, or the province/city rule.
        territory_id: int | None = None
        if row.get("territory"):
            territory = self.territories.by_code.get(row.get("territory").lower())
            if territory is None:
                row.error("territory", _("没有此编码的有效辖区"))
            else:
                territory_id = territory.pk
        elif province is not None:
            territory_id = self.territories.by_rule(province.code, city.code if city else None)
        if self.visible_territories is not None and (match is None or row.has("territory")):
            # Same rule as the institution form: a scoped user must put it where they can still see it.
            if territory_id is None and not row.errors:
                row.error("territory", _("请填写您负责的辖区编码，否则导入后您将看不到该机构"))
            elif territory_id is not None and territory_id not in self.visible_territories:
                row.error("territory", _("不是您负责的辖区"))
        # Parent: an existing institution or an earlier row of this file.
        parent_id: int | None = None
        parent_ext = row.get("parent")
        if parent_ext:
            if parent_ext == ext:
                row.error("parent", _("上级机构不能是自己"))
            elif parent_ext in parents:
                parent_id = parents[parent_ext]
            elif parent_ext in self.file_ext:
                if self.file_ext[parent_ext] < 0:
                    row.error(
                        "parent", _("上级机构所在的第 {row} 行有错误").format(row=-self.file_ext[parent_ext])
                    )
                else:
                    row.extra["parent_in_file"] = parent_ext
            else:
                row.error(
                    "parent", _("找不到此外部编码的上级机构（上级机构须已存在，或在本文件中排在本行之前）")
                )
        has_parent = bool(parent_ext) if row.has("parent") else bool(match and match.parent_id)
        network = row.get("network") if row.has("network") else (match.network if match else "")
        if has_parent != bool(network):
            row.error("network" if has_parent else "parent", _("填写上级机构时须同时填写隶属关系，反之亦然"))
        if (
            match is not None
            and parent_id is not None
            and parent_id != match.parent_id
            and self._in_subtree(parent_id, match.pk)
        ):
            row.error("parent", _("上级机构不能是本机构的下级"))
        if ext and ext not in self.file_ext:
            self.file_ext[ext] = -row.number if row.errors else row.number
        if row.errors:
            return
        values = self._values(row, match, territory_id, parent_id, county)
        if match is None:
            row.action = "create"
            row.obj = Institution(**values)
            self._refresh_keys(row.obj)
        else:
            changed = apply_changes(match, values)
            if {"name", "aliases"} & set(changed):
                self._refresh_keys(match)
                changed += ["search_pinyin", "search_initials"]
            if "parent_in_file" in row.extra:
                changed.append("parent_id")  # set in write(), once the new parent has its pk
            row.obj = match
            row.action = "update" if changed else "unchanged"
            row.extra["changed"] = changed

    def _values(
        self,
        row: Row,
        match: Institution | None,
        territory_id: int | None,
        parent_id: int | None,
        county: Any,
    ) -> dict[str, Any]:
        values: dict[str, Any] = {name: row.get(name) for name in PLAIN if row.has(name)}
        if row.get("external_id"):
            values["external_id"] = row.get("external_id")
        province, city = row.extra["province"], row.extra["city"]
        values["province_id"] = province.code
        if row.has("city") or (row.has("county") and city is not None):
            values["city_id"] = city.code if city else None
        if row.has("county"):
            values["county_id"] = county.code if county else None
        if row.has("territory") or match is None:
            values["territory_id"] = territory_id
        if row.has("parent") and "parent_in_file" not in row.extra:
            values["parent_id"] = parent_id
        return values

    @staticmethod
    def _in_subtree(node_id: int | None, root_id: int) -> bool:
        """Whether walking up from node_id reaches root_id (a parent cycle)."""
        for _depth in range(50):
            if node_id is None:
                return False
            if node_id == root_id:
                return True
            node_id = Institution.objects.filter(pk=node_id).values_list("parent_id", flat=True).first()
        return True

    @staticmethod
    def _refresh_keys(inst: Institution) -> None:
        inst.search_pinyin, inst.search_initials = search_keys(
            institution_search_text(inst.name, inst.aliases)
        )

    def write(self, rows: list[Row]) -> None:
        # A row whose parent is an earlier row of the same batch waits until that parent has its pk.
        pending = rows
        while pending:
            ready: list[Row] = []
            waiting: list[Row] = []
            for row in pending:
                parent_ext = row.extra.get("parent_in_file")
                (ready if parent_ext is None or parent_ext in self.pk_by_ext else waiting).append(row)
            if not ready:
                raise RuntimeError("unresolved parent rows")  # check() only lets earlier rows be parents
            for row in ready:
                parent_ext = row.extra.get("parent_in_file")
                if parent_ext:
                    row.obj.parent_id = self.pk_by_ext[parent_ext]
            create_with_history(self, Institution, [r.obj for r in ready if r.action == "create"])
            updates = [r for r in ready if r.action == "update"]
            update_with_history(
                self, Institution, [r.obj for r in updates], {f for r in updates for f in r.extra["changed"]}
            )
            for row in ready:
                if row.obj.external_id:
                    self.pk_by_ext[row.obj.external_id] = row.obj.pk
            pending = waiting
        reindex_institutions(
            [r.obj for r in rows if r.action == "create"],
            [(r.obj, r.extra["changed"]) for r in rows if r.action == "update"],
        )
        # Territory history: new institutions' first period (since the beginning, nothing to
        # re-attribute), and a move from today for those whose territory or area changed.
        territory_history.realign(
            institution_ids=[r.obj.pk for r in rows if r.action == "create"], actor=self.actor, notify=False
        )
        territory_history.realign(
            institution_ids=[
                r.obj.pk for r in rows if r.action == "update" and set(r.extra["changed"]) & TERRITORY_INPUTS
            ],
            actor=self.actor,
            reason=_("导入"),
        )
        # Segments read the institution (kind, grade…): recompute its professionals when those change.
        moved = [r.obj.pk for r in rows if r.action == "update" and set(r.extra["changed"]) & SEGMENT_INPUTS]
        if moved:
            changed = {f for r in rows if r.action == "update" for f in r.extra["changed"]}
            ids = list(Professional.objects.filter(institution_id__in=moved).values_list("pk", flat=True))
            resegment(self, ids, changed, force=False)
