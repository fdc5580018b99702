"""Compliance pages: who may open them, and that refusals show the reason and change nothing."""

import datetime as dt
import json

import pytest
from django.urls import reverse

from pharmacrm.compliance.models import (
    ComplianceEvent,
    Consent,
    DataSubjectRequest,
    PolicyRule,
    PolicySet,
    RepRegistration,
    SensitiveAccess,
)
from pharmacrm.core.models import Role
from pharmacrm.core.tests.factories import UserFactory
from pharmacrm.customers.tests.factories import InstitutionFactory, ProfessionalFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def officer(personas):
    return UserFactory(username="officer", roles=[Role.COMPLIANCE])


def test_dashboard_for_officers_not_reps(client, personas, officer):
    ComplianceEvent.objects.create(
        kind="refused", action="gift.record", rule="forbidden_gift_kinds", message="x"
    )
    client.force_login(personas.owner)
    assert client.get(reverse("compliance:dashboard")).status_code == 403
    client.force_login(officer)
    page = client.get(reverse("compliance:dashboard"))
    assert page.status_code == 200
    html = page.content.decode()
    assert "禁止现金、卡券、礼品与娱乐" in html
    # All three reps of the personas are unfiled.
    assert 'data-testid="reps-unregistered">3 / 3' in html


def test_registration_page_shows_status_and_saves(client, personas, officer):
    client.force_login(officer)
    url = reverse("compliance:registration_edit", args=[personas.owner.pk])
    bad = client.post(url, {"status": "filed", "number": "", "filed_on": ""})
    assert "已备案须填写备案号" in bad.content.decode()
    assert RepRegistration.objects.count() == 0
    ok = client.post(
        url, {"status": "filed", "number": "BA-1", "filed_on": "2026-01-01", "expires_on": "2027-01-01"}
    )
    assert ok.status_code == 302
    assert RepRegistration.objects.get().user == personas.owner
    page = client.get(reverse("compliance:registrations") + "?show=invalid").content.decode()
    table = page.split('data-testid="registrations"')[1]
    assert "王代表" not in table and "李代表" in table


def test_rep_cannot_edit_registrations(client, personas):
    client.force_login(personas.owner)
    response = client.post(
        reverse("compliance:registration_edit", args=[personas.owner.pk]),
        {"status": "filed", "number": "X", "filed_on": "2026-01-01"},
    )
    assert response.status_code == 403
    assert RepRegistration.objects.count() == 0


def test_conflicting_rule_edit_shows_reason_and_changes_nothing(client, officer):
    client.force_login(officer)
    rule = PolicyRule.objects.get(policy_set__code="CN", code="permitted_gift_kinds")
    before = rule.params
    response = client.post(
        reverse("compliance:rule_edit", args=[rule.pk]),
        {"params": json.dumps({"kinds": ["cash", "meal"]}), "enabled": "on"},
    )
    assert "同时被禁止和允许" in response.content.decode()
    rule.refresh_from_db()
    assert rule.params == before
    bad_json = client.post(
        reverse("compliance:rule_edit", args=[rule.pk]), {"params": "{oops", "enabled": "on"}
    )
    assert "不是有效的 JSON" in bad_json.content.decode()


def test_activate_other_jurisdiction(client, officer):
    client.force_login(officer)
    hk = PolicySet.objects.get(code="HK")
    client.post(reverse("compliance:activate_set", args=[hk.pk]))
    assert PolicySet.objects.get(is_active=True) == hk


def test_subject_request_pages_end_to_end(client, personas, officer):
    professional = ProfessionalFactory(
        institution=InstitutionFactory(territory=personas.own_territory), mobile="13900001111"
    )
    client.force_login(officer)
    response = client.post(
        reverse("compliance:requests"),
        {"subject_name": "张伟", "kind": "export", "professional_id": professional.pk, "channel": "热线"},
    )
    request = DataSubjectRequest.objects.get()
    assert response.status_code == 302
    assert request.due_on == request.received_on + dt.timedelta(days=15)
    client.post(reverse("compliance:request_detail", args=[request.pk]), {"note": "核对身份证"})
    client.post(reverse("customers:subject_request_fulfil", args=[request.pk]))
    request.refresh_from_db()
    assert request.status == "completed"
    download = client.get(reverse("customers:subject_request_download", args=[request.pk]))
    assert download.status_code == 200
    assert SensitiveAccess.objects.filter(kind="export", model="DataSubjectRequest").exists()


def test_rep_cannot_see_subject_requests(client, personas):
    client.force_login(personas.owner)
    assert client.get(reverse("compliance:requests")).status_code == 403


def test_consent_page_records_and_withdraws(client, personas):
    professional = ProfessionalFactory(institution=InstitutionFactory(territory=personas.own_territory))
    client.force_login(personas.owner)
    url = reverse("customers:professional_consents", args=[professional.pk])
    missing_source = client.post(
        url, {"purpose": "contact", "channel": "wechat", "source": "", "given_on": "2026-01-02"}
    )
    assert "请注明同意的来源" in missing_source.content.decode()
    assert Consent.objects.count() == 0
    client.post(url, {"purpose": "contact", "channel": "wechat", "source": "paper", "given_on": "2026-01-02"})
    consent = Consent.objects.get()
    client.post(reverse("customers:professional_consent_withdraw", args=[professional.pk, consent.pk]))
    consent.refresh_from_db()
    assert consent.withdrawn_at is not None
    client.force_login(personas.colleague)
    assert client.get(url).status_code == 404


def test_access_log_lists_views(client, personas, officer):
    SensitiveAccess.objects.create(
        user=personas.owner, kind="view", model="Professional", object_id="1", fields="mobile"
    )
    client.force_login(officer)
    page = client.get(reverse("compliance:access_log"))
    assert page.status_code == 200
    assert "mobile" in page.content.decode()
    client.force_login(personas.owner)
    assert client.get(reverse("compliance:access_log")).status_code == 403


def test_rep_home_reminds_of_missing_or_expiring_registration(client, personas):
    client.force_login(personas.owner)
    assert "备案前不能记录拜访" in client.get("/").content.decode()
    RepRegistration.objects.create(
        user=personas.owner,
        status="filed",
        number="BA-9",
        filed_on=dt.date.today() - dt.timedelta(days=300),
        expires_on=dt.date.today() + dt.timedelta(days=10),
    )
    assert "到期，请及时办理延续" in client.get("/").content.decode()
    client.force_login(personas.district_manager)
    assert 'data-testid="registration-alert"' not in client.get("/").content.decode()
