"""A rep's first minutes in a real browser: log in, switch to English, filter institutions, log out.

One pass at a desktop width and one on a 390 × 844 phone, where the sidebar sits behind the
navbar toggler. Each pass saves its home and list screens to test-artifacts/ for a person to
look at; a failing pass also saves its last screen there.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from django.utils import translation
from playwright.sync_api import expect

from pharmacrm.core.models import Division, OrgUnit, Role
from pharmacrm.core.tests.factories import (
    PASSWORD,
    AssignmentFactory,
    OrgUnitFactory,
    TerritoryFactory,
    UserFactory,
)
from pharmacrm.customers.models import Institution
from pharmacrm.customers.tests.factories import InstitutionFactory

from .conftest import ARTIFACTS, open_page

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    # The live server serves static files from the finders; WhiteNoise's STATIC_ROOT is not built.
    pytest.mark.filterwarnings("ignore:No directory at:UserWarning"),
]

VIEWPORTS = {"desktop": (1280, 800), "phone": (390, 844)}
INSTITUTIONS_URL = "/customers/institutions/"


@dataclass
class Rep:
    username: str
    display_name: str
    team: str
    kept: str  # the institution the filter keeps
    dropped: str  # the one it drops


@pytest.fixture
def rep(settings: Any) -> Rep:
    # Plain HTTP to the live server: cookies must not demand TLS, whatever DATABASE_URL says.
    settings.SESSION_COOKIE_SECURE = False
    settings.CSRF_COOKIE_SECURE = False
    # The divisions come from a data migration; a transactional test before this one flushed them.
    beijing, _ = Division.objects.get_or_create(
        code="11", defaults={"name": "北京市", "level": Division.Level.PROVINCE}
    )
    Division.objects.get_or_create(
        code="1101", defaults={"name": "北京市", "level": Division.Level.CITY, "parent": beijing}
    )
    company = OrgUnitFactory(code="HQ", name="总部", kind=OrgUnit.Kind.COMPANY)
    region = OrgUnitFactory(code="N", name="北区", kind=OrgUnit.Kind.REGION, parent=company)
    district = OrgUnitFactory(code="N1", name="北一地区", kind=OrgUnit.Kind.DISTRICT, parent=region)
    team = OrgUnitFactory(code="N1A", name="北一A组", kind=OrgUnit.Kind.TEAM, parent=district)
    territory = TerritoryFactory(code="BJ-CY", name="朝阳辖区", org_unit=team)
    user = UserFactory(username="rep_journey", display_name="王小明", org_unit=team, roles=[Role.REP])
    AssignmentFactory(territory=territory, user=user, valid_from=dt.date(2020, 1, 1))
    InstitutionFactory(name="北京协和测试医院", territory=territory)
    InstitutionFactory(
        name="朝阳社区卫生服务中心",
        kind=Institution.Kind.CLINIC,
        grade=Institution.Grade.UNGRADED,
        territory=territory,
    )
    # Outside the rep's territories: must never appear.
    InstitutionFactory(name="外区人民医院", territory=None)
    return Rep("rep_journey", "王小明", "北一A组", kept="北京协和测试医院", dropped="朝阳社区卫生服务中心")


@pytest.fixture(params=list(VIEWPORTS))
def page(request: pytest.FixtureRequest, browser: Any) -> Iterator[Any]:
    width, height = VIEWPORTS[request.param]
    yield from open_page(browser, request, width=width, height=height)


def english(text: str) -> str | None:
    """`text` in the English catalogue, or None while there is no English translation for it."""
    with translation.override("en"):
        translated = translation.gettext(text)
    return translated if translated != text else None


def snap(page: Any, name: str) -> None:
    page.wait_for_load_state("networkidle")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def is_phone(page: Any) -> bool:
    return page.viewport_size["width"] < 992  # Bootstrap's lg breakpoint: below it the sidebar is offcanvas


def go_to_institutions(page: Any) -> None:
    if is_phone(page):
        toggler = page.locator(".navbar-toggler")
        expect(toggler).to_be_visible()
        toggler.click()
        expect(page.locator("#sidebar")).to_have_class(re.compile(r"\bshow\b"))
    link = page.locator(f'[data-testid="main-nav"] a[href="{INSTITUTIONS_URL}"]')
    expect(link).to_be_visible()
    link.click()
    page.wait_for_url(f"**{INSTITUTIONS_URL}")


def open_user_menu(page: Any) -> None:
    page.get_by_test_id("user-menu").click()
    expect(page.locator(".dropdown-menu.show")).to_be_visible()


def test_rep_journey(page: Any, live_server: Any, rep: Rep) -> None:
    base = live_server.url
    viewport = "phone" if is_phone(page) else "desktop"

    # Log in.
    page.goto(f"{base}/login/")
    expect(page.locator("html")).to_have_attribute("lang", "zh-hans")
    page.locator("#id_username").fill(rep.username)
    page.locator("#id_password").fill(PASSWORD)
    page.get_by_test_id("login-form").locator("button[type=submit]").click()
    page.wait_for_url(f"{base}/")

    # Home: who they are and where they sit; two institutions in scope, not the third.
    expect(page.get_by_test_id("welcome")).to_contain_text(rep.display_name)
    expect(page.locator("main")).to_contain_text(rep.team)
    expect(page.get_by_test_id("count-institutions")).to_have_text("2")
    assert page.evaluate("document.documentElement.scrollWidth") <= page.viewport_size["width"], (
        "home page scrolls sideways"
    )
    snap(page, f"{viewport}-home")

    # Switch to English from the user menu; the choice is saved and the page comes back in English.
    open_user_menu(page)
    switch = page.get_by_test_id("lang-switch")
    expect(switch).to_have_text("English")
    switch.click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    page.wait_for_url(f"{base}/")
    open_user_menu(page)
    expect(page.get_by_test_id("lang-switch")).to_have_text("简体中文")
    page.keyboard.press("Escape")
    if label := english("机构"):  # only once an English catalogue translates the menu
        expect(page.get_by_test_id("main-nav")).to_contain_text(label)

    # The institutions list shows the rep's two institutions.
    go_to_institutions(page)
    rows = page.locator("#list-results tbody tr")
    expect(rows).to_have_count(2)
    expect(page.locator("#list-results")).not_to_contain_text("外区人民医院")

    # Filter by name: HTMX fetches only the results partial and swaps it into #list-results.
    page.locator("details:has([data-testid=list-filter]) > summary").click()
    name_filter = page.locator("[data-testid=list-filter] #id_q")
    expect(name_filter).to_be_visible()
    name_filter.fill("协和")
    with page.expect_response(
        lambda r: (
            INSTITUTIONS_URL in r.url and "q=" in r.url and r.request.headers.get("hx-request") == "true"
        )
    ) as response_info:
        name_filter.press("Enter")
    assert response_info.value.ok
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text(rep.kept)
    results = page.locator("#list-results")
    expect(results.first).not_to_contain_text(rep.dropped)
    nested_results = results.count() > 1
    expect(page).to_have_url(re.compile(r"[?&]q="))  # hx-push-url keeps the filtered list shareable
    assert page.evaluate("document.documentElement.scrollWidth") <= page.viewport_size["width"], (
        "institution list scrolls sideways"
    )
    snap(page, f"{viewport}-institutions")

    # Log out and land on the login page.
    open_user_menu(page)
    page.get_by_test_id("logout").click()
    page.wait_for_url(f"{base}/login/")
    expect(page.get_by_test_id("login-form")).to_be_visible()

    assert page.js_errors == [], f"JavaScript errors: {page.js_errors}"
    assert not nested_results, "filtering must replace #list-results, not nest a copy inside it"
