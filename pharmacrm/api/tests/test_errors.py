"""Every API refusal has one shape, {"error": {"code", "message", "fields"}}, in the user's language."""

from __future__ import annotations

from typing import Any

import pytest
from django.conf import settings
from django.test import Client
from django.utils import translation

from pharmacrm.api.api import api
from pharmacrm.api.tests.support import assert_error, bearer_client, session_client
from pharmacrm.core.models import ApiToken
from pharmacrm.core.testing import Personas
from pharmacrm.core.tests.factories import PASSWORD
from pharmacrm.customers.tests.factories import InstitutionFactory

pytestmark = pytest.mark.django_db

INVALID = "提交的数据有误，请检查各字段。"
NOT_FOUND = "对象不存在或无权查看。"


def post_token(client: Client, body: Any, **extra: Any):  # type: ignore[no-untyped-def]
    return client.post("/api/v1/auth/token", body, content_type="application/json", **extra)


def assert_nothing_created() -> None:
    assert not ApiToken.objects.exists()
    assert not ApiToken.history.exists()


class TestBadInput:
    def test_malformed_json(self, client: Client, personas: Personas) -> None:
        response = post_token(client, '{"username": "owner", "password": ')

        assert_error(response, 400, "malformed_json", "请求体不是有效的 JSON。")
        assert_nothing_created()

    def test_unknown_fields_are_named(self, client: Client, personas: Personas) -> None:
        response = post_token(client, {"username": "owner", "password": PASSWORD, "is_admin": True})

        error = assert_error(response, 422, "validation_error", INVALID)
        assert error["fields"] == {"is_admin": ["不允许的字段。"]}
        assert_nothing_created()

    def test_missing_fields_are_named(self, client: Client, personas: Personas) -> None:
        response = post_token(client, {})

        error = assert_error(response, 422, "validation_error", INVALID)
        assert error["fields"] == {"username": ["此字段为必填项。"], "password": ["此字段为必填项。"]}
        assert_nothing_created()

    def test_wrong_types_and_ranges_are_named(self, client: Client, personas: Personas) -> None:
        response = post_token(client, {"username": "owner", "password": PASSWORD, "days": "many"})
        error = assert_error(response, 422, "validation_error", INVALID)
        assert error["fields"] == {"days": ["请输入整数。"]}

        response = post_token(client, {"username": "owner", "password": PASSWORD, "name": "x" * 65})
        error = assert_error(response, 422, "validation_error", INVALID)
        assert error["fields"] == {"name": ["内容过长。"]}
        assert_nothing_created()

    def test_a_body_over_the_upload_limit_is_refused(self, client: Client, personas: Personas) -> None:
        padding = "x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1)

        response = post_token(client, {"username": "owner", "password": PASSWORD, "name": padding})

        assert_error(response, 413, "too_large", "请求体过大。")
        assert_nothing_created()

    def test_a_bad_cursor_is_a_validation_error(self, personas: Personas) -> None:
        response = bearer_client(personas.owner).get("/api/v1/institutions", {"cursor": "not-a-cursor"})

        error = assert_error(response, 422, "validation_error", INVALID)
        assert list(error["fields"]) == ["cursor"]


class TestRefusals:
    def test_unauthenticated(self, client: Client) -> None:
        for path in ("/api/v1/me", "/api/v1/institutions", "/api/v1/territories"):
            assert_error(client.get(path), 401, "not_authenticated", "未登录，或令牌无效、已过期。")

    def test_a_hidden_object_answers_like_a_missing_one(self, personas: Personas) -> None:
        hidden = InstitutionFactory(territory=personas.outside_territory)
        client = bearer_client(personas.owner)

        hidden_body = assert_error(
            client.get(f"/api/v1/institutions/{hidden.pk}"), 404, "not_found", NOT_FOUND
        )
        missing_body = assert_error(client.get("/api/v1/institutions/999999"), 404, "not_found", NOT_FOUND)

        assert hidden_body == missing_body

    def test_an_unknown_method(self, personas: Personas) -> None:
        response = bearer_client(personas.owner).delete("/api/v1/me")

        assert response.status_code == 405


class TestThrottling:
    @pytest.fixture
    def tiny_rates(self, monkeypatch: pytest.MonkeyPatch) -> None:
        # Ninja builds throttles once, at import, from the rate strings; shrink them in place.
        for throttle in api.throttle:  # type: ignore[union-attr]
            monkeypatch.setattr(throttle, "num_requests", 2)

    def test_too_many_authenticated_requests(self, tiny_rates: None, personas: Personas) -> None:
        client = bearer_client(personas.owner)
        assert client.get("/api/v1/me").status_code == 200
        assert client.get("/api/v1/me").status_code == 200

        response = client.get("/api/v1/me")

        assert_error(response, 429, "rate_limited", "请求过于频繁，请稍后再试。")
        assert int(response["Retry-After"]) > 0
        # Another user has their own allowance.
        assert bearer_client(personas.colleague).get("/api/v1/me").status_code == 200

    def test_the_token_endpoint_has_its_own_tight_limit(self, client: Client, personas: Personas) -> None:
        for _attempt in range(10):
            post_token(client, {"username": "nobody", "password": "x"})

        assert_error(post_token(client, {"username": "owner", "password": PASSWORD}), 429, "rate_limited")
        assert_nothing_created()


class TestLanguage:
    """Messages follow the caller's language: Chinese by default, the user's choice when signed in."""

    def english(self, message: str) -> str:
        with translation.override("en"):
            return translation.gettext(message)

    def test_chinese_by_default(self, personas: Personas) -> None:
        response = bearer_client(personas.owner).get("/api/v1/institutions/999999")

        assert_error(response, 404, "not_found", NOT_FOUND)

    @pytest.mark.parametrize("sign_in", [bearer_client, session_client], ids=["bearer", "session"])
    def test_english_for_a_user_who_chose_english(self, personas: Personas, sign_in: Any) -> None:
        personas.owner.language = "en"
        personas.owner.save()

        response = sign_in(personas.owner).get("/api/v1/institutions/999999")

        assert_error(response, 404, "not_found", self.english(NOT_FOUND))
        assert response["Content-Language"] == "en"
