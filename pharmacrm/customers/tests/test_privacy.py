"""PIPL for professionals: masking and access log, subject-request export and erasure, retention."""

import datetime as dt
import io
import json
import zipfile

import pytest
from django.core.management import call_command

from pharmacrm.compliance import services as compliance_services
from pharmacrm.compliance.models import DataSubjectRequest, SensitiveAccess
from pharmacrm.core.errors import Conflict, DomainError
from pharmacrm.core.models import Role
from pharmacrm.core.tests.factories import UserFactory
from pharmacrm.customers import privacy
from pharmacrm.customers.models import KeyDate, Need, Professional
from pharmacrm.customers.tests.factories import InstitutionFactory, ProfessionalFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def professional(personas):
    p = ProfessionalFactory(
        institution=InstitutionFactory(territory=personas.own_territory),
        name="陈静",
        mobile="13812345678",
        wechat_id="chenjing_md",
        personal_notes="喜欢马拉松",
        interests="心衰指南",
    )
    KeyDate.objects.create(professional=p, kind="birthday", month=3, day=8, shared_by_customer=True)
    Need.objects.create(
        professional=p, kind="academic", description="想了解最新心衰指南", found_on=dt.date(2026, 5, 1)
    )
    return p


def _request(personas, professional, kind):
    compliance = UserFactory(roles=[Role.COMPLIANCE])
    request = compliance_services.open_subject_request(
        actor=compliance, subject_name="陈静", kind=kind, professional_id=professional.pk
    )
    return compliance, request


def test_contacts_masked_for_marketing_and_clear_views_logged(personas, professional):
    marketer = UserFactory(roles=[Role.MARKETING])
    assert privacy.contact_details(professional=professional, user=marketer)["mobile"] == "138****5678"
    assert SensitiveAccess.objects.count() == 0
    assert privacy.contact_details(professional=professional, user=personas.owner)["mobile"] == "13812345678"
    log = SensitiveAccess.objects.get()
    assert (log.user, log.object_id, log.kind) == (personas.owner, str(professional.pk), "view")
    assert "mobile" in log.fields


def test_export_contains_profile_and_related_records(personas, professional):
    data = privacy.export_professional_data(professional=professional)
    archive = zipfile.ZipFile(io.BytesIO(data))
    payload = json.loads(archive.read("data.json"))
    assert payload["professional"]["name"] == "陈静"
    assert any("心衰" in row.get("description", "") for rows in payload["related"].values() for row in rows)
    assert "data.xlsx" in archive.namelist()


def test_export_request_end_to_end(personas, professional):
    compliance, request = _request(personas, professional, "export")
    with pytest.raises(DomainError):  # not verified yet
        privacy.fulfil_export_request(actor=compliance, request_id=request.pk)
    compliance_services.verify_subject_request(actor=compliance, request_id=request.pk, note="身份证核验")
    done = privacy.fulfil_export_request(actor=compliance, request_id=request.pk)
    assert done.status == DataSubjectRequest.Status.COMPLETED
    assert done.export_file.name.endswith(".zip")
    assert SensitiveAccess.objects.filter(kind="export", object_id=str(professional.pk)).exists()


def test_erasure_anonymises_and_scrubs_history(personas, professional):
    professional.current_concerns = "科室扩建"
    professional.save()
    compliance, request = _request(personas, professional, "erasure")
    compliance_services.verify_subject_request(actor=compliance, request_id=request.pk, note="本人到场")
    privacy.fulfil_erasure_request(actor=compliance, request_id=request.pk)
    professional.refresh_from_db()
    assert professional.name.startswith("已删除")
    assert professional.mobile == professional.personal_notes == professional.current_concerns == ""
    assert not KeyDate.objects.filter(professional=professional).exists()
    assert not Need.objects.filter(professional=professional).exists()
    history = Professional.history.filter(id=professional.pk)
    assert history.count() >= 3  # created, edited, erased: the trail of who and when survives
    assert not history.filter(name="陈静").exists()
    assert not history.exclude(mobile="").exists()
    assert not KeyDate.history.filter(professional_id=professional.pk).exists()
    assert Professional.objects.filter(pk=professional.pk).exists()  # aggregates keep their row


def test_erasure_refused_while_blocked_and_nothing_changes(personas, professional, monkeypatch):
    compliance, request = _request(personas, professional, "erasure")
    compliance_services.verify_subject_request(actor=compliance, request_id=request.pk, note="本人到场")
    monkeypatch.setattr(privacy, "erasure_blockers", [lambda p: ["有未结案的不良事件工单"]])
    history_before = Professional.history.count()
    with pytest.raises(Conflict) as exc:
        privacy.fulfil_erasure_request(actor=compliance, request_id=request.pk)
    assert "不良事件" in exc.value.message
    professional.refresh_from_db()
    assert professional.name == "陈静"
    assert KeyDate.objects.filter(professional=professional).count() == 1
    assert Professional.history.count() == history_before
    request.refresh_from_db()
    assert request.status == DataSubjectRequest.Status.VERIFIED


def test_retention_dry_run_then_apply(personas, professional):
    old = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)
    Professional.objects.filter(pk=professional.pk).update(updated_at=old)
    SensitiveAccess.objects.create(
        user=personas.owner, kind="view", model="Professional", fields="mobile", at=old
    )
    report = {line["target"]: line["count"] for line in privacy.run_retention(dry_run=True)}
    assert report["personal_notes"] == 1
    assert report["access_log"] == 1
    professional.refresh_from_db()
    assert professional.personal_notes == "喜欢马拉松"
    call_command("retention")
    professional.refresh_from_db()
    assert professional.personal_notes == ""
    assert SensitiveAccess.objects.count() == 0


def test_key_dates_and_notes_views_logged_and_hidden_from_masked_roles(personas, professional, client):
    """PIPL least access: key dates and personal notes are logged when shown, withheld from masked roles."""
    from django.urls import reverse

    url = reverse("customers:professional_detail", args=[professional.pk])
    client.force_login(personas.owner)
    page = client.get(url).content.decode()
    assert "喜欢马拉松" in page
    logged = set()
    for log in SensitiveAccess.objects.filter(user=personas.owner, object_id=str(professional.pk)):
        logged |= set(log.fields.split(","))
    assert {"key_dates", "personal_notes", "mobile"} <= logged

    marketer = UserFactory(roles=[Role.MARKETING])
    client.force_login(marketer)
    before = SensitiveAccess.objects.count()
    page = client.get(url).content.decode()
    assert "喜欢马拉松" not in page
    assert "按个人信息保护政策，您的角色不查看纪念日。" in page
    assert SensitiveAccess.objects.count() == before  # nothing shown in clear, nothing logged
    api = client.get(f"/api/v1/professionals/{professional.pk}/key-dates")
    assert api.status_code == 200 and api.json() == []
    key_date = KeyDate.objects.get(professional=professional)
    assert client.get(f"/api/v1/key-dates/{key_date.pk}").status_code == 404

    client.force_login(personas.owner)
    before = SensitiveAccess.objects.count()
    rows = client.get(f"/api/v1/professionals/{professional.pk}/key-dates").json()
    assert [r["month"] for r in rows] == [3]
    log = SensitiveAccess.objects.order_by("-pk").first()
    assert SensitiveAccess.objects.count() == before + 1 and log.fields == "key_dates" and log.rows == 1
