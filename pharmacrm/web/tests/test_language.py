"""Choosing the interface language: saved on the user, used by every page and by the API."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import translation

from pharmacrm.core.models import User
from pharmacrm.core.testing import Personas

pytestmark = pytest.mark.django_db


def english_catalogue_exists() -> bool:
    with translation.override("en"):
        return translation.gettext("机构") != "机构"


@pytest.fixture
def owner_client(client: Client, personas: Personas) -> Client:
    client.force_login(personas.owner)
    return client


def test_choosing_english_saves_it_and_the_next_page_is_english(
    owner_client: Client, personas: Personas
) -> None:
    next_url = reverse("customers:institution_list")

    response = owner_client.post(reverse("web:language"), {"language": "en", "next": next_url})

    assert response.status_code == 302
    assert response["Location"] == next_url
    assert response.cookies["django_language"].value == "en"
    personas.owner.refresh_from_db()
    assert personas.owner.language == "en"

    page = owner_client.get(next_url)
    html = page.content.decode()
    assert '<html lang="en">' in html
    assert page["Content-Language"] == "en"
    # The switch offers the way back.
    assert 'value="zh-hans"' in html
    if english_catalogue_exists():
        assert "Institutions" in html
        assert "机构" not in html

    # The API answers in the same language.
    assert owner_client.get("/api/v1/me").json()["language"] == "en"


def test_the_saved_language_beats_the_browsers(client: Client, personas: Personas) -> None:
    personas.owner.language = "en"
    personas.owner.save()
    client.force_login(personas.owner)

    page = client.get(reverse("home"), headers={"Accept-Language": "zh-CN,zh;q=0.9"})

    assert '<html lang="en">' in page.content.decode()


def test_chinese_is_the_default(owner_client: Client) -> None:
    page = owner_client.get(reverse("home"), headers={"Accept-Language": "en-US,en;q=0.9"})

    assert '<html lang="zh-hans">' in page.content.decode()
    assert page["Content-Language"] == "zh-hans"


def test_an_unsupported_language_is_refused_and_changes_nothing(
    owner_client: Client, personas: Personas
) -> None:
    history_before = User.history.filter(id=personas.owner.pk).count()

    response = owner_client.post(reverse("web:language"), {"language": "fr"}, follow=True)

    assert "不支持的语言：fr" in response.content.decode()
    personas.owner.refresh_from_db()
    assert personas.owner.language == "zh-hans"
    assert User.history.filter(id=personas.owner.pk).count() == history_before


def test_an_outside_next_url_goes_home(owner_client: Client) -> None:
    response = owner_client.post(
        reverse("web:language"), {"language": "en", "next": "https://evil.example/phish"}
    )

    assert response["Location"] == reverse("home")


def test_the_switch_needs_post_and_a_signed_in_user(client: Client, personas: Personas) -> None:
    assert client.post(reverse("web:language"), {"language": "en"})["Location"].startswith(reverse("login"))
    client.force_login(personas.owner)
    assert client.get(reverse("web:language")).status_code == 405
    personas.owner.refresh_from_db()
    assert personas.owner.language == "zh-hans"
