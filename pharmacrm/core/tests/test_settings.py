"""The security-relevant settings as shipped (tests swap the hasher for speed; production must not)."""

import os

import pytest

from pharmacrm import settings as project


def test_argon2_is_the_default_password_hasher() -> None:
    # conftest switches tests to MD5 through the settings fixture; the module keeps the real list.
    assert project.PASSWORD_HASHERS[0] == "django.contrib.auth.hashers.Argon2PasswordHasher"


def test_session_and_csrf_cookies_are_not_readable_by_scripts() -> None:
    assert project.SESSION_COOKIE_HTTPONLY is True
    assert project.SESSION_COOKIE_SAMESITE == "Lax"
    assert project.CSRF_COOKIE_HTTPONLY is True


@pytest.mark.skipif("AXES_FAILURE_LIMIT" in os.environ, reason="overridden by the environment")
def test_login_lockout_is_configured() -> None:
    assert project.AXES_FAILURE_LIMIT == 5
    assert project.AXES_RESET_ON_SUCCESS is True
    assert project.AXES_LOCKOUT_PARAMETERS == [["username", "ip_address"]]


@pytest.mark.skipif("TASK_BACKEND" in os.environ, reason="overridden by the environment")
def test_database_backend_is_the_default_task_backend() -> None:
    assert project.TASK_BACKEND == "db"
    assert project.TASKS["default"]["BACKEND"] == "django_tasks_db.DatabaseBackend"
    # Both worker backends are installed so either can be chosen at run time.
    assert {"django_tasks_db", "django_rq", "django_tasks_rq"} <= set(project.INSTALLED_APPS)
