"""`pharmacrm worker` runs queued tasks with the database backend and with RQ, and keeps a heartbeat."""

from __future__ import annotations

import datetime as dt
import io
import signal
from collections.abc import Iterator
from typing import Any

import pytest
from django.contrib.sessions.backends.db import SessionStore
from django.core.management import call_command
from django.utils import timezone
from django_tasks import TaskResultStatus

from pharmacrm.core.models import WorkerHeartbeat
from pharmacrm.core.tasks import clear_expired_sessions

REDIS_URL = "redis://127.0.0.1:6379/9"  # a database of its own, flushed by the test


@pytest.fixture(autouse=True)
def _keep_the_test_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    """Let the workers run inside the test's transaction.

    Both close "old" database connections between tasks, which inside a test's wrapping
    transaction closes the test's own connection. A transactional test would avoid that, but its
    flush empties the migrations' reference data (divisions) for every later test on a reused
    database, so the closing is switched off instead.
    """
    monkeypatch.setattr("django_tasks_db.management.commands.db_worker.close_old_connections", lambda: None)
    monkeypatch.setattr("django_rq.management.commands.rqworker.reset_db_connections", lambda: None)


@pytest.fixture(autouse=True)
def _restore_signal_handlers() -> Iterator[None]:
    # The workers install SIGINT/SIGTERM handlers; keep them from outliving the test.
    signals = [signal.SIGINT, signal.SIGTERM, signal.SIGQUIT]
    saved = {sig: signal.getsignal(sig) for sig in signals}
    yield
    for sig, handler in saved.items():
        signal.signal(sig, handler)


def make_sessions() -> None:
    """One live session and one expired: the task deletes the expired one and reports 1 left."""
    live = SessionStore()
    live["n"] = 1
    live.create()
    expired = SessionStore()
    expired["n"] = 2
    expired.set_expiry(timezone.now() - dt.timedelta(days=1))
    expired.create()


def run_worker(*args: str) -> str:
    out = io.StringIO()
    call_command("worker", "--batch", *args, stdout=out)
    return out.getvalue()


@pytest.mark.django_db
def test_the_database_backend_runs_a_queued_task(settings: Any) -> None:
    settings.TASK_BACKEND = "db"
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}}
    make_sessions()

    result = clear_expired_sessions.enqueue()
    assert result.status == TaskResultStatus.READY

    output = run_worker("--interval", "0")

    result.refresh()
    assert result.status == TaskResultStatus.SUCCESSFUL
    assert result.return_value == 1
    assert "on backend db" in output
    # The worker removes its heartbeat when it stops.
    assert not WorkerHeartbeat.objects.exists()


def redis_available() -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(REDIS_URL, socket_connect_timeout=0.5).ping())
    except redis.exceptions.RedisError:
        return False


@pytest.fixture
def rq_settings(settings: Any) -> Iterator[Any]:
    if not redis_available():
        pytest.skip(f"Redis is not reachable at {REDIS_URL}")
    import django_rq

    settings.TASK_BACKEND = "rq"
    settings.RQ_QUEUES = {"default": {"URL": REDIS_URL}}
    settings.TASKS = {"default": {"BACKEND": "django_tasks_rq.RQBackend", "QUEUES": ["default"]}}
    # In-process, so the job sees the test's uncommitted rows (a forked work horse would share
    # the connection with the parent); forking is RQ's own business.
    settings.RQ = {"WORKER_CLASS": "rq.worker.SimpleWorker"}
    connection = django_rq.get_connection("default")
    connection.flushdb()
    yield settings
    connection.flushdb()


@pytest.mark.django_db
def test_the_rq_backend_runs_a_queued_task(rq_settings: Any) -> None:
    make_sessions()

    result = clear_expired_sessions.enqueue()
    assert result.status == TaskResultStatus.READY

    output = run_worker()

    result.refresh()
    assert result.status == TaskResultStatus.SUCCESSFUL
    assert result.return_value == 1
    assert "on backend rq" in output
    assert not WorkerHeartbeat.objects.exists()
