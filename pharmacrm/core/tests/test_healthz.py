"""/healthz: the database answers, and whether a worker is alive, for load balancers and monitoring."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.db import OperationalError
from django.test import Client
from django.utils import timezone

from pharmacrm.core import views
from pharmacrm.core.models import WorkerHeartbeat

pytestmark = pytest.mark.django_db


def beat(seconds_ago: float, worker_id: str = "host-1-abc") -> None:
    seen = timezone.now() - dt.timedelta(seconds=seconds_ago)
    WorkerHeartbeat.objects.create(worker_id=worker_id, backend="db", started_at=seen, last_seen_at=seen)


def healthz(client: Client) -> dict[str, Any]:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert "no-cache" in response["Cache-Control"]
    body = response.json()
    assert body["status"] == "ok"
    assert body["database"]["status"] == "ok"
    return body


def test_no_worker_has_ever_run(client: Client) -> None:
    body = healthz(client)

    assert body["worker"] == {"status": "none", "alive": 0, "last_seen": None, "queued": 0}


def test_a_worker_beat_recently(client: Client) -> None:
    beat(5)
    beat(30, worker_id="host-2-def")

    worker = healthz(client)["worker"]

    assert worker["status"] == "ok"
    assert worker["alive"] == 2


def test_every_worker_is_silent(client: Client) -> None:
    beat(views.WORKER_STALE_AFTER.total_seconds() + 60)

    worker = healthz(client)["worker"]

    assert worker["status"] == "stale"
    assert worker["alive"] == 0
    assert worker["last_seen"] is not None


def test_one_live_worker_is_enough(client: Client) -> None:
    beat(3600, worker_id="old")
    beat(1, worker_id="new")

    assert healthz(client)["worker"]["status"] == "ok"


def test_a_silent_database_is_a_503(client: Client, monkeypatch: pytest.MonkeyPatch) -> None:
    class DeadConnection:
        vendor = "sqlite"

        def cursor(self) -> Any:
            raise OperationalError("database is down")

    monkeypatch.setattr(views, "connection", DeadConnection())

    response = client.get("/healthz")

    assert response.status_code == 503
    assert response.json() == {
        "status": "error",
        "database": {"status": "error", "error": "OperationalError"},
    }
