"""API tokens in the account pages: the secret is shown once, only its hash is kept, revoking is audited."""

from __future__ import annotations

import datetime as dt
import hashlib
import re

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from pharmacrm.core.models import ApiToken
from pharmacrm.core.testing import Personas

pytestmark = pytest.mark.django_db

SECRET = re.compile(r'data-testid="new-token">([^<]+)<')


def create_token(client: Client, name: str = "数据同步脚本", days: int | str = 30):  # type: ignore[no-untyped-def]
    return client.post(reverse("web:tokens"), {"name": name, "days": days})


def secret_in(response) -> str:  # type: ignore[no-untyped-def]
    match = SECRET.search(response.content.decode())
    assert match, "the new secret is shown"
    return match.group(1)


def api_me(raw: str):  # type: ignore[no-untyped-def]
    return Client().get("/api/v1/me", headers={"Authorization": f"Bearer {raw}"})


def assert_not_authenticated(response) -> None:  # type: ignore[no-untyped-def]
    assert response.status_code == 401
    assert response.json() == {
        "error": {"code": "not_authenticated", "message": "未登录，或令牌无效、已过期。", "fields": {}}
    }


@pytest.fixture
def owner_client(client: Client, personas: Personas) -> Client:
    client.force_login(personas.owner)
    return client


class TestCreate:
    def test_shows_the_secret_once_and_stores_only_its_hash(
        self, owner_client: Client, personas: Personas
    ) -> None:
        response = create_token(owner_client)

        assert response.status_code == 200
        raw = secret_in(response)
        token = ApiToken.objects.get()
        assert token.user == personas.owner
        assert token.name == "数据同步脚本"
        assert raw.startswith(f"pcrm_{token.prefix}_")
        assert token.key_hash == hashlib.sha256(raw.encode()).hexdigest()
        assert token.key_hash != raw
        # Neither the token row nor its history holds the secret (or its random part).
        secret_part = raw.rsplit("_", 1)[1]
        for row in [*ApiToken.objects.values(), *ApiToken.history.values()]:
            assert not any(secret_part in str(value) for value in row.values())
        assert dt.timedelta(days=29, hours=23) < token.expires_at - timezone.now() <= dt.timedelta(days=30)
        # Shown once: the list page no longer carries it.
        page = owner_client.get(reverse("web:tokens")).content.decode()
        assert raw not in page
        assert token.prefix in page

    def test_the_secret_authenticates_the_api(self, owner_client: Client, personas: Personas) -> None:
        raw = secret_in(create_token(owner_client))

        response = api_me(raw)

        assert response.status_code == 200
        assert response.json()["username"] == "owner"
        assert ApiToken.objects.get().last_used_at is not None

    def test_creation_is_audited(self, owner_client: Client, personas: Personas) -> None:
        create_token(owner_client)

        record = ApiToken.history.get()
        assert record.history_type == "+"
        assert record.history_user == personas.owner
        assert record.history_source == "ui"

    @pytest.mark.parametrize(
        ("name", "days", "field", "message"),
        [
            ("", 30, "name", "这个字段是必填项。"),
            ("   ", 30, "name", "这个字段是必填项。"),
            ("x" * 65, 30, "name", "确保该变量包含不超过 64 字符 (目前字符数 65)。"),
            ("脚本", 0, "days", "确保该值大于或等于1。"),
            ("脚本", 367, "days", "确保该值小于或等于366。"),
            ("脚本", "abc", "days", "输入整数。"),
        ],
    )
    def test_bad_input_shows_form_errors_and_creates_nothing(
        self, owner_client: Client, name: str, days: int | str, field: str, message: str
    ) -> None:
        response = create_token(owner_client, name=name, days=days)

        assert response.status_code == 200
        assert response.context["form"].errors[field] == [message]
        assert message in response.content.decode()
        assert 'data-testid="new-token"' not in response.content.decode()
        assert not ApiToken.objects.exists()
        assert not ApiToken.history.exists()


class TestRevoke:
    def test_revoking_ends_api_access_and_is_audited(self, owner_client: Client, personas: Personas) -> None:
        raw = secret_in(create_token(owner_client))
        token = ApiToken.objects.get()

        response = owner_client.post(reverse("web:revoke_token", args=[token.pk]), follow=True)

        assert response.redirect_chain == [(reverse("web:tokens"), 302)]
        assert "令牌已撤销。" in response.content.decode()
        token.refresh_from_db()
        assert token.revoked_at is not None
        assert not token.is_active
        change = ApiToken.history.filter(history_type="~").get()
        assert change.history_user == personas.owner
        assert change.history_source == "ui"
        assert [c.field for c in change.diff_against(change.prev_record).changes] == ["revoked_at"]
        assert_not_authenticated(api_me(raw))

    def test_revoking_needs_post(self, owner_client: Client) -> None:
        create_token(owner_client)
        token = ApiToken.objects.get()

        assert owner_client.get(reverse("web:revoke_token", args=[token.pk])).status_code == 405
        token.refresh_from_db()
        assert token.revoked_at is None

    def test_another_user_cannot_revoke_my_token(self, owner_client: Client, personas: Personas) -> None:
        raw = secret_in(create_token(owner_client))
        token = ApiToken.objects.get()
        history_before = ApiToken.history.count()
        intruder = Client()
        intruder.force_login(personas.admin)  # not even an administrator

        response = intruder.post(reverse("web:revoke_token", args=[token.pk]), follow=True)

        assert "令牌不存在。" in response.content.decode()
        token.refresh_from_db()
        assert token.revoked_at is None
        assert ApiToken.history.count() == history_before
        assert api_me(raw).status_code == 200

    def test_another_users_tokens_are_not_listed(self, owner_client: Client, personas: Personas) -> None:
        create_token(owner_client, name="王的令牌")
        other = Client()
        other.force_login(personas.colleague)

        page = other.get(reverse("web:tokens")).content.decode()

        assert "王的令牌" not in page
        assert "还没有令牌。" in page


def test_an_expired_token_is_refused(owner_client: Client) -> None:
    raw = secret_in(create_token(owner_client))
    ApiToken.objects.update(expires_at=timezone.now() - dt.timedelta(seconds=1))

    assert_not_authenticated(api_me(raw))


def test_an_unknown_or_malformed_token_is_refused(personas: Personas) -> None:
    assert_not_authenticated(api_me("pcrm_deadbeef_not-a-real-secret"))
    assert_not_authenticated(api_me("something-else"))


def test_a_deactivated_users_token_is_refused(owner_client: Client, personas: Personas) -> None:
    raw = secret_in(create_token(owner_client))
    personas.owner.is_active = False
    personas.owner.save()

    assert_not_authenticated(api_me(raw))
