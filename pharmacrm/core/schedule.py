"""Daily jobs run by `pharmacrm worker` itself: no cron needed.

Apps register their jobs from `AppConfig.ready()` (core never imports a domain app):

    from pharmacrm.core import schedule
    schedule.register("engagement.followups", at="01:10", job=tasks.remind_commitments,
                      description="…")

`job` is a django-tasks `Task` (enqueued, so the worker runs it like any other task) or a plain
callable (run in the scheduler thread). Times are wall-clock Asia/Shanghai. Each worker checks
once a minute (`run_due`); a job is due once its time of day has passed and it has not run that
day. Before enqueueing, a worker claims the (job, day) pair by inserting a `ScheduledRun` row
under a unique constraint, so however many workers run, one of them wins and the others skip.
A worker started late in the day still runs the jobs whose time has passed (the same day only;
days the workers were down are not replayed: every registered job is idempotent and catches up
on its own next time).
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from django.db import IntegrityError, close_old_connections, transaction
from django.utils import timezone
from django_tasks import TaskResultStatus
from django_tasks.base import Task

from pharmacrm.core.models import ScheduledRun

logger = logging.getLogger(__name__)

SCHEDULE_TZ = ZoneInfo("Asia/Shanghai")


@dataclass(frozen=True)
class DailyJob:
    name: str
    at: dt.time
    job: Task[Any, Any] | Callable[[], Any]
    description: str = ""

    @property
    def is_task(self) -> bool:
        return isinstance(self.job, Task)

    @property
    def target(self) -> str:
        """The dotted path of what runs, for listings."""
        func = self.job.func if isinstance(self.job, Task) else self.job
        return f"{getattr(func, '__module__', '?')}.{getattr(func, '__qualname__', repr(func))}"


_registry: dict[str, DailyJob] = {}


def _parse_time(at: str | dt.time) -> dt.time:
    if isinstance(at, dt.time):
        return at.replace(tzinfo=None)
    try:
        return dt.time.fromisoformat(at)
    except ValueError as exc:
        raise ValueError(f"daily job time must be HH:MM, got {at!r}") from exc


def register(
    name: str, *, at: str | dt.time, job: Task[Any, Any] | Callable[[], Any], description: str = ""
) -> DailyJob:
    """Register (or re-register, e.g. on a second ready()) a job to run once a day after `at` (Asia/Shanghai)."""
    if not name or len(name) > 100:
        raise ValueError(f"daily job name must be 1–100 characters, got {name!r}")
    if not (isinstance(job, Task) or callable(job)):
        raise TypeError(f"daily job {name!r}: job must be a django-tasks task or a callable")
    entry = DailyJob(name=name, at=_parse_time(at), job=job, description=description)
    existing = _registry.get(name)
    if existing is not None and (existing.at, existing.target) != (entry.at, entry.target):
        raise ValueError(f"daily job {name!r} is already registered for {existing.target} at {existing.at}")
    _registry[name] = entry
    return entry


def unregister(name: str) -> None:
    _registry.pop(name, None)


def jobs() -> list[DailyJob]:
    """Every registered job, by time of day then name."""
    return sorted(_registry.values(), key=lambda j: (j.at, j.name))


def local_now(now: dt.datetime | None = None) -> dt.datetime:
    return (now or timezone.now()).astimezone(SCHEDULE_TZ)


def due(*, now: dt.datetime | None = None) -> list[DailyJob]:
    """The jobs whose time has passed today (Asia/Shanghai) and that no worker has claimed today."""
    local = local_now(now)
    candidates = [j for j in jobs() if j.at <= local.time().replace(tzinfo=None)]
    if not candidates:
        return []
    claimed = set(
        ScheduledRun.objects.filter(day=local.date(), job__in=[j.name for j in candidates]).values_list(
            "job", flat=True
        )
    )
    return [j for j in candidates if j.name not in claimed]


def _claim(job: DailyJob, *, day: dt.date, now: dt.datetime, worker_id: str) -> ScheduledRun | None:
    """Insert the (job, day) row; None when another worker got there first."""
    try:
        with transaction.atomic():
            return ScheduledRun.objects.create(
                job=job.name, day=day, claimed_at=now, worker_id=worker_id[:64]
            )
    except IntegrityError:
        return None


def run_due(*, now: dt.datetime | None = None, worker_id: str = "") -> list[ScheduledRun]:
    """Claim and start every due job; returns the runs this call claimed (others' claims are skipped).

    A task is enqueued (status stays `queued`; the task result id is kept). A plain callable runs
    here: `done`, or `failed` with the traceback. A failure never stops the other jobs.
    """
    moment = now or timezone.now()
    day = local_now(moment).date()
    claimed: list[ScheduledRun] = []
    for job in due(now=moment):
        run = _claim(job, day=day, now=moment, worker_id=worker_id)
        if run is None:
            continue
        try:
            if isinstance(job.job, Task):
                result = job.job.enqueue()
                run.task_id = str(result.id)[:64]
                # An immediate backend has already run it.
                if result.status == TaskResultStatus.SUCCESSFUL:
                    run.status = ScheduledRun.Status.DONE
                elif result.status == TaskResultStatus.FAILED:
                    run.status = ScheduledRun.Status.FAILED
            else:
                job.job()
                run.status = ScheduledRun.Status.DONE
        except Exception:  # one job's failure is recorded, the others still run
            logger.exception("daily job %s failed", job.name)
            run.status = ScheduledRun.Status.FAILED
            run.error = traceback.format_exc()[-4000:]
        run.save(update_fields=["task_id", "status", "error"])
        claimed.append(run)
    return claimed


@dataclass(frozen=True)
class JobStatus:
    job: DailyJob
    last_run: ScheduledRun | None
    due_now: bool
    task_status: str = ""  # for an enqueued task: the backend's word on it (READY, SUCCESSFUL, FAILED …)


def _task_status(job: DailyJob, run: ScheduledRun | None) -> str:
    if run is None or not run.task_id or not isinstance(job.job, Task):
        return ""
    try:
        return str(job.job.get_result(run.task_id).status)
    except Exception:  # the backend cannot tell (results expired, RQ unreachable …)
        return ""


def status(*, now: dt.datetime | None = None) -> list[JobStatus]:
    """Each registered job with its last run, for `pharmacrm schedule` (one query for the runs)."""
    registered = jobs()
    names = [j.name for j in registered]
    last: dict[str, ScheduledRun] = {}
    for run in ScheduledRun.objects.filter(job__in=names).order_by("job", "-day"):
        last.setdefault(run.job, run)
    due_names = {j.name for j in due(now=now)}
    return [
        JobStatus(
            job=j,
            last_run=last.get(j.name),
            due_now=j.name in due_names,
            task_status=_task_status(j, last.get(j.name)),
        )
        for j in registered
    ]


def loop(
    stop: threading.Event,
    *,
    interval: float = 60.0,
    worker_id: str = "",
    report: Callable[[ScheduledRun], None] | None = None,
    on_error: Callable[[Exception], None] | None = None,
) -> None:
    """The worker's scheduler thread: check at once (a worker started after a job's time still runs
    it today), then every `interval` seconds until `stop` is set."""
    while True:
        try:
            for run in run_due(worker_id=worker_id):
                if report:
                    report(run)
        except Exception as exc:  # the scheduler must outlive a database hiccup
            logger.exception("scheduler check failed")
            if on_error:
                on_error(exc)
        finally:
            close_old_connections()
        if stop.wait(interval):
            return
