"""The navigation each role sees."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from pharmacrm.core.models import Role
from pharmacrm.core.testing import Personas
from pharmacrm.core.tests.factories import UserFactory

pytestmark = pytest.mark.django_db

NAV = re.compile(r'data-testid="main-nav">(.*?)</nav>', re.S)
LABEL = re.compile(r"</i>([^<]+)</a>")


def nav_labels(client: Client) -> list[str]:
    html = client.get("/").content.decode()
    match = NAV.search(html)
    assert match, "the page has the main navigation"
    return [label.strip() for label in LABEL.findall(match.group(1))]


def labels_for(user: object) -> list[str]:
    client = Client()
    client.force_login(user)  # type: ignore[arg-type]
    return nav_labels(client)


def test_a_rep_sees_the_field_entries_only(personas: Personas) -> None:
    labels = labels_for(personas.owner)

    assert {"首页", "机构", "医务人员", "辖区"} <= set(labels)
    assert "人员" not in labels
    assert "系统管理" not in labels
    assert "接口文档" not in labels


def test_a_manager_sees_the_people(personas: Personas) -> None:
    labels = labels_for(personas.district_manager)

    assert {"首页", "机构", "医务人员", "辖区", "人员"} <= set(labels)
    assert "系统管理" not in labels


def test_an_admin_sees_the_tools(personas: Personas) -> None:
    labels = labels_for(personas.admin)

    assert {"系统管理", "接口文档", "人员"} <= set(labels)


def test_compliance_sees_the_people_but_not_the_territories(personas: Personas) -> None:
    officer = UserFactory(username="compliance", roles=[Role.COMPLIANCE])

    labels = labels_for(officer)

    assert "人员" in labels
    assert "辖区" not in labels
    assert "系统管理" not in labels


def test_the_current_entry_is_marked(personas: Personas) -> None:
    client = Client()
    client.force_login(personas.owner)

    html = client.get("/customers/institutions/").content.decode()

    assert re.search(r'class="nav-link active"\s+href="/customers/institutions/"\s+aria-current="page"', html)
    assert not re.search(r'class="nav-link active"\s+href="/"', html)


def test_a_user_without_a_role_sees_no_entries(personas: Personas) -> None:
    assert labels_for(personas.no_role) == []
