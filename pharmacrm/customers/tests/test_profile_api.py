"""The customer write API: the one error shape, unknown fields refused, visibility, and flat list queries."""

import pytest
from django.test import Client

from pharmacrm.core.tests.query_counts import assert_flat_query_count
from pharmacrm.customers.models import Institution, Professional
from pharmacrm.customers.tests.factories import (
    DepartmentFactory,
    InstitutionFactory,
    PlanFactory,
    ProfessionalFactory,
)

pytestmark = pytest.mark.django_db


def api(user):
    client = Client()
    client.force_login(user)
    return client


def post(client, url, data):
    return client.post(url, data, content_type="application/json")


def patch(client, url, data):
    return client.patch(url, data, content_type="application/json")


def test_create_and_update_an_institution(personas):
    client = api(personas.owner)
    created = post(
        client,
        "/api/v1/institutions",
        {
            "name": "北京天坛医院",
            "kind": "hospital",
            "grade": "3a",
            "province_code": "11",
            "city_code": "1101",
            "territory_id": personas.own_territory.pk,
        },
    )
    assert created.status_code == 201, created.json()
    pk = created.json()["id"]
    refused = patch(client, f"/api/v1/institutions/{pk}", {"kind": "pharmacy"})
    assert refused.status_code == 400
    assert refused.json() == {
        "error": {
            "code": "invalid",
            "message": "只有医院有等级：药房“北京天坛医院”不能设为“三级甲等”。",
            "fields": {"grade": ["只有医院有等级：药房“北京天坛医院”不能设为“三级甲等”。"]},
        }
    }
    assert Institution.objects.get(pk=pk).kind == "hospital"
    ok = patch(client, f"/api/v1/institutions/{pk}", {"kind": "pharmacy", "grade": "none"})
    assert ok.status_code == 200 and ok.json()["kind"] == "pharmacy"


def test_unknown_fields_are_refused(personas):
    hospital = InstitutionFactory(territory=personas.own_territory)
    response = post(
        api(personas.owner),
        "/api/v1/professionals",
        {"name": "张伟", "role": "physician", "institution_id": hospital.pk, "prescription_count": 20},
    )
    assert response.status_code == 422
    assert response.json()["error"]["fields"] == {"prescription_count": ["不允许的字段。"]}
    assert not Professional.objects.exists()


def test_professional_profile_parts_through_the_api(personas):
    hospital = InstitutionFactory(territory=personas.own_territory)
    dept = DepartmentFactory(institution=hospital, name="心内科")
    client = api(personas.owner)
    created = post(
        client,
        "/api/v1/professionals",
        {
            "name": "张伟",
            "role": "physician",
            "institution_id": hospital.pk,
            "department_id": dept.pk,
            "mobile": "13812345678",
        },
    )
    assert created.status_code == 201
    pk = created.json()["id"]
    assert created.json()["mobile"] == "13812345678"
    need = post(
        client, f"/api/v1/professionals/{pk}/needs", {"kind": "academic", "description": "想了解心衰指南"}
    )
    assert need.status_code == 201
    met = patch(client, f"/api/v1/needs/{need.json()['id']}", {"status": "met"})
    assert met.json()["met"] is True
    kd = post(
        client,
        f"/api/v1/professionals/{pk}/key-dates",
        {"kind": "birthday", "month": 3, "day": 8, "shared_by_customer": True},
    )
    assert kd.status_code == 201
    confirmed = post(client, f"/api/v1/professionals/{pk}/confirm", {})
    assert "key_dates" in confirmed.json()["confirmed"]
    assert client.get(f"/api/v1/professionals/{pk}/segments").json()[0]["explanation"]
    affiliations = client.get(f"/api/v1/professionals/{pk}/affiliations").json()
    assert [a["is_primary"] for a in affiliations] == [True]
    profile = client.get(f"/api/v1/professionals/{pk}/profile").json()
    assert profile["completeness"] > 0 and profile["department_id"] == dept.pk


def test_plans_through_the_api(personas):
    doctor = ProfessionalFactory(institution=InstitutionFactory(territory=personas.own_territory))
    client = api(personas.owner)
    plan = post(
        client, "/api/v1/plans", {"title": "推动科室会", "professional_id": doctor.pk, "due_on": "2099-12-31"}
    )
    assert plan.status_code == 201 and plan.json()["owner_id"] == personas.owner.pk
    both = post(
        client,
        "/api/v1/plans",
        {"title": "x", "professional_id": doctor.pk, "institution_id": doctor.institution_id},
    )
    assert both.status_code == 400
    step = post(
        client, f"/api/v1/plans/{plan.json()['id']}/steps", {"title": "约科主任", "due_on": "2099-06-01"}
    )
    assert step.status_code == 201
    done = patch(client, f"/api/v1/plan-steps/{step.json()['id']}", {"done_on": "2026-01-02"})
    assert done.json()["done_on"] == "2026-01-02"
    finished = patch(client, f"/api/v1/plans/{plan.json()['id']}", {"status": "done"})
    assert finished.json()["status"] == "done"
    # A colleague's owner is refused: they cannot see the customer.
    other = patch(client, f"/api/v1/plans/{plan.json()['id']}", {"owner_id": personas.colleague.pk})
    assert other.status_code == 400 and "owner" in other.json()["error"]["fields"]


def test_professional_list_filters_match_the_page(personas):
    hospital = InstitutionFactory(territory=personas.own_territory)
    ProfessionalFactory(
        institution=hospital,
        role="physician",
        department=DepartmentFactory(institution=hospital, name="心内科"),
    )
    ProfessionalFactory(institution=hospital, role="head_nurse")
    client = api(personas.owner)
    assert len(client.get("/api/v1/professionals", {"role": "head_nurse"}).json()["results"]) == 1
    assert len(client.get("/api/v1/professionals", {"department": "心内"}).json()["results"]) == 1


def test_plan_list_query_count(personas, django_assert_max_num_queries):
    client = api(personas.owner)
    assert_flat_query_count(
        django_assert_max_num_queries,
        fetch=lambda: client.get("/api/v1/plans"),
        add_rows=lambda n: [
            PlanFactory(
                professional=ProfessionalFactory(
                    institution=InstitutionFactory(territory=personas.own_territory)
                ),
                owner=personas.owner,
            )
            for _ in range(n)
        ],
        pinned=6,
    )
