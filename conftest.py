"""Test-wide setup: fast password hashing, no network, the shared personas and helpers."""

import pytest
from django.conf import settings

pytest_plugins = ["pharmacrm.core.testing"]


@pytest.fixture(autouse=True)
def _fast_and_isolated(settings: settings, tmp_path):  # type: ignore[valid-type]
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
    # Import-job progress files are named by job id, which repeats across parallel test databases.
    settings.VAR_DIR = tmp_path
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    from django.core.cache import cache

    cache.clear()
    yield
    from pharmacrm.compliance.policy import discard_pending_events

    discard_pending_events()
