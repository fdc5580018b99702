"""Profile quality: weighted completeness per role, staleness from confirmation dates, the "to fill" list."""

import datetime as dt

import pytest
from django.test import Client
from django.urls import reverse

from pharmacrm.customers import quality, services
from pharmacrm.customers.models import Professional, ProfileRequirement
from pharmacrm.customers.tests.factories import InstitutionFactory, KeyDateFactory, ProfessionalFactory

pytestmark = pytest.mark.django_db

TODAY = dt.date(2026, 6, 30)


@pytest.fixture
def requirements():
    ProfileRequirement.objects.filter(role="procurement").delete()
    ProfileRequirement.objects.create(
        role="procurement", field="preferred_channel", weight=1, stale_after_months=12
    )
    ProfileRequirement.objects.create(
        role="procurement", field="current_concerns", weight=3, stale_after_months=6
    )
    ProfileRequirement.objects.create(role="procurement", field="key_dates", weight=1, stale_after_months=24)
    ProfileRequirement.objects.create(
        role="procurement", field="product_attitude", weight=1, stale_after_months=6
    )
    return list(ProfileRequirement.objects.filter(role="procurement"))


def test_completeness_is_weighted_and_names_what_is_missing(requirements):
    p = Professional(
        role="procurement",
        current_concerns="带量采购续约",
        confirmed_fields={"current_concerns": "2026-06-01"},
    )
    q = quality.assess(p, requirements=requirements, key_dates=0, needs=0, today=TODAY)
    assert q.completeness == 50  # 3 of 6
    assert [g.field for g in q.missing] == ["key_dates", "preferred_channel", "product_attitude"]
    assert [g.label for g in q.missing] == ["重要纪念日", "偏好沟通方式", "对我司产品的态度"]
    assert q.stale == []


def test_a_default_value_counts_once_confirmed(requirements):
    p = Professional(role="procurement", confirmed_fields={"product_attitude": "2026-06-01"})
    q = quality.assess(p, requirements=requirements, key_dates=1, needs=0, today=TODAY)
    assert "product_attitude" not in [g.field for g in q.missing]


def test_staleness_follows_each_requirements_window(requirements):
    p = Professional(
        role="procurement",
        preferred_channel="wechat",
        current_concerns="带量采购续约",
        confirmed_fields={"preferred_channel": "2025-07-01", "current_concerns": "2025-12-29"},
    )
    q = quality.assess(p, requirements=requirements, key_dates=1, needs=0, today=TODAY)
    stale = {g.field: g.confirmed_on for g in q.stale}
    # preferred_channel: 12 months, confirmed within → fresh; current_concerns: 6 months → stale;
    # key dates: filled but never confirmed → stale.
    assert stale == {"current_concerns": dt.date(2025, 12, 29), "key_dates": None}
    assert q.stale_count == 2


def test_no_requirements_means_complete():
    q = quality.assess(Professional(role="physician"), requirements=[], key_dates=0, needs=0, today=TODAY)
    assert (q.completeness, q.missing, q.stale) == (100, [], [])


def test_writes_keep_the_stored_score_current(personas):
    hospital = InstitutionFactory(territory=personas.own_territory)
    p = services.create_professional(
        actor=personas.owner, name="赵敏", role="physician", institution=hospital
    )
    start = p.completeness
    services.add_key_date(
        actor=personas.owner, professional=p, kind="birthday", month=5, day=1, shared_by_customer=True
    )
    services.create_need(
        actor=personas.owner, professional=p, kind="academic", description="想参加心衰学术会议"
    )
    p.refresh_from_db()
    # The physician defaults weigh 16 in all; key dates count 1 and needs 2.
    assert (start, p.completeness) == (0, 3 * 100 // 16)


def test_to_fill_lists_only_visible_incomplete_profiles_least_complete_first(personas):
    own = InstitutionFactory(territory=personas.own_territory)
    empty = ProfessionalFactory(institution=own, name="甲", completeness=10)
    half = ProfessionalFactory(institution=own, name="乙", completeness=50, stale_count=1)
    stale = ProfessionalFactory(institution=own, name="丙", completeness=100, stale_count=2)
    ProfessionalFactory(institution=own, name="丁", completeness=100, stale_count=0)
    ProfessionalFactory(
        institution=InstitutionFactory(territory=personas.colleague_territory), completeness=0
    )
    assert list(quality.to_fill(user=personas.owner)) == [empty, half, stale]


def test_refresh_all_profile_quality_recomputes_the_stored_scores(personas):
    p = ProfessionalFactory(
        institution=InstitutionFactory(territory=personas.own_territory), completeness=100
    )
    KeyDateFactory(professional=p)
    assert quality.refresh_all_profile_quality(batch_size=1) >= 1
    p.refresh_from_db()
    assert p.completeness < 100 and p.stale_count >= 1


def test_to_fill_page_shows_missing_field_names(personas):
    p = ProfessionalFactory(institution=InstitutionFactory(territory=personas.own_territory), name="钱医生")
    client = Client()
    client.force_login(personas.owner)
    html = client.get(reverse("customers:to_fill")).content.decode()
    assert "钱医生" in html and "近期关注点" in html and "需求" in html
    assert p.get_absolute_url() in html
