"""The visit pages: record on a phone (with inline checks that write nothing), the visit page, follow-up lists with pinned query counts."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from pharmacrm.compliance.models import ComplianceEvent
from pharmacrm.compliance.policy import flush_events
from pharmacrm.core.models import Role
from pharmacrm.core.tests.factories import UserFactory
from pharmacrm.engagement import visits
from pharmacrm.engagement.models import Callback, Commitment, SafetySignal, Visit
from pharmacrm.engagement.tests.factories import CallbackFactory, CommitmentFactory
from pharmacrm.engagement.tests.visit_world import World, at, snapshot

pytestmark = pytest.mark.django_db


def client_for(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def form_data(world: World, **overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "institution": world.hospital.pk,
        "professionals": [world.doctor.pk],
        "channel": "in_person",
        "starts_at": f"{at(world.yesterday, 10):%Y-%m-%dT%H:%M}",
        "duration_minutes": "20",
        "products": [world.product.pk],
        "key_messages": [world.message.pk],
        "feedback": "很认可",
        "notes": "",
        "next_step": "",
        "materials_given": "",
        "co_visitor": "",
    }
    for prefix in ("needs", "commitments", "hospitality"):
        data.update({f"{prefix}-TOTAL_FORMS": "1", f"{prefix}-INITIAL_FORMS": "0"})
    data.update(overrides)
    return data


def record_url(**params: Any) -> str:
    query = "&".join(f"{k}={v}" for k, v in params.items())
    return reverse("engagement:visit_record") + (f"?{query}" if query else "")


def test_record_form_renders_for_a_phone(world: World):
    response = client_for(world.rep).get(record_url(institution=world.hospital.pk))
    html = response.content.decode()
    assert response.status_code == 200
    assert 'data-testid="channel-buttons"' in html and "data-tom-select" in html
    assert "张医生" in html and "KM1" in html
    # Only approved key messages in force are offered.
    assert "KM2" not in html and "KM3" not in html


def test_pick_step_without_a_customer(world: World):
    response = client_for(world.rep).get(record_url())
    assert response.status_code == 200
    assert "拜访哪家机构" in response.content.decode()


def test_record_posts_and_redirects_to_the_visit(world: World):
    data = form_data(
        world,
        **{
            "commitments-0-description": "送指南",
            "commitments-0-due_on": f"{timezone.localdate() + dt.timedelta(days=3):%Y-%m-%d}",
            "needs-0-kind": "academic",
            "needs-0-description": "想要最新指南",
            "feedback": "有患者服药后出现皮疹",
        },
    )
    response = client_for(world.rep).post(record_url(), data, follow=True)
    visit = Visit.objects.get()
    assert response.redirect_chain[-1][0] == visit.get_absolute_url()
    html = response.content.decode()
    assert "拜访已记录" in html and "皮疹" in html and 'data-testid="visit-flags"' in html
    assert Commitment.objects.get().professional == world.doctor
    assert SafetySignal.objects.filter(visit=visit).exists()


def test_inline_check_shows_the_rule_and_writes_nothing(world: World):
    before = snapshot()
    data = form_data(
        world, **{"hospitality-0-kind": "cash", "hospitality-0-amount_per_person": "200", "_validate": "1"}
    )
    response = client_for(world.rep).post(record_url(), data, HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert response.status_code == 200
    assert 'id="err-hospitality"' in html and "hx-swap-oob" in html
    assert "不得向医务人员提供现金" in html and "禁止现金、卡券、礼品与娱乐" in html
    assert snapshot() == before
    assert flush_events() == 0  # a check while typing is not an attempt
    # A valid form checked inline is not saved either.
    ok = client_for(world.rep).post(record_url(), form_data(world, _validate="1"), HTTP_HX_REQUEST="true")
    assert ok.status_code == 200 and snapshot() == before


def test_refused_submit_shows_the_field_and_writes_nothing(world: World):
    before = snapshot()
    data = form_data(world, **{"commitments-0-description": "送文献"})
    response = client_for(world.rep).post(record_url(), data)
    html = response.content.decode()
    assert response.status_code == 200
    assert "缺少截止日期" in html and 'id="err-commitments"' in html
    assert snapshot() == before


def test_refused_submit_of_a_remote_visit_without_consent_is_a_compliance_event(world: World):
    response = client_for(world.rep).post(record_url(), form_data(world, channel="wechat"))
    assert "联系须有个人信息处理依据" in response.content.decode()
    assert not Visit.objects.exists()
    # The middleware wrote the refusal after the rolled-back transaction.
    assert ComplianceEvent.objects.filter(kind="refused", rule="consent_required_for_contact").count() == 1


def test_institution_outside_territory_is_404(world: World):
    client = client_for(world.rep)
    assert client.get(record_url(institution=world.outside_hospital.pk)).status_code == 404
    assert (
        client.post(record_url(), form_data(world, institution=world.outside_hospital.pk)).status_code == 404
    )
    assert not Visit.objects.exists()


def test_from_today_a_professional_link_completes_todays_plan(world: World):
    now = timezone.now()
    planned = visits.plan_visit(
        actor=world.rep,
        institution=world.hospital,
        starts_at=now - dt.timedelta(hours=1),
        objective="讲新指南",
        professional_ids=[world.doctor.pk],
    ).visit
    if timezone.localdate(planned.starts_at) != timezone.localdate():
        pytest.skip("just after midnight: the plan is yesterday's")
    client = client_for(world.rep)
    page = client.get(record_url(professional=world.doctor.pk)).content.decode()
    assert f'name="visit" value="{planned.pk}"' in page and "讲新指南" in page
    data = form_data(
        world, visit=planned.pk, starts_at=f"{timezone.localtime(planned.starts_at):%Y-%m-%dT%H:%M}"
    )
    data.pop("institution")
    client.post(record_url(), data)
    planned.refresh_from_db()
    assert planned.status == Visit.Status.COMPLETED and Visit.objects.count() == 1


def test_visit_page_edit_amend_and_coaching(world: World):
    manager = world.personas.district_manager
    outcome = visits.record_visit(
        actor=world.rep,
        institution=world.hospital,
        starts_at=at(world.yesterday, 10),
        report=world.report(co_visitor_id=manager.pk),
    )
    visit = outcome.visit
    rep = client_for(world.rep)
    page = rep.get(visit.get_absolute_url()).content.decode()
    assert reverse("engagement:visit_edit", args=[visit.pk]) in page
    edit = rep.post(
        reverse("engagement:visit_edit", args=[visit.pk]),
        form_data(
            world, feedback="改过的反馈", starts_at=f"{timezone.localtime(visit.starts_at):%Y-%m-%dT%H:%M}"
        ),
    )
    assert edit.status_code == 302
    visit.refresh_from_db()
    assert visit.feedback == "改过的反馈"
    # Locked: the edit page sends to the amendment form.
    Visit.objects.filter(pk=visit.pk).update(completed_at=timezone.now() - dt.timedelta(days=3))
    assert rep.get(reverse("engagement:visit_edit", args=[visit.pk])).url == reverse(
        "engagement:visit_amend", args=[visit.pk]
    )
    amend_url = reverse("engagement:visit_amend", args=[visit.pk])
    refused = rep.post(amend_url, {"reason": "", "duration_minutes": 20, "feedback": "x"})
    assert refused.status_code == 200 and not visit.amendments.exists()
    rep.post(
        amend_url,
        {
            "reason": "反馈记错了",
            "feedback": "更正的反馈",
            "duration_minutes": 20,
            "products": [world.product.pk],
            "key_messages": [world.message.pk],
        },
    )
    assert visit.amendments.get().changes == {"feedback": {"old": "改过的反馈", "new": "更正的反馈"}}
    assert "反馈记错了" in rep.get(visit.get_absolute_url()).content.decode()
    # Coaching: only the co-visitor.
    coaching_url = reverse("engagement:visit_coaching", args=[visit.pk])
    assert rep.get(coaching_url).status_code == 403
    boss = client_for(manager)
    boss.post(
        coaching_url, {"preparation": 4, "messaging": 4, "listening": 3, "compliance": 5, "strengths": "好"}
    )
    assert 'data-testid="coaching"' in boss.get(visit.get_absolute_url()).content.decode()


def make_visits(world: World, n: int) -> None:
    for i in range(n):
        visits.record_visit(
            actor=world.rep,
            institution=world.hospital,
            starts_at=at(world.yesterday - dt.timedelta(days=i), 10),
            report=world.report(),
        )


def test_visit_list_query_count_is_flat(world: World, django_assert_max_num_queries):
    make_visits(world, 3)
    client = client_for(world.rep)
    client.get(reverse("engagement:visit_list"))  # warm the session and caches
    # session, user, roles, scope (assignments), count, page of visits, the menu's org unit, the
    # filter form's choices.
    with django_assert_max_num_queries(9) as small:
        client.get(reverse("engagement:visit_list"))
    for i in range(3, 15):
        visits.record_visit(
            actor=world.rep,
            institution=world.other_hospital if i % 2 else world.hospital,
            starts_at=at(world.yesterday - dt.timedelta(days=i), 10),
            report=world.report(professional_ids=[world.stranger.pk if i % 2 else world.doctor.pk]),
        )
    # The same queries for 15 visits as for 3: the page selects institution and owner with the visits.
    with django_assert_max_num_queries(len(small.captured_queries)):
        response = client.get(reverse("engagement:visit_list"))
    assert response.content.decode().count("协和医院") >= 5


def test_commitments_page_pinned_and_closed_inline(world: World, django_assert_max_num_queries):
    today = timezone.localdate()
    for i in range(6):
        CommitmentFactory(professional=world.doctor, owner=world.rep, due_on=today + dt.timedelta(days=i - 2))
    client = client_for(world.rep)
    url = reverse("engagement:commitment_list")
    client.get(url)
    # session, user, roles, scope (assignments), my open, recently closed, the menu's org unit
    # (no escalations for a rep).
    with django_assert_max_num_queries(7):
        response = client.get(url)
    html = response.content.decode()
    assert html.count('data-testid="commitment"') == 6 and html.count("followup--overdue") == 2
    commitment = Commitment.objects.order_by("due_on").first()
    assert commitment is not None
    close_url = reverse("engagement:commitment_close", args=[commitment.pk])
    refused = client.post(close_url, {"how_kept": ""}, HTTP_HX_REQUEST="true")
    assert "如何兑现" in refused.content.decode()
    done = client.post(close_url, {"how_kept": "已送达", "action": "close"}, HTTP_HX_REQUEST="true")
    assert "已兑现" in done.content.decode()
    commitment.refresh_from_db()
    assert commitment.status == Commitment.Status.DONE


def test_escalated_commitments_show_on_the_managers_page(world: World):
    CommitmentFactory(
        professional=world.doctor, owner=world.rep, due_on=timezone.localdate() - dt.timedelta(days=2)
    )
    from pharmacrm.engagement.followups import remind_and_escalate_commitments

    remind_and_escalate_commitments()
    page = (
        client_for(world.personas.district_manager)
        .get(reverse("engagement:commitment_list"))
        .content.decode()
    )
    assert 'data-testid="escalated"' in page and "王代表" in page


def test_callbacks_page_and_completion(world: World, django_assert_max_num_queries):
    for _i in range(4):
        CallbackFactory(professional=world.doctor, owner=world.rep)
    client = client_for(world.rep)
    url = reverse("engagement:callback_list")
    client.get(url)
    # session, user, roles, scope (assignments), due, recently done, the menu's org unit.
    with django_assert_max_num_queries(7):
        html = client.get(url).content.decode()
    assert html.count('data-testid="callback"') == 4
    callback = Callback.objects.first()
    assert callback is not None
    complete = reverse("engagement:callback_complete", args=[callback.pk])
    refused = client.post(complete, {"outcome": "满意", "satisfaction": ""}, HTTP_HX_REQUEST="true")
    assert "满意度须为 1–5 分" in refused.content.decode()
    client.post(complete, {"outcome": "满意", "satisfaction": "5"}, HTTP_HX_REQUEST="true")
    callback.refresh_from_db()
    assert (callback.status, callback.satisfaction) == ("done", 5)


def test_safety_queue_for_service_and_compliance_only(world: World):
    visits.record_visit(
        actor=world.rep,
        institution=world.hospital,
        starts_at=at(world.yesterday, 10),
        report=world.report(notes="过敏"),
    )
    signal = SafetySignal.objects.get()
    url = reverse("engagement:safety_queue")
    assert client_for(world.rep).get(url).status_code == 403
    officer = client_for(UserFactory(username="co", roles=[Role.COMPLIANCE]))
    assert "过敏" in officer.get(url).content.decode()
    officer.post(
        reverse("engagement:safety_triage", args=[signal.pk]),
        {"status": "triaged", "note": "已联系"},
        HTTP_HX_REQUEST="true",
    )
    signal.refresh_from_db()
    assert signal.status == "triaged"


def test_visits_commitments_and_callbacks_on_the_360_views(world: World):
    timeline = pytest.importorskip("pharmacrm.customers.timeline")
    profiles = pytest.importorskip("pharmacrm.customers.profiles")
    outcome = visits.record_visit(
        actor=world.rep,
        institution=world.hospital,
        starts_at=at(world.yesterday, 10),
        report=world.report(
            commitments=[visits.CommitmentMade(world.doctor.pk, "送指南", timezone.localdate())],
        ),
    )
    callback = CallbackFactory(professional=world.doctor, owner=world.rep)
    from pharmacrm.engagement.followups import complete_callback

    complete_callback(actor=world.rep, callback=callback, outcome="反馈良好", satisfaction=4)
    kinds = {e.kind: e for e in timeline.timeline_for(world.doctor, user=world.rep)}
    assert kinds["visit"].url == outcome.visit.get_absolute_url()
    assert "送指南" in kinds["commitment"].title
    assert "满意度 4/5" in kinds["callback"].detail
    # Hidden from those who may not see the visit.
    assert not {"visit", "commitment", "callback"} & {
        e.kind for e in timeline.timeline_for(world.doctor, user=world.personas.outsider)
    }
    panels = {p.template: p for p in profiles.institution_panels(world.hospital, user=world.rep)}
    panel = panels["engagement/_institution_visits.html"]
    assert panel.context["visits"] == [outcome.visit]
    assert [c.description for c in panel.context["commitments"]] == ["送指南"]
    page = client_for(world.rep).get(world.hospital.get_absolute_url()).content.decode()
    assert 'data-testid="institution-visits"' in page
