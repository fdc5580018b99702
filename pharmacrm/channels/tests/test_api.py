"""The channels API: cursor-paginated lists, create, the review workflow, the one error shape."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from pharmacrm.channels.models import Agreement, ChannelReview
from pharmacrm.channels.tests.factories import (
    AgreementFactory,
    ContactFactory,
    PartnerFactory,
    division,
    standard_scorecard,
)
from pharmacrm.commercial.tests.factories import ProductFactory
from pharmacrm.core.testing import Personas

pytestmark = pytest.mark.django_db


def _client(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _post(client: Client, url: str, body: dict[str, Any], method: str = "post") -> Any:
    return getattr(client, method)(url, data=json.dumps(body), content_type="application/json")


def _partner(p: Personas) -> Any:
    return PartnerFactory(institution__territory=p.own_territory, org_unit=p.team_n1a)


def test_partner_list_is_scoped_and_cursor_paginated(
    personas: Personas, django_assert_max_num_queries: Any
) -> None:
    mine = [_partner(personas) for _ in range(3)]
    PartnerFactory(institution__territory=personas.outside_territory, org_unit=personas.team_s1a)
    client = _client(personas.owner)
    with django_assert_max_num_queries(6):
        body = client.get("/api/v1/channels/partners").json()
    assert sorted(r["code"] for r in body["results"]) == sorted(p.code for p in mine)
    assert {"next", "previous", "results"} <= set(body)


def test_create_agreement_then_overlap_refused_with_the_error_shape(personas: Personas) -> None:
    partner = _partner(personas)
    division("11")
    product: Any = ProductFactory()
    client = _client(personas.owner)
    payload = {
        "partner_id": partner.pk,
        "code": "API-1",
        "start": "2026-01-01",
        "end": "2026-12-31",
        "regions": ["11"],
        "products": [product.pk],
        "targets": [{"year": 2026, "quarter": 1, "amount": "1000000"}],
        "rebate_tiers": [{"threshold": "100", "rate": "2"}],
        "status": "active",
    }
    response = _post(client, "/api/v1/channels/agreements", payload)
    assert response.status_code == 201, response.content
    assert response.json()["regions"] == ["11"] and response.json()["targets"][0]["quarter"] == 1
    response = _post(client, "/api/v1/channels/agreements", {**payload, "code": "API-2"})
    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "conflict" and "API-1" in error["message"] and "products" in error["fields"]
    assert Agreement.objects.count() == 1
    response = _post(client, "/api/v1/channels/agreements", {**payload, "code": "API-3", "bogus": 1})
    assert response.status_code in (400, 422) and Agreement.objects.count() == 1


def test_review_workflow_over_the_api(personas: Personas) -> None:
    standard_scorecard()
    partner = _partner(personas)
    owner = _client(personas.owner)
    response = _post(
        owner, "/api/v1/channels/reviews", {"partner_id": partner.pk, "year": 2026, "quarter": 1}
    )
    assert response.status_code == 201, response.content
    review = response.json()
    assert [s["code"] for s in review["scores"]] == ["sales_vs_target", "payment_timeliness"]
    url = f"/api/v1/channels/reviews/{review['id']}"
    assert _post(owner, f"{url}/submit", {}).status_code == 400
    response = _post(owner, url, {"values": {"payment_timeliness": "100"}, "comments": "好"}, method="patch")
    assert response.status_code == 200 and response.json()["scores"][1]["score"] == "100.00"
    assert _post(owner, f"{url}/submit", {}).json()["status"] == "submitted"
    assert _post(owner, f"{url}/decision", {"approve": True}).status_code == 403
    response = _post(_client(personas.district_manager), f"{url}/decision", {"approve": True})
    assert response.json()["status"] == "approved"
    assert ChannelReview.objects.get().approved_by == personas.district_manager
    # listed with filters
    assert len(owner.get("/api/v1/channels/reviews", {"status": "approved"}).json()["results"]) == 1


def test_contacts_api_masks_for_compliance(personas: Personas) -> None:
    from pharmacrm.core.models import Role
    from pharmacrm.core.tests.factories import UserFactory

    partner = _partner(personas)
    ContactFactory(partner=partner, phone="13812345678")
    officer = UserFactory(username="officer", org_unit=personas.company, roles=[Role.COMPLIANCE])
    url = f"/api/v1/channels/partners/{partner.pk}/contacts"
    assert _client(personas.owner).get(url).json()[0]["phone"] == "13812345678"
    assert _client(officer).get(url).json()[0]["phone"] == "138****5678"


def test_expiring_licences_api(personas: Personas) -> None:
    import datetime as dt

    from django.utils import timezone

    from pharmacrm.channels.tests.factories import LicenceFactory

    partner = _partner(personas)
    soon: Any = LicenceFactory(partner=partner, expires_on=timezone.localdate() + dt.timedelta(days=10))
    LicenceFactory(partner=partner, expires_on=timezone.localdate() + dt.timedelta(days=400))
    body = _client(personas.owner).get("/api/v1/channels/licences", {"expiring_within_days": 30}).json()
    assert [r["id"] for r in body["results"]] == [soon.pk]


def test_agreement_list_filters_by_partner(personas: Personas) -> None:
    a, b = _partner(personas), _partner(personas)
    AgreementFactory(partner=a)
    AgreementFactory(partner=b)
    body = _client(personas.owner).get("/api/v1/channels/agreements", {"partner_id": a.pk}).json()
    assert [r["partner_id"] for r in body["results"]] == [a.pk]


def test_contact_and_licence_updates_and_alert_acknowledgement(personas: Personas) -> None:
    import datetime as dt

    from django.utils import timezone

    from pharmacrm.channels import services
    from pharmacrm.channels.models import LicenceAlert, PartnerContact
    from pharmacrm.channels.tests.factories import LicenceFactory

    partner = _partner(personas)
    contact: Any = ContactFactory(partner=partner)
    client = _client(personas.owner)
    response = _post(
        client, f"/api/v1/channels/contacts/{contact.pk}", {"phone": "bad phone!"}, method="patch"
    )
    assert response.status_code == 400 and response.json()["error"]["fields"] == {
        "phone": ["电话号码格式不正确：bad phone!"]
    }
    contact.refresh_from_db()
    assert contact.phone == "13812345678"
    assert (
        _post(
            client, f"/api/v1/channels/contacts/{contact.pk}", {"title": "采购总监"}, method="patch"
        ).json()["title"]
        == "采购总监"
    )
    assert _client(personas.colleague).delete(f"/api/v1/channels/contacts/{contact.pk}").status_code == 404
    assert client.delete(f"/api/v1/channels/contacts/{contact.pk}").status_code == 204
    assert not PartnerContact.objects.exists()

    licence: Any = LicenceFactory(partner=partner, expires_on=timezone.localdate() + dt.timedelta(days=10))
    services.record_licence_alerts(within_days=60)
    alerts = client.get("/api/v1/channels/licence-alerts").json()["results"]
    assert [a["licence_id"] for a in alerts] == [licence.pk]
    assert _post(client, f"/api/v1/channels/licence-alerts/{alerts[0]['id']}/acknowledge", {}).json()[
        "acknowledged_at"
    ]
    assert LicenceAlert.objects.get().acknowledged_by == personas.owner
    renewed = (timezone.localdate() + dt.timedelta(days=1000)).isoformat()
    response = _post(
        client, f"/api/v1/channels/licences/{licence.pk}", {"expires_on": renewed}, method="patch"
    )
    assert response.status_code == 200 and response.json()["expires_on"] == renewed
