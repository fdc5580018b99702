"""Frequency rules, plan generation (rules, holidays, reception days, idempotence), moving visits, approval, ICS."""

from __future__ import annotations

import datetime as dt
import itertools
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from pharmacrm.core.errors import Conflict, DomainError, NotAllowed
from pharmacrm.core.testing import SEES, Personas, visibility_test
from pharmacrm.customers.models import Professional
from pharmacrm.customers.tests.factories import InstitutionFactory, ProfessionalFactory
from pharmacrm.engagement import calendar_cn, ics, planning
from pharmacrm.engagement.frequency import FrequencyTable, expected_visits_per_month, visits_in_slot
from pharmacrm.engagement.models import PlanDecision, PlanningPolicy, Visit
from pharmacrm.engagement.planning import Period
from pharmacrm.engagement.tests.factories import CommitmentFactory, ReceptionRuleFactory, VisitFactory

F: Any = ProfessionalFactory
H: Any = InstitutionFactory
OCTOBER = Period.month(2026, 10)
BEFORE_OCTOBER = dt.date(2026, 9, 15)


def local(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return planning.local_datetime(day, dt.time(hour, minute))


@pytest.fixture
def territory(personas: Personas) -> Any:
    """Three professionals of each tier at one hospital in the owner's territory."""
    hospital = H(territory=personas.own_territory, name="协和医院")
    people = {
        tier: F(institution=hospital, tier=tier, name=name, engagement_stage="stable")
        for tier, name in (("key", "张主任"), ("potential", "李医生"), ("general", "王医生"))
    }
    return hospital, people


# --- Frequency rules ----------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("tier", "role", "stage", "expected"),
    [
        ("key", "physician", "stable", "4"),
        ("potential", "physician", "stable", "2"),
        ("general", "physician", "stable", "1"),
        ("potential", "department_head", "stable", "3"),  # role rule
        ("key", "pharmacy_director", "stable", "2"),
        ("key", "physician", "reactivation", "6"),  # stage beats tier
        ("key", "pharmacy_director", "reactivation", "3"),  # role + stage beats both
        ("potential", "physician", "new", "3"),
    ],
)
def test_most_specific_rule_wins(tier: str, role: str, stage: str, expected: str) -> None:
    professional = Professional(tier=tier, role=role, engagement_stage=stage)
    assert expected_visits_per_month(professional) == Decimal(expected)


def test_fractional_rates_add_up_over_periods() -> None:
    assert [visits_in_slot(Decimal("1.5"), index=i, phase=0.0) for i in range(4)] == [1, 2, 1, 2]
    assert sum(visits_in_slot(Decimal("0.5"), index=i, phase=0.3) for i in range(12)) == 6
    assert visits_in_slot(Decimal("0"), index=5, phase=0.5) == 0


@pytest.mark.django_db
def test_no_rule_for_tier_means_not_planned() -> None:
    table = FrequencyTable([])
    assert table.rate(tier="key", role="physician", stage="new").visits_per_month == 0


# --- The Chinese calendar -------------------------------------------------------------------------


def test_published_holidays_and_make_up_days() -> None:
    assert not calendar_cn.is_working_day(dt.date(2026, 2, 16))  # 除夕 week
    assert calendar_cn.is_working_day(dt.date(2026, 2, 14))  # make-up Saturday
    assert not calendar_cn.is_working_day(dt.date(2026, 10, 5))  # 国庆
    assert calendar_cn.is_working_day(dt.date(2026, 10, 10))  # make-up Saturday
    assert not calendar_cn.is_working_day(dt.date(2025, 10, 8))  # 国庆 + 中秋, 8 days
    assert not calendar_cn.is_provisional(2026)


def test_derived_years_follow_the_2024_principles() -> None:
    assert calendar_cn.is_provisional(2028)
    # 2028: 中秋 (10-03) falls in 国庆: 8 days together.
    assert not calendar_cn.is_working_day(dt.date(2028, 10, 8))
    # 春节 2028 is 01-26: eight days from 除夕 (01-25).
    assert [calendar_cn.is_working_day(dt.date(2028, 1, d)) for d in (24, 25, 26, 27, 28, 31, 31)][:5] == [
        True,
        False,
        False,
        False,
        False,
    ]
    assert not calendar_cn.is_working_day(dt.date(2028, 2, 1))
    assert calendar_cn.is_working_day(dt.date(2028, 2, 2))
    # 端午 2027 is a Wednesday: that day alone.
    assert not calendar_cn.is_working_day(dt.date(2027, 6, 9))
    assert calendar_cn.is_working_day(dt.date(2027, 6, 10))


def test_lunar_festivals_have_real_dates() -> None:
    dates = {o.code: o.day for o in calendar_cn.occasions_in_year(2026)}
    assert dates["spring_festival"] == dt.date(2026, 2, 17)
    assert dates["mid_autumn"] == dt.date(2026, 9, 25)
    assert dates["dragon_boat"] == dt.date(2026, 6, 19)
    assert dates["doctors_day"] == dt.date(2026, 8, 19)
    assert dates["nurses_day"] == dt.date(2026, 5, 12)


# --- Generating a plan -------------------------------------------------------------------------------


def _planned(rep: Any, period: Period = OCTOBER) -> list[Visit]:
    start, end = period.bounds()
    return list(
        Visit.objects.filter(owner=rep, starts_at__gte=start, starts_at__lt=end).prefetch_related(
            "professionals"
        )
    )


@pytest.mark.django_db
def test_plan_follows_rules_and_skips_holidays(personas: Personas, territory: Any) -> None:
    _hospital, people = territory
    result = planning.generate_plan(
        actor=personas.owner, rep=personas.owner, period=OCTOBER, today=BEFORE_OCTOBER
    )
    visits = _planned(personas.owner)
    assert len(result.planned) == len(visits) == 4 + 2 + 1
    per_person = {p.name: 0 for p in people.values()}
    for visit in visits:
        for p in visit.professionals.all():
            per_person[p.name] += 1
        day = timezone.localtime(visit.starts_at).date()
        assert calendar_cn.is_working_day(day), day
        assert not dt.date(2026, 10, 1) <= day <= dt.date(2026, 10, 7)
        assert visit.status == Visit.Status.PLANNED and visit.was_planned
        assert visit.approval == Visit.Approval.NOT_REQUIRED
        assert visit.objective
    assert per_person == {"张主任": 4, "李医生": 2, "王医生": 1}
    # A key customer's four visits are spread over the month, never two on one day.
    key_days = sorted(
        timezone.localtime(v.starts_at).date() for v in visits if people["key"] in v.professionals.all()
    )
    assert len(set(key_days)) == 4
    assert (key_days[-1] - key_days[0]).days >= 14
    # The history names the rep and carries the professional.
    record = Visit.history.filter(id=visits[0].pk).first()  # type: ignore[attr-defined]
    assert record.history_user == personas.owner and record.history_type == "+"


@pytest.mark.django_db
def test_plan_is_idempotent_and_counts_existing_visits(personas: Personas, territory: Any) -> None:
    hospital, people = territory
    VisitFactory(
        owner=personas.owner,
        institution=hospital,
        starts_at=local(dt.date(2026, 10, 12), 9),
        professionals=[people["general"]],
    )
    first = planning.generate_plan(
        actor=personas.owner, rep=personas.owner, period=OCTOBER, today=BEFORE_OCTOBER
    )
    assert first.already == 1
    assert len(first.planned) == 4 + 2  # the general customer's one visit is already there
    again = planning.generate_plan(
        actor=personas.owner, rep=personas.owner, period=OCTOBER, today=BEFORE_OCTOBER
    )
    assert again.planned == [] and again.already == 7
    assert len(_planned(personas.owner)) == 7


@pytest.mark.django_db
def test_dry_run_writes_nothing(personas: Personas, territory: Any) -> None:
    result = planning.generate_plan(
        actor=personas.owner, rep=personas.owner, period=OCTOBER, dry_run=True, today=BEFORE_OCTOBER
    )
    assert len(result.planned) == 7
    assert Visit.objects.count() == 0


@pytest.mark.django_db
def test_plan_respects_reception_days_and_hours(personas: Personas) -> None:
    hospital = H(territory=personas.own_territory)
    ReceptionRuleFactory(institution=hospital, weekdays="2,4", start_time=dt.time(14), end_time=dt.time(16))
    F(institution=hospital, tier="key", engagement_stage="stable")
    F(institution=hospital, tier="key", name="赵主任", engagement_stage="stable")
    planning.generate_plan(actor=personas.owner, rep=personas.owner, period=OCTOBER, today=BEFORE_OCTOBER)
    visits = _planned(personas.owner)
    assert len(visits) == 8
    for visit in visits:
        start = timezone.localtime(visit.starts_at)
        assert start.isoweekday() in (2, 4), start
        assert dt.time(14) <= start.time() and (start + dt.timedelta(minutes=30)).time() <= dt.time(16)
    # Two people at one hospital: their visits share days, one after the other.
    starts = sorted(v.starts_at for v in visits)
    assert all(b - a >= dt.timedelta(minutes=30) for a, b in itertools.pairwise(starts))


@pytest.mark.django_db
def test_plan_never_overlaps_the_reps_other_visits(personas: Personas, territory: Any) -> None:
    hospital, _people = territory
    other = H(territory=personas.own_territory)
    # The whole of every October morning and afternoon is taken except 16:30–17:30.
    for day in calendar_cn.working_days(dt.date(2026, 10, 1), dt.date(2026, 10, 31)):
        VisitFactory(owner=personas.owner, institution=other, starts_at=local(day, 9), duration_minutes=180)
        VisitFactory(
            owner=personas.owner, institution=other, starts_at=local(day, 13, 30), duration_minutes=180
        )
    planning.generate_plan(actor=personas.owner, rep=personas.owner, period=OCTOBER, today=BEFORE_OCTOBER)
    new = [v for v in _planned(personas.owner) if v.institution_id == hospital.pk]
    assert len(new) == 7
    assert all(timezone.localtime(v.starts_at).time() >= dt.time(16, 30) for v in new)


@pytest.mark.django_db
def test_objectives_come_from_open_commitments_and_needs(personas: Personas, territory: Any) -> None:
    _hospital, people = territory
    CommitmentFactory(professional=people["key"], owner=personas.owner, description="送达最新版高血压指南")
    planning.generate_plan(actor=personas.owner, rep=personas.owner, period=OCTOBER, today=BEFORE_OCTOBER)
    objectives = {p.name: v.objective for v in _planned(personas.owner) for p in v.professionals.all()}
    assert "送达最新版高血压指南" in objectives["张主任"]
    assert objectives["王医生"]  # a stage default


@pytest.mark.django_db
def test_week_plan_takes_a_weeks_share(personas: Personas) -> None:
    hospital = H(territory=personas.own_territory)
    for i in range(10):
        F(institution=hospital, tier="key", name=f"重点{i}", engagement_stage="stable")
    week = Period.week_of(dt.date(2026, 10, 19))
    result = planning.generate_plan(
        actor=personas.owner, rep=personas.owner, period=week, today=dt.date(2026, 10, 1)
    )
    # 4 a month is 0.92 a week: most key customers get one visit that week, nobody two.
    assert 8 <= len(result.planned) <= 10
    assert all(week.start <= timezone.localtime(p.starts_at).date() <= week.end for p in result.planned)


@pytest.mark.django_db
def test_period_parsing_names_the_bad_value() -> None:
    assert Period.parse("2026-12").end == dt.date(2026, 12, 31)
    assert Period.parse("2026-W53").start == dt.date(2026, 12, 28)
    with pytest.raises(DomainError, match="2026-13"):
        Period.parse("2026-13")


@pytest.mark.django_db
def test_only_the_rep_or_their_manager_plans(personas: Personas, territory: Any) -> None:
    planning.generate_plan(
        actor=personas.district_manager, rep=personas.owner, period=OCTOBER, today=BEFORE_OCTOBER
    )
    assert Visit.objects.count() == 7
    with pytest.raises(NotAllowed):
        planning.generate_plan(
            actor=personas.colleague, rep=personas.owner, period=OCTOBER, today=BEFORE_OCTOBER
        )
    with pytest.raises(NotAllowed):
        planning.generate_plan(
            actor=personas.other_manager, rep=personas.owner, period=OCTOBER, today=BEFORE_OCTOBER
        )
    assert Visit.objects.count() == 7


# --- Moving visits ----------------------------------------------------------------------------------


def _tomorrow_at(hour: int, minute: int = 0, days: int = 1) -> dt.datetime:
    day = timezone.localdate() + dt.timedelta(days=days)
    return local(day, hour, minute)


@pytest.mark.django_db
def test_moving_onto_another_visit_is_refused_and_changes_nothing(personas: Personas, territory: Any) -> None:
    hospital, people = territory
    first = VisitFactory(
        owner=personas.owner, institution=hospital, starts_at=_tomorrow_at(9), professionals=[people["key"]]
    )
    second = VisitFactory(
        owner=personas.owner,
        institution=hospital,
        starts_at=_tomorrow_at(11),
        professionals=[people["general"]],
    )
    before = Visit.history.count()  # type: ignore[attr-defined]
    with pytest.raises(Conflict, match="重叠"):
        planning.move_visit(actor=personas.owner, visit=second, starts_at=_tomorrow_at(9, 15))
    second.refresh_from_db()
    assert second.starts_at == _tomorrow_at(11)
    assert Visit.history.count() == before  # type: ignore[attr-defined]
    # Right after the first visit is fine.
    placement = planning.move_visit(actor=personas.owner, visit=second, starts_at=_tomorrow_at(9, 30))
    assert placement.visit.starts_at == _tomorrow_at(9, 30)
    first.refresh_from_db()
    assert first.starts_at == _tomorrow_at(9)


@pytest.mark.django_db
def test_moving_warns_outside_reception_hours_and_refuses_the_past(personas: Personas) -> None:
    hospital = H(territory=personas.own_territory)
    ReceptionRuleFactory(
        institution=hospital, weekdays="1,2,3,4,5,6,7", start_time=dt.time(14), end_time=dt.time(16)
    )
    visit = VisitFactory(owner=personas.owner, institution=hospital, starts_at=_tomorrow_at(14))
    placement = planning.move_visit(actor=personas.owner, visit=visit, starts_at=_tomorrow_at(10))
    assert any("接待时间" in w for w in placement.warnings)
    with pytest.raises(DomainError, match="已过"):
        planning.move_visit(
            actor=personas.owner, visit=visit, starts_at=timezone.now() - dt.timedelta(hours=1)
        )
    with pytest.raises(NotAllowed):
        planning.move_visit(actor=personas.district_manager, visit=visit, starts_at=_tomorrow_at(15))


@pytest.mark.django_db
def test_move_page_json_and_refusal(personas: Personas, territory: Any) -> None:
    hospital, people = territory
    a = VisitFactory(
        owner=personas.owner, institution=hospital, starts_at=_tomorrow_at(9), professionals=[people["key"]]
    )
    b = VisitFactory(
        owner=personas.owner,
        institution=hospital,
        starts_at=_tomorrow_at(11),
        professionals=[people["general"]],
    )
    client = Client()
    client.force_login(personas.owner)
    url = reverse("engagement:visit_move", args=[b.pk])
    clash = _tomorrow_at(9).strftime("%Y-%m-%dT%H:%M")
    response = client.post(url, {"starts_at": clash}, HTTP_ACCEPT="application/json")
    assert response.status_code == 409
    assert "重叠" in response.json()["error"]["message"]
    b.refresh_from_db()
    assert b.starts_at == _tomorrow_at(11)
    ok = _tomorrow_at(10).strftime("%Y-%m-%dT%H:%M")
    response = client.post(url, {"starts_at": ok}, HTTP_ACCEPT="application/json")
    assert response.status_code == 200, response.content
    b.refresh_from_db()
    assert b.starts_at == _tomorrow_at(10)
    # A colleague cannot even see the visit.
    other = Client()
    other.force_login(personas.colleague)
    assert other.post(url, {"starts_at": ok}).status_code == 404
    assert a.starts_at == _tomorrow_at(9)


# --- Approval ---------------------------------------------------------------------------------------


@pytest.fixture
def approval_plan(personas: Personas, territory: Any) -> Period:
    PlanningPolicy.objects.create(org_unit=personas.district_n1, approval_required=True)
    planning.generate_plan(actor=personas.owner, rep=personas.owner, period=OCTOBER, today=BEFORE_OCTOBER)
    return OCTOBER


@pytest.mark.django_db
def test_plans_wait_for_approval_when_the_unit_asks(personas: Personas, approval_plan: Period) -> None:
    assert set(Visit.objects.values_list("approval", flat=True)) == {Visit.Approval.PENDING}
    pending = planning.pending_plans(user=personas.district_manager)
    assert [(p["rep_id"], p["count"]) for p in pending] == [(personas.owner.pk, 7)]
    assert planning.pending_plans(user=personas.other_manager) == []
    with pytest.raises(DomainError, match="原因"):
        planning.decide_plan(
            actor=personas.district_manager, rep=personas.owner, period=approval_plan, approve=False
        )
    assert PlanDecision.objects.count() == 0
    decision = planning.decide_plan(
        actor=personas.district_manager,
        rep=personas.owner,
        period=approval_plan,
        approve=False,
        reason="重点客户太集中在月底",
    )
    assert decision.visit_count == 7
    assert set(Visit.objects.values_list("approval", flat=True)) == {Visit.Approval.REJECTED}
    assert planning.resubmit_plan(actor=personas.owner, period=approval_plan) == 7
    planning.decide_plan(
        actor=personas.district_manager, rep=personas.owner, period=approval_plan, approve=True
    )
    assert set(Visit.objects.values_list("approval", flat=True)) == {Visit.Approval.APPROVED}


@pytest.mark.django_db
def test_nearest_policy_decides(personas: Personas) -> None:
    PlanningPolicy.objects.create(org_unit=personas.region_n, approval_required=True)
    assert planning.approval_required_for(personas.owner)
    PlanningPolicy.objects.create(org_unit=personas.team_n1a, approval_required=False)
    assert not planning.approval_required_for(personas.owner)
    assert not planning.approval_required_for(personas.outsider)


@pytest.mark.django_db
def test_approving_outside_the_subtree_is_a_404_and_changes_nothing(
    personas: Personas, approval_plan: Period
) -> None:
    url = reverse("engagement:plan_decide", args=[personas.owner.pk, approval_plan.code])
    for name in ("other_manager", "colleague"):
        client = Client()
        client.force_login(personas[name])
        response = client.post(url, {"decision": "approve"})
        assert response.status_code == 404, name
    assert set(Visit.objects.values_list("approval", flat=True)) == {Visit.Approval.PENDING}
    assert PlanDecision.objects.count() == 0
    # The rep sees themselves but may not approve their own plan: refused with the reason, nothing changed.
    client = Client()
    client.force_login(personas.owner)
    response = client.post(url, {"decision": "approve"}, follow=True)
    assert "只有经理可以审批" in response.content.decode()
    assert PlanDecision.objects.count() == 0
    client.force_login(personas.district_manager)
    response = client.post(url, {"decision": "approve"})
    assert response.status_code == 302
    assert PlanDecision.objects.get().decision == PlanDecision.Decision.APPROVED


# --- Calendar pages and ICS ------------------------------------------------------------------------


@pytest.mark.django_db
def test_ics_has_utc_times_and_no_contact_data(personas: Personas, territory: Any) -> None:
    hospital, people = territory
    people["key"].mobile = "13812345678"
    people["key"].save()
    visit = VisitFactory(
        owner=personas.owner,
        institution=hospital,
        starts_at=_tomorrow_at(9, 30),
        professionals=[people["key"]],
    )
    client = Client()
    client.force_login(personas.owner)
    response = client.get(reverse("engagement:plan_ics"))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/calendar")
    body = response.content.decode()
    assert body.startswith("BEGIN:VCALENDAR\r\n") and body.endswith("END:VCALENDAR\r\n")
    assert f"UID:visit-{visit.pk}@" in body
    utc = visit.starts_at.astimezone(dt.UTC)
    assert f"DTSTART:{utc:%Y%m%dT%H%M%S}Z" in body
    assert "13812345678" not in body and "张主任" not in body
    assert "SUMMARY:" in body and hospital.name in body
    assert all(len(line.encode()) <= 75 for line in body.split("\r\n"))


def test_ics_folds_and_escapes() -> None:
    text = ics.escape("a,b;c\\d\ne")
    assert text == "a\\,b\\;c\\\\d\\ne"
    folded = ics.fold("SUMMARY:" + "拜访" * 40)
    assert all(len(line.encode()) <= 75 for line in folded.split("\r\n"))
    assert folded.replace("\r\n ", "") == "SUMMARY:" + "拜访" * 40


@pytest.mark.django_db
@pytest.mark.parametrize("view", ["week", "month", "agenda"])
def test_calendar_pages_show_the_reps_visits_only(personas: Personas, territory: Any, view: str) -> None:
    hospital, people = territory
    VisitFactory(
        owner=personas.owner, institution=hospital, starts_at=_tomorrow_at(9), professionals=[people["key"]]
    )
    client = Client()
    client.force_login(personas.owner)
    response = client.get(reverse(f"engagement:calendar_{view}"))
    assert response.status_code == 200
    assert "协和医院" in response.content.decode()
    client.force_login(personas.colleague)
    response = client.get(reverse(f"engagement:calendar_{view}"))
    assert "协和医院" not in response.content.decode()
    # Asking for someone else's calendar outside one's view is a 404.
    response = client.get(reverse(f"engagement:calendar_{view}") + f"?rep={personas.owner.pk}")
    assert response.status_code == 404


@pytest.mark.django_db
def test_generate_page_previews_then_plans(personas: Personas, territory: Any) -> None:
    client = Client()
    client.force_login(personas.owner)
    period = Period.month(timezone.localdate().year + 1, 3)
    url = reverse("engagement:plan_generate") + f"?period={period.code}"
    response = client.get(url)
    assert response.status_code == 200 and Visit.objects.count() == 0
    assert "张主任" in response.content.decode()
    response = client.post(
        reverse("engagement:plan_generate"), {"period": period.code, "rep": personas.owner.pk}
    )
    assert response.status_code == 302
    assert Visit.objects.count() == 7


test_planning_policy_visibility = visibility_test(
    lambda p: PlanningPolicy.objects.create(org_unit=p.team_n1a),
    sees=(*SEES, "colleague", "outsider", "other_manager", "no_role"),
    blind=(),
)
test_plan_decision_visibility = visibility_test(
    lambda p: PlanDecision.objects.create(
        rep=p.owner,
        period_start=dt.date(2026, 10, 1),
        period_end=dt.date(2026, 10, 31),
        decision="approved",
        decided_by=p.district_manager,
    )
)


# --- API ----------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_api_generate_move_decide_and_ics(personas: Personas, territory: Any) -> None:
    assert territory
    client = Client()
    client.force_login(personas.owner)
    period = Period.month(timezone.localdate().year + 1, 4)
    preview = client.post(
        "/api/v1/visit-plans/generate",
        {"period": period.code, "dry_run": True},
        content_type="application/json",
    )
    assert preview.status_code == 200 and preview.json()["created"] == 7 and Visit.objects.count() == 0
    bad = client.post("/api/v1/visit-plans/generate", {"period": "2026-13"}, content_type="application/json")
    assert bad.status_code == 400 and "2026-13" in bad.json()["error"]["message"]
    done = client.post(
        "/api/v1/visit-plans/generate", {"period": period.code}, content_type="application/json"
    ).json()
    assert done["created"] == 7 and Visit.objects.count() == 7
    again = client.post(
        "/api/v1/visit-plans/generate", {"period": period.code}, content_type="application/json"
    ).json()
    assert again["created"] == 0 and again["already"] == 7
    # A colleague cannot plan for the owner: the owner is not in their view.
    other = Client()
    other.force_login(personas.colleague)
    refused = other.post(
        "/api/v1/visit-plans/generate",
        {"period": period.code, "rep_id": personas.owner.pk},
        content_type="application/json",
    )
    assert refused.status_code == 404 and Visit.objects.count() == 7
    assert other.get(f"/api/v1/visit-plans/{personas.owner.pk}.ics").status_code == 404
    # Moving onto another visit: 409 with the message, nothing changed.
    first, second = Visit.objects.order_by("starts_at")[:2]
    clash = client.post(
        f"/api/v1/planned-visits/{second.pk}/move",
        {"starts_at": timezone.localtime(first.starts_at).isoformat()},
        content_type="application/json",
    )
    assert clash.status_code == 409 and "重叠" in clash.json()["error"]["message"]
    assert Visit.objects.get(pk=second.pk).starts_at == second.starts_at
    ics_body = client.get("/api/v1/visit-plans/me.ics")
    assert ics_body.status_code == 200 and ics_body["Content-Type"].startswith("text/calendar")
    manager = Client()
    manager.force_login(personas.district_manager)
    assert manager.get(f"/api/v1/visit-plans/{personas.owner.pk}.ics").status_code == 200
    # Nothing pending here (no approval policy): deciding is a 409 with the reason.
    decided = manager.post(
        f"/api/v1/visit-plans/{personas.owner.pk}/{period.code}/decision",
        {"approve": True},
        content_type="application/json",
    )
    assert decided.status_code == 409


@pytest.mark.django_db
def test_api_today(personas: Personas, territory: Any) -> None:
    _hospital, people = territory
    client = Client()
    client.force_login(personas.owner)
    body = client.get("/api/v1/today").json()
    names = {s["name"] for s in body["suggestions"]}
    assert names == {"张主任", "李医生", "王医生"}  # never visited: overdue for all three
    reason = body["suggestions"][0]["reasons"][0]
    assert reason["points"] == pytest.approx(
        float(reason["weight"]) * reason["intensity"] * reason["learned"], abs=0.01
    )
    dismissed = client.post(
        "/api/v1/today/dismissals",
        {"professional_id": people["key"].pk, "reason": "本周外出", "factor": "overdue"},
        content_type="application/json",
    )
    assert dismissed.status_code == 201
    assert "张主任" not in {s["name"] for s in client.get("/api/v1/today").json()["suggestions"]}
    empty = client.post(
        "/api/v1/today/dismissals",
        {"professional_id": people["general"].pk, "reason": ""},
        content_type="application/json",
    )
    assert empty.status_code == 400 and "reason" in empty.json()["error"]["fields"]


@pytest.mark.django_db
def test_plan_command(personas: Personas, territory: Any) -> None:
    from io import StringIO

    from django.core.management import call_command

    out = StringIO()
    period = Period.month(timezone.localdate().year + 1, 5)
    call_command("plan", "--rep", "owner", "--month", period.code, "--dry-run", stdout=out)
    assert "would plan 7 visits" in out.getvalue() and Visit.objects.count() == 0
    call_command("plan", "--rep", "owner", "--month", period.code, stdout=out)
    assert Visit.objects.count() == 7
    record = Visit.history.first()  # type: ignore[attr-defined]
    assert record.history_source == "cli" and record.history_user == personas.owner


@pytest.mark.django_db
def test_only_admins_edit_the_rules_and_bad_values_are_refused(personas: Personas) -> None:
    from pharmacrm.engagement.models import FrequencyRule, NextBestActionWeight

    url = reverse("engagement:settings", args=["frequency"])
    client = Client()
    client.force_login(personas.district_manager)
    assert client.get(url).status_code == 403
    client.force_login(personas.admin)
    page = client.get(url)
    assert page.status_code == 200 and "每月拜访次数" in page.content.decode()
    formset = page.context["formset"]
    data = {
        "form-TOTAL_FORMS": str(len(formset.forms)),
        "form-INITIAL_FORMS": str(formset.initial_form_count()),
        "form-MIN_NUM_FORMS": "0",
        "form-MAX_NUM_FORMS": "1000",
    }
    for i, form in enumerate(formset.forms):
        rule = form.instance
        if rule.pk is None:
            continue
        data.update(
            {
                f"form-{i}-id": str(rule.pk),
                f"form-{i}-tier": rule.tier,
                f"form-{i}-role": rule.role,
                f"form-{i}-engagement_stage": rule.engagement_stage,
                f"form-{i}-visits_per_month": "5"
                if (rule.tier, rule.role, rule.engagement_stage) == ("key", "", "")
                else str(rule.visits_per_month),
            }
        )
    assert client.post(url, data).status_code == 302
    assert FrequencyRule.objects.get(tier="key", role="", engagement_stage="").visits_per_month == 5
    assert FrequencyRule.history.filter(history_user=personas.admin).exists()  # type: ignore[attr-defined]
    # A decay above 1 would make dismissals raise a suggestion: refused, nothing saved.
    weights_url = reverse("engagement:settings", args=["weights"])
    formset = client.get(weights_url).context["formset"]
    data = {
        "form-TOTAL_FORMS": str(len(formset.forms)),
        "form-INITIAL_FORMS": str(len(formset.forms)),
        "form-MIN_NUM_FORMS": "0",
        "form-MAX_NUM_FORMS": "1000",
    }
    for i, form in enumerate(formset.forms):
        data[f"form-{i}-id"] = str(form.instance.pk)
        data[f"form-{i}-weight"] = (
            "3" if form.instance.factor == "dismissal_decay" else str(form.instance.weight)
        )
    response = client.post(weights_url, data)
    assert response.status_code == 200 and "0 到 1" in response.content.decode()
    assert NextBestActionWeight.objects.get(factor="dismissal_decay").weight == Decimal("0.5")
