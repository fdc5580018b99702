"""API test support: clients signed in by token or session, and the check for the one error shape."""

from __future__ import annotations

from typing import Any

from django.test import Client

from pharmacrm.core.models import User
from pharmacrm.core.services import create_api_token


def bearer_client(user: User) -> Client:
    _token, raw = create_api_token(actor=user, name="tests", days=30)
    return Client(headers={"Authorization": f"Bearer {raw}"})


def session_client(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def assert_error(response: Any, status: int, code: str, message: str | None = None) -> dict[str, Any]:
    """The response is the API's one error shape; returns the `error` object for further checks."""
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"}
    error = body["error"]
    assert set(error) == {"code", "message", "fields"}
    assert error["code"] == code
    assert isinstance(error["message"], str) and error["message"]
    assert isinstance(error["fields"], dict)
    if message is not None:
        assert error["message"] == message
    return error
