"""Visit planning: a rep's monthly or weekly plan generated from the frequency rules, adjusted on the calendar, approved by a manager.

`generate_plan` spreads each professional's expected visits over the period's working days
(Chinese public holidays skipped, make-up Saturdays worked), inside the institution's reception
days and hours when it has them (接待制度, RULES_CN §3), never on top of the rep's other visits,
and counts visits already planned or done in the period — running it twice plans nothing new.
Each planned visit gets an objective from the professional's open commitments and needs. When the
rep's org unit (or the nearest one above) asks for approval, planned visits wait for a manager.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.apps import apps
from django.db import transaction
from django.db.models import Count, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _
from simple_history.utils import bulk_create_with_history, bulk_update_with_history

from pharmacrm.core.audit import Source, acting_as, current_state
from pharmacrm.core.errors import Conflict, DomainError, NotAllowed
from pharmacrm.core.models import MANAGER_ROLES, Role, TerritoryAssignment, User
from pharmacrm.core.visibility import visible
from pharmacrm.customers.models import Institution, Need, Professional
from pharmacrm.engagement import calendar_cn
from pharmacrm.engagement.frequency import FrequencyTable, phase_of, visits_in_slot
from pharmacrm.engagement.models import Commitment, PlanDecision, PlanningPolicy, ReceptionRule, Visit

SLOT_MINUTES = 30
# Without reception rules a rep visits in office hours, not over lunch.
DEFAULT_WINDOWS: tuple[tuple[dt.time, dt.time], ...] = (
    (dt.time(9, 0), dt.time(12, 0)),
    (dt.time(13, 30), dt.time(17, 30)),
)
# Key customers are placed first when the days fill up.
TIER_ORDER: dict[str, int] = {
    Professional.Tier.KEY: 0,
    Professional.Tier.POTENTIAL: 1,
    Professional.Tier.GENERAL: 2,
}
# Visits that occupy the rep's time (a cancelled one frees it).
ACTIVE_STATUSES = (Visit.Status.PLANNED, Visit.Status.COMPLETED)
PLANNER_ROLES = MANAGER_ROLES | {Role.ADMIN, Role.DIRECTOR}


# --- Periods ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    """A calendar month or an ISO week, both ends included."""

    kind: str  # "month" | "week"
    start: dt.date
    end: dt.date

    @classmethod
    def month(cls, year: int, month: int) -> Period:
        start = dt.date(year, month, 1)
        following = dt.date(year + (month == 12), month % 12 + 1, 1)
        return cls("month", start, following - dt.timedelta(days=1))

    @classmethod
    def week_of(cls, day: dt.date) -> Period:
        monday = day - dt.timedelta(days=day.weekday())
        return cls("week", monday, monday + dt.timedelta(days=6))

    @classmethod
    def parse(cls, text: str) -> Period:
        """ "2026-12" (a month) or "2026-W49" (an ISO week); anything else is refused naming the value."""
        text = (text or "").strip()
        if m := re.fullmatch(r"(\d{4})-(\d{1,2})", text):
            year, month = int(m[1]), int(m[2])
            if 2000 <= year <= 2100 and 1 <= month <= 12:
                return cls.month(year, month)
        if m := re.fullmatch(r"(\d{4})-?W(\d{1,2})", text, flags=re.IGNORECASE):
            try:
                return cls.week_of(dt.date.fromisocalendar(int(m[1]), int(m[2]), 1))
            except ValueError:
                pass
        raise DomainError(
            _("计划周期“{value}”无效：月份写作 2026-12，周写作 2026-W49。").format(value=text),
            fields={"period": [_("格式应为 YYYY-MM 或 YYYY-Www")]},
        )

    @property
    def index(self) -> int:
        """Consecutive periods have consecutive indexes (spreads fractional rates)."""
        if self.kind == "month":
            return self.start.year * 12 + self.start.month - 1
        return self.start.toordinal() // 7

    @property
    def code(self) -> str:
        if self.kind == "month":
            return f"{self.start:%Y-%m}"
        year, week, _day = self.start.isocalendar()
        return f"{year}-W{week:02d}"

    @property
    def label(self) -> str:
        if self.kind == "month":
            return _("{year}年{month}月").format(year=self.start.year, month=self.start.month)
        year, week, _day = self.start.isocalendar()
        return _("{year}年第{week}周（{start:%m-%d}–{end:%m-%d}）").format(
            year=year, week=week, start=self.start, end=self.end
        )

    def bounds(self) -> tuple[dt.datetime, dt.datetime]:
        """[start, end) as aware datetimes in the site's time zone."""
        return local_datetime(self.start, dt.time.min), local_datetime(
            self.end + dt.timedelta(days=1), dt.time.min
        )

    def monthly_share(self) -> float:
        """The period's share of a month's visits (a week is 12/52 of a month)."""
        return 1.0 if self.kind == "month" else 12 / 52


def local_datetime(day: dt.date, time: dt.time) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, time), timezone.get_default_timezone())


# --- Who plans for whom -------------------------------------------------------------------------


def rep_territory_ids(rep: User, *, on: dt.date) -> list[int]:
    return list(TerritoryAssignment.objects.on(on).filter(user=rep).values_list("territory_id", flat=True))


def rep_professionals(rep: User, *, on: dt.date) -> QuerySet[Professional]:
    """The active professionals of active institutions in the territories `rep` covers on `on`."""
    territories = TerritoryAssignment.objects.on(on).filter(user=rep).values("territory_id")
    return Professional.objects.filter(
        institution__territory_id__in=territories,
        status=Professional.Status.ACTIVE,
        institution__status=Institution.Status.ACTIVE,
    )


def plannable_reps(*, user: Any) -> QuerySet[User]:
    """Reps whose plans `user` may see: themselves, their subtree for managers, all for company-wide roles."""
    return visible(User, user=user).filter(role_rows__role=Role.REP, is_active=True).order_by("username")


def check_may_plan_for(actor: User, rep: User) -> None:
    """The rep plans their own days; managers (and admins, directors) plan for reps they see."""
    if not rep.has_role(Role.REP):
        raise DomainError(_("{name} 不是医药代表，不能为其生成拜访计划。").format(name=rep))
    if actor.pk == rep.pk:
        return
    if not actor.has_role(*PLANNER_ROLES):
        raise NotAllowed(_("只有本人或其上级经理可以调整医药代表的拜访计划。"))
    if not visible(User, user=actor).filter(pk=rep.pk).exists():
        raise NotAllowed(_("{name} 不在您管理的组织内。").format(name=rep))


def approval_required_for(rep: User) -> bool:
    """The nearest PlanningPolicy up the rep's org tree decides; none means no approval."""
    if not rep.org_unit_id:
        return False
    path = rep.org_unit.path  # type: ignore[union-attr]
    parts = [p for p in path.split("/") if p]
    prefixes = ["/" + "/".join(parts[:i]) + "/" for i in range(1, len(parts) + 1)]
    policies = PlanningPolicy.objects.filter(org_unit__path__in=prefixes).values_list(
        "org_unit__path", "approval_required"
    )
    best = max(policies, key=lambda row: len(row[0]), default=None)
    return bool(best and best[1])


# --- Objectives --------------------------------------------------------------------------------


STAGE_OBJECTIVES: dict[str, str] = {
    Professional.Stage.NEW: "初次拜访：了解临床需求与关注点，介绍公司与产品的学术信息",
    Professional.Stage.STABLE: "例行拜访：传递最新学术信息，了解用药反馈",
    Professional.Stage.GROWTH: "深入沟通：结合其治疗领域探讨临床证据与学术合作",
    Professional.Stage.REACTIVATION: "重新建立联系：了解近期关注点与未满足的需求",
}


def default_objectives(professional_ids: Sequence[int], *, on: dt.date) -> dict[int, str]:
    """An objective per professional: the most urgent open commitment, else the newest open need,
    else what the engagement stage calls for. Two queries whatever the number of professionals."""
    objectives: dict[int, str] = {}
    commitments = (
        Commitment.objects.filter(professional_id__in=professional_ids, status=Commitment.Status.OPEN)
        .order_by("professional_id", "due_on")
        .values_list("professional_id", "description", "due_on")
    )
    for pid, description, due_on in commitments:
        objectives.setdefault(
            pid, _("兑现承诺（{due:%m-%d} 到期）：{text}").format(due=due_on, text=description[:120])
        )
    needs = (
        Need.objects.filter(professional_id__in=professional_ids, met=False)
        .exclude(status=Need.Status.DROPPED)
        .order_by("professional_id", "-found_on")
        .values_list("professional_id", "kind", "description")
    )
    kinds = dict(Need.Kind.choices)
    for pid, kind, description in needs:
        objectives.setdefault(
            pid,
            _("回应{kind}：{text}").format(kind=kinds.get(kind, kind), text=description[:120]),
        )
    return objectives


def objective_for_stage(stage: str) -> str:
    return _(STAGE_OBJECTIVES.get(stage, STAGE_OBJECTIVES[Professional.Stage.STABLE]))


# --- Reception windows and the rep's busy time ---------------------------------------------------


Window = tuple[dt.time, dt.time]


def reception_windows(institution_ids: Iterable[int]) -> dict[int, list[tuple[set[int], Window]]]:
    """institution → [(ISO weekdays, (start, end))] for institutions that have reception rules."""
    windows: dict[int, list[tuple[set[int], Window]]] = defaultdict(list)
    for rule in ReceptionRule.objects.filter(institution_id__in=list(set(institution_ids))):
        windows[rule.institution_id].append((rule.day_numbers(), (rule.start_time, rule.end_time)))
    return windows


def windows_on(day: dt.date, rules: list[tuple[set[int], Window]] | None) -> list[Window]:
    if not rules:
        return list(DEFAULT_WINDOWS)
    return [window for days, window in rules if day.isoweekday() in days]


def describe_reception(rules: list[tuple[set[int], Window]]) -> str:
    names = "一二三四五六日"
    parts = []
    for days, (start, end) in rules:
        label = "、".join(f"周{names[d - 1]}" for d in sorted(days) if 1 <= d <= 7)
        parts.append(f"{label} {start:%H:%M}–{end:%H:%M}")
    return "；".join(parts)


@dataclass
class Busy:
    """Minutes after midnight the rep is taken on each day, with the institution (to cluster visits)."""

    by_day: dict[dt.date, list[tuple[int, int, int]]] = field(default_factory=lambda: defaultdict(list))

    def add(self, start: dt.datetime, minutes: int, institution_id: int) -> None:
        local = timezone.localtime(start)
        begin = local.hour * 60 + local.minute
        # A visit that starts within a minute (seconds, as a quick-added one does) keeps that minute
        # too: a slot placed right after it starts at the next whole minute, never inside it.
        partial = 1 if (local.second or local.microsecond) else 0
        self.by_day[local.date()].append((begin, begin + minutes + partial, institution_id))

    def free(self, day: dt.date, begin: int, end: int) -> bool:
        return all(end <= b or begin >= e for b, e, _i in self.by_day.get(day, ()))

    def first_free(self, day: dt.date, windows: list[Window], institution_id: int) -> int | None:
        """The first free slot start inside `windows`, right after a visit to the same institution if possible."""
        candidates: list[int] = []
        allowed: list[tuple[int, int]] = [
            (w[0].hour * 60 + w[0].minute, w[1].hour * 60 + w[1].minute) for w in windows
        ]
        for _b, e, inst in sorted(self.by_day.get(day, ())):
            if inst == institution_id:
                candidates.append(e)
        for lo, hi in allowed:
            candidates.extend(range(lo, hi - SLOT_MINUTES + 1, SLOT_MINUTES))
        for begin in candidates:
            end = begin + SLOT_MINUTES
            if any(lo <= begin and end <= hi for lo, hi in allowed) and self.free(day, begin, end):
                return begin
        return None


def rep_busy(rep: User, start: dt.datetime, end: dt.datetime) -> Busy:
    busy = Busy()
    rows = Visit.objects.filter(
        owner=rep,
        starts_at__gte=start - dt.timedelta(hours=10),
        starts_at__lt=end,
        status__in=ACTIVE_STATUSES,
    ).values_list("starts_at", "duration_minutes", "institution_id")
    for starts_at, minutes, institution_id in rows:
        busy.add(starts_at, minutes, institution_id)
    return busy


# --- Generating a plan ---------------------------------------------------------------------------


@dataclass(frozen=True)
class PlannedVisit:
    professional_id: int
    professional: str
    institution_id: int
    institution: str
    starts_at: dt.datetime
    objective: str


@dataclass(frozen=True)
class Unplaced:
    professional_id: int
    professional: str
    missing: int
    reason: str


@dataclass
class PlanResult:
    rep: User
    period: Period
    dry_run: bool
    approval: str
    planned: list[PlannedVisit] = field(default_factory=list)
    unplaced: list[Unplaced] = field(default_factory=list)
    already: int = 0  # visits already planned or done in the period that count towards the rules
    customers: int = 0
    working_days: int = 0
    provisional_holidays: bool = False

    @property
    def per_day(self) -> list[tuple[dt.date, int]]:
        counts = Counter(timezone.localtime(p.starts_at).date() for p in self.planned)
        return sorted(counts.items())

    def summary(self) -> str:
        text = _("{period}：新增 {created} 次计划拜访（{customers} 位客户，已有 {already} 次计入）").format(
            period=self.period.label,
            created=len(self.planned),
            customers=self.customers,
            already=self.already,
        )
        missing = sum(u.missing for u in self.unplaced)
        if missing:
            text += _("；{missing} 次未能安排").format(missing=missing)
        return text


def generate_plan(
    *, actor: User, rep: User, period: Period, dry_run: bool = False, today: dt.date | None = None
) -> PlanResult:
    """Plan the period's visits for `rep`; with `dry_run`, only say what would be planned."""
    check_may_plan_for(actor, rep)
    today = today or timezone.localdate()
    approval = Visit.Approval.PENDING if approval_required_for(rep) else Visit.Approval.NOT_REQUIRED
    result = PlanResult(
        rep=rep,
        period=period,
        dry_run=dry_run,
        approval=approval,
        provisional_holidays=any(calendar_cn.is_provisional(y) for y in {period.start.year, period.end.year}),
    )
    all_days = calendar_cn.working_days(period.start, period.end)
    days = [d for d in all_days if d > today]
    result.working_days = len(days)
    if not days:
        return result
    # In a period already under way only the remaining working days' share is planned.
    remaining_share = len(days) / len(all_days)
    start, end = period.bounds()

    with transaction.atomic():
        # Lock the rep's row: two generations for the same rep run one after the other.
        User.objects.select_for_update().filter(pk=rep.pk).first()
        professionals = list(
            rep_professionals(rep, on=max(today, period.start))
            .select_related("institution")
            .only("id", "name", "tier", "role", "engagement_stage", "institution_id", "institution__name")
        )
        professionals.sort(key=lambda p: (TIER_ORDER.get(p.tier, 9), p.institution_id, p.pk))
        result.customers = len(professionals)
        ids = [p.pk for p in professionals]
        table = FrequencyTable.load()
        existing = _existing_counts(ids, start, end)
        result.already = sum(existing.values())
        windows = reception_windows(p.institution_id for p in professionals)
        busy = rep_busy(rep, start, end)
        objectives = default_objectives(ids, on=today)
        share = period.monthly_share()

        for p in professionals:
            rate = table.rate_for(p).visits_per_month
            target = visits_in_slot(rate * Decimal(str(share)), index=period.index, phase=phase_of(p.pk))
            wanted = min(target - existing.get(p.pk, 0), math.ceil(target * remaining_share))
            if wanted <= 0:
                continue
            rules = windows.get(p.institution_id)
            allowed = [d for d in days if windows_on(d, rules)]
            if not allowed:
                result.unplaced.append(Unplaced(p.pk, p.name, wanted, _("机构接待日不在本期剩余工作日内")))
                continue
            phase = phase_of(p.institution_id)
            used: set[dt.date] = set()
            for i in range(wanted):
                ideal = math.floor((i + phase) * len(allowed) / wanted)
                order = _nearest_first(len(allowed), ideal)
                placed = False
                for k in order:
                    day = allowed[k]
                    if day in used:
                        continue
                    begin = busy.first_free(day, windows_on(day, rules), p.institution_id)
                    if begin is None:
                        continue
                    starts_at = local_datetime(day, dt.time(begin // 60, begin % 60))
                    busy.add(starts_at, SLOT_MINUTES, p.institution_id)
                    used.add(day)
                    result.planned.append(
                        PlannedVisit(
                            p.pk,
                            p.name,
                            p.institution_id,
                            p.institution.name,
                            starts_at,
                            objectives.get(p.pk) or objective_for_stage(p.engagement_stage),
                        )
                    )
                    placed = True
                    break
                if not placed:
                    result.unplaced.append(Unplaced(p.pk, p.name, wanted - i, _("本期可拜访时段已排满")))
                    break
        if not dry_run and result.planned:
            with acting_as(actor):
                _write_planned(actor=actor, rep=rep, planned=result.planned, approval=approval)
    return result


def _nearest_first(size: int, ideal: int) -> list[int]:
    """Indexes 0..size-1 by distance from `ideal` (the earlier one first on a tie)."""
    return sorted(range(size), key=lambda k: (abs(k - ideal), k))


def _existing_counts(professional_ids: list[int], start: dt.datetime, end: dt.datetime) -> dict[int, int]:
    """Visits (any rep's) already planned or done with each professional in [start, end)."""
    # Only the professional in WHERE: the professional index decides the plan on every database
    # (see today._visit_stats); the period is an aggregate filter.
    through = Visit.professionals.through
    in_period = Q(visit__starts_at__gte=start, visit__starts_at__lt=end, visit__status__in=ACTIVE_STATUSES)
    rows = (
        through.objects.filter(professional_id__in=professional_ids)
        .values("professional_id")
        .annotate(n=Count("id", filter=in_period))
    )
    return {row["professional_id"]: row["n"] for row in rows if row["n"]}


def _history_attrs() -> dict[str, Any]:
    state = current_state()
    return {
        "history_source": state.source if state else Source.SYSTEM,
        "history_ip": state.ip if state else None,
    }


def _write_planned(*, actor: User, rep: User, planned: list[PlannedVisit], approval: str) -> list[Visit]:
    """Insert the visits, their professionals and the history of both, in a few statements."""
    visits = [
        Visit(
            owner=rep,
            institution_id=p.institution_id,
            status=Visit.Status.PLANNED,
            was_planned=True,
            channel="in_person",
            objective=p.objective,
            starts_at=p.starts_at,
            duration_minutes=SLOT_MINUTES,
            approval=approval,
        )
        for p in planned
    ]
    created = bulk_create_with_history(
        visits, Visit, batch_size=500, default_user=actor, custom_historical_attrs=_history_attrs()
    )
    through = Visit.professionals.through
    links = through.objects.bulk_create(
        [
            through(visit_id=v.pk, professional_id=p.professional_id)
            for v, p in zip(created, planned, strict=True)
        ],
        batch_size=1000,
    )
    # The m2m history rows simple-history writes on .add(), tied to each visit's creation record.
    history_model: Any = Visit.history.model
    m2m_history: Any = apps.get_model("engagement", "HistoricalVisit_professionals")
    records = dict(
        history_model.objects.filter(id__in=[v.pk for v in created], history_type="+").values_list(
            "id", "history_id"
        )
    )
    if links and links[0].pk:
        m2m_history.objects.bulk_create(
            [
                m2m_history(
                    history_id=records[link.visit_id],
                    id=link.pk,
                    visit_id=link.visit_id,
                    professional_id=link.professional_id,
                )
                for link in links
                if link.visit_id in records
            ],
            batch_size=1000,
        )
    return created


# --- One visit at a time: plan, move ----------------------------------------------------------------


@dataclass
class Placement:
    visit: Visit
    warnings: list[str]


def _check_slot(
    *, rep: User, institution_id: int, starts_at: dt.datetime, minutes: int, exclude: int | None = None
) -> list[str]:
    """Refuse a time in the past or overlapping the rep's other visits; warn outside reception rules or on a day off."""
    if starts_at <= timezone.now():
        raise DomainError(
            _("拜访时间 {when:%Y-%m-%d %H:%M} 已过，请选择以后的时间。").format(
                when=timezone.localtime(starts_at)
            ),
            fields={"starts_at": [_("不能早于现在")]},
        )
    ends_at = starts_at + dt.timedelta(minutes=minutes)
    others = Visit.objects.filter(
        owner=rep,
        status__in=ACTIVE_STATUSES,
        starts_at__lt=ends_at,
        starts_at__gte=starts_at - dt.timedelta(minutes=600),
    )
    if exclude is not None:
        others = others.exclude(pk=exclude)
    others = others.select_related("institution").order_by("starts_at")
    for other in others:
        if other.ends_at > starts_at:
            raise Conflict(
                _("与 {when:%m-%d %H:%M}–{end:%H:%M} 在{place}的拜访时间重叠，请换一个时间。").format(
                    when=timezone.localtime(other.starts_at),
                    end=timezone.localtime(other.ends_at),
                    place=other.institution.name,
                ),
                fields={"starts_at": [_("与其他拜访重叠")]},
            )
    warnings: list[str] = []
    local = timezone.localtime(starts_at)
    day = local.date()
    if not calendar_cn.is_working_day(day):
        warnings.append(_("{day:%m-%d} 是周末或法定节假日。").format(day=day))
    rules = reception_windows([institution_id]).get(institution_id)
    if rules:
        local_end = timezone.localtime(ends_at)
        inside = any(
            start <= local.time() and local_end.time() <= end and local_end.date() == day
            for start, end in windows_on(day, rules)
        )
        if not inside:
            warnings.append(
                _("不在该机构的接待时间内（{rules}），请先预约确认（接待制度）。").format(
                    rules=describe_reception(rules)
                )
            )
    return warnings


def next_free_start(
    *, rep: User, institution_id: int, after: dt.datetime, days: int = 14
) -> dt.datetime | None:
    """The first free slot after `after` on a working day within `days`, inside reception rules if any."""
    rules = reception_windows([institution_id]).get(institution_id)
    start_day = timezone.localtime(after).date()
    busy = rep_busy(
        rep,
        local_datetime(start_day, dt.time.min),
        local_datetime(start_day + dt.timedelta(days=days), dt.time.min),
    )
    for offset in range(days):
        day = start_day + dt.timedelta(days=offset)
        if not calendar_cn.is_working_day(day):
            continue
        windows = windows_on(day, rules)
        if offset == 0:
            now_local = timezone.localtime(after)
            earliest = now_local.hour * 60 + now_local.minute
            # Skip what has already passed today (rounded up to the next slot).
            earliest = math.ceil(earliest / SLOT_MINUTES) * SLOT_MINUTES
            windows = [
                (max(s, dt.time(min(23, earliest // 60), earliest % 60)) if earliest < 24 * 60 else e, e)
                for s, e in windows
            ]
        begin = busy.first_free(day, windows, institution_id)
        if begin is not None:
            return local_datetime(day, dt.time(begin // 60, begin % 60))
    return None


def plan_next_visit(*, actor: User, professional: Professional, objective: str = "") -> Placement:
    """The one-tap "plan" on the rep's day: the next free slot (within reception rules) with the default objective.

    The visit itself is written by visits.plan_visit, the same service as the planning form
    (territory, overlap and reception checks included).
    """
    from pharmacrm.engagement import visits

    if not actor.has_role(Role.REP):
        raise NotAllowed(_("只有医药代表可以安排自己的拜访。"))
    starts_at = next_free_start(
        rep=actor, institution_id=professional.institution_id, after=timezone.now() + dt.timedelta(minutes=30)
    )
    if starts_at is None:
        raise Conflict(_("未来两周没有空闲时段，请在日历上手动安排。"))
    objective = (
        objective
        or default_objectives([professional.pk], on=timezone.localdate()).get(professional.pk)
        or objective_for_stage(professional.engagement_stage)
    )
    outcome = visits.plan_visit(
        actor=actor,
        institution=professional.institution_id,
        starts_at=starts_at,
        objective=objective[:2000],
        professional_ids=[professional.pk],
    )
    return Placement(outcome.visit, list(outcome.warnings))


def move_visit(*, actor: User, visit: Visit, starts_at: dt.datetime, minutes: int | None = None) -> Placement:
    """Move a planned visit to another time. Overlaps and past times are refused; leaving the
    institution's reception hours or landing on a day off is allowed with a warning."""
    if visit.owner_id != actor.pk:
        raise NotAllowed(_("只能调整自己的拜访计划。"))
    minutes = minutes or visit.duration_minutes
    if not 1 <= minutes <= 600:
        raise DomainError(_("时长须在 1–600 分钟之间。"), fields={"duration_minutes": [_("超出范围")]})
    with transaction.atomic():
        locked = Visit.objects.select_for_update().get(id=visit.id)
        if locked.status != Visit.Status.PLANNED:
            raise Conflict(
                _("这次拜访已{status}，不能再调整时间。").format(status=locked.get_status_display())
            )
        warnings = _check_slot(
            rep=actor,
            institution_id=locked.institution_id,
            starts_at=starts_at,
            minutes=minutes,
            exclude=locked.pk,
        )
        locked.starts_at = starts_at
        locked.duration_minutes = minutes
        with acting_as(actor):
            locked.save(update_fields=["starts_at", "duration_minutes", "updated_at"])
    return Placement(locked, warnings)


# --- Approval ------------------------------------------------------------------------------------


def pending_plans(*, user: Any) -> list[dict[str, Any]]:
    """Reps in `user`'s view with visits waiting for approval, grouped by month."""
    from django.db.models.functions import TruncMonth

    rows = (
        visible(Visit, user=user)
        .filter(approval=Visit.Approval.PENDING, status=Visit.Status.PLANNED)
        .exclude(owner=user)
        .annotate(month=TruncMonth("starts_at", tzinfo=timezone.get_default_timezone()))
        .values("owner_id", "owner__display_name", "owner__username", "month")
        .annotate(n=Count("id"))
        .order_by("month", "owner__username")
    )
    return [
        {
            "rep_id": r["owner_id"],
            "rep": r["owner__display_name"] or r["owner__username"],
            "period": Period.month(r["month"].year, r["month"].month),
            "count": r["n"],
        }
        for r in rows
    ]


def decide_plan(*, actor: User, rep: User, period: Period, approve: bool, reason: str = "") -> PlanDecision:
    """A manager approves a rep's pending visits of the period, or returns them with a reason."""
    reason = (reason or "").strip()
    if not actor.has_role(*PLANNER_ROLES):
        raise NotAllowed(_("只有经理可以审批拜访计划。"))
    if actor.pk == rep.pk:
        raise NotAllowed(_("不能审批自己的拜访计划。"))
    if not visible(User, user=actor).filter(pk=rep.pk).exists():
        raise NotAllowed(_("{name} 不在您管理的组织内。").format(name=rep))
    if not approve and not reason:
        raise DomainError(_("退回计划须说明原因。"), fields={"reason": [_("请填写退回原因")]})
    start, end = period.bounds()
    with transaction.atomic():
        visits = list(
            Visit.objects.select_for_update().filter(
                owner=rep,
                status=Visit.Status.PLANNED,
                approval=Visit.Approval.PENDING,
                starts_at__gte=start,
                starts_at__lt=end,
            )
        )
        if not visits:
            raise Conflict(_("{name} 在{period}没有待审批的计划拜访。").format(name=rep, period=period.label))
        new_state = Visit.Approval.APPROVED if approve else Visit.Approval.REJECTED
        for visit in visits:
            visit.approval = new_state
        with acting_as(actor):
            bulk_update_with_history(
                visits, Visit, ["approval"], batch_size=500, default_user=actor, manager=Visit.objects
            )
            decision = PlanDecision.objects.create(
                rep=rep,
                period_start=period.start,
                period_end=period.end,
                decision=PlanDecision.Decision.APPROVED if approve else PlanDecision.Decision.RETURNED,
                reason=reason[:300],
                visit_count=len(visits),
                decided_by=actor,
            )
    return decision


def resubmit_plan(*, actor: User, period: Period) -> int:
    """The rep sends a returned plan (after adjusting it) back for approval; returns how many visits."""
    start, end = period.bounds()
    with transaction.atomic():
        visits = list(
            Visit.objects.select_for_update().filter(
                owner=actor,
                status=Visit.Status.PLANNED,
                approval=Visit.Approval.REJECTED,
                starts_at__gte=start,
                starts_at__lt=end,
            )
        )
        if not visits:
            raise Conflict(_("{period}没有被退回的计划拜访。").format(period=period.label))
        for visit in visits:
            visit.approval = Visit.Approval.PENDING
        with acting_as(actor):
            bulk_update_with_history(
                visits, Visit, ["approval"], batch_size=500, default_user=actor, manager=Visit.objects
            )
    return len(visits)


def latest_decision(*, rep: User, period: Period) -> PlanDecision | None:
    return (
        PlanDecision.objects.filter(rep=rep, period_start__lte=period.end, period_end__gte=period.start)
        .select_related("decided_by")
        .first()
    )


# --- Reading the calendar ---------------------------------------------------------------------------


def calendar_visits(*, user: Any, rep: User, first: dt.date, last: dt.date) -> list[Visit]:
    """The rep's visits between two days (both included) that `user` may see, professionals prefetched."""
    start = local_datetime(first, dt.time.min)
    end = local_datetime(last + dt.timedelta(days=1), dt.time.min)
    return list(
        visible(Visit, user=user)
        .filter(owner=rep, starts_at__gte=start, starts_at__lt=end)
        .exclude(status=Visit.Status.CANCELLED)
        .select_related("institution")
        .prefetch_related("professionals")
        .order_by("starts_at", "id")
    )
