"""The team page: plan vs actual by ISO week, key-customer compliance, overdue commitments, co-visits — each persona sees its own."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from pharmacrm.core.testing import Personas
from pharmacrm.customers.tests.factories import InstitutionFactory, ProfessionalFactory
from pharmacrm.engagement import manager
from pharmacrm.engagement.models import Coaching, Visit
from pharmacrm.engagement.planning import Period, local_datetime
from pharmacrm.engagement.tests.factories import CommitmentFactory, VisitFactory

F: Any = ProfessionalFactory
H: Any = InstitutionFactory
OCTOBER = Period.month(2026, 10)
SEPTEMBER = Period.month(2026, 9)


def visit(
    owner: Any, professional: Any, day: dt.date, *, done: bool, planned: bool = True, **extra: Any
) -> Visit:
    when = local_datetime(day, dt.time(10))
    return VisitFactory(
        owner=owner,
        institution=professional.institution,
        starts_at=when,
        status=Visit.Status.COMPLETED if done else Visit.Status.PLANNED,
        completed_at=when if done else None,
        was_planned=planned,
        professionals=[professional],
        **extra,
    )


@pytest.fixture
def team(personas: Personas) -> dict[str, Any]:
    own = H(territory=personas.own_territory, name="本院")
    col = H(territory=personas.colleague_territory, name="同事院")
    out = H(territory=personas.outside_territory, name="外区院")
    p = {
        "often": F(institution=own, name="常访", tier="key", engagement_stage="stable"),
        "rarely": F(institution=own, name="少访", tier="key", engagement_stage="stable"),
        "col": F(institution=col, name="同事客户", tier="key", engagement_stage="stable"),
        "out": F(institution=out, name="外区客户", tier="key", engagement_stage="stable"),
    }
    # Week 41 (Oct 5–11): the owner planned four, did three of them and one more unplanned.
    for i, done in enumerate((True, True, True, False)):
        visit(
            personas.owner,
            p["often"],
            dt.date(2026, 10, 8) + dt.timedelta(days=i % 2),
            done=done,
            duration_minutes=5,
        )
    visit(personas.owner, p["rarely"], dt.date(2026, 10, 9), done=True, planned=False)
    visit(personas.colleague, p["col"], dt.date(2026, 10, 13), done=False)
    visit(personas.outsider, p["out"], dt.date(2026, 10, 13), done=True)
    # September: 常访 four times (its rule's rate), 少访 once.
    for day in (1, 8, 15, 22):
        visit(personas.owner, p["often"], dt.date(2026, 9, day), done=True)
    visit(personas.owner, p["rarely"], dt.date(2026, 9, 3), done=True)
    late = timezone.localdate() - dt.timedelta(days=3)
    CommitmentFactory(professional=p["often"], owner=personas.owner, description="寄送指南", due_on=late)
    CommitmentFactory(professional=p["out"], owner=personas.outsider, description="外区承诺", due_on=late)
    co = visit(
        personas.owner,
        p["rarely"],
        timezone.localdate() - dt.timedelta(days=10),
        done=True,
        co_visitor=personas.district_manager,
    )
    Coaching.objects.create(
        visit=co,
        coach=personas.district_manager,
        preparation=4,
        messaging=3,
        listening=5,
        compliance=5,
        improvements="多问开放式问题",
    )
    return p


def rows(view: manager.TeamView) -> dict[str, manager.RepRow]:
    return {row.rep.username: row for row in view.rows}


@pytest.mark.django_db
def test_plan_vs_actual_by_iso_week(personas: Personas, team: dict[str, Any]) -> None:
    view = manager.team_view(user=personas.district_manager, period=OCTOBER)
    assert set(rows(view)) == {"owner", "colleague"}
    assert view.weeks[0] == dt.date(2026, 9, 28) and view.weeks[-1] == dt.date(2026, 10, 26)
    week41 = view.weeks.index(dt.date(2026, 10, 5))
    cell = rows(view)["owner"].weeks[week41]
    assert (cell.planned, cell.done_planned, cell.unplanned, cell.rate) == (4, 3, 1, 75)
    assert rows(view)["colleague"].weeks[week41 + 1].planned == 1


@pytest.mark.django_db
def test_key_customer_frequency_compliance_last_month(personas: Personas, team: dict[str, Any]) -> None:
    view = manager.team_view(user=personas.district_manager, period=OCTOBER)
    assert view.previous_month == SEPTEMBER
    owner = rows(view)["owner"]
    assert (owner.key_total, owner.key_on_rate, owner.key_compliance) == (2, 1, 50)
    assert rows(view)["colleague"].key_compliance == 0


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("persona", "reps", "overdue", "co_visits"),
    [
        ("district_manager", {"owner", "colleague"}, {"寄送指南"}, 1),
        ("regional_manager", {"owner", "colleague"}, {"寄送指南"}, 1),
        ("other_manager", {"outsider"}, {"外区承诺"}, 0),
        ("owner", {"owner"}, {"寄送指南"}, 1),
        ("colleague", {"colleague"}, set(), 0),
        ("no_role", set(), set(), 0),
    ],
)
def test_each_persona_sees_its_own_team(
    personas: Personas, team: dict[str, Any], persona: str, reps: set[str], overdue: set[str], co_visits: int
) -> None:
    view = manager.team_view(user=personas[persona], period=OCTOBER)
    assert set(rows(view)) == reps
    assert {c.description for c in view.overdue} == overdue
    assert len(view.co_visits) == co_visits
    response = Client()
    response.force_login(personas[persona])
    body = response.get(reverse("engagement:team") + "?month=2026-10").content.decode()
    assert ("寄送指南" in body) is ("寄送指南" in overdue)
    assert ("多问开放式问题" in body) is bool(co_visits)


@pytest.mark.django_db
def test_team_page_shows_coverage_never_prescriptions(personas: Personas, team: dict[str, Any]) -> None:
    client = Client()
    client.force_login(personas.district_manager)
    body = client.get(reverse("engagement:team") + "?month=2026-10").content.decode()
    assert 'data-rep="owner"' in body and "50%" in body and "3/4" in body
    for word in ("处方量", "处方次数", "用量"):
        assert word not in body
