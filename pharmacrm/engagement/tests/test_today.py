"""The rep's day: ranking reasons and weights, dismissals learned into the ranking, the brief, one-tap contact, pinned queries."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from freezegun import freeze_time

from pharmacrm.commercial.models import KeyMessage, Product, TherapeuticArea
from pharmacrm.compliance.models import Consent, SensitiveAccess
from pharmacrm.core.testing import Personas
from pharmacrm.customers.models import KeyDate, Need
from pharmacrm.customers.tests.factories import InstitutionFactory, ProfessionalFactory
from pharmacrm.engagement import planning
from pharmacrm.engagement import today as today_service
from pharmacrm.engagement.models import Dismissal, NextBestActionWeight, Visit
from pharmacrm.engagement.planning import local_datetime
from pharmacrm.engagement.tests.factories import CommitmentFactory, VisitFactory

F: Any = ProfessionalFactory
H: Any = InstitutionFactory


def visited(professional: Any, owner: Any, days_ago: int) -> Visit:
    when = local_datetime(timezone.localdate() - dt.timedelta(days=days_ago), dt.time(10))
    return VisitFactory(
        owner=owner,
        institution=professional.institution,
        starts_at=when,
        status=Visit.Status.COMPLETED,
        completed_at=when,
        professionals=[professional],
    )


@pytest.fixture
def day(personas: Personas) -> dict[str, Any]:
    """The owner's customers, each with one reason to be seen (or none)."""
    hospital = H(territory=personas.own_territory, name="协和医院")
    p = {
        "overdue": F(institution=hospital, name="陈重点", tier="key", engagement_stage="stable"),
        "commitment": F(institution=hospital, name="周承诺", tier="general", engagement_stage="stable"),
        "need": F(institution=hospital, name="吴需求", tier="general", engagement_stage="stable"),
        "fine": F(institution=hospital, name="郑正常", tier="general", engagement_stage="stable"),
        "birthday": F(institution=hospital, name="王生日", tier="general", engagement_stage="stable"),
        "reactivate": F(institution=hospital, name="冯激活", tier="general", engagement_stage="reactivation"),
        "today": F(institution=hospital, name="褚今天", tier="key", engagement_stage="stable"),
    }
    visited(p["overdue"], personas.owner, 60)
    for key in ("commitment", "need", "fine", "birthday", "reactivate"):
        visited(p[key], personas.owner, 5)
    visited(p["today"], personas.owner, 2)
    CommitmentFactory(
        professional=p["commitment"], owner=personas.owner, due_on=timezone.localdate() - dt.timedelta(days=1)
    )
    Need.objects.create(
        professional=p["need"],
        kind="clinical",
        description="想了解新型降压药的循证数据",
        found_on=timezone.localdate(),
    )
    today = timezone.localdate()
    KeyDate.objects.create(
        professional=p["birthday"], kind="birthday", month=today.month, day=today.day, shared_by_customer=True
    )
    VisitFactory(
        owner=personas.owner,
        institution=hospital,
        starts_at=timezone.now() + dt.timedelta(minutes=5)
        if timezone.localtime().hour < 23
        else timezone.now() - dt.timedelta(minutes=5),
        professionals=[p["today"]],
    )
    return p


def reasons_of(view: Any) -> dict[str, dict[str, Any]]:
    return {s.name: {r.factor: r for r in s.reasons} for s in view.suggestions}


@pytest.mark.django_db
def test_each_reason_is_explained_with_its_weight(personas: Personas, day: dict[str, Any]) -> None:
    view = today_service.today_for(user=personas.owner)
    reasons = reasons_of(view)
    assert set(reasons) == {"陈重点", "周承诺", "吴需求", "王生日", "冯激活"}
    assert "郑正常" not in reasons  # within frequency, nothing open
    assert "褚今天" not in reasons  # already planned today …
    assert [p.name for v in view.visits for p in v.professionals.all()] == ["褚今天"]  # … and listed there
    overdue = reasons["陈重点"]["overdue"]
    assert "60 天前" in overdue.detail and overdue.weight == Decimal("3")
    # Key every 8 days (4 a month): 60 days is far past it; intensity is capped at 2.
    assert overdue.intensity == 2.0 and overdue.points == 6.0
    assert "key_customer" in reasons["陈重点"]
    assert reasons["周承诺"]["commitment_due"].intensity == pytest.approx(1 + 1 / 7)
    assert "逾期 1 天" in reasons["周承诺"]["commitment_due"].detail
    assert reasons["吴需求"]["unmet_need"].points == 1.5
    assert reasons["王生日"]["key_date"].points == 2.5
    assert "需激活" in reasons["冯激活"]["declining"].detail
    # The birthday also shows in this week's key dates.
    assert [k.name for k in view.key_dates] == ["王生日"]
    # Highest score first; the score is the sum of the points.
    scores = [s.score for s in view.suggestions]
    assert scores == sorted(scores, reverse=True)
    top = view.suggestions[0]
    assert top.name == "陈重点" and top.score == sum(r.points for r in top.reasons)


@pytest.mark.django_db
def test_weights_are_configurable(personas: Personas, day: dict[str, Any]) -> None:
    NextBestActionWeight.objects.filter(factor="unmet_need").update(weight=Decimal("20"))
    view = today_service.today_for(user=personas.owner)
    assert view.suggestions[0].name == "吴需求"
    assert view.suggestions[0].score == 20.0


@pytest.mark.django_db
def test_fewer_visits_than_last_quarter_is_declining(personas: Personas) -> None:
    hospital = H(territory=personas.own_territory)
    p = F(institution=hospital, name="蒋下滑", tier="general", engagement_stage="stable")
    for days in (100, 120, 150, 20):
        visited(p, personas.owner, days)
    reasons = reasons_of(today_service.today_for(user=personas.owner))
    declining = reasons["蒋下滑"]["declining"]
    assert "近 90 天拜访 1 次，之前 90 天 3 次" in declining.detail
    assert declining.intensity == pytest.approx(2 / 3)


@pytest.mark.django_db
def test_dismissal_drops_then_weighs_down_the_reason(personas: Personas, day: dict[str, Any]) -> None:
    target = day["overdue"]
    with pytest.raises(Exception, match="原因"):
        today_service.dismiss_suggestion(
            actor=personas.owner, professional=target, reason=" ", factor="overdue"
        )
    assert Dismissal.objects.count() == 0
    client = Client()
    client.force_login(personas.owner)
    response = client.post(
        reverse("engagement:dismiss", args=[target.pk]), {"reason": "客户外出/休假", "factor": "overdue"}
    )
    assert response.status_code == 302
    dismissal = Dismissal.objects.get()
    assert dismissal.until == timezone.localdate() + dt.timedelta(days=7) and dismissal.factor == "overdue"
    assert "陈重点" not in reasons_of(today_service.today_for(user=personas.owner))
    # When the dismissal runs out the professional is back, the dismissed reason at half weight.
    Dismissal.objects.update(until=timezone.localdate() - dt.timedelta(days=1))
    overdue = reasons_of(today_service.today_for(user=personas.owner))["陈重点"]["overdue"]
    assert overdue.learned == 0.5 and overdue.points == 3.0
    # Dismissed twice: a quarter.
    Dismissal.objects.create(
        user=personas.owner,
        professional=target,
        reason="x",
        factor="overdue",
        until=timezone.localdate() - dt.timedelta(days=1),
    )
    overdue = reasons_of(today_service.today_for(user=personas.owner))["陈重点"]["overdue"]
    assert overdue.learned == 0.25
    # Another rep's dismissals do not touch the owner's ranking.
    assert Dismissal.objects.filter(user=personas.colleague).count() == 0


@pytest.mark.django_db
def test_colleague_sees_nothing_of_the_owners_customers(personas: Personas, day: dict[str, Any]) -> None:
    view = today_service.today_for(user=personas.colleague)
    assert view.suggestions == [] and view.visits == [] and view.commitments == []
    client = Client()
    for name, status in (("colleague", 404), ("outsider", 404), ("owner", 200), ("district_manager", 200)):
        client.force_login(personas[name])
        response = client.get(reverse("engagement:brief", args=[day["need"].pk]))
        assert response.status_code == status, name


@pytest.mark.django_db
def test_today_page_queries_do_not_grow_with_customers(
    personas: Personas, day: dict[str, Any], django_assert_max_num_queries: Any
) -> None:
    client = Client()
    client.force_login(personas.owner)
    # 18: session, user (2); today's visits and their professionals (2); commitments, callbacks,
    # care reminders (3); roles, territories (2); professionals, weights, frequency rules, visit
    # stats (with planned-soon), open needs, key dates, dismissals (7); consents of the shown ten
    # (1); the org unit for the page header (1).
    with django_assert_max_num_queries(18):
        response = client.get(reverse("today"))
    assert response.status_code == 200
    first = response.content.decode()
    assert "陈重点" in first and "为什么推荐" in first
    hospital = H(territory=personas.own_territory)
    for i in range(60):
        p = F(institution=hospital, name=f"新客户{i}", tier="key", engagement_stage="stable")
        Need.objects.create(
            professional=p, kind="academic", description="文献", found_on=timezone.localdate()
        )
        visited(p, personas.owner, 40)
    with django_assert_max_num_queries(18):
        response = client.get(reverse("today"))
    assert response.content.decode().count('data-testid="suggestion"') == 10


@pytest.mark.django_db
def test_brief_shows_three_interactions_needs_commitments_and_key_messages(personas: Personas) -> None:
    hospital = H(territory=personas.own_territory)
    p = F(institution=hospital, name="林主任", therapeutic_areas="心血管;内分泌")
    for days in (3, 10, 20, 30):
        v = visited(p, personas.owner, days)
        v.feedback = f"反馈{days}"
        v.save()
    Need.objects.create(
        professional=p, kind="academic", description="需要最新指南解读", found_on=timezone.localdate()
    )
    CommitmentFactory(professional=p, owner=personas.owner, description="寄送会议资料")
    area = TherapeuticArea.objects.create(name="心血管", code="CV")
    product = Product.objects.create(code="P1", generic_name="氨氯地平", therapeutic_area=area)
    KeyMessage.objects.create(
        product=product, code="KM1", text="24小时平稳降压", approved=True, valid_from=dt.date(2020, 1, 1)
    )
    KeyMessage.objects.create(
        product=product, code="KM2", text="未审批的说法", approved=False, valid_from=dt.date(2020, 1, 1)
    )
    client = Client()
    client.force_login(personas.owner)
    response = client.get(reverse("engagement:brief", args=[p.pk]))
    body = response.content.decode()
    assert body.count("反馈") == 3 and "反馈30" not in body
    assert "需要最新指南解读" in body and "寄送会议资料" in body
    assert "24小时平稳降压" in body and "未审批的说法" not in body
    assert "/visits/record?professional=" in body or "record" in body


@pytest.mark.django_db
def test_call_needs_consent_and_logs_the_number(personas: Personas) -> None:
    hospital = H(territory=personas.own_territory)
    p = F(institution=hospital, name="许医生", mobile="13900001111")
    client = Client()
    client.force_login(personas.owner)
    url = reverse("engagement:contact", args=[p.pk, "call"])
    response = client.get(url, follow=True)
    assert "没有同意" in response.content.decode()
    assert SensitiveAccess.objects.count() == 0
    Consent.objects.create(
        professional=p,
        purpose="contact",
        channel="phone",
        source="paper",
        given_on=dt.date(2025, 1, 1),
        recorded_by=personas.owner,
    )
    response = client.get(url)
    assert response.status_code == 302 and response["Location"] == "tel:13900001111"
    assert SensitiveAccess.objects.filter(object_id=str(p.pk), user=personas.owner).count() == 1
    client.force_login(personas.colleague)
    assert client.get(url).status_code == 404


@pytest.mark.django_db
def test_rep_home_links_to_today(personas: Personas, day: dict[str, Any]) -> None:
    client = Client()
    client.force_login(personas.owner)
    body = client.get(reverse("home")).content.decode()
    assert 'data-testid="today-card"' in body and reverse("today") in body
    client.force_login(personas.district_manager)
    assert 'data-testid="today-card"' not in client.get(reverse("home")).content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize("now", ["2026-12-08 08:27:09", "2026-12-08 08:57:09", "2026-12-08 08:57:00"])
def test_one_tap_plan_right_after_a_visit_that_starts_mid_minute_does_not_overlap_it(
    personas: Personas, now: str
) -> None:
    """A visit added at 08:32:09 for 30 minutes ends at 09:02:09: the next slot at that hospital is
    09:03, not 09:02 (which plan_visit refuses as an overlap, so the one tap planned nothing)."""
    hospital = H(territory=personas.own_territory, name="协和医院")
    doctor = F(institution=hospital, name="吴需求", tier="general", engagement_stage="stable")
    with freeze_time(local_datetime(dt.date(2026, 12, 8), dt.time.fromisoformat(now[11:]))):
        VisitFactory(
            owner=personas.owner,
            institution=hospital,
            starts_at=timezone.now() + dt.timedelta(minutes=5),
            duration_minutes=30,
            professionals=[F(institution=hospital, name="褚今天")],
        )
        placement = planning.plan_next_visit(actor=personas.owner, professional=doctor)
    earlier_end = local_datetime(dt.date(2026, 12, 8), dt.time.fromisoformat(now[11:])) + dt.timedelta(
        minutes=35
    )
    starts_at = timezone.localtime(placement.visit.starts_at)
    assert starts_at >= earlier_end and starts_at.second == 0
    assert starts_at - earlier_end < dt.timedelta(minutes=1)  # right after it, at the same hospital


@pytest.mark.django_db
def test_one_tap_plan_takes_the_next_free_slot_with_an_objective(
    personas: Personas, day: dict[str, Any]
) -> None:
    target = day["need"]
    client = Client()
    client.force_login(personas.colleague)
    assert client.post(reverse("engagement:plan_one"), {"professional": target.pk}).status_code == 404
    client.force_login(personas.owner)
    before = Visit.objects.count()
    response = client.post(
        reverse("engagement:plan_one"), {"professional": target.pk, "next": reverse("today")}
    )
    assert response.status_code == 302 and response["Location"] == reverse("today")
    visit = (
        Visit.objects.exclude(
            pk__in=list(Visit.objects.filter(professionals=day["today"]).values_list("pk", flat=True))
        )
        .order_by("-pk")
        .first()
    )
    assert Visit.objects.count() == before + 1
    assert visit is not None and list(visit.professionals.all()) == [target]
    assert visit.starts_at > timezone.now() and visit.status == Visit.Status.PLANNED
    assert "新型降压药" in visit.objective
