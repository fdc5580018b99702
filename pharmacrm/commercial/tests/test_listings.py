"""The listing pipeline (进院): stages in order, dates in order, going back only with a reason."""

import datetime as dt

import pytest
from django.http import Http404
from django.test import Client
from django.urls import reverse

from pharmacrm.commercial import services
from pharmacrm.commercial.models import Listing
from pharmacrm.commercial.tests.factories import ListingFactory, ProductFactory
from pharmacrm.core.errors import Conflict, DomainError, NotAllowed
from pharmacrm.core.models import Role
from pharmacrm.core.tests.factories import UserFactory
from pharmacrm.core.tests.query_counts import assert_flat_query_count
from pharmacrm.customers.tests.factories import InstitutionFactory, ProfessionalFactory

pytestmark = pytest.mark.django_db

D = dt.date


@pytest.fixture
def hospital(personas):
    return InstitutionFactory(name="北京协和医院", territory=personas.own_territory)


@pytest.fixture
def listing(personas, hospital):
    return services.open_listing(
        actor=personas.owner, institution=hospital, product=ProductFactory(), intro_on=D(2026, 1, 5)
    )


def unchanged(listing):
    before = (Listing.objects.values().get(pk=listing.pk), Listing.history.count())
    return lambda: (Listing.objects.values().get(pk=listing.pk), Listing.history.count()) == before


def test_the_whole_pipeline(personas, listing):
    for stage, day in [
        ("submitted", D(2026, 2, 1)),
        ("approved", D(2026, 3, 1)),
        ("first_purchase", D(2026, 3, 20)),
    ]:
        listing = services.move_listing(actor=personas.owner, listing=listing, stage=stage, on=day)
    assert (listing.intro_on, listing.submitted_on, listing.decided_on, listing.first_purchase_on) == (
        D(2026, 1, 5),
        D(2026, 2, 1),
        D(2026, 3, 1),
        D(2026, 3, 20),
    )
    assert listing.history.first().history_user == personas.owner


def test_skipping_ahead_is_refused(personas, listing):
    same = unchanged(listing)
    with pytest.raises(DomainError) as exc:
        services.move_listing(actor=personas.owner, listing=listing, stage="first_purchase")
    assert exc.value.message == "不能从“产品介绍”直接到“首次采购”。下一步可以是：已提交药事会、临采。"
    assert same()


def test_dates_must_be_in_order(personas, listing):
    same = unchanged(listing)
    with pytest.raises(DomainError) as exc:
        services.move_listing(actor=personas.owner, listing=listing, stage="submitted", on=D(2026, 1, 1))
    assert exc.value.message == "提交药事会日期（2026-01-01）不能早于介绍日期（2026-01-05）。"
    with pytest.raises(DomainError) as exc:
        services.move_listing(actor=personas.owner, listing=listing, stage="submitted", on=D(2999, 1, 1))
    assert "不能晚于今天" in exc.value.message
    assert same()


def test_going_back_needs_a_reason_and_clears_later_dates(personas, listing):
    services.move_listing(actor=personas.owner, listing=listing, stage="submitted", on=D(2026, 2, 1))
    listing = services.move_listing(actor=personas.owner, listing=listing, stage="rejected", on=D(2026, 3, 1))
    same = unchanged(listing)
    with pytest.raises(DomainError) as exc:
        services.move_listing(actor=personas.owner, listing=listing, stage="submitted", on=D(2026, 4, 1))
    assert exc.value.message == "从“药事会未通过”退回到“已提交药事会”须说明原因。"
    assert same()
    listing = services.move_listing(
        actor=personas.owner,
        listing=listing,
        stage="submitted",
        on=D(2026, 4, 1),
        reason="补充真实世界证据后重新提交",
    )
    assert (listing.stage, listing.submitted_on, listing.decided_on) == ("submitted", D(2026, 4, 1), None)
    assert listing.history.first().history_change_reason == "补充真实世界证据后重新提交"
    assert "补充真实世界证据后重新提交" in listing.notes


def test_urgent_purchase_then_committee(personas, listing):
    listing = services.move_listing(
        actor=personas.owner, listing=listing, stage="urgent_purchase", on=D(2026, 1, 20)
    )
    with pytest.raises(DomainError) as exc:
        services.move_listing(actor=personas.owner, listing=listing, stage="approved", on=D(2026, 2, 1))
    assert exc.value.message == "药事会结果须在提交药事会之后记录。"
    listing = services.move_listing(
        actor=personas.owner, listing=listing, stage="submitted", on=D(2026, 2, 1)
    )
    listing = services.move_listing(actor=personas.owner, listing=listing, stage="approved", on=D(2026, 3, 1))
    assert (listing.urgent_purchase_on, listing.stage) == (D(2026, 1, 20), "approved")


def test_only_hospitals_and_clinics_and_one_listing_per_product(personas, hospital, listing):
    pharmacy = InstitutionFactory(kind="pharmacy", grade="none", territory=personas.own_territory)
    with pytest.raises(DomainError) as exc:
        services.open_listing(actor=personas.owner, institution=pharmacy, product=listing.product)
    assert "进院只适用于医院和基层医疗机构" in exc.value.message
    with pytest.raises(Conflict):
        services.open_listing(actor=personas.owner, institution=hospital, product=listing.product)


def test_who_may_move(personas, listing):
    with pytest.raises(NotAllowed):
        services.move_listing(actor=UserFactory(roles=[Role.SERVICE]), listing=listing, stage="submitted")
    with pytest.raises(Http404):
        services.move_listing(actor=personas.colleague, listing=listing, stage="submitted")
    services.move_listing(actor=personas.district_manager, listing=listing, stage="submitted")


def test_api_and_pages(personas, hospital):
    product = ProductFactory()
    client = Client()
    client.force_login(personas.owner)
    created = client.post(
        "/api/v1/listings",
        {"institution_id": hospital.pk, "product_id": product.pk},
        content_type="application/json",
    )
    assert created.status_code == 201
    pk = created.json()["id"]
    bad = client.post(f"/api/v1/listings/{pk}/stage", {"stage": "approved"}, content_type="application/json")
    assert bad.status_code == 400 and bad.json()["error"]["fields"] == {
        "stage": [bad.json()["error"]["message"]]
    }
    unknown = client.post(
        f"/api/v1/listings/{pk}/stage", {"stage": "submitted", "x": 1}, content_type="application/json"
    )
    assert unknown.status_code == 422
    ok = client.post(f"/api/v1/listings/{pk}/stage", {"stage": "submitted"}, content_type="application/json")
    assert ok.json()["stage"] == "submitted"
    page = client.get(reverse("commercial:listing_detail", args=[pk])).content.decode()
    assert "已提交药事会" in page and "药事会通过" in page  # the next steps
    moved = client.post(reverse("commercial:listing_move", args=[pk]), {"move-stage": "approved"})
    assert moved.status_code == 302
    assert "进院" in client.get(hospital.get_absolute_url()).content.decode()


def test_listing_changes_appear_in_the_professionals_timeline(personas, hospital, listing):
    services.move_listing(actor=personas.owner, listing=listing, stage="submitted", on=D(2026, 2, 1))
    doctor = ProfessionalFactory(institution=hospital)
    client = Client()
    client.force_login(personas.owner)
    html = client.get(doctor.get_absolute_url()).content.decode()
    assert "开始进院" in html and "进院阶段" in html


def test_listing_list_query_count(personas, hospital, django_assert_max_num_queries):
    client = Client()
    client.force_login(personas.owner)
    assert_flat_query_count(
        django_assert_max_num_queries,
        fetch=lambda: client.get(reverse("commercial:listing_list")),
        add_rows=lambda n: [
            ListingFactory(
                institution=InstitutionFactory(territory=personas.own_territory), owner=personas.owner
            )
            for _ in range(n)
        ],
        pinned=8,
    )
