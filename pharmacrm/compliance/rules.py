"""The catalogue of compliance rules a policy set can switch on, with their parameters and legal basis.

Each rule answers one question for the actions it watches. A policy set (data) chooses which
rules are on and with which parameters; `compliance.policy.check` runs them. Rule codes are
stable: services, tests and docs/compliance.md refer to them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from django.utils.translation import gettext_lazy as _


@dataclass(frozen=True)
class Decision:
    allowed: bool
    rule: str = ""
    message: str = ""

    def __bool__(self) -> bool:
        return self.allowed


ALLOW = Decision(True)


@dataclass(frozen=True)
class Param:
    kind: str  # "roles", "kinds", "money", "int"
    default: Any
    label: Any


@dataclass(frozen=True)
class RuleDefinition:
    code: str
    title: Any
    basis: Any
    actions: frozenset[str]
    params: dict[str, Param] = field(default_factory=dict)
    evaluate: Callable[[dict[str, Any], dict[str, Any]], str | None] = lambda params, ctx: None

    def deny_message(self, detail: str) -> str:
        return f"{detail}（规则：{self.title}；依据：{self.basis}）"


CATALOGUE: dict[str, RuleDefinition] = {}


def rule(
    code: str, *, title: Any, basis: Any, actions: set[str], params: dict[str, Param] | None = None
) -> Callable[[Callable[[dict[str, Any], dict[str, Any]], str | None]], Callable[..., str | None]]:
    """Register a rule; the function returns None to allow or a Chinese reason to deny."""

    def wrap(fn: Callable[[dict[str, Any], dict[str, Any]], str | None]) -> Callable[..., str | None]:
        CATALOGUE[code] = RuleDefinition(code, title, basis, frozenset(actions), params or {}, fn)
        return fn

    return wrap


def money(value: Any) -> Decimal:
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError) as exc:
        raise ValueError(f"not an amount: {value!r}") from exc


# --- 1. Medical representatives ---------------------------------------------------------------


@rule(
    "rep_must_be_registered",
    title=_("医药代表须备案"),
    basis=_("《医药代表备案管理办法（试行）》第七、八条"),
    actions={"visit.record", "material.share", "event.invite"},
)
def _rep_registered(params: dict[str, Any], ctx: dict[str, Any]) -> str | None:
    if not ctx.get("actor_is_rep"):
        return None
    if ctx.get("registration_valid"):
        return None
    return str(_("未备案或备案已过期的医药代表不能开展学术推广活动"))


@rule(
    "no_sales_target_for_rep",
    title=_("医药代表不承担销售指标"),
    basis=_("《医药代表备案管理办法（试行）》第十条（不得承担销售任务）"),
    actions={"target.assign"},
    params={"measures": Param("kinds", ["amount", "volume"], _("禁止分配给医药代表的指标类型"))},
)
def _no_sales_target(params: dict[str, Any], ctx: dict[str, Any]) -> str | None:
    if ctx.get("assignee_is_rep") and ctx.get("measure") in params["measures"]:
        return str(_("不能给医药代表分配销售金额或数量指标，请分配到辖区、组织或商务岗位"))
    return None


# --- 2. 统方 -----------------------------------------------------------------------------------


@rule(
    "no_per_doctor_prescription_stats",
    title=_("禁止统方"),
    basis=_("《加强医疗卫生行风建设“九不准”》第六条；国办发〔2017〕13号"),
    actions={"prescription_stats.view"},
    params={"allowed_roles": Param("roles", [], _("可查看医生个人层级数据的角色"))},
)
def _no_per_doctor(params: dict[str, Any], ctx: dict[str, Any]) -> str | None:
    if ctx.get("level") != "professional":
        return None
    if set(ctx.get("actor_roles", ())) & set(params["allowed_roles"]):
        return None
    return str(_("不得查看或统计医生个人的处方数据"))


@rule(
    "department_stats_roles",
    title=_("科室层级数据限定角色"),
    basis=_("医疗机构防统方管理规定（本公司解读）"),
    actions={"prescription_stats.view"},
    params={
        "allowed_roles": Param(
            "roles",
            ["admin", "director", "regional_manager", "commercial", "compliance"],
            _("可查看科室层级数据的角色"),
        )
    },
)
def _department_stats(params: dict[str, Any], ctx: dict[str, Any]) -> str | None:
    if ctx.get("level") != "department":
        return None
    if set(ctx.get("actor_roles", ())) & set(params["allowed_roles"]):
        return None
    return str(_("您的角色不能查看科室层级的用药数据"))


@rule(
    "professional_estimate_roles",
    title=_("按医生拆分的销量估算限定角色"),
    basis=_("《加强医疗卫生行风建设“九不准”》第六条；《医药代表备案管理办法（试行）》第十条（本公司解读）"),
    actions={"sales_estimate.view"},
    params={
        "allowed_roles": Param(
            "roles",
            ["admin", "director", "regional_manager", "commercial", "compliance"],
            _("可查看按医生拆分的机构销量估算的角色"),
        )
    },
)
def _professional_estimate(params: dict[str, Any], ctx: dict[str, Any]) -> str | None:
    # Flow data is per institution; an estimate split by its professionals edges towards 统方, so
    # only the listed roles see one — and never a rep, even one who also holds an allowed role.
    roles = set(ctx.get("actor_roles", ()))
    if "rep" in roles and "rep" not in params["allowed_roles"]:
        return str(_("医药代表不能查看按医生拆分的销量估算"))
    if roles & set(params["allowed_roles"]):
        return None
    return str(_("您的角色不能查看按医生拆分的销量估算"))


# --- 4. Meetings, speakers, hospitality ------------------------------------------------------------

GIFT_KINDS = {
    "cash": _("现金"),
    "card": _("购物卡/礼品卡"),
    "gift": _("个人礼品"),
    "entertainment": _("娱乐活动"),
    "meal": _("工作餐"),
    "academic_material": _("学术资料"),
    "greeting": _("问候/祝福"),
}


@rule(
    "forbidden_gift_kinds",
    title=_("禁止现金、卡券、礼品与娱乐"),
    basis=_("《医药企业防范商业贿赂风险合规指引》（2025）；RDPAC 行业行为准则"),
    actions={"gift.record"},
    params={"kinds": Param("kinds", ["cash", "card", "gift", "entertainment"], _("禁止的给予形式"))},
)
def _forbidden_gifts(params: dict[str, Any], ctx: dict[str, Any]) -> str | None:
    kind = str(ctx.get("kind", ""))
    if kind in params["kinds"]:
        return str(_("不得向医务人员提供{kind}").format(kind=GIFT_KINDS.get(kind, kind)))
    return None


@rule(
    "permitted_gift_kinds",
    title=_("允许的关怀与学术形式"),
    basis=_("RDPAC 行业行为准则"),
    actions={"gift.record"},
    params={"kinds": Param("kinds", ["meal", "academic_material", "greeting"], _("允许的形式"))},
)
def _permitted_gifts(params: dict[str, Any], ctx: dict[str, Any]) -> str | None:
    kind = str(ctx.get("kind", ""))
    if kind not in params["kinds"]:
        return str(_("“{kind}”不在允许的形式之内").format(kind=GIFT_KINDS.get(kind, kind)))
    return None


@rule(
    "meal_cap_per_person",
    title=_("工作餐人均上限"),
    basis=_("RDPAC 行业行为准则（人均不超过 300 元）"),
    actions={"gift.record"},
    params={"amount": Param("money", "300", _("人均上限（元）"))},
)
def _meal_cap(params: dict[str, Any], ctx: dict[str, Any]) -> str | None:
    if ctx.get("kind") != "meal":
        return None
    per_person = money(ctx.get("amount_per_person", 0))
    cap = money(params["amount"])
    if per_person > cap:
        return str(_("工作餐人均 {amount} 元，超过上限 {cap} 元").format(amount=per_person, cap=cap))
    return None


@rule(
    "speaker_fee_annual_cap",
    title=_("讲者年度劳务费上限"),
    basis=_("《医药企业防范商业贿赂风险合规指引》（2025）"),
    actions={"speaker.fee"},
    params={"amount": Param("money", "50000", _("每位讲者每年上限（元）"))},
)
def _speaker_cap(params: dict[str, Any], ctx: dict[str, Any]) -> str | None:
    total = money(ctx.get("annual_total_after", 0))
    cap = money(params["amount"])
    if total > cap:
        return str(_("该讲者本年劳务费合计将达 {total} 元，超过上限 {cap} 元").format(total=total, cap=cap))
    return None


@rule(
    "no_speaker_fee_same_department",
    title=_("同科室讲课不付劳务费"),
    basis=_("《医药企业防范商业贿赂风险合规指引》（2025）"),
    actions={"speaker.fee"},
)
def _same_department(params: dict[str, Any], ctx: dict[str, Any]) -> str | None:
    if ctx.get("same_department"):
        return str(_("讲者与听众来自同一科室时不得支付讲课费"))
    return None


# --- 5. Personal information ---------------------------------------------------------------------


@rule(
    "consent_required_for_contact",
    title=_("联系须有个人信息处理依据"),
    basis=_("《个人信息保护法》第十三、十四条"),
    actions={"contact"},
    params={"purposes": Param("kinds", ["contact", "materials", "events", "surveys"], _("需要同意的目的"))},
)
def _consent(params: dict[str, Any], ctx: dict[str, Any]) -> str | None:
    if ctx.get("purpose") not in params["purposes"]:
        return None
    if ctx.get("has_consent"):
        return None
    return str(_("该医务人员没有同意通过此渠道用于此目的的联系，或已撤回同意"))


@rule(
    "mask_contacts_for_roles",
    title=_("最小必要：联系方式脱敏"),
    basis=_("《个人信息保护法》第六、五十一条"),
    actions={"sensitive.view"},
    params={"masked_roles": Param("roles", ["marketing"], _("只看到脱敏联系方式的角色"))},
)
def _mask(params: dict[str, Any], ctx: dict[str, Any]) -> str | None:
    roles = set(ctx.get("actor_roles", ()))
    # A person with any unmasked role sees the field; masking applies to those who only hold masked roles.
    if roles and roles <= set(params["masked_roles"]):
        return str(_("您的角色只能看到脱敏后的联系方式"))
    return None


# --- validation of a policy set ------------------------------------------------------------------

ROLE_CODES = {
    "admin",
    "director",
    "regional_manager",
    "district_manager",
    "rep",
    "commercial",
    "service",
    "marketing",
    "compliance",
}


def validate_params(code: str, params: dict[str, Any]) -> dict[str, Any]:
    """Fill defaults and check types; raise ValueError naming the parameter."""
    definition = CATALOGUE.get(code)
    if definition is None:
        raise ValueError(str(_("未知规则：{code}").format(code=code)))
    unknown = set(params) - set(definition.params)
    if unknown:
        raise ValueError(
            str(_("规则 {code} 没有参数：{names}").format(code=code, names=", ".join(sorted(unknown))))
        )
    cleaned: dict[str, Any] = {}
    for name, spec in definition.params.items():
        value = params.get(name, spec.default)
        if spec.kind in ("roles", "kinds"):
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise ValueError(str(_("参数 {name} 应为列表").format(name=name)))
            if spec.kind == "roles" and set(value) - ROLE_CODES:
                bad = ", ".join(sorted(set(value) - ROLE_CODES))
                raise ValueError(str(_("参数 {name} 含未知角色：{bad}").format(name=name, bad=bad)))
        elif spec.kind == "money":
            try:
                amount = money(value)
            except ValueError as exc:
                raise ValueError(str(_("参数 {name} 应为金额").format(name=name))) from exc
            if amount <= 0:
                raise ValueError(str(_("参数 {name} 必须大于 0").format(name=name)))
            value = str(amount)
        cleaned[name] = value
    return cleaned


def find_conflicts(rules: dict[str, dict[str, Any]]) -> list[str]:
    """Rules that cannot all hold at once, as Chinese sentences. `rules` maps code → cleaned params."""
    problems: list[str] = []
    forbidden = set(rules.get("forbidden_gift_kinds", {}).get("kinds", []))
    permitted = set(rules.get("permitted_gift_kinds", {}).get("kinds", []))
    both = forbidden & permitted
    if "forbidden_gift_kinds" in rules and "permitted_gift_kinds" in rules and both:
        names = "、".join(str(GIFT_KINDS.get(k, k)) for k in sorted(both))
        problems.append(str(_("“{names}”同时被禁止和允许").format(names=names)))
    per_doctor = set(rules.get("no_per_doctor_prescription_stats", {}).get("allowed_roles", []))
    department = set(rules.get("department_stats_roles", {}).get("allowed_roles", []))
    if "department_stats_roles" in rules and per_doctor - department:
        names = ", ".join(sorted(per_doctor - department))
        problems.append(
            str(
                _("角色 {names} 可看医生个人数据却不能看科室数据，粒度更细的数据不能更宽松").format(
                    names=names
                )
            )
        )
    return problems


def today() -> dt.date:
    from django.utils import timezone

    return timezone.localdate()
