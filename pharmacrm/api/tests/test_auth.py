"""API authentication: issuing a token, /me by token and by session, lockout, CSRF on session writes."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.test import Client
from django.utils import timezone

from pharmacrm.api.tests.support import assert_error, bearer_client, session_client
from pharmacrm.core.models import ApiToken
from pharmacrm.core.testing import Personas
from pharmacrm.core.tests.factories import PASSWORD

pytestmark = pytest.mark.django_db

WRONG = "用户名或密码错误。"
LOCKED = "登录失败次数过多，账户已暂时锁定，请 15 分钟后再试。"


def issue(client: Client, **body: Any):  # type: ignore[no-untyped-def]
    return client.post("/api/v1/auth/token", body, content_type="application/json")


class TestIssueToken:
    def test_good_credentials_get_a_working_token(self, client: Client, personas: Personas) -> None:
        response = issue(client, username="owner", password=PASSWORD, name="报表脚本", days=7)

        assert response.status_code == 201
        body = response.json()
        assert set(body) == {"token", "expires_at"}
        token = ApiToken.objects.get()
        assert token.user == personas.owner
        assert token.name == "报表脚本"
        assert token.key_hash != body["token"]
        expires = dt.datetime.fromisoformat(body["expires_at"])
        assert dt.timedelta(days=6, hours=23) < expires - timezone.now() <= dt.timedelta(days=7)
        me = Client().get("/api/v1/me", headers={"Authorization": f"Bearer {body['token']}"})
        assert me.status_code == 200
        assert me.json()["username"] == "owner"

    def test_issuing_is_audited_as_the_user_via_the_api(self, client: Client, personas: Personas) -> None:
        issue(client, username="owner", password=PASSWORD)

        record = ApiToken.history.get()
        assert record.history_user == personas.owner
        assert record.history_source == "api"

    @pytest.mark.parametrize(("username", "password"), [("owner", "wrong"), ("nobody", PASSWORD)])
    def test_wrong_credentials_are_refused_and_create_nothing(
        self, client: Client, personas: Personas, username: str, password: str
    ) -> None:
        response = issue(client, username=username, password=password)

        assert_error(response, 401, "invalid_credentials", WRONG)
        assert not ApiToken.objects.exists()
        assert not ApiToken.history.exists()

    def test_an_inactive_user_is_refused(self, client: Client, personas: Personas) -> None:
        personas.owner.is_active = False
        personas.owner.save()

        assert_error(issue(client, username="owner", password=PASSWORD), 401, "invalid_credentials", WRONG)
        assert not ApiToken.objects.exists()

    def test_lockout_after_the_failure_limit(self, client: Client, personas: Personas) -> None:
        limit = settings.AXES_FAILURE_LIMIT
        for _attempt in range(limit - 1):
            assert_error(issue(client, username="owner", password="wrong"), 401, "invalid_credentials")

        assert_error(issue(client, username="owner", password="wrong"), 403, "locked_out", LOCKED)
        assert AccessAttempt.objects.get(username="owner").failures_since_start == limit

        # Locked out: the right password gets no token either.
        assert_error(issue(client, username="owner", password=PASSWORD), 403, "locked_out", LOCKED)
        assert not ApiToken.objects.exists()


class TestMe:
    EXPECTED = {
        "username": "owner",
        "display_name": "王代表",
        "roles": ["rep"],
        "language": "zh-hans",
    }

    def test_with_a_bearer_token(self, personas: Personas) -> None:
        response = bearer_client(personas.owner).get("/api/v1/me")

        assert response.status_code == 200
        body = response.json()
        assert body | self.EXPECTED == body
        assert body["id"] == personas.owner.pk
        assert body["org_unit"] == {"id": personas.team_n1a.pk, "name": "北一A组", "kind": "team"}

    def test_with_the_browser_session(self, personas: Personas) -> None:
        response = session_client(personas.owner).get("/api/v1/me")

        assert response.status_code == 200
        assert response.json() | self.EXPECTED == response.json()

    def test_without_credentials(self, client: Client) -> None:
        assert_error(client.get("/api/v1/me"), 401, "not_authenticated", "未登录，或令牌无效、已过期。")


class TestCsrfOnSessionWrites:
    """Session-authenticated writes need the CSRF token; token-authenticated ones do not."""

    @pytest.fixture(autouse=True)
    def _write_endpoint(self, settings: Any) -> None:
        settings.ROOT_URLCONF = "pharmacrm.api.tests.write_urls"

    def test_session_post_without_csrf_is_refused(self, personas: Personas) -> None:
        client = Client(enforce_csrf_checks=True)
        client.force_login(personas.owner)

        response = client.post("/api/v1/test/echo", {}, content_type="application/json")

        assert_error(response, 403, "forbidden", "CSRF 校验失败，请刷新页面后重试。")

    def test_session_post_with_csrf_is_accepted(self, personas: Personas) -> None:
        client = Client(enforce_csrf_checks=True)
        client.force_login(personas.owner)
        client.get("/")  # any page with a form sets the CSRF cookie
        token = client.cookies[settings.CSRF_COOKIE_NAME].value

        response = client.post(
            "/api/v1/test/echo", {}, content_type="application/json", headers={"X-CSRFToken": token}
        )

        assert response.status_code == 200
        assert response.json() == {"user": "owner"}

    def test_bearer_post_needs_no_csrf(self, personas: Personas) -> None:
        client = bearer_client(personas.owner)
        client.handler.enforce_csrf_checks = True

        response = client.post("/api/v1/test/echo", {}, content_type="application/json")

        assert response.status_code == 200
        assert response.json() == {"user": "owner"}
