"""The rep's day: today's visits, commitments and callbacks due, key dates this week, and whom else to see, with reasons.

The ranked list scores each of the rep's professionals from explainable reasons. Each reason has
a factor (NextBestActionWeight, admin-editable), an intensity between 0 and 2 the data gives, and
a learned multiplier: every time the rep dismissed this professional when shown for this factor
in the last 180 days multiplies it by `dismissal_decay`. Points = weight × intensity × learned;
the score is their sum. A dismissal also keeps the professional off the list for `dismiss_days`.

Every input is read with a fixed number of queries whatever the number of customers (the page's
query count is pinned in a test), and the visit history is read through the professional index,
only the rep's customers' visits, so it stays flat as the visits table grows (bench/engagement.py).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db.models import Count, Max, Min, Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _l

from pharmacrm.commercial.models import KeyMessage
from pharmacrm.compliance.models import Consent, ContactChannel
from pharmacrm.compliance.policy import contacts_masked_for
from pharmacrm.core.errors import DomainError
from pharmacrm.core.models import User
from pharmacrm.core.visibility import scope_for, visible
from pharmacrm.customers.models import Institution, KeyDate, Need, Professional
from pharmacrm.engagement import calendar_cn
from pharmacrm.engagement.care import ONCE_KINDS, month_day_filter, occasion_date
from pharmacrm.engagement.frequency import FrequencyTable
from pharmacrm.engagement.models import (
    Callback,
    CareReminder,
    Commitment,
    Dismissal,
    NextBestActionWeight,
    Visit,
)

FACTORS = {
    "overdue": _l("超出拜访频率"),
    "commitment_due": _l("承诺事项到期"),
    "declining": _l("合作下滑"),
    "key_date": _l("重要纪念日"),
    "unmet_need": _l("未回应的需求"),
    "key_customer": _l("重要客户"),
}
# Settings kept in the same table: how the ranking remembers dismissals.
SETTINGS = {
    "dismiss_days": _l("忽略后暂不推荐天数"),
    "dismissal_decay": _l("重复忽略的衰减系数（0–1）"),
}
DEFAULT_WEIGHTS = {
    "overdue": Decimal("3"),
    "commitment_due": Decimal("4"),
    "declining": Decimal("2"),
    "key_date": Decimal("2.5"),
    "unmet_need": Decimal("1.5"),
    "key_customer": Decimal("1"),
    "dismiss_days": Decimal("7"),
    "dismissal_decay": Decimal("0.5"),
}
DISMISS_REASONS = (
    _l("已约好其他时间"),
    _l("客户外出/休假"),
    _l("今天不在该医院附近"),
    _l("近期已电话/微信沟通"),
    _l("其他"),
)
QUARTER_DAYS = 90
LEARNING_DAYS = 180
SOON_DAYS = 2
SUGGESTIONS = 10
MAX_INTENSITY = 2.0


def factor_label(code: str) -> str:
    return str(FACTORS.get(code) or SETTINGS.get(code) or code)


def load_weights() -> dict[str, Decimal]:
    weights = dict(DEFAULT_WEIGHTS)
    weights.update(dict(NextBestActionWeight.objects.values_list("factor", "weight")))
    return weights


@dataclass(frozen=True)
class Reason:
    factor: str
    detail: str
    intensity: float
    weight: Decimal
    learned: float = 1.0

    @property
    def label(self) -> str:
        return factor_label(self.factor)

    @property
    def points(self) -> float:
        return round(float(self.weight) * self.intensity * self.learned, 2)

    def explain(self) -> str:
        text = f"{float(self.weight):g} × {self.intensity:.2f}"
        if self.learned != 1.0:
            text += f" × {self.learned:.2f}"
        return f"{text} = {self.points:g}"


@dataclass
class Suggestion:
    professional_id: int
    name: str
    role: str
    tier: str
    institution: str
    reasons: list[Reason]
    last_visit: dt.datetime | None = None
    can_call: bool = False
    can_message: bool = False
    percent: int = 0

    @property
    def score(self) -> float:
        return round(sum(r.points for r in self.reasons), 2)

    @property
    def top_factor(self) -> str:
        best = max(
            (r for r in self.reasons if r.factor != "key_customer"), key=lambda r: r.points, default=None
        )
        return best.factor if best else ""


@dataclass
class KeyDateItem:
    professional_id: int
    name: str
    institution: str
    label: str
    day: dt.date


@dataclass
class Today:
    day: dt.date
    visits: list[Visit] = field(default_factory=list)
    commitments: list[Commitment] = field(default_factory=list)
    callbacks: list[Callback] = field(default_factory=list)
    key_dates: list[KeyDateItem] = field(default_factory=list)
    care: list[CareReminder] = field(default_factory=list)
    suggestions: list[Suggestion] = field(default_factory=list)
    customers: int = 0
    weights: dict[str, Decimal] = field(default_factory=dict)
    working_day: bool = True


def _visit_stats(ids: list[int], on: dt.date, now: dt.datetime) -> dict[int, Any]:
    """Per professional: the last completed visit, completed visits in the last two quarters, and
    the first visit planned in the coming week.

    The only condition in WHERE is the professional (the rest are aggregate filters), so every
    database walks the professional index and reads just these customers' visits. With the date
    and status in WHERE, SQLite's planner picks the (status, starts_at) index on a small visits
    table and probes the links for 400 ids per visit — slower on a small table than on a big one.
    """
    tz = timezone.get_default_timezone()
    midnight = timezone.make_aware(dt.datetime.combine(on, dt.time.min), tz)
    end = midnight + dt.timedelta(days=1)
    q1 = midnight - dt.timedelta(days=QUARTER_DAYS)
    q2 = midnight - dt.timedelta(days=2 * QUARTER_DAYS)
    done = Q(visit__status=Visit.Status.COMPLETED, visit__starts_at__lt=end)
    through = Visit.professionals.through
    rows = (
        through.objects.filter(professional_id__in=ids)
        .values("professional_id")
        .annotate(
            last=Max("visit__starts_at", filter=done),
            recent=Count("id", filter=done & Q(visit__starts_at__gte=q1)),
            previous=Count("id", filter=done & Q(visit__starts_at__gte=q2, visit__starts_at__lt=q1)),
            soon=Min(
                "visit__starts_at",
                filter=Q(
                    visit__status=Visit.Status.PLANNED,
                    visit__starts_at__gte=now - dt.timedelta(hours=12),
                    visit__starts_at__lt=now + dt.timedelta(days=7),
                ),
            ),
        )
    )
    return {r["professional_id"]: r for r in rows}


def _key_dates(ids: list[int], first: dt.date, last: dt.date) -> list[tuple[int, str, dt.date]]:
    days = [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]
    found = []
    rows = KeyDate.objects.filter(
        month_day_filter(days), professional_id__in=ids, shared_by_customer=True
    ).values_list("professional_id", "kind", "label", "month", "day", "year")
    labels = dict(KeyDate.Kind.choices)
    for pid, kind, label, month, day, year in rows:
        for candidate in {d.year for d in days}:
            due = occasion_date(month, day, candidate)
            if first <= due <= last and not (kind in ONCE_KINDS and year and year != candidate):
                found.append((pid, label or str(labels.get(kind, kind)), due))
    return found


def today_for(*, user: Any, on: dt.date | None = None, limit: int = SUGGESTIONS) -> Today:
    """Everything the today page shows for `user` (a rep; others get their own visits and follow-ups)."""
    on = on or timezone.localdate()
    now = timezone.now()
    tz = timezone.get_default_timezone()
    start = timezone.make_aware(dt.datetime.combine(on, dt.time.min), tz)
    end = start + dt.timedelta(days=1)
    week_end = on + dt.timedelta(days=6)
    result = Today(day=on, working_day=calendar_cn.is_working_day(on))
    result.visits = list(
        Visit.objects.filter(owner=user, starts_at__gte=start, starts_at__lt=end)
        .exclude(status=Visit.Status.CANCELLED)
        .select_related("institution")
        .prefetch_related("professionals")
        .order_by("starts_at")
    )
    commitments = list(
        Commitment.objects.filter(
            owner=user, status=Commitment.Status.OPEN, due_on__lte=on + dt.timedelta(days=SOON_DAYS)
        )
        .select_related("professional", "professional__institution")
        .order_by("due_on", "id")
    )
    result.commitments = commitments
    result.callbacks = list(
        Callback.objects.filter(owner=user, status=Callback.Status.DUE, due_on__lte=on)
        .select_related("professional", "professional__institution")
        .order_by("due_on", "id")
    )
    result.care = list(
        CareReminder.objects.filter(
            owner=user, status=CareReminder.Status.OPEN, due_on__gte=on, due_on__lte=week_end
        )
        .select_related("professional")
        .order_by("due_on", "id")
    )

    territories = sorted(scope_for(user).territory_ids)
    if not territories:
        return result
    people = list(
        Professional.objects.filter(
            institution__territory_id__in=territories,
            status=Professional.Status.ACTIVE,
            institution__status=Institution.Status.ACTIVE,
        ).values("id", "name", "tier", "role", "engagement_stage", "institution__name")
    )
    result.customers = len(people)
    if not people:
        return result
    ids = [p["id"] for p in people]
    names = {p["id"]: p for p in people}
    weights = load_weights()
    result.weights = weights
    table = FrequencyTable.load()
    stats = _visit_stats(ids, on, now)
    planned = {pid: s["soon"] for pid, s in stats.items() if s["soon"]}
    needs = dict(
        Need.objects.filter(professional_id__in=ids, met=False)
        .exclude(status=Need.Status.DROPPED)
        .values("professional_id")
        .annotate(n=Count("id"))
        .values_list("professional_id", "n")
    )
    key_dates = _key_dates(ids, on, week_end)
    result.key_dates = sorted(
        (
            KeyDateItem(pid, names[pid]["name"], names[pid]["institution__name"], label, day)
            for pid, label, day in key_dates
        ),
        key=lambda k: (k.day, k.name),
    )
    dismissed_until: dict[int, dt.date] = {}
    dismissal_counts: dict[tuple[int, str], int] = defaultdict(int)
    for pid, factor, until in Dismissal.objects.filter(
        user=user, created_at__gte=now - dt.timedelta(days=LEARNING_DAYS)
    ).values_list("professional_id", "factor", "until"):
        if until >= on:
            dismissed_until[pid] = max(until, dismissed_until.get(pid, until))
        if factor:
            dismissal_counts[(pid, factor)] += 1
    decay = float(min(Decimal("1"), max(Decimal("0"), weights["dismissal_decay"])))

    commitments_by_person: dict[int, list[Commitment]] = defaultdict(list)
    for commitment in commitments:
        commitments_by_person[commitment.professional_id].append(commitment)
    key_dates_by_person: dict[int, list[tuple[str, dt.date]]] = defaultdict(list)
    for pid, label, day in key_dates:
        key_dates_by_person[pid].append((label, day))
    today_people = {p.pk for v in result.visits for p in v.professionals.all()}

    suggestions: list[Suggestion] = []
    for p in people:
        pid = p["id"]
        if pid in today_people or pid in dismissed_until:
            continue
        reasons: list[Reason] = []

        def add(
            factor: str, detail: str, intensity: float, pid: int = pid, reasons: list[Reason] = reasons
        ) -> None:
            if intensity <= 0:
                return
            learned = decay ** dismissal_counts.get((pid, factor), 0)
            weight = weights.get(factor, Decimal("0"))
            reasons.append(Reason(factor, detail, min(MAX_INTENSITY, intensity), weight, learned))

        stat = stats.get(pid)
        last = stat["last"] if stat else None
        rate = table.rate(tier=p["tier"], role=p["role"], stage=p["engagement_stage"])
        interval = rate.interval_days
        if interval is not None and pid not in planned:
            if last is None:
                add(
                    "overdue",
                    _("一年内未拜访（规则：每月 {rate:g} 次）").format(rate=float(rate.visits_per_month)),
                    1.0,
                )
            else:
                days = (on - timezone.localtime(last).date()).days
                if days > interval:
                    add(
                        "overdue",
                        _("上次拜访 {days} 天前，规则约每 {interval} 天一次").format(
                            days=days, interval=interval
                        ),
                        0.5 + (days - interval) / interval,
                    )
        for commitment in commitments_by_person.get(pid, []):
            late = (on - commitment.due_on).days
            if late > 0:
                intensity, when = 1 + min(late, 7) / 7, _("已逾期 {n} 天").format(n=late)
            elif late == 0:
                intensity, when = 1.0, _("今天到期")
            else:
                intensity, when = 0.6, _("{day:%m-%d} 到期").format(day=commitment.due_on)
            add("commitment_due", f"{commitment.description[:40]}（{when}）", intensity)
            break  # the most urgent one (ordered by due date)
        declining: list[str] = []
        intensity = 0.0
        if p["engagement_stage"] == Professional.Stage.REACTIVATION:
            declining.append(_("合作阶段：需激活"))
            intensity = 1.0
        if stat and stat["previous"] and stat["recent"] < stat["previous"]:
            declining.append(
                _("近 90 天拜访 {recent} 次，之前 90 天 {previous} 次").format(
                    recent=stat["recent"], previous=stat["previous"]
                )
            )
            intensity = max(intensity, (stat["previous"] - stat["recent"]) / stat["previous"])
        if declining:
            add("declining", "；".join(declining), intensity)
        for label, day in sorted(key_dates_by_person.get(pid, []), key=lambda k: k[1])[:1]:
            add(
                "key_date",
                _("{label}（{day:%m-%d}）").format(label=label, day=day),
                1.0 if day == on else 0.6,
            )
        if needs.get(pid):
            count = needs[pid]
            add("unmet_need", _("{n} 项需求未满足").format(n=count), 1 + 0.25 * (min(count, 3) - 1))
        if not reasons:
            continue
        if p["tier"] == Professional.Tier.KEY:
            add("key_customer", _("重要客户"), 1.0)
        suggestions.append(
            Suggestion(
                professional_id=pid,
                name=p["name"],
                role=p["role"],
                tier=p["tier"],
                institution=p["institution__name"],
                reasons=sorted(reasons, key=lambda r: -r.points),
                last_visit=last,
            )
        )
    suggestions.sort(key=lambda s: (-s.score, s.name, s.professional_id))
    top = [s for s in suggestions if s.score > 0][:limit]
    if top:
        best = top[0].score or 1
        channels = _consented_channels([s.professional_id for s in top], on)
        for s in top:
            s.percent = max(4, round(100 * s.score / best))
            s.can_call = bool(
                channels.get(s.professional_id, set()) & {ContactChannel.PHONE, ContactChannel.ANY}
            )
            s.can_message = bool(
                channels.get(s.professional_id, set())
                & {ContactChannel.PHONE, ContactChannel.WECHAT, ContactChannel.ANY}
            )
    result.suggestions = top
    return result


def _consented_channels(ids: list[int], on: dt.date) -> dict[int, set[str]]:
    found: dict[int, set[str]] = defaultdict(set)
    for pid, channel in (
        Consent.objects.filter(
            professional_id__in=ids, purpose="contact", withdrawn_at__isnull=True, given_on__lte=on
        )
        .order_by()
        .values_list("professional_id", "channel")
    ):
        found[pid].add(channel)
    return found


def dismiss_suggestion(
    *, actor: User, professional: Professional, reason: str, factor: str = ""
) -> Dismissal:
    """Set a suggestion aside for `dismiss_days`; the factor it was shown for counts against it next time."""
    reason = (reason or "").strip()
    if not reason:
        raise DomainError(_("请选择或填写忽略原因。"), fields={"reason": [_("不能为空")]})
    if factor and factor not in FACTORS:
        raise DomainError(
            _("推荐理由“{value}”无效。").format(value=factor[:32]), fields={"factor": [_("不在可选值中")]}
        )
    days = int(load_weights()["dismiss_days"])
    return Dismissal.objects.create(
        user=actor,
        professional=professional,
        reason=reason[:200],
        factor=factor,
        until=timezone.localdate() + dt.timedelta(days=max(1, days)),
    )


# --- The visit brief ---------------------------------------------------------------------------


@dataclass
class Brief:
    professional: Professional
    interactions: list[dict[str, Any]]
    needs: list[Need]
    commitments: list[Commitment]
    key_messages: list[KeyMessage]
    reception: str
    key_dates: list[KeyDate]
    masked: bool
    next_visit: Visit | None


def visit_brief(*, user: Any, professional: Professional, limit: int = 3) -> Brief:
    """One screen before a visit: who, the last three interactions, open needs and commitments,
    and the approved key messages for products in the professional's therapeutic areas."""
    from pharmacrm.engagement.planning import describe_reception, reception_windows

    today = timezone.localdate()
    visits = list(
        visible(Visit, user=user)
        .filter(professionals=professional, status=Visit.Status.COMPLETED)
        .select_related("owner")
        .prefetch_related("key_messages", "products")
        .order_by("-starts_at")[:limit]
    )
    callbacks = list(
        visible(Callback, user=user)
        .filter(professional=professional, status=Callback.Status.DONE)
        .select_related("owner")
        .order_by("-done_at")[:limit]
    )
    interactions: list[dict[str, Any]] = [
        {
            "when": v.completed_at or v.starts_at,
            "kind": _("拜访 · {channel}").format(channel=v.get_channel_display()),
            "who": str(v.owner),
            "text": v.feedback or v.objective,
            "messages": [m.code for m in v.key_messages.all()],
            "products": [str(p) for p in v.products.all()],
            "next_step": v.next_step,
        }
        for v in visits
    ]
    interactions += [
        {
            "when": c.done_at,
            "kind": _("回访 · {reason}").format(reason=c.get_reason_display()),
            "who": str(c.owner),
            "text": c.outcome,
            "messages": [],
            "products": [],
            "next_step": "",
        }
        for c in callbacks
    ]
    interactions.sort(key=lambda i: i["when"], reverse=True)
    needs = list(
        visible(Need, user=user)
        .filter(professional=professional, met=False)
        .exclude(status=Need.Status.DROPPED)
        .order_by("-found_on")[:5]
    )
    commitments = list(
        visible(Commitment, user=user)
        .filter(professional=professional, status=Commitment.Status.OPEN)
        .order_by("due_on")[:5]
    )
    areas = [a.strip() for a in professional.therapeutic_areas.replace("；", ";").split(";") if a.strip()]
    key_messages: list[KeyMessage] = []
    if areas:
        area_q = Q()
        for area in areas:
            area_q |= Q(product__therapeutic_area__name__icontains=area) | Q(
                product__therapeutic_area__code__iexact=area
            )
        key_messages = list(
            KeyMessage.objects.filter(area_q, approved=True, valid_from__lte=today, product__is_active=True)
            .filter(Q(valid_to__isnull=True) | Q(valid_to__gte=today))
            .select_related("product")
            .order_by("product__generic_name", "code", "-version")[:6]
        )
    rules = reception_windows([professional.institution_id]).get(professional.institution_id)
    next_visit = (
        visible(Visit, user=user)
        .filter(professionals=professional, status=Visit.Status.PLANNED, starts_at__gte=timezone.now())
        .order_by("starts_at")
        .first()
    )
    return Brief(
        professional=professional,
        interactions=interactions[:limit],
        needs=needs,
        commitments=commitments,
        key_messages=key_messages,
        reception=describe_reception(rules) if rules else "",
        key_dates=list(visible(KeyDate, user=user).filter(professional=professional)),
        masked=contacts_masked_for(user),
        next_visit=next_visit,
    )


def today_counts(*, user: Any, on: dt.date | None = None) -> dict[str, int]:
    """The numbers the home page shows a rep, with four count queries."""
    on = on or timezone.localdate()
    tz = timezone.get_default_timezone()
    start = timezone.make_aware(dt.datetime.combine(on, dt.time.min), tz)
    return {
        "visits": Visit.objects.filter(
            owner=user,
            starts_at__gte=start,
            starts_at__lt=start + dt.timedelta(days=1),
            status=Visit.Status.PLANNED,
        ).count(),
        "commitments": Commitment.objects.filter(
            owner=user, status=Commitment.Status.OPEN, due_on__lte=on
        ).count(),
        "callbacks": Callback.objects.filter(owner=user, status=Callback.Status.DUE, due_on__lte=on).count(),
        "care": CareReminder.objects.filter(
            owner=user, status=CareReminder.Status.OPEN, due_on__gte=on, due_on__lte=on + dt.timedelta(days=6)
        ).count(),
    }
