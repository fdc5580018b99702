"""Security headers on every page, signed in or not."""

import pytest
from django.test import Client
from django.urls import reverse

from pharmacrm.core.testing import Personas

pytestmark = pytest.mark.django_db


def assert_security_headers(response) -> None:  # type: ignore[no-untyped-def]
    csp = response["Content-Security-Policy"]
    assert "default-src 'self'" in csp
    assert "script-src 'self'" in csp
    assert "'unsafe-inline'" not in csp.split("script-src", 1)[1].split(";", 1)[0]
    assert "frame-ancestors 'none'" in csp
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"


def test_a_signed_in_page_sends_the_security_headers(client: Client, personas: Personas) -> None:
    client.force_login(personas.owner)

    response = client.get(reverse("customers:institution_list"))

    assert response.status_code == 200
    assert_security_headers(response)


def test_the_login_page_sends_the_security_headers(client: Client) -> None:
    response = client.get(reverse("login"))

    assert_security_headers(response)


def test_the_api_sends_the_security_headers_and_a_request_id(client: Client, personas: Personas) -> None:
    client.force_login(personas.owner)

    response = client.get("/api/v1/me", headers={"X-Request-ID": "trace-123"})

    assert response.status_code == 200
    assert_security_headers(response)
    assert response["X-Request-ID"] == "trace-123"
