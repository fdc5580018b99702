"""The people at each institution: departments, roles, titles, segmentation and profile details."""

from __future__ import annotations

import functools
import random
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pharmacrm.customers.models import Institution, Professional
from pharmacrm.ops.demo import names, profiles
from pharmacrm.ops.demo.institutions import InstitutionSpec

Kind = Institution.Kind
Role = Professional.Role
Title = Professional.Title
Tier = Professional.Tier
Potential = Professional.Potential
Stage = Professional.Stage
Channel = Professional.Channel
Attitude = Professional.Attitude

# Clinical departments: (specialty, therapeutic area, how many of a hospital's contacts work there
# relative to others). The company sells cardiovascular, diabetes and respiratory drugs, so its
# reps know more people in those departments.
CLINICAL: dict[str, tuple[str, str, float]] = {
    "心血管内科": ("高血压;冠心病;心力衰竭;心律失常", "心血管", 3.0),
    "内分泌科": ("糖尿病;甲状腺疾病;骨质疏松", "内分泌", 2.5),
    "呼吸内科": ("慢阻肺;哮喘;肺部感染", "呼吸", 2.5),
    "消化内科": ("胃食管反流;炎症性肠病;肝病", "消化", 1.5),
    "神经内科": ("脑卒中;癫痫;帕金森病", "神经", 1.5),
    "肿瘤科": ("肺癌;乳腺癌;消化道肿瘤", "肿瘤", 2.0),
    "肾内科": ("慢性肾病;血液透析", "肾病", 1.2),
    "普外科": ("胃肠外科;肝胆外科", "外科", 0.8),
    "骨科": ("骨关节炎;脊柱外科", "骨科", 0.8),
    "儿科": ("儿童呼吸;儿童消化", "儿科", 0.8),
    "妇产科": ("产科;妇科肿瘤", "妇产", 0.6),
    "急诊科": ("急危重症", "急诊", 0.6),
    "重症医学科": ("重症感染;呼吸支持", "重症", 0.6),
    "老年医学科": ("多病共存;慢病管理", "老年医学", 1.0),
    "中医内科": ("中西医结合;慢病调理", "中医", 1.2),
    "针灸科": ("针灸;康复", "中医", 0.5),
    "新生儿科": ("早产儿;新生儿黄疸", "儿科", 0.8),
    "乳腺科": ("乳腺疾病;乳腺癌", "肿瘤", 1.0),
    "小儿内科": ("儿童呼吸;儿童消化", "儿科", 1.5),
    "小儿外科": ("先天畸形", "儿科", 0.6),
    "儿童保健科": ("生长发育", "儿科", 0.6),
    "肿瘤内科": ("化疗;靶向治疗;免疫治疗", "肿瘤", 2.5),
    "放疗科": ("放射治疗", "肿瘤", 1.0),
    "胸外科": ("肺癌手术;食管癌手术", "肿瘤", 1.0),
    "血液科": ("白血病;淋巴瘤", "血液", 1.2),
    "精神科": ("抑郁症;精神分裂症", "精神", 2.0),
    "心理科": ("焦虑;睡眠障碍", "精神", 1.0),
    "感染科": ("病毒性肝炎;发热待查", "感染", 2.0),
    "肝病科": ("慢性乙肝;肝硬化", "感染", 1.5),
    "全科": ("慢病管理;家庭医生签约", "全科", 2.0),
    "中医科": ("中医调理", "中医", 1.0),
}
GENERAL_ORDER = (
    "心血管内科", "内分泌科", "呼吸内科", "消化内科", "神经内科", "肿瘤科", "肾内科", "普外科", "骨科",
    "儿科", "妇产科", "急诊科", "重症医学科", "老年医学科",
)  # fmt: skip
SPECIALISED: tuple[tuple[tuple[str, ...], tuple[str, ...]], ...] = (
    (("妇幼", "妇产"), ("妇产科", "儿科", "新生儿科", "乳腺科", "内分泌科")),
    (("儿童",), ("小儿内科", "新生儿科", "小儿外科", "儿童保健科", "儿科")),
    (("肿瘤",), ("肿瘤内科", "放疗科", "胸外科", "乳腺科", "血液科")),
    (("精神", "心理"), ("精神科", "心理科", "神经内科")),
    (("传染", "公共卫生", "感染"), ("感染科", "肝病科", "呼吸内科")),
)
CLINICAL_COUNT = {"3a": 14, "3b": 11, "3": 11, "2a": 8, "2b": 8, "2": 6, "1": 4, "none": 4}
HEADCOUNT = {"3a": (30, 120), "3b": (20, 80), "3": (20, 80), "2a": (8, 40), "2b": (8, 40), "2": (6, 30)}

OFFICE, PHARMACY, MEDICAL, NURSING = "院办", "药剂科", "医务科", "护理部"


@dataclass
class DepartmentRow:
    name: str
    specialty: str
    headcount: int | None
    area: str


def clinical_departments(spec: InstitutionSpec) -> list[str]:
    if spec.kind == Kind.CLINIC:
        return ["全科", "中医科"] if spec.professionals >= 3 else ["全科"]
    if spec.kind != Kind.HOSPITAL:
        return []
    for markers, departments in SPECIALISED:
        if any(m in spec.name for m in markers):
            return list(departments)
    count = CLINICAL_COUNT[spec.grade]
    order = list(GENERAL_ORDER[:count])
    if "中医" in spec.name:
        order = ["中医内科", "针灸科", *order[: count - 2]]
    return order


# Titles by role: weights.
TITLES: dict[str, dict[str, float]] = {
    Role.PRESIDENT: {Title.CHIEF: 80, Title.ASSOCIATE_CHIEF: 20},
    Role.VICE_PRESIDENT: {Title.CHIEF: 75, Title.ASSOCIATE_CHIEF: 25},
    Role.PHARMACY_DIRECTOR: {Title.PHARMACIST_CHIEF: 70, Title.PHARMACIST: 30},
    Role.MEDICAL_AFFAIRS_DIRECTOR: {Title.CHIEF: 40, Title.ASSOCIATE_CHIEF: 60},
    Role.DEPARTMENT_HEAD: {Title.CHIEF: 65, Title.ASSOCIATE_CHIEF: 35},
    Role.PHYSICIAN: {Title.CHIEF: 12, Title.ASSOCIATE_CHIEF: 25, Title.ATTENDING: 38, Title.RESIDENT: 25},
    Role.HEAD_NURSE: {Title.NURSE_CHIEF: 35, Title.NURSE: 65},
    Role.PROCUREMENT: {Title.OTHER: 60, Title.PHARMACIST: 40},
}
CLINIC_PHYSICIAN: dict[str, float] = {Title.ATTENDING: 50, Title.RESIDENT: 35, Title.ASSOCIATE_CHIEF: 15}
FEMALE_SHARE: dict[str, float] = {
    Role.PRESIDENT: 0.2, Role.VICE_PRESIDENT: 0.3, Role.PHARMACY_DIRECTOR: 0.55, Role.MEDICAL_AFFAIRS_DIRECTOR: 0.4,
    Role.DEPARTMENT_HEAD: 0.3, Role.PHYSICIAN: 0.5, Role.HEAD_NURSE: 0.97, Role.PROCUREMENT: 0.5,
}  # fmt: skip
KEY_SHARE: dict[str, float] = {
    Role.PRESIDENT: 0.45, Role.VICE_PRESIDENT: 0.4, Role.PHARMACY_DIRECTOR: 0.35, Role.MEDICAL_AFFAIRS_DIRECTOR: 0.3,
    Role.DEPARTMENT_HEAD: 0.3, Role.PHYSICIAN: 0.05, Role.HEAD_NURSE: 0.04, Role.PROCUREMENT: 0.1,
}  # fmt: skip
GRADE_FACTOR: dict[str, float] = {
    "3a": 1.3,
    "3b": 1.0,
    "3": 1.0,
    "2a": 0.7,
    "2b": 0.7,
    "2": 0.7,
    "1": 0.4,
    "none": 0.4,
}
POTENTIAL_BY_TIER: dict[str, dict[str, float]] = {
    Tier.KEY: {Potential.HIGH: 65, Potential.MEDIUM: 30, Potential.INITIAL: 5},
    Tier.POTENTIAL: {Potential.HIGH: 20, Potential.MEDIUM: 55, Potential.INITIAL: 25},
    Tier.GENERAL: {Potential.HIGH: 5, Potential.MEDIUM: 35, Potential.INITIAL: 60},
}
STAGE_BY_TIER: dict[str, dict[str, float]] = {
    Tier.KEY: {Stage.STABLE: 55, Stage.GROWTH: 25, Stage.REACTIVATION: 15, Stage.NEW: 5},
    Tier.POTENTIAL: {Stage.GROWTH: 40, Stage.NEW: 30, Stage.STABLE: 15, Stage.REACTIVATION: 15},
    Tier.GENERAL: {Stage.NEW: 55, Stage.STABLE: 20, Stage.REACTIVATION: 15, Stage.GROWTH: 10},
}
ATTITUDE_BY_STAGE: dict[str, dict[str, float]] = {
    Stage.NEW: {Attitude.UNAWARE: 55, Attitude.AWARE: 35, Attitude.TRIAL: 5, Attitude.RESISTANT: 5},
    Stage.GROWTH: {Attitude.AWARE: 35, Attitude.TRIAL: 40, Attitude.ADOPTER: 20, Attitude.RESISTANT: 5},
    Stage.STABLE: {Attitude.ADOPTER: 60, Attitude.ADVOCATE: 25, Attitude.TRIAL: 15},
    Stage.REACTIVATION: {Attitude.AWARE: 40, Attitude.RESISTANT: 30, Attitude.TRIAL: 30},
}
# Decision and prescribing influence by role: (low, high) before noise.
DECISION: dict[str, tuple[int, int]] = {
    Role.PRESIDENT: (5, 5), Role.VICE_PRESIDENT: (4, 5), Role.PHARMACY_DIRECTOR: (4, 5),
    Role.MEDICAL_AFFAIRS_DIRECTOR: (3, 4), Role.DEPARTMENT_HEAD: (4, 5), Role.PHYSICIAN: (1, 3),
    Role.HEAD_NURSE: (2, 3), Role.PROCUREMENT: (2, 3),
}  # fmt: skip
PRESCRIBING: dict[str, tuple[int, int]] = {
    Role.PRESIDENT: (2, 3), Role.VICE_PRESIDENT: (2, 3), Role.PHARMACY_DIRECTOR: (3, 4),
    Role.MEDICAL_AFFAIRS_DIRECTOR: (2, 3), Role.DEPARTMENT_HEAD: (4, 5), Role.PHYSICIAN: (2, 4),
    Role.HEAD_NURSE: (1, 2), Role.PROCUREMENT: (1, 1),
}  # fmt: skip
ACADEMIC: dict[str, tuple[int, int]] = {
    Title.CHIEF: (4, 5), Title.ASSOCIATE_CHIEF: (3, 4), Title.ATTENDING: (2, 3), Title.RESIDENT: (1, 2),
    Title.PHARMACIST_CHIEF: (3, 4), Title.PHARMACIST: (1, 2), Title.NURSE_CHIEF: (2, 3), Title.NURSE: (1, 2),
    Title.OTHER: (1, 1),
}  # fmt: skip


def _pick(rng: random.Random, weighted: Mapping[Any, float]) -> Any:
    return rng.choices(list(weighted), weights=list(weighted.values()))[0]


def _level(rng: random.Random, bounds: tuple[int, int], bump: int = 0) -> int:
    low, high = bounds
    value = rng.randint(low, high) + bump + rng.choice((-1, 0, 0, 0, 1))
    return min(5, max(1, value))


def plan_departments(*, rng: random.Random, spec: InstitutionSpec) -> list[DepartmentRow]:
    """Departments worth recording: the clinical ones plus the offices whose heads the company meets."""
    clinical = clinical_departments(spec)
    if not clinical:
        return []
    lo, hi = HEADCOUNT.get(spec.grade, (3, 15)) if spec.kind == Kind.HOSPITAL else (2, 15)
    rows = [DepartmentRow(d, CLINICAL[d][0], rng.randint(lo, hi), CLINICAL[d][1]) for d in clinical]
    n = spec.professionals
    if spec.kind == Kind.HOSPITAL:
        rows.append(DepartmentRow(PHARMACY, "药事管理;药品采购", rng.randint(5, 40), ""))
        if n >= 8:
            rows.append(DepartmentRow(MEDICAL, "医疗质量;临床路径", rng.randint(4, 15), ""))
        if n >= 6:
            rows.append(DepartmentRow(OFFICE, "", rng.randint(3, 10), ""))
        if n >= 20:
            rows.append(DepartmentRow(NURSING, "护理质量", rng.randint(3, 10), ""))
    elif n >= 2:
        rows.append(DepartmentRow(PHARMACY, "药房", rng.randint(1, 5), ""))
    return rows


def plan_roles(
    *, rng: random.Random, spec: InstitutionSpec, departments: list[DepartmentRow]
) -> list[tuple[str, int | None]]:
    """(role, department index) for each of the institution's professionals."""
    n = spec.professionals
    index = {d.name: i for i, d in enumerate(departments)}
    no_department: int | None = None
    if spec.kind in (Kind.PHARMACY, Kind.RETAILER):
        return [(Role.PHARMACY_DIRECTOR.value, no_department)] + [(Role.PROCUREMENT.value, no_department)] * (
            n - 1
        )
    if spec.kind == Kind.DISTRIBUTOR:
        return [(Role.PROCUREMENT.value, no_department)] * n
    clinical = [i for i, d in enumerate(departments) if d.name in CLINICAL]
    weights = [CLINICAL[departments[i].name][2] for i in clinical]
    slots: list[tuple[str, int | None]] = [(Role.PHYSICIAN, clinical[0])]
    if spec.kind == Kind.CLINIC:
        if n >= 3:
            slots.append((Role.DEPARTMENT_HEAD, clinical[0]))
        if PHARMACY in index:
            slots.append((Role.PHARMACY_DIRECTOR, index[PHARMACY]))
        if n >= 4 and "卫生院" in spec.name:
            slots.append((Role.PRESIDENT, None))
    else:
        slots.append((Role.PHARMACY_DIRECTOR, index[PHARMACY]))
        heads = min(len(clinical), max(1, n // 6))
        slots.extend((Role.DEPARTMENT_HEAD, i) for i in clinical[:heads])
        if OFFICE in index and rng.random() < (0.6 if n >= 10 else 0.3):
            slots.append((Role.PRESIDENT, index[OFFICE]))
        if OFFICE in index and n >= 10:
            slots.extend([(Role.VICE_PRESIDENT, index[OFFICE])] * (1 if n < 40 else 2))
        if MEDICAL in index:
            slots.append((Role.MEDICAL_AFFAIRS_DIRECTOR, index[MEDICAL]))
        if n >= 12:
            slots.extend([(Role.PROCUREMENT, index[PHARMACY])] * (1 if n < 60 else 2))
        if NURSING in index:
            slots.append((Role.HEAD_NURSE, index[NURSING]))
        slots.extend((Role.HEAD_NURSE, rng.choices(clinical, weights=weights)[0]) for _ in range(n // 12))
    slots = slots[:n]
    while len(slots) < n:
        slots.append((Role.PHYSICIAN, rng.choices(clinical, weights=weights)[0]))
    return slots


def position(*, spec: InstitutionSpec, role: str) -> str:
    """What the person's card says; pharmacies and distributors name the same roles differently."""
    if spec.kind in (Kind.PHARMACY, Kind.RETAILER):
        return "店长（执业药师）" if role == Role.PHARMACY_DIRECTOR else "采购"
    if spec.kind == Kind.DISTRIBUTOR:
        return "采购经理"
    if spec.kind == Kind.CLINIC and role == Role.PRESIDENT:
        return "院长"
    return _role_label(role)


@functools.lru_cache(maxsize=16)
def _role_label(role: str) -> str:
    return str(Role(role).label)


def _title(rng: random.Random, spec: InstitutionSpec, role: str) -> str:
    if spec.kind in (Kind.PHARMACY, Kind.RETAILER):
        return Title.PHARMACIST if role == Role.PHARMACY_DIRECTOR else Title.OTHER
    if spec.kind == Kind.DISTRIBUTOR:
        return Title.OTHER
    if spec.kind == Kind.CLINIC and role == Role.PHYSICIAN:
        return _pick(rng, CLINIC_PHYSICIAN)
    return _pick(rng, TITLES[role])


PERSON_FIELDS = (
    "name", "gender", "title", "role", "mobile", "wechat_id", "product_attitude", "tier",
    "prescribing_potential", "engagement_stage", "influence_decision", "influence_prescribing",
    "influence_academic", "search_pinyin", "search_initials", *profiles.PROFILE_FIELDS, *profiles.DERIVED_FIELDS,
)  # fmt: skip
# The default tier rules (customers migration 0005), mirrored so the recompute after loading
# agrees with what was generated instead of rewriting most tiers.
DECISION_MAKERS = frozenset(
    {
        Role.PRESIDENT,
        Role.VICE_PRESIDENT,
        Role.PHARMACY_DIRECTOR,
        Role.MEDICAL_AFFAIRS_DIRECTOR,
        Role.DEPARTMENT_HEAD,
    }
)
TOP_GRADES = frozenset({"3a", "3b", "3"})


def ruled_tier(*, role: str, kind: str, grade: str, potential: str) -> str:
    if (
        role in DECISION_MAKERS
        and kind == Kind.HOSPITAL
        and grade in TOP_GRADES
        and potential == Potential.HIGH
    ):
        return Tier.KEY
    if potential in (Potential.HIGH, Potential.MEDIUM):
        return Tier.POTENTIAL
    return Tier.GENERAL


def person(
    *,
    rng: random.Random,
    spec: InstitutionSpec,
    role: str,
    department: DepartmentRow | None,
    maker: profiles.ProfileMaker,
) -> tuple[tuple[Any, ...], profiles.Extras]:
    """One invented professional: values in PERSON_FIELDS order (a tuple: this runs a million times)."""
    female = rng.random() < FEMALE_SHARE[role]
    name = names.person_name(rng=rng, female=female, province=spec.province)
    title = _title(rng, spec, role)
    grade_factor = GRADE_FACTOR[spec.grade] if spec.kind == Kind.HOSPITAL else 0.3
    roll = rng.random()
    key_share = KEY_SHARE[role] * grade_factor
    # How much the company cares about the person decides potential and stage; the tier itself
    # then follows from them as the segmentation rules say.
    leaning = Tier.KEY if roll < key_share else Tier.POTENTIAL if roll < key_share + 0.3 else Tier.GENERAL
    stage = _pick(rng, STAGE_BY_TIER[leaning])
    potential = _pick(rng, POTENTIAL_BY_TIER[leaning])
    tier = ruled_tier(role=role, kind=spec.kind, grade=spec.grade, potential=potential)
    bump = 1 if spec.grade == "3a" else 0
    pinyin, initials = names.name_keys(name)
    area = department.area if department else ""
    values = {
        "name": name,
        "gender": Professional.Gender.FEMALE if female else Professional.Gender.MALE,
        "title": title,
        "role": role,
        "mobile": names.mobile(rng=rng) if rng.random() < 0.85 else "",
        "wechat_id": names.wechat_id(rng=rng, name=name) if rng.random() < 0.7 else "",
        "product_attitude": _pick(rng, ATTITUDE_BY_STAGE[stage]),
        "tier": tier,
        "prescribing_potential": potential,
        "engagement_stage": stage,
        "influence_decision": _level(rng, DECISION[role]),
        "influence_prescribing": _level(rng, PRESCRIBING[role]),
        "influence_academic": _level(rng, ACADEMIC[title], bump),
        "search_pinyin": pinyin,
        "search_initials": initials,
    }
    # Only whether there is a department matters to the assessment, not which row it is.
    facts = {**values, "department_id": 0 if department else None, "email": "", "publications": ""}
    profile, extras = maker.make(
        rng=rng, role=role, title=title, kind=spec.kind, area=area, key=tier == Tier.KEY, values=facts
    )
    values.update(profile)
    return tuple(values[f] for f in PERSON_FIELDS), extras
