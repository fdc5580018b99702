"""Import professionals: upsert by external id, or by name + institution + department + mobile.

A new professional gets their primary affiliation (the history of where they work); a changed
institution or department closes the current primary affiliation and opens a new one.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any

from django.conf import settings
from django.db.models import Count, Max, Q
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from pharmacrm.core.errors import RuleViolation
from pharmacrm.core.imports import columns as c
from pharmacrm.core.imports.engine import ImportKind, Row
from pharmacrm.core.imports.registry import register
from pharmacrm.core.imports.seen import SeenKeys
from pharmacrm.customers import quality, segmentation, services
from pharmacrm.customers.importing.refs import (
    MASTER_DATA_ROLES,
    apply_changes,
    create_with_history,
    may_change,
    reindex_professionals,
    resolve_departments,
    resolve_institutions,
    update_with_history,
)
from pharmacrm.customers.models import Affiliation, Institution, KeyDate, Need, Professional, Segment
from pharmacrm.customers.pinyin import search_keys

P = Professional


def _prescribing(value: str) -> str:
    value = c.text(2000)(value)
    try:
        services.check_prescribing_text(value)
    except RuleViolation as exc:
        raise c.CellError(exc.message) from None
    return value


COLUMNS = [
    c.Column(
        "external_id",
        "外部编码",
        c.text(64),
        blank=None,
        aliases=("外部ID", "医生编码"),
        help=gettext_lazy("有则按它更新；没有则按 姓名+机构+科室+手机 更新"),
        example="D000001",
    ),
    c.Column("name", "姓名", c.text(64), required=True, example="张伟"),
    c.Column(
        "gender",
        "性别",
        c.choice(P.Gender, 男性="male", 女性="female", m="male", f="female"),
        blank=P.Gender.UNKNOWN,
        example="男",
    ),
    c.Column(
        "title",
        "职称",
        c.choice(P.Title, 主任="chief", 副主任="associate_chief", 主治="attending", 住院="resident"),
        example="主任医师",
    ),
    c.Column(
        "role",
        "角色",
        c.choice(
            P.Role,
            主任="department_head",
            科主任="department_head",
            医生="physician",
            副院长="vice_president",
        ),
        required=True,
        aliases=("客户角色",),
        example="科室主任",
    ),
    c.Column(
        "institution_external_id",
        "机构外部编码",
        c.text(64),
        aliases=("机构编码",),
        help=gettext_lazy("机构外部编码与机构名称至少填一个；都填时以编码为准"),
        example="H000001",
    ),
    c.Column("institution_name", "机构名称", c.text(200), aliases=("机构", "医院"), example="北京协和医院"),
    c.Column(
        "department",
        "科室",
        c.text(100),
        help=gettext_lazy("须为该机构已有的科室（可先导入科室）"),
        example="心内科",
    ),
    c.Column("mobile", "手机", c.phone, aliases=("手机号", "电话"), example="13800138000"),
    c.Column("wechat_id", "微信号", c.text(64), aliases=("微信",), example=""),
    c.Column("email", "邮箱", c.email, aliases=("电子邮箱",), example=""),
    c.Column(
        "preferred_channel",
        "偏好沟通方式",
        c.choice(P.Channel, 当面="in_person", 拜访="in_person", 线上="online_meeting"),
        example="面对面",
    ),
    c.Column("preferred_time", "方便沟通时间", c.text(100), example="周二下午门诊后"),
    c.Column("interests", "兴趣爱好", c.text(2000), example=""),
    c.Column("current_concerns", "近期关注点", c.text(2000), example=""),
    c.Column("academic_posts", "学术任职", c.text(2000), example="中华医学会心血管病学分会委员"),
    c.Column("publications", "代表论文/著作", c.text(4000), aliases=("代表论文",), example=""),
    c.Column(
        "prescribing_habits",
        "处方习惯",
        _prescribing,
        help=gettext_lazy("只记录定性描述（治疗偏好、用药理念），不能记录处方数量或占比"),
        example="偏好循证证据充分的方案",
    ),
    c.Column("therapeutic_areas", "关注治疗领域", c.text(300), example="心血管;代谢"),
    c.Column(
        "product_attitude",
        "对我司产品的态度",
        c.choice(P.Attitude),
        blank=P.Attitude.UNAWARE,
        aliases=("产品态度",),
        example="了解",
    ),
    c.Column(
        "prescribing_potential", "处方潜力", c.choice(P.Potential), blank=P.Potential.INITIAL, example="高"
    ),
    c.Column("engagement_stage", "合作阶段", c.choice(P.Stage), blank=P.Stage.NEW, example="稳定合作"),
    c.Column("influence_decision", "科室决策影响力", c.integer(minimum=1, maximum=5), blank=1, example="4"),
    c.Column("influence_prescribing", "处方影响力", c.integer(minimum=1, maximum=5), blank=1, example="4"),
    c.Column("influence_academic", "学术影响力", c.integer(minimum=1, maximum=5), blank=1, example="3"),
    c.Column(
        "status",
        "状态",
        c.choice(P.Status, 离职="left", 正常="active"),
        blank=P.Status.ACTIVE,
        example="在职",
    ),
    # Written by exports, ignored on import: the tier is computed by segmentation, with its explanation.
    c.Column("tier", "客户分类", export_only=True),
    c.Column("completeness", "档案完整度", export_only=True),
    c.Column("updated_at", "更新时间", export_only=True),
]

PLAIN = tuple(
    col.name
    for col in COLUMNS
    if not col.export_only
    and col.name not in {"external_id", "institution_external_id", "institution_name", "department"}
)
RULE_DRIVEN = ("prescribing_potential", "engagement_stage")
# attname → the quality module's field name, for the confirmation dates.
_CONFIRMABLE = {name: name for name in quality.PROFILE_FIELDS} | {"department_id": "department"}


@register
class ProfessionalImport(ImportKind):
    name = "professionals"
    label = gettext_lazy("医务人员")
    model = Professional
    columns = COLUMNS
    roles = MASTER_DATA_ROLES
    batch_size = 2000
    examples = [
        [
            "D000001",
            "张伟",
            "男",
            "主任医师",
            "科室主任",
            "H000001",
            "北京协和医院",
            "心内科",
            "13800138000",
            "",
            "",
            "面对面",
            "周二下午门诊后",
            "",
            "",
            "中华医学会心血管病学分会委员",
            "",
            "偏好循证证据充分的方案",
            "心血管;代谢",
            "了解",
            "高",
            "稳定合作",
            "4",
            "4",
            "3",
            "在职",
        ],
    ]
    notes = [
        gettext_lazy("机构须已存在（先导入机构）；科室须为该机构下已有的科室（先导入科室）。"),
        gettext_lazy("手机、微信、邮箱属于个人信息：请只导入已取得同意的联系方式。"),
        gettext_lazy("客户分类由分类规则计算，不能导入；由规则计算的处方潜力、合作阶段也不能通过导入修改。"),
    ]

    def begin(self) -> None:
        self.max_pk = Professional.objects.aggregate(m=Max("pk"))["m"] or 0
        # In-file duplicates, in ~24 bytes a key (a 10^6-row file must fit the memory budget).
        self.file_ext = SeenKeys()
        self.file_keys = SeenKeys()
        self.today = timezone.localdate()
        self.driven = segmentation.rule_driven_dimensions() & set(RULE_DRIVEN)
        self.rules = segmentation.active_rules()
        self.outcomes: segmentation.OutcomeMemo = {}
        self.requirements = quality.requirements_by_role()
        self.institutions: dict[int, Institution] = {}

    def check(self, rows: list[Row]) -> None:
        resolve_institutions(self, rows, ext_field="institution_external_id", name_field="institution_name")
        resolve_departments(self, rows, field="department")
        ext_ids = [r.get("external_id") for r in rows if r.get("external_id")]
        # Only records that existed before this run count as existing (pk <= max_pk): rows the run
        # wrote itself are in-file duplicates, found without the database, so dry runs agree.
        existing = Professional.objects.filter(pk__lte=self.max_pk)
        by_ext = (
            {p.external_id or "": p for p in existing.filter(external_id__in=ext_ids)}
            if ext_ids and self.max_pk
            else {}
        )
        # Same name at the same institution: the natural key of rows without an external id, and
        # the possible-duplicate warning for new external ids. Rows whose external id is known need
        # neither, so re-importing a file asks nothing here. One (institution, names) term each:
        # two big IN lists made SQLite probe every combination (~1.4 ms a row at 10^6).
        wanted: dict[int, set[str]] = defaultdict(set)
        for r in rows:
            inst, name = r.extra.get("institution"), r.get("name")
            if inst is not None and name and r.get("external_id") not in by_ext:
                wanted[inst.pk].add(name)
        same_name: dict[tuple[str, int], list[Professional]] = defaultdict(list)
        if wanted and self.max_pk:
            pairs = sorted(wanted.items())
            for start in range(0, len(pairs), 200):
                q = Q()
                for inst_id, inst_names in pairs[start : start + 200]:
                    q |= Q(institution_id=inst_id, name__in=sorted(inst_names))
                for p in existing.filter(q):
                    same_name[(p.name, p.institution_id)].append(p)
        allowed = may_change(
            self,
            Professional,
            {p.pk for p in by_ext.values()} | {p.pk for v in same_name.values() for p in v},
        )
        for row in rows:
            self._check_row(row, by_ext, same_name, allowed)

    def _check_row(
        self,
        row: Row,
        by_ext: dict[str, Professional],
        same_name: dict[tuple[str, int], list[Professional]],
        allowed: set[int],
    ) -> None:
        ext = row.get("external_id")
        inst, dept = row.extra.get("institution"), row.extra.get("department")
        if ext:
            first = self.file_ext.add(ext, row.number)
            if first is not None:
                row.error("external_id", _("外部编码在本文件中重复（与第 {row} 行相同）").format(row=first))
        if row.errors or inst is None:
            return
        mobile = row.get("mobile") or ""
        key = (row.get("name"), inst.pk, dept.pk if dept else None, mobile)
        candidates = same_name.get((row.get("name"), inst.pk), [])
        match = by_ext.get(ext) if ext else None
        if match is None and not ext:
            first = self.file_keys.add(key, row.number)
            if first is not None:
                row.error(
                    "name",
                    _("与第 {row} 行的 姓名+机构+科室+手机 相同，同一人不能出现两次").format(row=first),
                )
                return
            same = [p for p in candidates if p.department_id == key[2] and p.mobile == mobile]
            if len(same) > 1:
                row.error(
                    "name",
                    _("已有 {n} 位 姓名+机构+科室+手机 相同的医务人员，请填写外部编码以区分").format(
                        n=len(same)
                    ),
                )
                return
            match = same[0] if same else None
        elif match is None:
            for other in candidates:
                if not other.external_id:
                    row.warn(
                        "name",
                        _(
                            "可能与已有医务人员重复：“{name}”（ID {pk}，同一机构，无外部编码），将新建一条记录"
                        ).format(name=other.name, pk=other.pk),
                    )
                    break
        if match is not None and match.pk not in allowed:
            row.error(
                "external_id" if ext else "name", _("对应的已有医务人员不在您的可见范围内，不能通过导入修改")
            )
            return
        values: dict[str, Any] = {name: row.get(name) for name in PLAIN if row.has(name)}
        for name in self.driven & set(values):
            # Same rule as the profile page: a dimension computed by active rules changes by override only.
            if not row.cells.get(name):
                del values[name]
            elif match is None or values[name] != getattr(match, name):
                row.error(name, _("由分类规则计算，不能通过导入修改；请经理使用“人工调整”并说明原因"))
        if row.errors:
            return
        if ext:
            values["external_id"] = ext
        values["institution_id"] = inst.pk
        if row.has("department") or match is None or match.institution_id != inst.pk:
            values["department_id"] = dept.pk if dept else None
        if match is None:
            row.action = "create"
            row.obj = Professional(**values)
            row.obj.search_pinyin, row.obj.search_initials = search_keys(row.obj.name)
            self._confirm(row.obj, [k for k, v in values.items() if v not in (None, "")])
            return
        before = (match.institution_id, match.department_id)
        changed = apply_changes(match, values)
        if "name" in changed:
            match.search_pinyin, match.search_initials = search_keys(match.name)
            changed += ["search_pinyin", "search_initials"]
        if changed:
            # As on the profile page, a value set by hand (here: by file) counts as confirmed today.
            self._confirm(match, changed)
            changed.append("confirmed_fields")
        row.obj = match
        row.action = "update" if changed else "unchanged"
        row.extra["changed"] = changed
        row.extra["moved"] = before != (match.institution_id, match.department_id)

    def _confirm(self, professional: Professional, attnames: list[str]) -> None:
        names = [_CONFIRMABLE[a] for a in attnames if a in _CONFIRMABLE]
        if names:
            confirmed = dict(professional.confirmed_fields or {})
            confirmed.update(dict.fromkeys(names, self.today.isoformat()))
            professional.confirmed_fields = confirmed

    def write(self, rows: list[Row]) -> None:
        creates = [r.obj for r in rows if r.action == "create"]
        updates = [r for r in rows if r.action == "update"]
        new_segments, changed_segments = self._derive(creates, updates)
        created = create_with_history(self, Professional, creates)
        update_with_history(
            self, Professional, [r.obj for r in updates], {f for r in updates for f in r.extra["changed"]}
        )
        create_with_history(self, Segment, new_segments)
        update_with_history(self, Segment, changed_segments, segmentation.SEGMENT_FIELDS)
        moved = [r.obj for r in updates if r.extra.get("moved")]
        self._move_primary_affiliations(moved)
        create_with_history(
            self,
            Affiliation,
            [
                Affiliation(
                    professional_id=p.pk,
                    institution_id=p.institution_id,
                    department_id=p.department_id,
                    is_primary=True,
                    valid_from=self.today,
                )
                for p in [*created, *moved]
            ],
        )
        reindex_professionals(created, [(r.obj, r.extra["changed"]) for r in updates])

    def _derive(self, creates: list[Professional], updates: list[Row]) -> tuple[list[Segment], list[Segment]]:
        """Segments (tier with its explanation) and profile quality, computed before the write so they
        go into the same insert or update: one history row per professional, not two."""
        resegment = [
            r
            for r in updates
            if segmentation.recompute_needed_for(self.rules, r.extra["changed"]) or r.extra["moved"]
        ]
        self._attach_institutions([*creates, *(r.obj for r in updates)])
        existing: dict[int, dict[str, Segment]] = defaultdict(dict)
        if resegment and self.rules:
            for seg in Segment.objects.filter(professional_id__in=[r.obj.pk for r in resegment]):
                existing[seg.professional_id][seg.dimension] = seg
        new_segments: list[Segment] = []
        changed_segments: list[Segment] = []
        # One switch to the site language for every explanation of the batch, not one per row.
        with translation.override(settings.LANGUAGE_CODE):
            for p in creates if self.rules else []:
                applied = segmentation.apply_rules(
                    p, rules=self.rules, segments={}, now=self.now, memo=self.outcomes
                )
                new_segments += applied.created
            for row in resegment if self.rules else []:
                applied = segmentation.apply_rules(
                    row.obj, rules=self.rules, segments=existing[row.obj.pk], now=self.now, memo=self.outcomes
                )
                new_segments += applied.created
                changed_segments += applied.updated
                if applied.professional_changed:
                    row.extra["changed"] += segmentation.DIMENSION_FIELDS
        for p in creates:
            q = quality.assess(
                p, requirements=self.requirements.get(p.role, []), key_dates=0, needs=0, today=self.today
            )
            p.completeness, p.stale_count = q.completeness, q.stale_count
        if updates:
            counts = self._relation_counts([r.obj.pk for r in updates])
            for row in updates:
                p = row.obj
                q = quality.assess(
                    p, requirements=self.requirements.get(p.role, []), today=self.today, **counts[p.pk]
                )
                if (p.completeness, p.stale_count) != (q.completeness, q.stale_count):
                    p.completeness, p.stale_count = q.completeness, q.stale_count
                    row.extra["changed"] += ["completeness", "stale_count"]
        return new_segments, changed_segments

    def _attach_institutions(self, professionals: list[Professional]) -> None:
        """Rules read professional.institution.kind/grade…: load each institution once per run."""
        missing = {p.institution_id for p in professionals} - set(self.institutions)
        if len(self.institutions) > 50_000:
            self.institutions.clear()
        if missing:
            self.institutions.update(Institution.objects.in_bulk(list(missing)))
        for p in professionals:
            p.institution = self.institutions[p.institution_id]

    @staticmethod
    def _relation_counts(ids: list[int]) -> dict[int, dict[str, int]]:
        counts: dict[int, dict[str, int]] = {pk: {"key_dates": 0, "needs": 0} for pk in ids}
        for model, name in ((KeyDate, "key_dates"), (Need, "needs")):
            for pk, n in (
                model.objects.filter(professional_id__in=ids)
                .values_list("professional_id")
                .annotate(n=Count("id"))
            ):
                counts[pk][name] = n
        return counts

    def _move_primary_affiliations(self, moved: list[Professional]) -> None:
        """End each moved professional's current primary affiliation yesterday; write() opens today's."""
        if not moved:
            return
        current = list(
            Affiliation.objects.filter(
                professional_id__in=[p.pk for p in moved], is_primary=True, valid_to__isnull=True
            )
        )
        yesterday = self.today - dt.timedelta(days=1)
        for affiliation in current:
            start = affiliation.valid_from
            affiliation.valid_to = max(yesterday, start) if start else yesterday
        update_with_history(self, Affiliation, current, ["valid_to"])
