"""Care reminders: only from key dates customers shared and holidays, never twice, sent with consent, on the timeline."""

from __future__ import annotations

import datetime as dt
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.db import IntegrityError, transaction
from django.test import Client
from django.urls import reverse

from pharmacrm.compliance.models import Consent
from pharmacrm.core.errors import Conflict, NotAllowed, RuleViolation
from pharmacrm.core.testing import Personas, visibility_test
from pharmacrm.customers.models import KeyDate
from pharmacrm.customers.tests.factories import InstitutionFactory, ProfessionalFactory
from pharmacrm.engagement import care
from pharmacrm.engagement.models import CareReminder
from pharmacrm.engagement.tasks import generate_care_reminders_task
from pharmacrm.engagement.tests.factories import CareReminderFactory

F: Any = ProfessionalFactory
H: Any = InstitutionFactory
SEPT = dt.date(2026, 9, 19)  # the week holds 中秋 and 世界药师日 (09-25)


@pytest.fixture
def people(personas: Personas) -> dict[str, Any]:
    own = H(territory=personas.own_territory, name="协和医院")
    nobody = H(territory=None, name="无人负责医院")
    return {
        "key": F(institution=own, name="张伟", tier="key", role="department_head"),
        "potential": F(institution=own, name="李娜", tier="potential", role="physician"),
        "general": F(institution=own, name="王芳", tier="general", role="physician"),
        "pharmacist": F(institution=own, name="赵敏", tier="key", role="pharmacy_director"),
        "nurse": F(institution=own, name="孙丽", tier="potential", role="head_nurse"),
        "orphan": F(institution=nobody, name="周杰", tier="key"),
        "colleagues": F(institution=H(territory=personas.colleague_territory), name="吴刚", tier="key"),
    }


def reminders() -> set[tuple[str, str, dt.date, str]]:
    return {
        (r.professional.name, r.occasion, r.due_on, r.owner.username)
        for r in CareReminder.objects.select_related("professional", "owner")
    }


@pytest.mark.django_db
def test_key_dates_need_the_customers_consent_to_be_kept(people: dict[str, Any]) -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        KeyDate.objects.create(
            professional=people["general"], kind="birthday", month=9, day=20, shared_by_customer=False
        )


@pytest.mark.django_db
def test_birthdays_and_holidays_for_the_covering_rep_never_twice(people: dict[str, Any]) -> None:
    KeyDate.objects.create(
        professional=people["general"], kind="birthday", month=9, day=21, shared_by_customer=True
    )
    KeyDate.objects.create(
        professional=people["orphan"], kind="birthday", month=9, day=21, shared_by_customer=True
    )
    run = care.generate_care_reminders(on=SEPT)
    found = reminders()
    assert ("王芳", "birthday", dt.date(2026, 9, 21), "owner") in found
    # Holidays: key and potential customers only (王芳 is general); the colleague's customer goes to the colleague.
    assert {n for n, o, _d, _u in found if o == "mid_autumn"} == {"张伟", "李娜", "赵敏", "孙丽", "吴刚"}
    assert ("吴刚", "mid_autumn", dt.date(2026, 9, 25), "colleague") in found
    # 世界药师日 is for pharmacy directors; nobody covers 周杰, so nothing for them.
    assert {n for n, o, _d, _u in found if o == "pharmacists_day"} == {"赵敏"}
    assert not any(n == "周杰" for n, *_rest in found)
    assert run.unassigned == 1 and run.created == len(found)
    again = care.generate_care_reminders(on=SEPT + dt.timedelta(days=2))
    assert again.created == 0 and again.existing == len(found)
    assert reminders() == found


@pytest.mark.django_db
def test_professional_days_go_to_the_roles_they_honour(people: dict[str, Any]) -> None:
    care.generate_care_reminders(on=dt.date(2026, 8, 17))
    assert {n for n, o, *_r in reminders() if o == "doctors_day"} == {"张伟", "李娜", "吴刚"}
    care.generate_care_reminders(on=dt.date(2026, 5, 10))
    assert {n for n, o, *_r in reminders() if o == "nurses_day"} == {"孙丽"}


@pytest.mark.django_db
def test_awkward_dates(people: dict[str, Any]) -> None:
    KeyDate.objects.create(
        professional=people["general"], kind="birthday", month=2, day=29, shared_by_customer=True
    )
    KeyDate.objects.create(
        professional=people["potential"], kind="promotion", month=3, day=1, year=2026, shared_by_customer=True
    )
    care.generate_care_reminders(on=dt.date(2027, 2, 25))
    assert ("王芳", "birthday", dt.date(2027, 2, 28), "owner") in reminders()
    assert not any(o == "promotion" for _n, o, *_r in reminders())  # a 2026 promotion is not greeted in 2027
    care.generate_care_reminders(on=dt.date(2026, 2, 25))
    assert ("李娜", "promotion", dt.date(2026, 3, 1), "owner") in reminders()


@pytest.mark.django_db
def test_suggested_messages_address_the_customer_and_offer_no_goods(
    people: dict[str, Any], personas: Personas
) -> None:
    reminder = CareReminderFactory(professional=people["key"], owner=personas.owner, occasion="mid_autumn")
    texts = care.suggestions(reminder, care.templates_by_occasion(["mid_autumn"]))
    assert texts and all(t.startswith("张主任") for t in texts)
    for word in ("礼", "卡", "红包", "券"):
        assert not any(word in t for t in texts), word


@pytest.mark.django_db
def test_sending_needs_consent_for_the_channel(people: dict[str, Any], personas: Personas) -> None:
    reminder = CareReminderFactory(professional=people["key"], owner=personas.owner)
    with pytest.raises(RuleViolation, match="同意"):
        care.mark_sent(
            actor=personas.owner, reminder=reminder, message="张主任，医师节快乐！", channel="wechat"
        )
    reminder.refresh_from_db()
    assert reminder.status == CareReminder.Status.OPEN and reminder.message == ""
    Consent.objects.create(
        professional=people["key"],
        purpose="contact",
        channel="wechat",
        source="wechat",
        given_on=dt.date(2025, 1, 1),
        recorded_by=personas.owner,
    )
    with pytest.raises(NotAllowed):
        care.mark_sent(actor=personas.district_manager, reminder=reminder, message="x", channel="wechat")
    sent = care.mark_sent(
        actor=personas.owner, reminder=reminder, message="张主任，医师节快乐！", channel="wechat"
    )
    assert sent.status == CareReminder.Status.SENT and sent.done_at is not None
    with pytest.raises(Conflict):
        care.dismiss(actor=personas.owner, reminder=reminder)


@pytest.mark.django_db
def test_care_page_and_refusals(people: dict[str, Any], personas: Personas) -> None:
    reminder = CareReminderFactory(professional=people["key"], owner=personas.owner, occasion="doctors_day")
    client = Client()
    client.force_login(personas.owner)
    body = client.get(reverse("engagement:care")).content.decode()
    assert "张伟" in body and "中国医师节" in body and "招待与关怀记录" in body
    client.force_login(personas.colleague)
    assert "张伟" not in client.get(reverse("engagement:care")).content.decode()
    response = client.post(reverse("engagement:care_done", args=[reminder.pk]), {"action": "dismiss"})
    assert response.status_code == 404
    reminder.refresh_from_db()
    assert reminder.status == CareReminder.Status.OPEN
    client.force_login(personas.owner)
    client.post(reverse("engagement:care_done", args=[reminder.pk]), {"action": "dismiss"})
    reminder.refresh_from_db()
    assert reminder.status == CareReminder.Status.DISMISSED


@pytest.mark.django_db
def test_care_on_the_timeline(people: dict[str, Any], personas: Personas) -> None:
    from pharmacrm.customers.timeline import timeline_for

    CareReminderFactory(
        professional=people["key"],
        owner=personas.owner,
        occasion="birthday",
        status="sent",
        message="生日快乐",
        due_on=dt.date(2026, 9, 1),
    )
    events = [e for e in timeline_for(people["key"], user=personas.owner) if e.kind == "care"]
    assert [e.title for e in events] == ["人文关怀：生日问候"]
    assert timeline_for(people["key"], user=personas.colleague) == [] or not any(
        e.kind == "care" for e in timeline_for(people["key"], user=personas.colleague)
    )


@pytest.mark.django_db
def test_task_and_command(people: dict[str, Any]) -> None:
    result = generate_care_reminders_task.enqueue(SEPT.isoformat())
    assert result.return_value["created"] == CareReminder.objects.count() > 0
    out = StringIO()
    call_command("care", "--date", SEPT.isoformat(), stdout=out)
    assert "created 0 reminders" in out.getvalue()


@pytest.mark.django_db
def test_care_api(people: dict[str, Any], personas: Personas) -> None:
    reminder = CareReminderFactory(professional=people["key"], owner=personas.owner, occasion="mid_autumn")
    client = Client()
    client.force_login(personas.owner)
    listed = client.get("/api/v1/care-reminders?status=open").json()
    assert [r["id"] for r in listed["results"]] == [reminder.pk]
    assert listed["results"][0]["occasion_label"] == "中秋节"
    detail = client.get(f"/api/v1/care-reminders/{reminder.pk}").json()
    assert detail["suggestions"][0].startswith("张主任")
    refused = client.post(
        f"/api/v1/care-reminders/{reminder.pk}/sent",
        {"message": "中秋快乐", "channel": "phone"},
        content_type="application/json",
    )
    assert refused.status_code == 422 and refused.json()["error"]["code"] == "rule_violation"
    assert client.post(f"/api/v1/care-reminders/{reminder.pk}/dismiss").status_code == 200
    client.force_login(personas.outsider)
    assert client.get(f"/api/v1/care-reminders/{reminder.pk}").status_code == 404


test_care_reminder_visibility = visibility_test(
    lambda p: CareReminderFactory(
        professional=ProfessionalFactory(institution=InstitutionFactory(territory=p.own_territory)),
        owner=p.owner,
    ),
    api="/api/v1/care-reminders/{pk}",
)
