"""Profile details of the demo's professionals: preferences, concerns, habits, key dates and needs.

Most profiles are kept up to date by their rep (filled and confirmed within the last months);
some were filled long ago and never re-checked (stale), and some hold little more than a name
and a department, so the "待完善档案" list has work in it. Completeness and the stale count are
assessed with customers.quality while the row is made, so no second pass over the table is needed.
Prescribing habits are qualitative descriptions only: never prescription counts (RULES_CN §2).
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any, cast

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from pharmacrm.customers import quality, segmentation
from pharmacrm.customers.models import Need, Professional, ProfileRequirement, Segment, SegmentationRule
from pharmacrm.ops.demo.writer import Writer

Role = Professional.Role
Title = Professional.Title
Channel = Professional.Channel

# The share of profiles a rep keeps current, filled long ago and never re-checked, or barely started.
KEPT, STALE, SPARSE = "kept", "stale", "sparse"
PROFILE_STATE = {KEPT: 65.0, STALE: 20.0, SPARSE: 15.0}
FILL_RATE = {KEPT: 0.92, STALE: 0.8, SPARSE: 0.3}

CHANNELS: dict[str, float] = {
    Channel.WECHAT: 45,
    Channel.IN_PERSON: 30,
    Channel.PHONE: 15,
    Channel.ONLINE_MEETING: 7,
    Channel.EMAIL: 3,
}
PREFERRED_TIMES = (
    "周二下午门诊后", "周三上午查房后", "周四下午", "工作日中午", "周五下午科室会后", "下班后微信联系",
    "周一上午交班后", "非门诊日下午", "手术日以外的下午", "周三下午科室学习后",
)  # fmt: skip
INTERESTS = (
    "马拉松", "羽毛球", "摄影", "书法", "围棋", "徒步", "医学人文阅读", "古典音乐", "游泳", "茶艺", "乒乓球",
    "骑行", "国画", "太极拳", "网球",
)  # fmt: skip
CONCERNS = (
    "科室DRG/DIP控费", "集采品种替换后的疗效观察", "新版指南更新要点", "科研课题申报", "患者随访管理",
    "合理用药考核", "基层转诊与医联体协作", "临床试验入组", "门诊患者依从性", "科室学科建设",
    "年轻医生培养", "院内处方点评",
)  # fmt: skip
LEADER_CONCERNS = (
    "公立医院绩效考核", "DRG/DIP支付改革落地", "药占比与合理用药管理", "医联体建设", "学科建设与人才引进",
    "智慧医院建设", "国家集采中选品种落地", "医疗质量安全核心制度",
)  # fmt: skip
PHARMACY_CONCERNS = (
    "国家集采中选品种供应", "药事会新药遴选", "处方前置审核", "药品零差率后的运营", "临床药师队伍建设",
    "门诊用药咨询",
)  # fmt: skip
RETAIL_CONCERNS = ("门店慢病会员管理", "医保统筹门店政策", "处方外流承接", "DTP药房服务", "库存周转")
# Qualitative only: how someone prefers to treat, never how much they prescribe.
HABITS = (
    "倾向指南一线推荐方案", "重视循证证据，关注真实世界研究", "对新药持谨慎态度，先小范围试用",
    "重视患者依从性与用药便利性", "关注药物经济学与患者负担", "偏好联合用药方案", "强调个体化治疗与定期评估",
    "重视不良反应监测，用药前充分沟通", "习惯参考专家共识调整方案", "关注老年患者多重用药问题",
)  # fmt: skip
SOCIETIES = ("中华医学会", "中国医师协会", "省医学会", "市医学会", "中国研究型医院学会")
POSTS = ("主任委员", "副主任委员", "常务委员", "委员", "青年委员")

NEEDS: dict[str, tuple[str, ...]] = {
    Need.Kind.ACADEMIC: (
        "希望获取最新版指南解读资料", "希望参加省级学术会议并交流病例", "希望获得相关领域的最新文献",
        "计划开展真实世界研究，需要方法学支持", "希望邀请专家来院做专题讲座",
    ),
    Need.Kind.CLINICAL: (
        "需要患者教育材料，提高门诊患者依从性", "希望了解产品在肾功能不全患者中的用法",
        "关注与常用药物的相互作用", "需要随访管理工具支持慢病患者", "希望了解特殊人群的用药安全性数据",
    ),
    Need.Kind.CAREER: ("准备申报高级职称，关注论文发表", "希望参加规范化培训项目", "计划出国进修，关注交流机会"),
    Need.Kind.MANAGEMENT: (
        "科室需要优化慢病管理流程", "希望了解DRG下的科室运营经验", "需要科室内部培训资源",
        "希望建立与基层医院的转诊协作",
    ),
    Need.Kind.PERSONAL: ("倾向工作日中午短时间沟通", "偏好通过微信接收资料", "不希望在门诊时间被打扰"),
}  # fmt: skip
NEED_KINDS: dict[str, float] = {
    Need.Kind.ACADEMIC: 30.0,
    Need.Kind.CLINICAL: 35.0,
    Need.Kind.CAREER: 10.0,
    Need.Kind.MANAGEMENT: 15.0,
    Need.Kind.PERSONAL: 10.0,
}
NEED_STATUS: dict[str, float] = {
    Need.Status.OPEN: 35.0,
    Need.Status.IN_PROGRESS: 25.0,
    Need.Status.MET: 30.0,
    Need.Status.DROPPED: 10.0,
}

PRESCRIBERS = frozenset({Role.PHYSICIAN, Role.DEPARTMENT_HEAD})
LEADERS = frozenset({Role.PRESIDENT, Role.VICE_PRESIDENT, Role.MEDICAL_AFFAIRS_DIRECTOR})
SENIOR = frozenset({Title.CHIEF, Title.ASSOCIATE_CHIEF, Title.PHARMACIST_CHIEF})

# Fields a rep confirms with the customer, besides those the generator fills here.
ALWAYS_CONFIRMABLE = ("department", "title", "gender", "mobile", "wechat_id")

PROFILE_FIELDS = (
    "preferred_channel",
    "preferred_time",
    "interests",
    "current_concerns",
    "academic_posts",
    "prescribing_habits",
    "therapeutic_areas",
)
DERIVED_FIELDS = ("confirmed_fields", "completeness", "stale_count")

KeyDateRow = tuple[str, str, int, int, int | None]  # kind, label, month, day, year
NeedRow = tuple[str, str, str, bool, dt.date, dt.date | None]  # kind, description, status, met, found, met_on


@dataclass
class Extras:
    """What a profile holds besides its own columns: shared key dates and needs."""

    key_dates: list[KeyDateRow] = field(default_factory=list)
    needs: list[NeedRow] = field(default_factory=list)


def _pick(rng: random.Random, weighted: Mapping[str, float]) -> str:
    return rng.choices(list(weighted), weights=list(weighted.values()))[0]


class ProfileMaker:
    """Fills the profile part of a professional and assesses it against the role's requirements."""

    def __init__(self, *, today: dt.date, requirements: dict[str, list[ProfileRequirement]] | None = None):
        self.today = today
        self.requirements = quality.requirements_by_role() if requirements is None else requirements
        # The windows a kept profile stays inside (the shortest requirement is 6 months).
        self.recent = [today - dt.timedelta(days=d) for d in range(3, 150)]
        self.old = [today - dt.timedelta(days=d) for d in range(200, 900)]

    def _concern(self, rng: random.Random, role: str, kind: str) -> str:
        if kind in ("pharmacy", "retailer", "distributor"):
            return rng.choice(RETAIL_CONCERNS)
        if role in LEADERS:
            return rng.choice(LEADER_CONCERNS)
        if role == Role.PHARMACY_DIRECTOR:
            return rng.choice(PHARMACY_CONCERNS)
        return rng.choice(CONCERNS)

    def _academic(self, rng: random.Random, title: str, area: str, key: bool) -> str:
        if title not in SENIOR:
            return ""
        subject = f"{area}专业委员会" if area else "医院管理分会"
        post = rng.choice(POSTS[:3] if key else POSTS[2:])
        lines = [f"{rng.choice(SOCIETIES)}{subject}{post}"]
        if key and rng.random() < 0.4:
            lines.append(f"《中国{area or '医院管理'}杂志》编委")
        return "；".join(lines)

    def make(
        self,
        *,
        rng: random.Random,
        role: str,
        title: str,
        kind: str,
        area: str,
        key: bool,
        values: dict[str, Any],
    ) -> tuple[dict[str, Any], Extras]:
        """The profile columns (PROFILE_FIELDS + DERIVED_FIELDS) and the extras of one person.

        `values` are the person's other columns (role, title, department_id, mobile, influence …),
        read to assess completeness.
        """
        state = _pick(rng, PROFILE_STATE)
        rate = FILL_RATE[state]
        prescriber = role in PRESCRIBERS and kind in ("hospital", "clinic")
        profile: dict[str, Any] = {
            "preferred_channel": _pick(rng, CHANNELS) if rng.random() < rate else "",
            "preferred_time": rng.choice(PREFERRED_TIMES) if rng.random() < rate else "",
            "interests": "；".join(rng.sample(INTERESTS, rng.randint(1, 2))) if rng.random() < rate else "",
            "current_concerns": self._concern(rng, role, kind) if rng.random() < rate else "",
            "academic_posts": self._academic(rng, title, area, key) if rng.random() < rate else "",
            "prescribing_habits": rng.choice(HABITS) if prescriber and rng.random() < rate else "",
            "therapeutic_areas": area if area and rng.random() < max(rate, 0.6) else "",
        }
        extras = Extras()
        if rng.random() < {KEPT: 0.85, STALE: 0.5, SPARSE: 0.05}[state]:
            year = rng.randint(1960, 1992)
            extras.key_dates.append(
                ("birthday", "", rng.randint(1, 12), rng.randint(1, 28), year if rng.random() < 0.4 else None)
            )
            if rng.random() < 0.3:
                joined = rng.randint(1985, 2015)
                extras.key_dates.append(("work_anniversary", "参加工作", rng.randint(7, 9), 1, joined))
            if title in SENIOR and rng.random() < 0.2:
                extras.key_dates.append(
                    ("promotion", "晋升正高", rng.randint(1, 12), rng.randint(1, 28), self.today.year - 1)
                )
        if rng.random() < {KEPT: 0.85, STALE: 0.55, SPARSE: 0.2}[state]:
            for _n in range(rng.choice((1, 1, 2, 2, 3))):
                extras.needs.append(self._need(rng, state))

        confirmed: dict[str, str] = {}
        if state != SPARSE:
            days = self.recent if state == KEPT else self.old
            filled = [
                name
                for name in (*ALWAYS_CONFIRMABLE, *PROFILE_FIELDS)
                if values.get(name) or profile.get(name)
            ]
            filled += [
                "product_attitude",
                "prescribing_potential",
                "influence_decision",
                "influence_prescribing",
            ]
            filled += [
                name for name, rows in (("key_dates", extras.key_dates), ("needs", extras.needs)) if rows
            ]
            for name in filled:
                # A stale profile still has the odd field re-checked lately.
                pool = self.recent if state == STALE and rng.random() < 0.3 else days
                confirmed[name] = rng.choice(pool).isoformat()
        profile["confirmed_fields"] = confirmed
        person = SimpleNamespace(**values, **profile)
        assessed = quality.assess(
            cast(Professional, person),
            requirements=self.requirements.get(role, []),
            key_dates=len(extras.key_dates),
            needs=len(extras.needs),
            today=self.today,
        )
        profile["completeness"] = assessed.completeness
        profile["stale_count"] = assessed.stale_count
        return profile, extras

    def _need(self, rng: random.Random, state: str) -> NeedRow:
        kind = _pick(rng, NEED_KINDS)
        status = _pick(rng, NEED_STATUS)
        found = self.today - dt.timedelta(days=rng.randint(5, 170 if state == KEPT else 600))
        met = status == Need.Status.MET
        met_on = min(self.today, found + dt.timedelta(days=rng.randint(7, 90))) if met else None
        return kind, rng.choice(NEEDS[kind]), status, met, found, met_on


KEY_DATE_COLUMNS = ("professional_id", "kind", "label", "month", "day", "year", "shared_by_customer")
NEED_COLUMNS = (
    "professional_id",
    "kind",
    "description",
    "status",
    "met",
    "found_on",
    "met_on",
    "created_by_id",
)


def key_date_rows(person_ids: Sequence[int], extras: Sequence[Extras]) -> list[tuple[Any, ...]]:
    # Only dates the customer chose to share are recorded (KeyDate's constraint says so too).
    return [(pk, *row, True) for pk, extra in zip(person_ids, extras, strict=True) for row in extra.key_dates]


def need_rows(
    person_ids: Sequence[int], extras: Sequence[Extras], owners: Sequence[int | None]
) -> list[tuple[Any, ...]]:
    return [
        (pk, *row, owner)
        for pk, extra, owner in zip(person_ids, extras, owners, strict=True)
        for row in extra.needs
    ]


SEGMENT_COLUMNS = (
    "professional_id",
    "dimension",
    "computed_value",
    "rule_id",
    "inputs",
    "explanation",
    "computed_at",
)


def recompute_segments(
    *,
    professionals: QuerySet[Professional],
    batch_size: int,
    progress: Callable[[str], None],
    writer: Writer | None = None,
) -> int:
    """Run the segmentation rules over every professional of `professionals`.

    Each professional gets a stored Segment per ruled dimension with the rule, its inputs and an
    explanation; returns how many professionals' effective values the rules changed. Without a
    `writer` this is customers.segmentation.recompute_batch, history rows included; the big scales
    pass a history-less writer: the same segmentation.apply_rules, written with raw INSERTs.
    """
    rules = segmentation.active_rules()
    if not rules:
        return 0
    changed = done = 0
    last_id = 0
    now = timezone.now()
    while True:
        with transaction.atomic():
            batch = list(
                professionals.filter(pk__gt=last_id).select_related("institution").order_by("pk")[:batch_size]
            )
            if not batch:
                break
            if writer is None:
                changed += segmentation.recompute_batch(batch, rules=rules)
            else:
                changed += _apply_without_history(batch, rules=rules, writer=writer, now=now)
        done += len(batch)
        last_id = batch[-1].pk
        if done % (batch_size * 10) < len(batch):
            progress(f"  segments {done}")
    return changed


def _apply_without_history(
    batch: list[Professional], *, rules: dict[str, list[SegmentationRule]], writer: Writer, now: dt.datetime
) -> int:
    rows: list[tuple[Any, ...]] = []
    moved: list[Professional] = []
    for professional in batch:
        applied = segmentation.apply_rules(professional, rules=rules, segments={}, now=now)
        rows.extend(
            (
                professional.pk,
                s.dimension,
                s.computed_value,
                s.rule_id,
                s.inputs,
                s.explanation,
                s.computed_at,
            )
            for s in applied.created
        )
        if applied.professional_changed:
            moved.append(professional)
    writer.insert(Segment, SEGMENT_COLUMNS, rows)
    Professional.objects.bulk_update(moved, segmentation.DIMENSION_FIELDS)
    return len(moved)
