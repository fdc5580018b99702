"""After a visit is recorded: editable for 48 hours, then locked; amendments with reasons; coaching by the co-visitor; cancelling plans."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from pharmacrm.compliance.models import ComplianceEvent
from pharmacrm.core.errors import Conflict, DomainError, NotAllowed
from pharmacrm.engagement import visits
from pharmacrm.engagement.models import Coaching, SafetySignal, Visit, VisitAmendment
from pharmacrm.engagement.tests.factories import ReceptionRuleFactory
from pharmacrm.engagement.tests.visit_world import World, at, last, snapshot

pytestmark = pytest.mark.django_db


def recorded(world: World, *, now: dt.datetime, **report: object) -> Visit:
    return visits.record_visit(
        actor=world.rep,
        institution=world.hospital,
        starts_at=now - dt.timedelta(hours=2),
        report=world.report(**report),
        now=now,
    ).visit


def test_edit_within_48_hours_then_locked(world: World):
    done = timezone.now() - dt.timedelta(hours=1)
    visit = recorded(world, now=done)
    visits.update_visit(
        actor=world.rep,
        visit=visit,
        report=world.report(feedback="补充：希望看到真实世界研究"),
        now=done + dt.timedelta(hours=47),
    )
    visit.refresh_from_db()
    assert visit.feedback == "补充：希望看到真实世界研究"
    before = snapshot()
    with pytest.raises(visits.VisitLocked) as exc:
        visits.update_visit(
            actor=world.rep,
            visit=visit,
            report=world.report(feedback="再改"),
            now=done + dt.timedelta(hours=48, seconds=1),
        )
    assert "完成后 48 小时内可修改" in exc.value.message and "更正" in exc.value.message
    assert snapshot() == before
    visit.refresh_from_db()
    assert visit.feedback == "补充：希望看到真实世界研究"


def test_lock_follows_the_clock_without_freezing_it(world: World, monkeypatch):
    visit = recorded(world, now=timezone.now())
    later = timezone.now() + dt.timedelta(days=3)
    monkeypatch.setattr(timezone, "now", lambda: later)
    with pytest.raises(visits.VisitLocked):
        visits.update_visit(actor=world.rep, visit=visit, report=world.report(notes="x"))


def test_only_the_owner_edits(world: World):
    visit = recorded(world, now=timezone.now())
    before = snapshot()
    with pytest.raises(NotAllowed):
        visits.update_visit(
            actor=world.personas.district_manager, visit=visit, report=world.report(notes="x")
        )
    assert snapshot() == before


def test_amendment_needs_a_reason_and_keeps_before_and_after(world: World):
    done = timezone.now() - dt.timedelta(days=5)
    visit = recorded(world, now=done)
    before = snapshot()
    with pytest.raises(DomainError) as exc:
        visits.amend_visit(actor=world.rep, visit=visit, reason=" ", changes={"feedback": "更正后的反馈"})
    assert "更正原因" in exc.value.message and "reason" in exc.value.fields
    with pytest.raises(DomainError) as exc:
        visits.amend_visit(actor=world.rep, visit=visit, reason="笔误", changes={"starts_at": "2020-01-01"})
    assert "starts_at" in exc.value.fields
    with pytest.raises(DomainError):
        visits.amend_visit(
            actor=world.rep,
            visit=visit,
            reason="加关键信息",
            changes={"key_message_ids": [world.draft_message.pk]},
        )
    assert snapshot() == before
    outcome = visits.amend_visit(
        actor=world.rep,
        visit=visit,
        reason="记录时把客户反馈写错了",
        changes={"feedback": "更正后的反馈", "duration_minutes": 45},
    )
    amendment = VisitAmendment.objects.get()
    assert outcome.amendment == amendment
    assert amendment.author == world.rep and amendment.reason == "记录时把客户反馈写错了"
    assert amendment.changes == {
        "feedback": {"old": "对新版指南很感兴趣", "new": "更正后的反馈"},
        "duration_minutes": {"old": 20, "new": 45},
    }
    visit.refresh_from_db()
    assert (visit.feedback, visit.duration_minutes) == ("更正后的反馈", 45)
    assert amendment.history.first().history_user == world.rep
    assert visit.history.first().history_user == world.rep


def test_manager_above_may_amend_colleague_may_not(world: World):
    visit = recorded(world, now=timezone.now() - dt.timedelta(days=5))
    visits.amend_visit(
        actor=world.personas.district_manager, visit=visit, reason="经理复核更正", changes={"notes": "更正"}
    )
    from django.http import Http404

    with pytest.raises(Http404):  # the colleague cannot even see it
        visits.amend_visit(actor=world.personas.colleague, visit=visit, reason="x", changes={"notes": "y"})


def test_amendment_with_adverse_event_words_raises_a_signal(world: World):
    visit = recorded(world, now=timezone.now() - dt.timedelta(days=5))
    outcome = visits.amend_visit(
        actor=world.rep, visit=visit, reason="补记患者反馈", changes={"notes": "患者用药后恶心"}
    )
    visit.refresh_from_db()
    assert visit.flagged_adverse_event and "恶心" in outcome.flags[0]
    assert SafetySignal.objects.get(visit=visit).terms == "恶心"
    # The same word again does not raise a second signal.
    visits.amend_visit(
        actor=world.rep, visit=visit, reason="补充", changes={"notes": "患者用药后恶心，已缓解"}
    )
    assert SafetySignal.objects.count() == 1
    assert ComplianceEvent.objects.filter(rule="adverse_event_watch").count() == 1


def test_coaching_by_the_co_visitor_only_with_scores_1_to_5(world: World):
    manager = world.personas.district_manager
    visit = recorded(world, now=timezone.now(), co_visitor_id=manager.pk)
    scores = {"preparation": 4, "messaging": 3, "listening": 5, "compliance": 5}
    before = snapshot()
    with pytest.raises(NotAllowed):
        visits.record_coaching(actor=world.personas.regional_manager, visit=visit, scores=scores)
    with pytest.raises(DomainError) as exc:
        visits.record_coaching(actor=manager, visit=visit, scores={**scores, "messaging": 6})
    assert "信息传递须为 1–5 分" in exc.value.message and set(exc.value.fields) == {"messaging"}
    assert snapshot() == before
    coaching = visits.record_coaching(
        actor=manager, visit=visit, scores=scores, strengths="准备充分", improvements="多问开放式问题"
    )
    assert Coaching.objects.get() == coaching and coaching.coach == manager
    assert (coaching.preparation, coaching.listening) == (4, 5)


def test_cancel_a_planned_visit_with_a_reason(world: World):
    planned = visits.plan_visit(
        actor=world.rep, institution=world.hospital, starts_at=at(world.yesterday, 9), objective="送资料"
    ).visit
    with pytest.raises(DomainError):
        visits.cancel_visit(actor=world.rep, visit=planned, reason="")
    visits.cancel_visit(actor=world.rep, visit=planned, reason="主任临时手术")
    planned.refresh_from_db()
    assert planned.status == Visit.Status.CANCELLED and planned.cancel_reason == "主任临时手术"
    with pytest.raises(Conflict):
        visits.record_visit(actor=world.rep, visit=planned, report=world.report())


def test_edit_that_leaves_the_reception_hours_is_flagged(world: World):
    ReceptionRuleFactory(
        institution=world.hospital, weekdays="2", start_time=dt.time(14), end_time=dt.time(16)
    )
    tuesday = last(2)
    visit = visits.record_visit(
        actor=world.rep,
        institution=world.hospital,
        starts_at=at(tuesday, 15),
        report=world.report(duration_minutes=30),
    ).visit
    assert not visit.flagged_reception
    outcome = visits.update_visit(actor=world.rep, visit=visit, report=world.report(duration_minutes=90))
    visit.refresh_from_db()
    assert visit.flagged_reception and "医院接待制度" in outcome.flags[0]
    assert ComplianceEvent.objects.filter(rule="reception_rules", subject=f"visit:{visit.pk}").count() == 1
