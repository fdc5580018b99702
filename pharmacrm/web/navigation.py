"""The navigation menu: which entries each role sees. Later capabilities add entries here."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from pharmacrm.core.models import Role

EVERYONE = frozenset(Role.values)
MANAGEMENT = frozenset({Role.ADMIN, Role.DIRECTOR, Role.REGIONAL_MANAGER, Role.DISTRICT_MANAGER})
# Prices, tenders, promotions, market figures: never reps (RULES_CN §1).
COMMERCIAL_DATA = MANAGEMENT | {Role.COMMERCIAL, Role.MARKETING}


@dataclass(frozen=True)
class NavItem:
    label: Any
    url_name: str
    icon: str
    roles: frozenset[str]
    section: str = "main"


NAV: list[NavItem] = [
    NavItem(_("首页"), "home", "house", EVERYONE),
    NavItem(_("今日工作"), "today", "sunrise", frozenset({Role.REP})),
    NavItem(_("拜访日历"), "engagement:calendar_week", "calendar-week", MANAGEMENT | {Role.REP}),
    NavItem(_("记录拜访"), "engagement:visit_record", "pencil-square", frozenset({Role.REP})),
    NavItem(
        _("拜访记录"), "engagement:visit_list", "journal-check", MANAGEMENT | {Role.REP, Role.COMPLIANCE}
    ),
    NavItem(_("承诺事项"), "engagement:commitment_list", "hand-thumbs-up", MANAGEMENT | {Role.REP}),
    NavItem(
        _("回访"),
        "engagement:callback_list",
        "telephone-outbound",
        frozenset({Role.REP, Role.COMMERCIAL, Role.SERVICE}),
    ),
    NavItem(
        _("不良事件信号"),
        "engagement:safety_queue",
        "exclamation-octagon",
        frozenset({Role.SERVICE, Role.COMPLIANCE, Role.ADMIN}),
    ),
    NavItem(_("人文关怀"), "engagement:care", "chat-heart", frozenset({Role.REP})),
    NavItem(_("团队拜访"), "engagement:team", "people-fill", MANAGEMENT),
    NavItem(pgettext_lazy("navigation", "机构"), "customers:institution_list", "hospital", EVERYONE),
    NavItem(pgettext_lazy("navigation", "医务人员"), "customers:professional_list", "person-vcard", EVERYONE),
    NavItem(
        _("待完善档案"), "customers:to_fill", "clipboard-check", MANAGEMENT | {Role.REP, Role.COMMERCIAL}
    ),
    NavItem(_("开发计划"), "customers:plan_list", "flag", MANAGEMENT | {Role.REP, Role.COMMERCIAL}),
    NavItem(
        _("进院"),
        "commercial:listing_list",
        "capsule",
        MANAGEMENT | {Role.REP, Role.COMMERCIAL, Role.MARKETING},
    ),
    NavItem(_("产品"), "commercial:product_list", "box-seam", EVERYONE),
    NavItem(_("价格政策"), "commercial:price_list", "currency-yen", COMMERCIAL_DATA),
    NavItem(_("带量采购"), "commercial:tender_list", "award", COMMERCIAL_DATA),
    NavItem(_("促销活动"), "commercial:promotion_list", "megaphone", COMMERCIAL_DATA),
    NavItem(_("市场数据"), "commercial:market_list", "pie-chart", COMMERCIAL_DATA),
    # Channels: never reps (RULES_CN §1); compliance reads.
    NavItem(_("渠道"), "channels:home", "truck", MANAGEMENT | {Role.COMMERCIAL, Role.COMPLIANCE}),
    NavItem(
        _("渠道评估"),
        "channels:review_list",
        "clipboard-data",
        MANAGEMENT | {Role.COMMERCIAL, Role.COMPLIANCE},
    ),
    # Flow data (流向): never reps (RULES_CN §1); institution level only (§2).
    NavItem(_("流向数据"), "flow:file_list", "arrow-left-right", MANAGEMENT | {Role.COMMERCIAL}),
    NavItem(_("未匹配队列"), "flow:unmatched", "question-diamond", MANAGEMENT | {Role.COMMERCIAL}),
    NavItem(_("疑似重复"), "customers:duplicates", "people-fill", MANAGEMENT),
    NavItem(
        pgettext_lazy("navigation", "辖区"),
        "web:territory_list",
        "map",
        MANAGEMENT | {Role.REP, Role.COMMERCIAL},
    ),
    NavItem(_("人员"), "web:user_list", "people", MANAGEMENT | {Role.COMPLIANCE}),
    NavItem(
        _("合规"),
        "compliance:dashboard",
        "shield-check",
        frozenset({Role.COMPLIANCE, Role.ADMIN, Role.DIRECTOR}),
    ),
    NavItem(_("医药代表备案"), "compliance:registrations", "person-badge", MANAGEMENT | {Role.COMPLIANCE}),
    NavItem(
        _("权利请求"),
        "compliance:requests",
        "file-earmark-lock",
        frozenset({Role.COMPLIANCE, Role.SERVICE, Role.ADMIN}),
    ),
    NavItem(_("导入"), "imports:home", "upload", frozenset({Role.ADMIN, Role.COMMERCIAL}), section="tools"),
    NavItem(_("分类规则"), "customers:rule_list", "diagram-3", frozenset({Role.ADMIN}), section="tools"),
    NavItem(_("拜访规则"), "engagement:settings_home", "sliders", frozenset({Role.ADMIN}), section="tools"),
    NavItem(_("接口文档"), "api-1:openapi-view", "code-slash", frozenset({Role.ADMIN}), section="tools"),
    NavItem(_("系统管理"), "admin:index", "gear", frozenset({Role.ADMIN}), section="tools"),
]


def nav_for(user: Any, *, current_path: str) -> list[dict[str, Any]]:
    roles = user.roles
    items = []
    for item in NAV:
        if not roles & item.roles:
            continue
        try:
            url = reverse(item.url_name)
        except NoReverseMatch:
            continue
        active = current_path == url if url == "/" else current_path.startswith(url)
        items.append(
            {"label": item.label, "url": url, "icon": item.icon, "active": active, "section": item.section}
        )
    return items
