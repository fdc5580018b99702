"""Care reminders (人文关怀): greetings on key dates customers shared and on Chinese holidays — never goods.

`generate_care_reminders(on=…)` runs daily (task `engagement.tasks.generate_care_reminders_task`,
CLI `pharmacrm care`). It looks `LEAD_DAYS` ahead and writes one CareReminder per professional,
occasion and date for the rep who covers the professional's territory: key dates only when the
customer shared them (KeyDate.shared_by_customer), holidays for key and potential customers (the
professional days — 医师节, 护士节, 世界药师日 — for the roles they honour). Running it again writes
nothing twice (a unique constraint backs this up). The rep picks a suggested message (CareTemplate),
sends it through a channel the customer consented to, and marks it sent, or dismisses it.

Anything material (a gift, a meal) is not care: it goes through Hospitality and the gift policy
(RULES_CN §4), recorded elsewhere.
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _
from simple_history.utils import bulk_create_with_history

from pharmacrm.core.audit import Source, acting_as, current_state
from pharmacrm.core.errors import Conflict, DomainError, NotAllowed
from pharmacrm.core.models import Role, TerritoryAssignment, User
from pharmacrm.core.visibility import visible
from pharmacrm.customers.models import Institution, KeyDate, Professional
from pharmacrm.engagement import calendar_cn
from pharmacrm.engagement.models import CareReminder, CareTemplate

LEAD_DAYS = 7
# Holiday greetings go to customers the rep keeps in closer touch with; key dates to everyone who shared one.
HOLIDAY_TIERS = (Professional.Tier.KEY, Professional.Tier.POTENTIAL)
# Key dates that recur every year; a promotion is greeted in the year it happened (or yearly when no year is known).
ONCE_KINDS = {KeyDate.Kind.PROMOTION}
MATERIAL_NOTICE = _(
    "人文关怀仅限问候与学术价值，不赠送礼品、现金、购物卡或安排娱乐。任何有价物品须作为“招待与关怀记录”登记，"
    "并经礼品与招待政策校验（超标或禁止的形式会被拒绝）。"
)
SEND_CHANNELS = ("wechat", "phone", "in_person", "email")


def occasion_date(month: int, day: int, year: int) -> dt.date:
    """The day in `year`, moved to the month's last day when it has no such day (29 Feb, 31 Apr)."""
    return dt.date(year, month, min(day, calendar.monthrange(year, month)[1]))


@dataclass
class CareRun:
    on: dt.date
    until: dt.date
    created: int = 0
    existing: int = 0
    unassigned: int = 0  # professionals with an occasion but no rep covering them
    by_occasion: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    dry_run: bool = False


def _owners(on: dt.date) -> dict[int, int]:
    """territory → the rep covering it on `on` (the primary assignment first, then the longest-standing)."""
    owners: dict[int, int] = {}
    rows = (
        TerritoryAssignment.objects.on(on)
        .filter(user__role_rows__role=Role.REP, user__is_active=True)
        .order_by("territory_id", "kind", "valid_from", "id")  # "primary" sorts before "shared"
        .values_list("territory_id", "user_id")
    )
    for territory_id, user_id in rows:
        owners.setdefault(territory_id, user_id)
    return owners


def month_day_filter(days: list[dt.date]) -> Q:
    """KeyDate rows (month, day) falling on any of `days`."""
    q = Q()
    by_month: dict[int, set[int]] = defaultdict(set)
    for day in days:
        by_month[day.month].add(day.day)
        # A key date on the 29th–31st of a shorter month lands on its last day.
        last = calendar.monthrange(day.year, day.month)[1]
        if day.day == last:
            by_month[day.month].update(range(last + 1, 32))
    for month, month_days in by_month.items():
        q |= Q(month=month, day__in=sorted(month_days))
    return q


def _wanted(on: dt.date, until: dt.date, owners: dict[int, int]) -> tuple[list[CareReminder], int]:
    """The reminders the window calls for (not yet checked against existing rows)."""
    days = [on + dt.timedelta(days=i) for i in range((until - on).days + 1)]
    wanted: list[CareReminder] = []
    unassigned = 0
    active = Q(professional__status=Professional.Status.ACTIVE) & Q(
        professional__institution__status=Institution.Status.ACTIVE
    )
    key_dates = (
        KeyDate.objects.filter(month_day_filter(days), active, shared_by_customer=True)
        .values_list(
            "id", "professional_id", "kind", "month", "day", "year", "professional__institution__territory_id"
        )
        .order_by("id")
    )
    for key_date_id, professional_id, kind, month, day, year, territory_id in key_dates:
        for candidate_year in {d.year for d in days}:
            due = occasion_date(month, day, candidate_year)
            if not on <= due <= until:
                continue
            if kind in ONCE_KINDS and year and year != candidate_year:
                continue
            owner = owners.get(territory_id)
            if owner is None:
                unassigned += 1
                continue
            wanted.append(
                CareReminder(
                    professional_id=professional_id,
                    owner_id=owner,
                    occasion=kind,
                    key_date_id=key_date_id,
                    due_on=due,
                )
            )
    for occasion in calendar_cn.occasions_between(on, until):
        people = Professional.objects.filter(
            tier__in=HOLIDAY_TIERS,
            status=Professional.Status.ACTIVE,
            institution__status=Institution.Status.ACTIVE,
            institution__territory_id__in=list(owners),
        )
        if occasion.roles:
            people = people.filter(role__in=occasion.roles)
        for professional_id, territory_id in people.values_list("id", "institution__territory_id").order_by(
            "id"
        ):
            wanted.append(
                CareReminder(
                    professional_id=professional_id,
                    owner_id=owners[territory_id],
                    occasion=occasion.code,
                    due_on=occasion.day,
                )
            )
    return wanted, unassigned


def generate_care_reminders(
    *, on: dt.date | None = None, lead_days: int = LEAD_DAYS, dry_run: bool = False
) -> CareRun:
    """Write the reminders for occasions from `on` to `on + lead_days`; idempotent."""
    on = on or timezone.localdate()
    if not 0 <= lead_days <= 60:
        raise DomainError(_("提前天数须在 0–60 之间。"), fields={"lead_days": [str(lead_days)]})
    run = CareRun(on=on, until=on + dt.timedelta(days=lead_days), dry_run=dry_run)
    owners = _owners(on)
    wanted, run.unassigned = _wanted(on, run.until, owners)
    keys = {(r.professional_id, r.occasion, r.due_on) for r in wanted}
    existing = (
        set(
            CareReminder.objects.filter(
                due_on__gte=on, due_on__lte=run.until, professional_id__in={k[0] for k in keys}
            ).values_list("professional_id", "occasion", "due_on")
        )
        if keys
        else set()
    )
    seen: set[tuple[int, str, dt.date]] = set()
    new: list[CareReminder] = []
    for reminder in wanted:
        key = (reminder.professional_id, reminder.occasion, reminder.due_on)
        if key in existing:
            run.existing += 1
            continue
        if key in seen:
            continue
        seen.add(key)
        new.append(reminder)
        run.by_occasion[reminder.occasion] += 1
    run.created = len(new)
    if dry_run or not new:
        return run
    state = current_state()
    attrs = {
        "history_source": state.source if state else Source.SYSTEM,
        "history_ip": state.ip if state else None,
    }
    try:
        with transaction.atomic():
            bulk_create_with_history(new, CareReminder, batch_size=1000, custom_historical_attrs=attrs)
    except IntegrityError:
        # Another run wrote some of them meanwhile: count again, creating only what is still missing.
        return generate_care_reminders(on=on, lead_days=lead_days, dry_run=dry_run)
    return run


# --- What the rep does with a reminder ---------------------------------------------------------------


HONORIFICS = {
    "president": "院长",
    "vice_president": "院长",
    "pharmacy_director": "主任",
    "medical_affairs_director": "主任",
    "department_head": "主任",
    "head_nurse": "护士长",
    "physician": "医生",
    "procurement": "老师",
}


def salutation(professional: Professional) -> str:
    """张主任, 李医生: the surname and how the customer is addressed (a chief physician is 主任)."""
    honorific = HONORIFICS.get(professional.role, "老师")
    if professional.role == "physician" and professional.title in ("chief", "associate_chief"):
        honorific = "主任"
    surname = professional.name[:1] if professional.name else ""
    return f"{surname}{honorific}"


class _SafeDict(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def render_template(text: str, *, professional: Professional, rep: Any) -> str:
    return text.format_map(
        _SafeDict(salutation=salutation(professional), name=professional.name, rep=str(rep))
    )


def templates_by_occasion(occasions: Iterable[str]) -> dict[str, list[CareTemplate]]:
    found: dict[str, list[CareTemplate]] = defaultdict(list)
    for template in CareTemplate.objects.filter(occasion__in=set(occasions)):
        found[template.occasion].append(template)
    return found


def suggestions(reminder: CareReminder, templates: dict[str, list[CareTemplate]]) -> list[str]:
    return [
        render_template(t.text, professional=reminder.professional, rep=reminder.owner)
        for t in templates.get(reminder.occasion, [])
    ]


def open_reminders(*, user: Any, first: dt.date, last: dt.date) -> QuerySet[CareReminder]:
    """The user's own open reminders due between two days."""
    return (
        visible(CareReminder, user=user)
        .filter(
            owner_id=getattr(user, "pk", None),
            status=CareReminder.Status.OPEN,
            due_on__gte=first,
            due_on__lte=last,
        )
        .select_related("professional", "professional__institution", "owner", "key_date")
        .order_by("due_on", "professional__name", "id")
    )


def _check_owner(actor: User, reminder: CareReminder) -> CareReminder:
    if reminder.owner_id != actor.pk:
        raise NotAllowed(_("只有负责该客户的医药代表可以处理这条关怀提醒。"))
    locked = CareReminder.objects.select_for_update().get(pk=reminder.pk)
    if locked.status != CareReminder.Status.OPEN:
        raise Conflict(_("这条提醒已{status}。").format(status=locked.get_status_display()))
    return locked


def mark_sent(*, actor: User, reminder: CareReminder, message: str, channel: str = "wechat") -> CareReminder:
    """Record that the greeting was sent. Contacting a customer needs their consent for the channel (PIPL)."""
    from pharmacrm.compliance.policy import enforce

    message = (message or "").strip()
    if not message:
        raise DomainError(_("请填写发送的问候内容。"), fields={"message": [_("不能为空")]})
    if channel not in SEND_CHANNELS:
        raise DomainError(
            _("渠道“{value}”无效。").format(value=channel), fields={"channel": [_("不在可选值中")]}
        )
    with transaction.atomic():
        locked = _check_owner(actor, reminder)
        enforce(
            "contact",
            actor=actor,
            subject=f"care:{locked.pk}",
            professional_id=locked.professional_id,
            purpose="contact",
            channel=channel,
        )
        locked.status = CareReminder.Status.SENT
        locked.message = message[:2000]
        locked.done_at = timezone.now()
        with acting_as(actor):
            locked.save(update_fields=["status", "message", "done_at"])
    return locked


def dismiss(*, actor: User, reminder: CareReminder) -> CareReminder:
    with transaction.atomic():
        locked = _check_owner(actor, reminder)
        locked.status = CareReminder.Status.DISMISSED
        locked.done_at = timezone.now()
        with acting_as(actor):
            locked.save(update_fields=["status", "done_at"])
    return locked


# --- The professional's timeline ------------------------------------------------------------------------


def _timeline_source(professional: Professional, user: Any, limit: int) -> Iterable[Any]:
    from pharmacrm.customers.timeline import Event, at_day

    reminders = (
        visible(CareReminder, user=user)
        .filter(professional=professional)
        .exclude(status=CareReminder.Status.OPEN, due_on__gt=timezone.localdate())
        .select_related("owner")
        .order_by("-due_on", "-id")[:limit]
    )
    for reminder in reminders:
        label = calendar_cn.occasion_label(reminder.occasion)
        if reminder.status == CareReminder.Status.SENT:
            title = _("人文关怀：{occasion}问候").format(occasion=label)
            icon = "chat-heart"
        elif reminder.status == CareReminder.Status.DISMISSED:
            title = _("人文关怀：{occasion}（未发送）").format(occasion=label)
            icon = "chat"
        else:
            title = _("人文关怀：{occasion}待问候").format(occasion=label)
            icon = "bell"
        yield Event(
            reminder.done_at or at_day(reminder.due_on),
            "care",
            title,
            detail=reminder.message[:120],
            actor=str(reminder.owner),
            icon=icon,
        )


def register_timeline() -> None:
    """Put care reminders on the professional's 360° timeline."""
    try:
        from pharmacrm.customers import timeline
    except ModuleNotFoundError:  # the registry lands with the customers 360° view; nothing to join before
        return
    timeline.register("care", _timeline_source)
