"""Planning and recording visits: what is written, what is refused (rule named, nothing written), what is flagged."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.http import Http404
from django.utils import timezone

from pharmacrm.compliance import policy
from pharmacrm.compliance.models import ComplianceEvent, RepRegistration
from pharmacrm.core.errors import DomainError, RuleViolation
from pharmacrm.customers.models import Need
from pharmacrm.engagement import visits
from pharmacrm.engagement.models import Callback, Channel, Commitment, Hospitality, SafetySignal, Visit
from pharmacrm.engagement.tests.factories import ReceptionRuleFactory
from pharmacrm.engagement.tests.visit_world import HOSPITAL_LAT, HOSPITAL_LON, World, at, last, snapshot
from pharmacrm.engagement.visits import CheckIn, CommitmentMade, HospitalityGiven, NeedFound

pytestmark = pytest.mark.django_db


def record(world: World, starts_at: dt.datetime | None = None, **report: object) -> visits.VisitOutcome:
    return visits.record_visit(
        actor=world.rep,
        institution=world.hospital,
        starts_at=starts_at or at(world.yesterday, 10),
        report=world.report(**report),
    )


def refused(exc_type: type[Exception], world: World, **kwargs: object) -> Exception:
    """Record with `kwargs`, expect `exc_type`, and check nothing was written."""
    before = snapshot()
    with pytest.raises(exc_type) as info:
        record(world, **kwargs)  # type: ignore[arg-type]
    assert snapshot() == before
    return info.value


# --- Recorded ------------------------------------------------------------------------------------------------


def test_unplanned_visit_recorded_with_everything(world: World):
    outcome = record(
        world,
        professional_ids=[world.doctor.pk, world.nurse.pk],
        needs=[NeedFound(world.doctor.pk, "想了解老年患者的剂量调整", kind=Need.Kind.CLINICAL)],
        commitments=[
            CommitmentMade(world.doctor.pk, "下周送指南解读", world.yesterday + dt.timedelta(days=7))
        ],
        hospitality=[HospitalityGiven(world.doctor.pk, "meal", Decimal("120"), attendees=2)],
        materials_given="指南单页 2 份",
        next_step="科室会",
    )
    visit = Visit.objects.get(pk=outcome.visit.pk)
    assert visit.status == Visit.Status.COMPLETED and not visit.was_planned
    assert visit.completed_at is not None
    assert set(visit.professionals.all()) == {world.doctor, world.nurse}
    assert list(visit.products.all()) == [world.product]
    assert list(visit.key_messages.all()) == [world.message]
    need = Need.objects.get(professional=world.doctor)
    assert need.found_on == world.yesterday and need.created_by == world.rep
    commitment = Commitment.objects.get()
    assert (commitment.visit, commitment.owner, commitment.professional) == (visit, world.rep, world.doctor)
    assert Hospitality.objects.get().amount_per_person == Decimal("120")
    # A key customer with a need found: a callback a week later, by rule.
    callback = Callback.objects.get()
    assert callback.reason == Callback.Reason.AFTER_VISIT
    assert callback.due_on == world.yesterday + dt.timedelta(days=7)
    assert callback.source == f"visit:{visit.pk}"
    assert outcome.flags == [] and outcome.warnings == []
    assert visit.history.first().history_user == world.rep


def test_planned_visit_completed(world: World):
    planned = visits.plan_visit(
        actor=world.rep,
        institution=world.hospital,
        starts_at=at(world.yesterday, 9),
        objective="介绍新适应症",
        professional_ids=[world.doctor.pk],
    ).visit
    outcome = visits.record_visit(actor=world.rep, visit=planned, report=world.report())
    visit = Visit.objects.get()
    assert outcome.visit.pk == visit.pk == planned.pk
    assert visit.status == Visit.Status.COMPLETED and visit.was_planned
    assert visit.objective == "介绍新适应症"


def test_plan_needs_an_objective_and_warns_outside_reception_rules(world: World):
    before = snapshot()
    with pytest.raises(DomainError) as exc:
        visits.plan_visit(
            actor=world.rep, institution=world.hospital, starts_at=at(world.yesterday, 9), objective=" "
        )
    assert "拜访目的" in exc.value.message and "objective" in exc.value.fields
    assert snapshot() == before
    ReceptionRuleFactory(institution=world.hospital, weekdays="2,4", place="药剂科会议室")
    monday = last(1) + dt.timedelta(days=7)
    outcome = visits.plan_visit(
        actor=world.rep, institution=world.hospital, starts_at=at(monday, 9), objective="药事会前沟通"
    )
    assert Visit.objects.filter(pk=outcome.visit.pk, status="planned").exists()
    assert len(outcome.warnings) == 1
    assert "周二、周四 14:00–16:00" in outcome.warnings[0] and "医院接待制度" in outcome.warnings[0]
    assert not outcome.visit.flagged_reception
    # Planned within the rules: no warning.
    tuesday = monday + dt.timedelta(days=1)
    ok = visits.plan_visit(
        actor=world.rep, institution=world.hospital, starts_at=at(tuesday, 14, 30), objective="x"
    )
    assert ok.warnings == []


# --- Refused, nothing written ----------------------------------------------------------------------------------


def test_future_visit_cannot_be_recorded_as_done(world: World):
    exc = refused(visits.VisitInFuture, world, starts_at=timezone.now() + dt.timedelta(hours=2))
    assert "只能记录已发生的拜访" in exc.message  # type: ignore[attr-defined]


def test_visit_outside_territory_is_not_found(world: World):
    before = snapshot()
    with pytest.raises(Http404):
        visits.record_visit(
            actor=world.rep,
            institution=world.outside_hospital,
            starts_at=at(world.yesterday, 10),
            report=world.report(professional_ids=[]),
        )
    assert snapshot() == before


def test_overlapping_visits_refused(world: World):
    record(world, starts_at=at(world.yesterday, 10), duration_minutes=30)
    exc = refused(visits.VisitOverlap, world, starts_at=at(world.yesterday, 10, 15))
    assert "同一代表的拜访不能重叠" in exc.message  # type: ignore[attr-defined]
    assert "协和医院" in exc.message  # type: ignore[attr-defined]
    # Back to back is fine.
    record(world, starts_at=at(world.yesterday, 10, 30), duration_minutes=10)


def test_unregistered_or_expired_rep_refused(world: World):
    RepRegistration.objects.filter(user=world.rep).update(expires_on=world.yesterday - dt.timedelta(days=1))
    exc = refused(RuleViolation, world)
    assert exc.rule == "rep_must_be_registered"  # type: ignore[attr-defined]
    assert "医药代表须备案" in str(exc)
    # The refusal itself reaches compliance once the request ends.
    assert policy.flush_events() == 1
    assert ComplianceEvent.objects.filter(kind="refused", rule="rep_must_be_registered").exists()


@pytest.mark.parametrize("channel", [Channel.PHONE, Channel.WECHAT, Channel.EMAIL, Channel.ONLINE_MEETING])
def test_remote_channel_needs_consent_for_that_channel(world: World, channel: str):
    exc = refused(RuleViolation, world, channel=channel)
    assert exc.rule == "consent_required_for_contact"  # type: ignore[attr-defined]
    assert "张医生" in str(exc) and "联系须有个人信息处理依据" in str(exc)
    assert "channel" in exc.fields  # type: ignore[attr-defined]
    world.consent(world.doctor, channel)
    assert record(world, channel=channel).visit.channel == channel


def test_consent_for_another_channel_does_not_count(world: World):
    world.consent(world.doctor, Channel.EMAIL)
    refused(RuleViolation, world, channel=Channel.WECHAT)


@pytest.mark.parametrize(
    ("kind", "amount", "rule", "words"),
    [
        ("meal", "301", "meal_cap_per_person", "工作餐人均上限"),
        ("cash", "100", "forbidden_gift_kinds", "禁止现金、卡券、礼品与娱乐"),
        ("card", "200", "forbidden_gift_kinds", "购物卡/礼品卡"),
        ("gift", "50", "forbidden_gift_kinds", "个人礼品"),
        ("entertainment", "0", "forbidden_gift_kinds", "娱乐活动"),
    ],
)
def test_hospitality_over_cap_or_forbidden_refused_with_rule_quoted(world: World, kind, amount, rule, words):
    exc = refused(
        RuleViolation, world, hospitality=[HospitalityGiven(world.doctor.pk, kind, Decimal(amount))]
    )
    assert exc.rule == rule
    assert words in str(exc) and "依据" in str(exc)
    assert exc.fields["hospitality"]


def test_commitment_without_due_date_refused(world: World):
    exc = refused(DomainError, world, commitments=[CommitmentMade(world.doctor.pk, "送文献", None)])
    assert "截止日期" in str(exc) and "commitments" in exc.fields  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("attr", "words"),
    [
        ("draft_message", "未经审批"),
        ("expired_message", "不在有效期内"),
        ("other_message", "请先选择该产品"),
    ],
)
def test_only_approved_valid_key_messages_for_chosen_products(world: World, attr: str, words: str):
    exc = refused(DomainError, world, key_message_ids=[getattr(world, attr).pk])
    assert words in str(exc) and "key_messages" in exc.fields  # type: ignore[attr-defined]


def test_professionals_must_belong_to_the_institution(world: World):
    exc = refused(DomainError, world, professional_ids=[world.doctor.pk, world.stranger.pk])
    assert "赵医生 不属于协和医院" in str(exc)
    refused(DomainError, world, professional_ids=[])


def test_co_visitor_must_be_a_manager_above(world: World):
    p = world.personas
    for wrong in (p.colleague, p.other_manager):
        exc = refused(DomainError, world, co_visitor_id=wrong.pk)
        assert "上级经理" in str(exc)
    visit = record(world, co_visitor_id=p.district_manager.pk).visit
    assert visit.co_visitor == p.district_manager


# --- Written and flagged -------------------------------------------------------------------------------------------


def test_far_check_in_is_written_flagged_and_told(world: World):
    world.location_consent()
    far = CheckIn(
        at=at(world.yesterday, 10, 2), latitude=HOSPITAL_LAT + Decimal("0.45"), longitude=HOSPITAL_LON
    )
    outcome = record(world, check_in=far)
    visit = Visit.objects.get()
    assert visit.flagged_distance and visit.check_in_latitude is not None
    assert 49_000 < visit.check_in_distance_m < 51_000  # about 50 km
    assert len(outcome.flags) == 1 and "超过 1,000 米" in outcome.flags[0]
    assert "签到距离" in visit.flag_reasons["distance"]
    event = ComplianceEvent.objects.get(kind="flagged")
    assert (event.rule, event.actor, event.subject) == ("check_in_distance", world.rep, f"visit:{visit.pk}")


def test_near_check_in_not_flagged_and_distance_configurable(world: World, settings):
    world.location_consent()
    near = CheckIn(
        at=at(world.yesterday, 10), latitude=HOSPITAL_LAT + Decimal("0.005"), longitude=HOSPITAL_LON
    )
    visit = record(world, check_in=near).visit
    assert not visit.flagged_distance and 500 < visit.check_in_distance_m < 600
    settings.ENGAGEMENT_CHECK_IN_MAX_DISTANCE_M = 300
    outcome = record(world, starts_at=at(world.yesterday, 15), check_in=near)
    assert outcome.visit.flagged_distance and "超过 300 米" in outcome.flags[0]


def test_check_in_without_location_consent_keeps_only_the_time(world: World):
    far = CheckIn(at=at(world.yesterday, 10), latitude=HOSPITAL_LAT + Decimal("0.45"), longitude=HOSPITAL_LON)
    outcome = record(world, check_in=far)
    visit = Visit.objects.get()
    assert visit.check_in_at == at(world.yesterday, 10)
    assert visit.check_in_latitude is None and visit.check_in_distance_m is None
    assert not visit.flagged_distance
    assert "个人信息保护法" in outcome.notices[0]
    # Withdrawn consent counts as none.
    world.location_consent().__class__.objects.update(withdrawn_at=timezone.now() - dt.timedelta(days=2))
    assert record(world, starts_at=at(world.yesterday, 15), check_in=far).visit.check_in_latitude is None


def test_in_person_visit_outside_reception_rules_flagged(world: World):
    ReceptionRuleFactory(
        institution=world.hospital, weekdays="2", start_time=dt.time(14), end_time=dt.time(16)
    )
    outcome = record(world, starts_at=at(last(3), 10))  # a Wednesday morning
    visit = outcome.visit
    assert visit.flagged_reception and "医院接待制度" in outcome.flags[0]
    assert ComplianceEvent.objects.filter(
        kind="flagged", rule="reception_rules", subject=f"visit:{visit.pk}"
    ).exists()
    # Inside the rules, or by phone with consent: no flag.
    assert not record(world, starts_at=at(last(2), 14, 30)).visit.flagged_reception
    world.consent(world.doctor, Channel.PHONE)
    assert not record(world, starts_at=at(last(3), 11), channel=Channel.PHONE).visit.flagged_reception


def test_adverse_event_words_raise_a_signal_in_the_same_request(world: World):
    outcome = record(world, feedback="有患者服药后出现皮疹和轻微头晕", notes="")
    visit = Visit.objects.get()
    assert visit.flagged_adverse_event
    signal = SafetySignal.objects.get(visit=visit)
    assert signal.terms == "皮疹、头晕" and "出现皮疹" in signal.excerpt
    assert signal.status == SafetySignal.Status.NEW
    assert "皮疹、头晕" in outcome.flags[0] and "不良事件监测" in outcome.flags[0]
    assert ComplianceEvent.objects.filter(kind="flagged", rule="adverse_event_watch").count() == 1


def test_clean_visit_raises_no_signal(world: World):
    record(world)
    assert not SafetySignal.objects.exists()
    assert not ComplianceEvent.objects.exists()
