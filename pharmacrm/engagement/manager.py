"""What a manager sees of the team: plan vs actual by rep and ISO week, key-customer frequency compliance,
overdue commitments, co-visits with coaching, and plans waiting for approval.

Everything is scoped: the reps are the ones the user may see (a manager's subtree, a rep only
themselves, nobody else's), and every row read goes through the visibility scope. Figures are
visit counts and customer coverage only — never per-doctor prescription data (RULES_CN §2).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db.models import Count, Min, Q
from django.db.models.functions import TruncDate
from django.utils import timezone

from pharmacrm.core.models import TerritoryAssignment, User
from pharmacrm.core.visibility import visible
from pharmacrm.customers.models import Institution, Professional
from pharmacrm.engagement.frequency import FrequencyTable
from pharmacrm.engagement.models import Commitment, Visit
from pharmacrm.engagement.planning import Period, local_datetime, pending_plans, plannable_reps

MAX_REPS = 300


@dataclass
class WeekCell:
    planned: int = 0
    done_planned: int = 0
    unplanned: int = 0
    cancelled: int = 0

    @property
    def done(self) -> int:
        return self.done_planned + self.unplanned

    @property
    def rate(self) -> int | None:
        return round(100 * self.done_planned / self.planned) if self.planned else None


@dataclass
class RepRow:
    rep: User
    weeks: list[WeekCell] = field(default_factory=list)
    key_total: int = 0
    key_on_rate: int = 0
    overdue_commitments: int = 0
    oldest_overdue: dt.date | None = None

    @property
    def total(self) -> WeekCell:
        cell = WeekCell()
        for w in self.weeks:
            cell.planned += w.planned
            cell.done_planned += w.done_planned
            cell.unplanned += w.unplanned
            cell.cancelled += w.cancelled
        return cell

    @property
    def key_compliance(self) -> int | None:
        return round(100 * self.key_on_rate / self.key_total) if self.key_total else None


@dataclass
class TeamView:
    period: Period
    previous_month: Period
    weeks: list[dt.date]
    rows: list[RepRow]
    overdue: list[Commitment]
    co_visits: list[Visit]
    pending: list[dict[str, Any]]
    truncated: bool = False


def iso_weeks(period: Period) -> list[dt.date]:
    """Mondays of the ISO weeks overlapping the period."""
    monday = period.start - dt.timedelta(days=period.start.weekday())
    weeks = []
    while monday <= period.end:
        weeks.append(monday)
        monday += dt.timedelta(days=7)
    return weeks


def plan_vs_actual(
    *, user: Any, reps: list[User], weeks: list[dt.date]
) -> dict[tuple[int, dt.date], WeekCell]:
    start = local_datetime(weeks[0], dt.time.min)
    end = local_datetime(weeks[-1] + dt.timedelta(days=7), dt.time.min)
    rows = (
        visible(Visit, user=user)
        .filter(owner__in=reps, starts_at__gte=start, starts_at__lt=end)
        .annotate(day=TruncDate("starts_at", tzinfo=timezone.get_default_timezone()))
        .values("owner_id", "day")
        .annotate(
            planned=Count("id", filter=Q(was_planned=True)),
            done_planned=Count("id", filter=Q(was_planned=True, status=Visit.Status.COMPLETED)),
            unplanned=Count("id", filter=Q(was_planned=False, status=Visit.Status.COMPLETED)),
            cancelled=Count("id", filter=Q(status=Visit.Status.CANCELLED)),
        )
    )
    cells: dict[tuple[int, dt.date], WeekCell] = defaultdict(WeekCell)
    for r in rows:
        day = r["day"]
        monday = day - dt.timedelta(days=day.weekday())
        cell = cells[(r["owner_id"], monday)]
        cell.planned += r["planned"]
        cell.done_planned += r["done_planned"]
        cell.unplanned += r["unplanned"]
        cell.cancelled += r["cancelled"]
    return cells


def key_compliance(*, reps: list[User], month: Period) -> dict[int, tuple[int, int]]:
    """rep → (key professionals in their territories, how many were visited at least at their rule's rate in `month`)."""
    territories: dict[int, set[int]] = defaultdict(set)
    for user_id, territory_id in (
        TerritoryAssignment.objects.on(month.end).filter(user__in=reps).values_list("user_id", "territory_id")
    ):
        territories[territory_id].add(user_id)
    if not territories:
        return {}
    key = list(
        Professional.objects.filter(
            tier=Professional.Tier.KEY,
            status=Professional.Status.ACTIVE,
            institution__status=Institution.Status.ACTIVE,
            institution__territory_id__in=list(territories),
        ).values("id", "tier", "role", "engagement_stage", "institution__territory_id")
    )
    start, end = month.bounds()
    through = Visit.professionals.through
    visits = {
        row["professional_id"]: row["n"]
        for row in through.objects.filter(professional_id__in=[p["id"] for p in key])
        .values("professional_id")
        .annotate(
            n=Count(
                "id",
                filter=Q(
                    visit__status=Visit.Status.COMPLETED,
                    visit__starts_at__gte=start,
                    visit__starts_at__lt=end,
                ),
            )
        )
    }
    table = FrequencyTable.load()
    result: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    for p in key:
        rate = table.rate(tier=p["tier"], role=p["role"], stage=p["engagement_stage"]).visits_per_month
        on_rate = Decimal(visits.get(p["id"], 0)) >= rate
        for rep_id in territories[p["institution__territory_id"]]:
            result[rep_id][0] += 1
            result[rep_id][1] += int(on_rate)
    return {rep_id: (total, ok) for rep_id, (total, ok) in result.items()}


def team_view(*, user: Any, period: Period | None = None) -> TeamView:
    today = timezone.localdate()
    period = period or Period.month(today.year, today.month)
    previous = Period.month(period.start.year - (period.start.month == 1), (period.start.month - 2) % 12 + 1)
    all_reps = list(plannable_reps(user=user).select_related("org_unit")[: MAX_REPS + 1])
    reps = all_reps[:MAX_REPS]
    weeks = iso_weeks(period)
    view = TeamView(
        period=period,
        previous_month=previous,
        weeks=weeks,
        rows=[],
        overdue=[],
        co_visits=[],
        pending=[],
        truncated=len(all_reps) > MAX_REPS,
    )
    if not reps:
        return view
    cells = plan_vs_actual(user=user, reps=reps, weeks=weeks)
    compliance = key_compliance(reps=reps, month=previous)
    overdue_counts = {
        r["owner_id"]: (r["n"], r["oldest"])
        for r in visible(Commitment, user=user)
        .filter(owner__in=reps, status=Commitment.Status.OPEN, due_on__lt=today)
        .values("owner_id")
        .annotate(n=Count("id"), oldest=Min("due_on"))
    }
    for rep in reps:
        total, ok = compliance.get(rep.pk, (0, 0))
        n, oldest = overdue_counts.get(rep.pk, (0, None))
        view.rows.append(
            RepRow(
                rep=rep,
                weeks=[cells.get((rep.pk, w), WeekCell()) for w in weeks],
                key_total=total,
                key_on_rate=ok,
                overdue_commitments=n,
                oldest_overdue=oldest,
            )
        )
    view.overdue = list(
        visible(Commitment, user=user)
        .filter(owner__in=reps, status=Commitment.Status.OPEN, due_on__lt=today)
        .select_related("owner", "professional", "professional__institution")
        .order_by("due_on", "id")[:30]
    )
    since = timezone.now() - dt.timedelta(days=90)
    view.co_visits = list(
        visible(Visit, user=user)
        .filter(owner__in=reps, co_visitor__isnull=False, starts_at__gte=since)
        .select_related("owner", "co_visitor", "institution", "coaching")
        .order_by("-starts_at")[:30]
    )
    view.pending = pending_plans(user=user)
    return view
