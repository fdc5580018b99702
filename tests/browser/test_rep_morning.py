"""A rep's morning on a phone (390 × 844, touch): today → brief → record the visit → the commitment is on today.

The rep logs in and sees today's planned visit, a commitment and a callback due, a customer's key
date this week and the ranked suggestions with their reasons. They open the brief of the doctor
they are about to see (profile, the last three interactions, open needs and commitments, approved
key messages), record the visit by tapping through the phone form (channel, who, product, key
message, feedback, a need, a commitment with its due date, the next step) and find the new
commitment on today. No page may scroll sideways. The screens are saved to test-artifacts/.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import import_module
from typing import Any, cast

import pytest
from django.apps import apps as django_apps
from django.utils import timezone
from playwright.sync_api import expect

from pharmacrm.core.models import Division
from pharmacrm.core.testing import build_personas
from pharmacrm.core.tests.factories import PASSWORD
from pharmacrm.customers.models import KeyDate, Need
from pharmacrm.engagement.models import Callback, Commitment, Visit
from pharmacrm.engagement.tests.factories import CallbackFactory, CommitmentFactory, VisitFactory
from pharmacrm.engagement.tests.visit_world import World, build_world

from .conftest import ARTIFACTS, open_page

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.filterwarnings("ignore:No directory at:UserWarning"),
]

PHONE = (390, 844)


@dataclass
class Morning:
    world: World
    planned: Visit
    today: dt.date


def _local(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time(hour, minute)))


@pytest.fixture
def morning(settings: Any) -> Morning:
    settings.SESSION_COOKIE_SECURE = False
    settings.CSRF_COOKIE_SECURE = False
    # Divisions come from a data migration that an earlier transactional test may have flushed.
    beijing, _ = Division.objects.get_or_create(
        code="11", defaults={"name": "北京市", "level": Division.Level.PROVINCE}
    )
    Division.objects.get_or_create(
        code="1101", defaults={"name": "北京市", "level": Division.Level.CITY, "parent": beijing}
    )
    # So do the visit-frequency rules and ranking weights (0003_planning_defaults fills empty tables only).
    import_module("pharmacrm.engagement.migrations.0003_planning_defaults").load(django_apps, None)
    world = build_world(build_personas())
    rep, doctor, nurse = world.rep, world.doctor, world.nurse
    doctor.therapeutic_areas = "心血管"  # the brief suggests approved key messages for these
    doctor.save(update_fields=["therapeutic_areas"])
    today = timezone.localdate()
    now = timezone.now()
    # The planned visit with the doctor already started today (a planned visit in the future
    # cannot be recorded as done): half-way between midnight and now, at most an hour ago.
    since_midnight = now - _local(today, 0)
    planned = VisitFactory(
        owner=rep,
        institution=world.hospital,
        starts_at=now - min(since_midnight / 2, dt.timedelta(hours=1)),
        objective="介绍降脂新指南",
        professionals=[doctor],
    )
    # Four earlier visits with the doctor: the brief shows the last three.
    for weeks, feedback in [(8, "最早一次"), (6, "关注安全性"), (4, "询问剂量"), (2, "想要病例资料")]:
        when = _local(today - dt.timedelta(weeks=weeks), 10)
        VisitFactory(
            owner=rep,
            institution=world.hospital,
            starts_at=when,
            status=Visit.Status.COMPLETED,
            completed_at=when,
            feedback=feedback,
            professionals=[doctor],
        )
    Need.objects.create(
        professional=doctor, kind="academic", description="希望参加血脂管理学术会", found_on=today
    )
    CommitmentFactory(
        professional=doctor, owner=rep, description="寄送指南解读", due_on=today + dt.timedelta(days=10)
    )
    CommitmentFactory(professional=nurse, owner=rep, description="送护理培训资料", due_on=today)
    CallbackFactory(professional=nurse, owner=rep, reason=Callback.Reason.AFTER_VISIT, due_on=today)
    birthday = today + dt.timedelta(days=1)
    KeyDate.objects.create(
        professional=doctor, kind="birthday", month=birthday.month, day=birthday.day, shared_by_customer=True
    )
    return Morning(world=world, planned=cast(Visit, planned), today=today)


@pytest.fixture
def page(request: pytest.FixtureRequest, browser: Any) -> Iterator[Any]:
    yield from open_page(browser, request, width=PHONE[0], height=PHONE[1])


def no_sideways_scroll(page: Any, name: str) -> None:
    page.wait_for_load_state("networkidle")
    width = page.evaluate("document.documentElement.scrollWidth")
    inner = page.evaluate("window.innerWidth")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"phone-morning-{name}.png"), full_page=True)
    assert width <= inner, f"{name}: the page scrolls sideways on a phone ({width}px > {inner}px)"


def pick(page: Any, select_id: str, text: str) -> None:
    """Choose an option in a Tom Select box by tapping it and then its option, as a rep does."""
    page.locator(f"#{select_id}-ts-control").click()
    option = page.locator(f"#{select_id}-ts-dropdown .option", has_text=text)
    expect(option).to_be_visible()
    option.click()
    page.keyboard.press("Escape")


def test_rep_morning_on_a_phone(page: Any, live_server: Any, morning: Morning) -> None:
    base = live_server.url
    world = morning.world
    doctor, nurse = world.doctor, world.nurse

    # Log in and open today.
    page.goto(f"{base}/login/")
    page.locator("#id_username").fill(world.rep.username)
    page.locator("#id_password").fill(PASSWORD)
    page.get_by_test_id("login-form").locator("button[type=submit]").click()
    page.wait_for_url(f"{base}/")
    page.goto(f"{base}/today/")

    visits = page.get_by_test_id("today-visits")
    expect(visits).to_contain_text(world.hospital.name)
    expect(visits).to_contain_text(doctor.name)
    expect(visits).to_contain_text(morning.planned.objective)
    followups = page.get_by_test_id("today-followups")
    expect(followups).to_contain_text("送护理培训资料")
    expect(followups).to_contain_text(str(Callback.Reason.AFTER_VISIT.label))
    expect(followups).to_contain_text(nurse.name)
    expect(followups).not_to_contain_text("寄送指南解读")  # due in ten days: not yet
    key_dates = page.get_by_test_id("today-key-dates")
    expect(key_dates).to_contain_text(doctor.name)
    suggestions = page.get_by_test_id("suggestion")
    expect(suggestions.first).to_be_visible()
    assert suggestions.count() >= 1
    # Every suggestion says why, with its points; the scores come ranked.
    for i in range(suggestions.count()):
        expect(suggestions.nth(i).locator(".reason-chip").first).to_be_visible()
    scores = [float(s) for s in page.get_by_test_id("score").all_inner_texts()]
    assert scores == sorted(scores, reverse=True), f"suggestions not ranked: {scores}"
    expect(page.get_by_test_id("suggestions")).to_contain_text(world.stranger.name)  # never seen: overdue
    no_sideways_scroll(page, "today")

    # The brief of the doctor on today's plan.
    visits.locator("a", has_text="简报").first.click()
    page.wait_for_url(f"**/visits/brief/{doctor.pk}/")
    expect(page.locator("h1")).to_have_text(doctor.name)
    expect(page.get_by_test_id("brief-profile")).to_be_visible()
    interactions = page.get_by_test_id("brief-interactions").locator("li")
    expect(interactions).to_have_count(3)
    expect(interactions.first).to_contain_text("想要病例资料")
    expect(page.get_by_test_id("brief-interactions")).not_to_contain_text("最早一次")
    expect(page.get_by_test_id("brief-needs")).to_contain_text("希望参加血脂管理学术会")
    expect(page.get_by_test_id("brief-commitments")).to_contain_text("寄送指南解读")
    expect(page.get_by_test_id("brief-key-messages")).to_contain_text(world.message.text)
    expect(page.get_by_test_id("brief-key-messages")).not_to_contain_text(world.draft_message.text)
    no_sideways_scroll(page, "brief")

    # Record the visit: the planned one with the doctor is the one completed.
    page.get_by_role("link", name="记录拜访").click()
    page.wait_for_url("**/visits/record/**")
    form = page.get_by_test_id("visit-form")
    expect(form.locator('input[name="visit"]')).to_have_value(str(morning.planned.pk))
    no_sideways_scroll(page, "record")
    page.locator("label[for=channel-in_person]").click()
    who = page.locator(".ts-wrapper:has(#id_professionals-ts-control) .item")
    expect(who).to_have_count(1)  # who: the planned visit's doctor, preselected
    expect(who).to_contain_text(doctor.name)
    pick(page, "id_products", world.product.generic_name)
    pick(page, "id_key_messages", world.message.text)
    page.locator("#id_feedback").fill("认可降脂达标的数据，想看真实世界研究")
    needs = page.locator('[data-rows="needs"]')
    needs.locator('input[name="needs-0-description"]').fill("需要真实世界研究资料")
    commitments = page.locator('[data-rows="commitments"]')
    due = morning.today + dt.timedelta(days=1)
    commitments.locator('input[name="commitments-0-description"]').fill("下周前发送真实世界研究摘要")
    commitments.locator('input[name="commitments-0-due_on"]').fill(due.isoformat())
    page.locator("#id_next_step").fill("下次拜访带病例资料")
    no_sideways_scroll(page, "record-filled")
    page.get_by_test_id("save-visit").click()
    page.wait_for_url(f"**/visits/{morning.planned.pk}/")
    expect(page.locator("main")).to_contain_text("认可降脂达标的数据")
    no_sideways_scroll(page, "visit")

    # What was written: the planned visit completed, the need and the commitment with its due date.
    morning.planned.refresh_from_db()
    assert morning.planned.status == Visit.Status.COMPLETED
    assert morning.planned.next_step == "下次拜访带病例资料"
    assert list(morning.planned.products.values_list("pk", flat=True)) == [world.product.pk]
    assert list(morning.planned.key_messages.values_list("pk", flat=True)) == [world.message.pk]
    assert Need.objects.filter(professional=doctor, description="需要真实世界研究资料").exists()
    commitment = Commitment.objects.get(description="下周前发送真实世界研究摘要")
    assert (commitment.professional_id, commitment.owner_id, commitment.due_on) == (
        doctor.pk,
        world.rep.pk,
        due,
    )

    # Back on today: the visit is done and the new commitment is due.
    page.goto(f"{base}/today/")
    expect(page.get_by_test_id("today-visits")).to_contain_text("已完成")
    expect(page.get_by_test_id("today-followups")).to_contain_text("下周前发送真实世界研究摘要")
    no_sideways_scroll(page, "today-after")

    assert page.js_errors == [], f"JavaScript errors: {page.js_errors}"
