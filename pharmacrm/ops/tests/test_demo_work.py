"""The demo's work at tiny scale: filings, consents, explained tiers, profiles to complete, a year of visits."""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
import re
from collections import defaultdict
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from pharmacrm.compliance.models import Consent, RepRegistration
from pharmacrm.compliance.policy import registration_valid
from pharmacrm.core.models import Role, TerritoryAssignment, User
from pharmacrm.customers import quality
from pharmacrm.customers.models import KeyDate, Need, Professional, Segment
from pharmacrm.engagement import calendar_cn
from pharmacrm.engagement.models import Callback, CareReminder, Commitment, Visit
from pharmacrm.engagement.visits import VisitReport, record_visit
from pharmacrm.ops.demo.loader import load_demo
from pharmacrm.ops.demo.scales import SCALES

pytestmark = pytest.mark.django_db

SHANGHAI = dt.timezone(dt.timedelta(hours=8))


@pytest.fixture
def tiny() -> None:
    call_command("demo", "--scale", "tiny", stdout=StringIO())


def test_every_rep_has_a_registration_and_rep1_may_record_a_visit(tiny: None) -> None:
    reps = User.objects.filter(role_rows__role=Role.REP)
    assert set(RepRegistration.objects.values_list("user", flat=True)) == set(
        reps.values_list("pk", flat=True)
    )
    today = timezone.localdate()
    rep1 = User.objects.get(username="rep1")
    registration = RepRegistration.objects.get(user=rep1)
    assert registration.status == RepRegistration.Status.FILED and registration.number
    assert registration_valid(rep1, on=today)
    assert registration.expires_on is not None and registration.expires_on > today + dt.timedelta(days=30)
    # Every past visit was made while its rep was filed.
    first = Visit.objects.filter(owner=rep1).order_by("starts_at").first()
    assert first is not None and registration_valid(rep1, on=timezone.localdate(first.starts_at))

    planned = Visit.objects.filter(owner=rep1, status=Visit.Status.PLANNED).order_by("starts_at").first()
    assert planned is not None
    report = VisitReport(
        professional_ids=list(planned.professionals.values_list("pk", flat=True)),
        product_ids=list(planned.products.values_list("pk", flat=True)),
        feedback="认可",
        duration_minutes=planned.duration_minutes,
    )
    outcome = record_visit(
        actor=rep1, report=report, visit=planned, now=planned.ends_at + dt.timedelta(hours=1)
    )
    assert outcome.visit.status == Visit.Status.COMPLETED


def test_tiers_come_with_explanations(tiny: None) -> None:
    people = Professional.objects.count()
    segments = Segment.objects.filter(dimension="tier").select_related("professional", "rule")
    assert segments.count() == people
    for segment in segments:
        assert segment.rule is not None and segment.explanation, segment.pk
        assert "→" in segment.explanation
        assert segment.professional.tier == segment.value
    assert Professional.objects.filter(tier=Professional.Tier.KEY).exists()


def test_profiles_are_mostly_filled_and_some_need_work(tiny: None) -> None:
    people = Professional.objects.all()
    total = people.count()
    filled = people.exclude(preferred_channel="").exclude(current_concerns="").count()
    assert filled > total * 0.5
    assert people.filter(completeness__gte=80).count() > total * 0.4
    assert people.filter(completeness__lt=50).exists(), "some profiles are barely started"
    assert people.filter(stale_count__gt=0).exists(), "some profiles went stale"
    rep1 = User.objects.get(username="rep1")
    assert quality.to_fill(user=rep1).exists(), "rep1's 待完善档案 list has work in it"
    # Stored scores agree with a fresh assessment.
    assert quality.refresh_all_profile_quality() == 0
    # Prescribing habits are qualitative: no counts.
    for habits in people.exclude(prescribing_habits="").values_list("prescribing_habits", flat=True):
        assert not re.search(r"\d", habits), habits
    assert KeyDate.objects.exists() and not KeyDate.objects.filter(shared_by_customer=False).exists()
    assert Need.objects.filter(met=False).exists() and Need.objects.filter(met=True).exists()


def test_consents_are_for_contact_on_a_channel_or_two(tiny: None) -> None:
    assert Consent.objects.exists()
    assert set(Consent.objects.values_list("purpose", flat=True)) == {"contact"}
    assert set(Consent.objects.values_list("source", flat=True)) <= {"paper", "electronic"}
    per_person = defaultdict(int)
    for professional_id in Consent.objects.values_list("professional_id", flat=True):
        per_person[professional_id] += 1
    assert max(per_person.values()) <= 2


def test_rep1_visits_only_in_rep1_territories(tiny: None) -> None:
    rep1 = User.objects.get(username="rep1")
    territories = set(TerritoryAssignment.objects.filter(user=rep1).values_list("territory", flat=True))
    visits = Visit.objects.filter(owner=rep1)
    assert visits.filter(status=Visit.Status.COMPLETED).count() > 100
    assert visits.filter(status=Visit.Status.PLANNED).exists()
    assert set(visits.values_list("institution__territory", flat=True)) <= territories
    # The people seen work at the visited institution.
    for visit in visits.prefetch_related("professionals")[:200]:
        people = list(visit.professionals.all())
        assert people and all(p.institution_id == visit.institution_id for p in people)


def test_visits_never_overlap_and_keep_working_hours(tiny: None) -> None:
    today = timezone.localdate()
    by_owner: dict[int, list[Visit]] = defaultdict(list)
    for visit in Visit.objects.order_by("owner", "starts_at"):
        by_owner[visit.owner_id].append(visit)
        local = visit.starts_at.astimezone(SHANGHAI)
        assert calendar_cn.is_working_day(local.date()), visit.starts_at
        assert dt.time(8, 30) <= local.time() and visit.ends_at.astimezone(SHANGHAI).time() <= dt.time(17, 30)
        if visit.status == Visit.Status.COMPLETED:
            assert local.date() < today
            assert visit.completed_at is not None and visit.completed_at >= visit.ends_at
        else:
            assert today < local.date() <= today + dt.timedelta(days=14)
    assert len(by_owner) >= 5
    for visits in by_owner.values():
        for before, after in itertools.pairwise(visits):
            assert before.ends_at <= after.starts_at, (before.pk, after.pk)


def test_remote_visits_only_with_consent(tiny: None) -> None:
    remote = Visit.objects.exclude(channel="in_person").prefetch_related("professionals")
    assert remote.exists()
    assert Visit.objects.filter(channel="in_person").count() > remote.count() * 3
    for visit in remote:
        day = timezone.localdate(visit.starts_at)
        for person in visit.professionals.all():
            assert Consent.objects.filter(
                professional=person, purpose="contact", channel=visit.channel, given_on__lte=day
            ).exists()


def test_follow_ups(tiny: None) -> None:
    today = timezone.localdate()
    commitments = Commitment.objects.all()
    assert commitments.filter(status=Commitment.Status.DONE).count() > commitments.count() / 2
    assert not commitments.filter(status=Commitment.Status.DONE, how_kept="").exists()
    assert commitments.filter(status=Commitment.Status.OPEN, due_on__gte=today).exists()
    assert commitments.filter(status=Commitment.Status.OPEN, due_on__lt=today).exists(), "a few are overdue"
    assert Callback.objects.filter(status=Callback.Status.DONE).exists()
    assert CareReminder.objects.exists()


def _visits() -> list[tuple[object, ...]]:
    return list(
        Visit.objects.order_by("owner__username", "starts_at").values_list(
            "owner__username",
            "institution__external_id",
            "starts_at",
            "duration_minutes",
            "channel",
            "status",
        )
    )


def test_same_seed_gives_the_same_visits() -> None:
    call_command("demo", "--scale", "tiny", "--seed", "7", stdout=StringIO())
    first = _visits()
    call_command("demo", "--scale", "tiny", "--seed", "7", "--reset", stdout=StringIO())
    assert _visits() == first


def test_the_big_scales_skip_visits_and_write_segments_without_history() -> None:
    scale = dataclasses.replace(SCALES["tiny"], history=False, visits=False)
    summary = load_demo(scale=scale, seed=7, today=timezone.localdate())
    assert summary.counts["visits"] == 0 and not Visit.objects.exists()
    assert Segment.objects.count() == Professional.objects.count()
    assert not Segment.objects.filter(explanation="").exists()
    assert not Segment.history.exists()
    assert RepRegistration.objects.exists() and Consent.objects.exists()
