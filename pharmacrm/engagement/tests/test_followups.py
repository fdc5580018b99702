"""Commitments (due date required, closed with how they were kept, reminded and escalated once) and callbacks by rule."""

from __future__ import annotations

import datetime as dt

import pytest
from django.http import Http404
from django.utils import timezone

from pharmacrm.commercial.models import Listing
from pharmacrm.core.errors import Conflict, DomainError, NotAllowed
from pharmacrm.customers.models import Professional
from pharmacrm.customers.tests.factories import ProfessionalFactory
from pharmacrm.engagement import followups, visits
from pharmacrm.engagement.hierarchy import managers_above, nearest_manager
from pharmacrm.engagement.models import Callback, Commitment
from pharmacrm.engagement.tasks import remind_commitments, schedule_callbacks
from pharmacrm.engagement.tests.factories import CallbackFactory, CommitmentFactory
from pharmacrm.engagement.tests.visit_world import World, at, snapshot
from pharmacrm.engagement.visits import NeedFound

pytestmark = pytest.mark.django_db


def test_commitment_needs_a_due_date(world: World):
    before = snapshot()
    with pytest.raises(DomainError) as exc:
        followups.create_commitment(
            actor=world.rep, professional=world.doctor, description="送指南", due_on=None
        )
    assert "缺少截止日期" in exc.value.message and "due_on" in exc.value.fields
    with pytest.raises(DomainError) as exc:
        followups.create_commitment(
            actor=world.rep, professional=world.doctor, description="送指南", due_on=world.yesterday
        )
    assert "早于承诺日期" in exc.value.message
    with pytest.raises(Http404):
        followups.create_commitment(
            actor=world.personas.outsider,
            professional=world.doctor,
            description="送指南",
            due_on=timezone.localdate(),
        )
    assert snapshot() == before
    made = followups.create_commitment(
        actor=world.rep, professional=world.doctor, description="送指南", due_on=timezone.localdate()
    )
    assert made.owner == world.rep and made.status == Commitment.Status.OPEN


def test_close_says_how_it_was_kept(world: World):
    commitment = CommitmentFactory(professional=world.doctor, owner=world.rep)
    before = snapshot()
    with pytest.raises(DomainError) as exc:
        followups.close_commitment(actor=world.rep, commitment=commitment, how_kept="  ")
    assert "如何兑现" in exc.value.message and "how_kept" in exc.value.fields
    with pytest.raises(NotAllowed):
        followups.close_commitment(actor=world.personas.admin, commitment=commitment, how_kept="x")
    assert snapshot() == before
    followups.close_commitment(actor=world.rep, commitment=commitment, how_kept="周三当面送达并讲解")
    commitment.refresh_from_db()
    assert commitment.status == Commitment.Status.DONE and commitment.closed_on == timezone.localdate()
    with pytest.raises(Conflict):
        followups.close_commitment(actor=world.rep, commitment=commitment, how_kept="again")
    # The manager above may cancel a rep's commitment, with a reason.
    other = CommitmentFactory(professional=world.doctor, owner=world.rep)
    followups.cancel_commitment(actor=world.personas.district_manager, commitment=other, reason="客户已调离")
    other.refresh_from_db()
    assert other.status == Commitment.Status.CANCELLED and "客户已调离" in other.how_kept


def test_nearest_manager_is_the_line_manager(world: World):
    p = world.personas
    assert [m.username for m in managers_above(p.owner)] == ["dm", "rm", "director"]
    assert nearest_manager(p.owner) == p.district_manager
    assert nearest_manager(p.outsider) == p.other_manager


def test_reminders_and_escalation_are_idempotent(world: World):
    today = timezone.localdate()
    soon = CommitmentFactory(professional=world.doctor, owner=world.rep, due_on=today + dt.timedelta(days=1))
    later = CommitmentFactory(
        professional=world.doctor, owner=world.rep, due_on=today + dt.timedelta(days=10)
    )
    overdue = CommitmentFactory(
        professional=world.doctor, owner=world.rep, due_on=today - dt.timedelta(days=1)
    )
    done = CommitmentFactory(
        professional=world.doctor,
        owner=world.rep,
        due_on=today - dt.timedelta(days=3),
        status=Commitment.Status.DONE,
        closed_on=today,
        how_kept="已送达",
    )
    first = followups.remind_and_escalate_commitments()
    assert (first.reminded, first.escalated) == (2, 1)  # soon and overdue are reminded; overdue escalated
    for c in (soon, later, overdue, done):
        c.refresh_from_db()
    assert soon.reminded_at and not later.reminded_at and not done.reminded_at
    assert overdue.escalated_at and overdue.escalated_to == world.personas.district_manager
    stamp = overdue.escalated_at
    history = Commitment.history.count()
    # Twice: nothing changes.
    second = followups.remind_and_escalate_commitments()
    assert (second.reminded, second.escalated) == (0, 0)
    overdue.refresh_from_db()
    assert overdue.escalated_at == stamp and Commitment.history.count() == history


def test_the_task_runs_the_same_service(world: World):
    CommitmentFactory(
        professional=world.doctor, owner=world.rep, due_on=timezone.localdate() - dt.timedelta(days=2)
    )
    result = remind_commitments.enqueue()
    assert result.return_value == {"reminded": 1, "escalated": 1}


def test_callback_after_a_visit_that_found_a_key_customers_need(world: World):
    general = world.nurse  # a general customer: no callback by the default rule
    outcome = visits.record_visit(
        actor=world.rep,
        institution=world.hospital,
        starts_at=at(world.yesterday, 10),
        report=world.report(
            professional_ids=[world.doctor.pk, general.pk],
            needs=[
                NeedFound(world.doctor.pk, "需要指南"),
                NeedFound(general.pk, "科室培训", kind="management"),
            ],
        ),
    )
    callback = Callback.objects.get()
    assert (callback.professional, callback.owner) == (world.doctor, world.rep)
    assert callback.source == f"visit:{outcome.visit.pk}"
    assert callback.due_on == world.yesterday + dt.timedelta(days=7)


def test_callback_rules_are_configurable(world: World, settings):
    settings.ENGAGEMENT_CALLBACK_RULES = [{"trigger": "visit_need_found", "days": 3, "tiers": []}]
    visits.record_visit(
        actor=world.rep,
        institution=world.hospital,
        starts_at=at(world.yesterday, 10),
        report=world.report(professional_ids=[world.nurse.pk], needs=[NeedFound(world.nurse.pk, "科室培训")]),
    )
    assert Callback.objects.get().due_on == world.yesterday + dt.timedelta(days=3)


def test_first_purchase_callbacks_go_to_those_visited_about_the_product_once(world: World):
    visits.record_visit(
        actor=world.rep, institution=world.hospital, starts_at=at(world.yesterday, 10), report=world.report()
    )
    today = timezone.localdate()
    listing = Listing.objects.create(
        institution=world.hospital,
        product=world.product,
        owner=world.rep,
        stage=Listing.Stage.FIRST_PURCHASE,
        first_purchase_on=today,
    )
    # No visits about the other product at the other hospital: its pharmacy director is called back.
    director = ProfessionalFactory(institution=world.other_hospital, role=Professional.Role.PHARMACY_DIRECTOR)
    Listing.objects.create(
        institution=world.other_hospital,
        product=world.other_product,
        owner=world.rep,
        stage=Listing.Stage.FIRST_PURCHASE,
        first_purchase_on=today - dt.timedelta(days=3),
    )
    assert schedule_callbacks.enqueue().return_value == 2
    assert schedule_callbacks.enqueue().return_value == 0
    by_person = {
        c.professional: c for c in Callback.objects.filter(reason=Callback.Reason.FIRST_PRESCRIPTION)
    }
    assert set(by_person) == {world.doctor, director}
    assert by_person[world.doctor].source == f"listing:{listing.pk}"
    assert by_person[world.doctor].due_on == today + dt.timedelta(days=14)


def test_complete_a_callback_with_outcome_and_satisfaction(world: World):
    callback = CallbackFactory(professional=world.doctor, owner=world.rep)
    before = snapshot()
    for outcome, satisfaction, field in (
        ("", 4, "outcome"),
        ("客户满意", 0, "satisfaction"),
        ("ok", 6, "satisfaction"),
    ):
        with pytest.raises(DomainError) as exc:
            followups.complete_callback(
                actor=world.rep, callback=callback, outcome=outcome, satisfaction=satisfaction
            )
        assert field in exc.value.fields
    with pytest.raises(NotAllowed):
        followups.complete_callback(
            actor=world.personas.admin, callback=callback, outcome="x", satisfaction=5
        )
    assert snapshot() == before
    followups.complete_callback(actor=world.rep, callback=callback, outcome="患者反馈良好", satisfaction=5)
    callback.refresh_from_db()
    assert callback.status == Callback.Status.DONE and callback.satisfaction == 5 and callback.done_at
    with pytest.raises(Conflict):
        followups.complete_callback(actor=world.rep, callback=callback, outcome="again", satisfaction=5)
