"""A year of the demo reps' work: completed visits, the next two weeks' plan, commitments, callbacks, care.

Visits roughly follow the frequency rules (engagement.frequency): each professional is due
`visits_per_month` a month, reps reach most of it, and a visit may see up to three people of one
department. Reps work on working days (calendar_cn, with the makeup days) from 8:30 to 17:30
Asia/Shanghai with a lunch break; a rep's visits never overlap. Most visits are in person; a
phone or WeChat visit is only made to someone whose live consent covers that channel on that day.
Reps whose filing is pending have no past visits. Rows go in with multi-row INSERTs (the services
would check each visit one by one); the constraints of every table hold.
"""

from __future__ import annotations

import datetime as dt
import math
import random
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from django.db import models
from django.db.models import Q, QuerySet

from pharmacrm.compliance.models import Consent, Purpose
from pharmacrm.customers.models import KeyDate, Professional
from pharmacrm.engagement import calendar_cn
from pharmacrm.engagement.frequency import FrequencyTable, phase_of
from pharmacrm.engagement.models import Callback, CareReminder, Commitment, Hospitality, Visit
from pharmacrm.ops.demo.organisation import Plan, TerritoryPlan
from pharmacrm.ops.demo.portfolio import Portfolio
from pharmacrm.ops.demo.writer import Writer

SHANGHAI = ZoneInfo("Asia/Shanghai")
DAY_START = dt.time(8, 30)
DAY_END = dt.time(17, 30)
LUNCH = dt.time(11, 50)
REMOTE = ("wechat", "phone")
WORKING_DAYS_PER_MONTH = 21
COMMITMENT_SHARE = 0.12  # visits that end with a promise to the customer

OBJECTIVES = (
    "传递产品关键信息，了解临床使用反馈", "介绍最新指南更新要点", "跟进上次承诺的资料", "了解科室近期患者结构变化",
    "邀请参加线上学术会议", "回顾患者随访情况", "沟通科室会安排", "了解新进院流程进展",
)  # fmt: skip
FEEDBACK = (
    "认可产品的疗效与安全性，愿意在合适患者中继续使用", "关注长期用药的安全性数据，希望看到更多研究",
    "对新版指南的变化很感兴趣", "提到部分患者对价格较敏感", "希望获得更多患者教育材料",
    "目前门诊较忙，约下次详谈", "对联合用药方案有一些疑问，需要进一步资料", "反馈患者依从性有所改善",
)  # fmt: skip
NEXT_STEPS = (
    "下次拜访带去最新研究摘要", "两周后跟进科室会时间", "发送指南解读资料", "邀请参加下月线上会议",
    "了解药事会申报进度", "继续跟进患者随访反馈",
)  # fmt: skip
MATERIALS = ("指南解读手册", "患者教育折页", "产品说明书", "学术会议日程", "")
PLANNED_OBJECTIVES = (
    "跟进承诺事项并收集反馈", "介绍产品关键信息（修订版）", "了解科室学术需求", "确认科室会时间",
    "回访上次讨论的临床问题", "完善客户档案",
)  # fmt: skip
COMMITMENTS = (
    "发送最新版指南解读资料", "协调安排科室会", "提供患者教育材料", "反馈药物相互作用相关文献",
    "邀请参加省级学术会议", "提供产品在特殊人群中的研究资料", "协助对接医学部答疑",
)  # fmt: skip
KEPT = (
    "已通过微信发送资料，客户确认收到", "科室会已如期举办", "资料已当面交给客户", "医学部已电话答复",
    "已发送会议邀请，客户已报名", "文献已整理发送",
)  # fmt: skip
CALLBACK_OUTCOMES = (
    "客户对资料满意，无其他需求",
    "客户提出新的学术需求，已记录",
    "客户反馈问题已解决",
    "客户暂无时间，改期再约",
)
CARE_SENT = "已通过微信发送问候，客户回复感谢。"


@dataclass
class Person:
    pk: int
    institution: int
    department: int | None
    tier: str
    area: str
    rate: float  # visits per month the rules ask for
    remote: list[tuple[str, dt.date]] = field(default_factory=list)  # consented remote channels, since


@dataclass
class VisitDraft:
    owner: int
    institution: int
    people: list[int]
    channel: str
    starts_at: dt.datetime
    minutes: int
    completed: bool
    was_planned: bool = True
    products: list[int] = field(default_factory=list)
    messages: list[int] = field(default_factory=list)
    tier_key: bool = False


VISIT_COLUMNS = (
    "owner_id", "institution_id", "status", "was_planned", "channel", "objective", "starts_at", "duration_minutes",
    "feedback", "notes", "next_step", "materials_given", "completed_at", "check_in_at",
)  # fmt: skip


@dataclass
class Activity:
    counts: dict[str, int] = field(default_factory=dict)


def _load_people(territories: list[TerritoryPlan], table: FrequencyTable) -> dict[int, list[Person]]:
    by_territory: dict[int, list[Person]] = defaultdict(list)
    rows = (
        Professional.objects.filter(
            institution__territory_id__in=[t.pk for t in territories], status=Professional.Status.ACTIVE
        )
        .order_by("pk")
        .values_list(
            "pk",
            "institution_id",
            "department_id",
            "tier",
            "role",
            "engagement_stage",
            "therapeutic_areas",
            "institution__territory_id",
        )
    )
    people: dict[int, Person] = {}
    for pk, institution, department, tier, role, stage, area, territory in rows:
        rate = float(table.rate(tier=tier, role=role, stage=stage).visits_per_month)
        person = Person(pk, institution, department, tier, area, rate)
        people[pk] = person
        by_territory[territory].append(person)
    consents = Consent.objects.filter(
        professional_id__in=people, purpose=Purpose.CONTACT, withdrawn_at__isnull=True, channel__in=REMOTE
    ).values_list("professional_id", "channel", "given_on")
    for pk, channel, given in consents:
        people[pk].remote.append((channel, given))
    return by_territory


def _at(day: dt.date, minutes: int) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(0, 0), tzinfo=SHANGHAI) + dt.timedelta(minutes=minutes)


def _minutes(t: dt.time) -> int:
    return t.hour * 60 + t.minute


class DayPlanner:
    """Lays out one rep's visits on one day, back to back with travel between institutions."""

    def __init__(self, rng: random.Random):
        self.rng = rng

    def lay_out(self, day: dt.date, drafts: list[VisitDraft]) -> list[VisitDraft]:
        """Give each draft a start time (in the order given); drop what does not fit in the day."""
        rng = self.rng
        t = _minutes(DAY_START) + rng.choice((0, 0, 5, 10, 20, 30))
        lunched = False
        last_institution: int | None = None
        placed: list[VisitDraft] = []
        for draft in drafts:
            remote = draft.channel in REMOTE
            if last_institution is not None:
                same = remote or draft.institution == last_institution
                t += rng.randint(5, 15) if same else rng.randint(25, 60)
            if not lunched and t >= _minutes(LUNCH):
                t = max(t, _minutes(dt.time(12, 0))) + rng.randint(60, 90)
                lunched = True
            if t + draft.minutes > _minutes(DAY_END):
                break
            draft.starts_at = _at(day, t)
            t += draft.minutes
            placed.append(draft)
            if not remote:
                last_institution = draft.institution
        return placed


def _group(rng: random.Random, people: list[Person]) -> list[list[Person]]:
    """Visits of the day: people of one department are often seen together (up to three)."""
    by_place: dict[tuple[int, int | None], list[Person]] = defaultdict(list)
    for person in people:
        by_place[(person.institution, person.department)].append(person)
    groups: list[list[Person]] = []
    for members in by_place.values():
        while members:
            size = rng.choices((1, 2, 3), weights=(60, 30, 10))[0] if members[0].department else 1
            groups.append(members[:size])
            members = members[size:]
    # Institution by institution, in an order the rep chose for the day.
    order = {inst: rng.random() for inst, _dept in by_place}
    groups.sort(key=lambda g: (order[g[0].institution], g[0].pk))
    return groups


def _products(
    rng: random.Random, portfolio: Portfolio, person: Person, day: dt.date
) -> tuple[list[int], list[int]]:
    pool = portfolio.by_area.get(person.area) or portfolio.products
    products = rng.sample(pool, min(len(pool), rng.choice((1, 1, 1, 2))))
    messages: list[int] = []
    for product in products:
        valid = portfolio.messages_on(product, day)
        if valid:
            messages.extend(rng.sample(valid, min(len(valid), rng.choice((1, 1, 1, 2)))))
    return products, messages


def _owner_on(territory: TerritoryPlan, plan: Plan, day: dt.date) -> int:
    assert territory.holder is not None
    if territory.previous is not None and territory.takeover is not None and day < territory.takeover:
        return plan.users[territory.previous].pk
    return plan.users[territory.holder].pk


def _past_visits(
    *,
    rng: random.Random,
    territory: TerritoryPlan,
    people: list[Person],
    plan: Plan,
    days: list[dt.date],
    portfolio: Portfolio,
    volume: float,
    unfiled: set[int],
) -> list[VisitDraft]:
    """The completed visits of one territory over `days` (working days, oldest first)."""
    by_month: dict[tuple[int, int], list[dt.date]] = defaultdict(list)
    for day in days:
        by_month[(day.year, day.month)].append(day)
    months = sorted(by_month)
    coverage = rng.uniform(0.7, 0.95) * volume  # nobody reaches every visit the rules ask for
    wanted: dict[dt.date, list[Person]] = defaultdict(list)
    for serial, person in enumerate(people):
        rate = person.rate * coverage
        if rate <= 0:
            continue
        # By position, not primary key: the same seed gives the same visits after a --reset.
        phase = phase_of(serial + 1)
        for index, month in enumerate(months):
            n = math.floor(rate * (index + 1) + phase) - math.floor(rate * index + phase)
            month_days = by_month[month]
            # The year's first and last months are partial: fewer of their visits fall in the window.
            share = min(1.0, len(month_days) / WORKING_DAYS_PER_MONTH)
            n = min(sum(1 for _k in range(n) if rng.random() < share), len(month_days))
            if n <= 0:
                continue
            # Spread the month's visits: one day from each of n equal stretches of the month.
            size = len(month_days) / n
            for k in range(n):
                lo = int(k * size)
                hi = max(lo, int((k + 1) * size) - 1)
                wanted[month_days[rng.randint(lo, hi)]].append(person)
    planner = DayPlanner(rng)
    drafts: list[VisitDraft] = []
    for day in days:
        if day not in wanted:
            continue
        owner = _owner_on(territory, plan, day)
        if owner in unfiled:
            continue
        day_drafts = []
        for group in _group(rng, wanted[day]):
            channel = "in_person"
            if len(group) == 1 and rng.random() < 0.25:
                live = [c for c, since in group[0].remote if since <= day]
                if live:
                    channel = rng.choice(live)
            minutes = rng.choice((10, 15, 15, 20)) if channel in REMOTE else rng.choice((15, 20, 30, 30, 45))
            products, messages = _products(rng, portfolio, group[0], day)
            day_drafts.append(
                VisitDraft(
                    owner=owner,
                    institution=group[0].institution,
                    people=[p.pk for p in group],
                    channel=channel,
                    starts_at=_at(day, 0),
                    minutes=minutes,
                    completed=True,
                    was_planned=rng.random() < 0.85,
                    products=products,
                    messages=messages,
                    tier_key=any(p.tier == Professional.Tier.KEY for p in group),
                )
            )
        drafts.extend(planner.lay_out(day, day_drafts))
    return drafts


def _planned_visits(
    *,
    rng: random.Random,
    territory: TerritoryPlan,
    people: list[Person],
    plan: Plan,
    days: list[dt.date],
    portfolio: Portfolio,
) -> list[VisitDraft]:
    """The current rep's plan for the next two weeks: the customers the rules ask for most."""
    candidates = [p for p in people if p.rate > 0]
    if not candidates:
        return []
    owner = _owner_on(territory, plan, days[0])
    weights = [p.rate for p in candidates]
    planner = DayPlanner(rng)
    drafts: list[VisitDraft] = []
    for day in days:
        chosen = {p.pk: p for p in rng.choices(candidates, weights=weights, k=rng.randint(3, 6))}
        day_drafts = []
        for group in _group(rng, list(chosen.values())):
            products, _messages = _products(rng, portfolio, group[0], day)
            day_drafts.append(
                VisitDraft(
                    owner=owner,
                    institution=group[0].institution,
                    people=[p.pk for p in group],
                    channel="in_person",
                    starts_at=_at(day, 0),
                    minutes=rng.choice((20, 30, 30, 45)),
                    completed=False,
                    products=products,
                    messages=[],
                )
            )
        drafts.extend(planner.lay_out(day, day_drafts))
    return drafts


def _visit_row(rng: random.Random, d: VisitDraft) -> tuple[Any, ...]:
    if not d.completed:
        return (
            d.owner, d.institution, Visit.Status.PLANNED, True, d.channel, rng.choice(PLANNED_OBJECTIVES),
            d.starts_at, d.minutes, "", "", "", "", None, None,
        )  # fmt: skip
    ends = d.starts_at + dt.timedelta(minutes=d.minutes)
    completed_at = ends + dt.timedelta(minutes=rng.randint(5, 180))
    check_in = d.starts_at - dt.timedelta(minutes=rng.randint(0, 5)) if d.channel == "in_person" else None
    return (
        d.owner,
        d.institution,
        Visit.Status.COMPLETED,
        d.was_planned,
        d.channel,
        rng.choice(OBJECTIVES) if d.was_planned else "",
        d.starts_at,
        d.minutes,
        rng.choice(FEEDBACK),
        "",
        rng.choice(NEXT_STEPS),
        rng.choice(MATERIALS) if d.channel == "in_person" else "",
        completed_at,
        check_in,
    )


def write_activity(
    *,
    seed: int,
    plan: Plan,
    portfolio: Portfolio,
    writer: Writer,
    visit_writer: Writer,
    today: dt.date,
    volume: float,
    unfiled: set[int],
    progress: Callable[[str], None],
) -> dict[str, int]:
    """Visits, commitments, callbacks and care reminders of every rep territory; counts by kind."""
    territories = [t for t in plan.territories if t.code.startswith("T") and t.holder is not None]
    people = _load_people(territories, FrequencyTable.load())
    past_days = calendar_cn.working_days(today - dt.timedelta(days=365), today - dt.timedelta(days=1))
    next_days = calendar_cn.working_days(today + dt.timedelta(days=1), today + dt.timedelta(days=14))
    drafts: list[VisitDraft] = []
    for territory in territories:
        rng = random.Random(f"{seed}:visits:{territory.code}")
        members = people.get(territory.pk, [])
        drafts += _past_visits(
            rng=rng,
            territory=territory,
            people=members,
            plan=plan,
            days=past_days,
            portfolio=portfolio,
            volume=volume,
            unfiled=unfiled,
        )
        assert territory.holder is not None
        if next_days and plan.users[territory.holder].is_active:
            drafts += _planned_visits(
                rng=rng, territory=territory, people=members, plan=plan, days=next_days, portfolio=portfolio
            )
    progress(f"  visits planned in memory: {len(drafts)}")
    rng = random.Random(f"{seed}:visit-rows")
    rows = [_visit_row(rng, d) for d in drafts]
    ids = visit_writer.insert(Visit, VISIT_COLUMNS, rows)
    through = Visit.professionals.through
    visit_writer.insert(
        through,
        ("visit_id", "professional_id"),
        [(v, p) for v, d in zip(ids, drafts, strict=True) for p in d.people],
    )
    visit_writer.insert(
        Visit.products.through,
        ("visit_id", "product_id"),
        [(v, p) for v, d in zip(ids, drafts, strict=True) for p in d.products],
    )
    visit_writer.insert(
        Visit.key_messages.through,
        ("visit_id", "keymessage_id"),
        [(v, m) for v, d in zip(ids, drafts, strict=True) for m in d.messages],
    )
    progress(f"  visits written: {len(ids)}")
    active = {u.pk for u in plan.users if u.is_active}
    _followups(rng=rng, drafts=drafts, ids=ids, writer=writer, today=today, active=active)
    _care(rng=rng, territories=territories, plan=plan, writer=writer, today=today)
    return {
        "visits (completed)": sum(1 for d in drafts if d.completed),
        "visits (planned, next 2 weeks)": sum(1 for d in drafts if not d.completed),
    }


COMMITMENT_COLUMNS = (
    "visit_id",
    "professional_id",
    "owner_id",
    "description",
    "due_on",
    "status",
    "closed_on",
    "how_kept",
)
CALLBACK_COLUMNS = (
    "professional_id",
    "owner_id",
    "reason",
    "source",
    "due_on",
    "status",
    "done_at",
    "outcome",
    "satisfaction",
)


def _followups(
    *,
    rng: random.Random,
    drafts: list[VisitDraft],
    ids: list[int],
    writer: Writer,
    today: dt.date,
    active: set[int],
) -> None:
    commitments: list[tuple[Any, ...]] = []
    callbacks: list[tuple[Any, ...]] = []
    for pk, d in zip(ids, drafts, strict=True):
        if not d.completed:
            continue
        day = d.starts_at.astimezone(SHANGHAI).date()
        if rng.random() < COMMITMENT_SHARE:
            who = rng.choice(d.people)
            due = day + dt.timedelta(days=rng.randint(7, 28))
            roll = rng.random()
            row: tuple[str, dt.date | None, str]
            if due >= today:
                # Still running: mostly open, some already kept.
                if roll < 0.2 and day < today - dt.timedelta(days=1):
                    closed = day + dt.timedelta(days=rng.randint(1, (today - day).days - 1))
                    row = (Commitment.Status.DONE, closed, rng.choice(KEPT))
                else:
                    row = (Commitment.Status.OPEN, None, "")
            elif roll < 0.9 or d.owner not in active:
                closed = min(today, due - dt.timedelta(days=rng.randint(0, 6)))
                row = (Commitment.Status.DONE, max(closed, day), rng.choice(KEPT))
            elif roll < 0.96:
                row = (Commitment.Status.OPEN, None, "")  # overdue: the escalation task will see it
            else:
                row = (Commitment.Status.CANCELLED, due, "取消：客户调岗，需求不再需要")
            commitments.append((pk, who, d.owner, rng.choice(COMMITMENTS), due, *row))
        if d.tier_key and rng.random() < 0.15:
            who = d.people[0]
            due = day + dt.timedelta(days=7)
            if due < today:
                done_at = _at(due, rng.randint(_minutes(DAY_START), _minutes(DAY_END)))
                callbacks.append(
                    (who, d.owner, Callback.Reason.AFTER_VISIT, f"visit:{pk}", due, Callback.Status.DONE,
                     done_at, rng.choice(CALLBACK_OUTCOMES), rng.choice((3, 4, 4, 5, 5)))
                )  # fmt: skip
            elif d.owner in active:
                callbacks.append(
                    (
                        who,
                        d.owner,
                        Callback.Reason.AFTER_VISIT,
                        f"visit:{pk}",
                        due,
                        Callback.Status.DUE,
                        None,
                        "",
                        None,
                    )
                )
    writer.insert(Commitment, COMMITMENT_COLUMNS, commitments)
    writer.insert(Callback, CALLBACK_COLUMNS, callbacks)


CARE_COLUMNS = (
    "professional_id",
    "owner_id",
    "occasion",
    "key_date_id",
    "due_on",
    "status",
    "message",
    "done_at",
)


def _care(
    *, rng: random.Random, territories: list[TerritoryPlan], plan: Plan, writer: Writer, today: dt.date
) -> None:
    """Greetings on shared key dates of key and potential customers: the last month's sent, the next two weeks' open."""
    owners = {
        t.pk: plan.users[t.holder].pk
        for t in territories
        if t.holder is not None and plan.users[t.holder].is_active
    }
    first, last = today - dt.timedelta(days=30), today + dt.timedelta(days=14)
    rows: list[tuple[Any, ...]] = []
    key_dates = (
        KeyDate.objects.filter(
            professional__institution__territory_id__in=list(owners),
            professional__tier__in=[Professional.Tier.KEY, Professional.Tier.POTENTIAL],
            kind__in=[KeyDate.Kind.BIRTHDAY, KeyDate.Kind.WORK_ANNIVERSARY],
        )
        .order_by("pk")
        .values_list(
            "pk", "professional_id", "kind", "month", "day", "professional__institution__territory_id"
        )
    )
    for pk, professional, kind, month, day, territory in key_dates:
        for year in sorted({first.year, last.year}):
            due = dt.date(year, month, day)  # the generator's days are 1–28: valid in every month
            if not first <= due <= last:
                continue
            if due >= today:
                rows.append(
                    (professional, owners[territory], kind, pk, due, CareReminder.Status.OPEN, "", None)
                )
            elif rng.random() < 0.85:
                sent = _at(due, rng.randint(_minutes(DAY_START), _minutes(dt.time(10, 0))))
                rows.append(
                    (
                        professional,
                        owners[territory],
                        kind,
                        pk,
                        due,
                        CareReminder.Status.SENT,
                        CARE_SENT,
                        sent,
                    )
                )
            else:
                rows.append(
                    (professional, owners[territory], kind, pk, due, CareReminder.Status.DISMISSED, "", None)
                )
    writer.insert(CareReminder, CARE_COLUMNS, rows)


def activity_of(
    *, institutions: QuerySet[Any], people: QuerySet[Any], users: QuerySet[Any]
) -> list[tuple[str, type[models.Model], Q]]:
    """What --reset deletes before the customers and users: every row of the demo's work that
    points at a demo institution, professional or user (made by the generator or in the demo since)."""
    mine = Q(professional__in=people) | Q(owner__in=users)
    return [
        ("visits", Visit, Q(institution__in=institutions) | Q(owner__in=users) | Q(professionals__in=people)),
        ("hospitality", Hospitality, Q(professional__in=people) | Q(recorded_by__in=users)),
        ("commitments", Commitment, mine),
        ("callbacks", Callback, mine),
        ("care reminders", CareReminder, mine),
    ]
