"""Daily jobs scheduled by the worker: registration from the apps, due or not, once a day across workers."""

from __future__ import annotations

import datetime as dt
import io
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.management import call_command
from django_tasks import task

from pharmacrm.core import schedule
from pharmacrm.core.models import ScheduledRun

SHANGHAI = schedule.SCHEDULE_TZ


def at(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    """A wall-clock time in Asia/Shanghai, as the aware datetime a worker sees."""
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=SHANGHAI)


DAY = dt.date(2026, 3, 2)
calls: list[str] = []


@task()
def sample_task() -> str:
    calls.append("task")
    return "ok"


@pytest.fixture
def only(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """An empty registry for the test (the apps' jobs are restored afterwards), and a call log."""
    monkeypatch.setattr(schedule, "_registry", {})
    calls.clear()
    yield calls


def counting(name: str) -> Any:
    def run() -> None:
        calls.append(name)

    run.__qualname__ = f"counting_{name}"
    return run


def test_the_apps_register_the_daily_jobs_from_ready() -> None:
    jobs = {job.name: job for job in schedule.jobs()}
    assert {
        "engagement.commitments",
        "engagement.callbacks",
        "engagement.care",
        "customers.retention",
        "customers.profile_quality",
        "core.sessions",
        "core.import_uploads",
        "channels.licence_alerts",
    } <= set(jobs)
    assert jobs["engagement.commitments"].target == "pharmacrm.engagement.tasks.remind_commitments"
    assert jobs["customers.retention"].target == "pharmacrm.customers.tasks.apply_retention"
    assert jobs["engagement.care"].is_task and jobs["engagement.care"].at == dt.time(1, 20)
    assert [j.at for j in schedule.jobs()] == sorted(j.at for j in schedule.jobs())


def test_registering_again_is_harmless_but_a_clash_is_refused(only: list[str]) -> None:
    job = counting("a")
    schedule.register("x", at="02:00", job=job)
    schedule.register("x", at="02:00", job=job)  # a second ready(): same job, same time
    assert len(schedule.jobs()) == 1
    with pytest.raises(ValueError, match="already registered"):
        schedule.register("x", at="03:00", job=job)
    with pytest.raises(ValueError, match="HH:MM"):
        schedule.register("y", at="25:00", job=job)
    with pytest.raises(TypeError, match="callable"):
        schedule.register("z", at="02:00", job="not a job")  # type: ignore[arg-type]
    assert [j.name for j in schedule.jobs()] == ["x"]


@pytest.mark.django_db
def test_a_job_is_due_once_its_time_has_passed_and_then_not_again_that_day(only: list[str]) -> None:
    schedule.register("early", at="01:10", job=counting("early"))
    schedule.register("late", at="23:30", job=counting("late"))

    assert schedule.due(now=at(DAY, 1, 9)) == []
    assert [j.name for j in schedule.due(now=at(DAY, 1, 10))] == ["early"]

    runs = schedule.run_due(now=at(DAY, 9, 0), worker_id="w1")  # started late: still runs today
    assert [(r.job, r.day, r.status) for r in runs] == [("early", DAY, ScheduledRun.Status.DONE)]
    assert only == ["early"]
    assert schedule.due(now=at(DAY, 9, 1)) == []
    assert schedule.run_due(now=at(DAY, 12, 0), worker_id="w1") == []
    assert only == ["early"]

    # The next day (Asia/Shanghai, whatever UTC says: 17:30 UTC is 01:30 tomorrow there).
    tomorrow_utc = dt.datetime.combine(DAY, dt.time(17, 30), tzinfo=dt.UTC)
    assert [j.name for j in schedule.due(now=tomorrow_utc)] == ["early"]
    schedule.run_due(now=at(DAY, 23, 45), worker_id="w1")
    assert only == ["early", "late"]
    assert ScheduledRun.objects.count() == 2


@pytest.mark.django_db
def test_two_workers_run_a_job_once_a_day(only: list[str]) -> None:
    schedule.register("followups", at="01:10", job=counting("followups"))
    moment = at(DAY, 1, 11)

    first = schedule.run_due(now=moment, worker_id="host-a")
    second = schedule.run_due(now=moment, worker_id="host-b")

    assert [r.worker_id for r in first] == ["host-a"]
    assert second == []
    assert only == ["followups"]
    assert list(ScheduledRun.objects.values_list("job", "day", "worker_id")) == [("followups", DAY, "host-a")]


@pytest.mark.django_db
def test_the_unique_row_stops_a_worker_that_saw_the_job_as_due_before_the_other_claimed_it(
    only: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The race: both workers read "due" before either writes; the (job, day) constraint decides."""
    job = schedule.register("care", at="01:20", job=counting("care"))
    moment = at(DAY, 1, 21)
    stale = [job]
    monkeypatch.setattr(schedule, "due", lambda now=None: stale)  # both saw it due

    won = schedule.run_due(now=moment, worker_id="host-a")
    lost = schedule.run_due(now=moment, worker_id="host-b")

    assert len(won) == 1 and lost == []
    assert only == ["care"]
    assert ScheduledRun.objects.get().worker_id == "host-a"


@pytest.mark.django_db
def test_a_task_is_enqueued_and_its_result_id_kept(only: list[str], settings: Any) -> None:
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
    schedule.register("sample", at="04:00", job=sample_task)

    (run,) = schedule.run_due(now=at(DAY, 4, 0), worker_id="w")

    assert only == ["task"]
    assert run.task_id and run.status == ScheduledRun.Status.DONE
    run.refresh_from_db()
    assert run.task_id and run.status == ScheduledRun.Status.DONE


@pytest.mark.django_db
def test_a_task_on_the_database_backend_waits_in_the_queue(only: list[str], settings: Any) -> None:
    from django_tasks_db.models import DBTaskResult

    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}}
    schedule.register("sample", at="04:00", job=sample_task)
    (run,) = schedule.run_due(now=at(DAY, 4, 0), worker_id="w")
    assert run.status == ScheduledRun.Status.QUEUED
    assert only == []  # the worker's task loop runs it, not the scheduler
    assert DBTaskResult.objects.filter(id=run.task_id, task_path__endswith="sample_task").exists()


@pytest.mark.django_db
def test_a_failing_job_is_recorded_and_the_others_still_run(only: list[str]) -> None:
    def broken() -> None:
        raise RuntimeError("no route to the SMS gateway")

    schedule.register("broken", at="01:00", job=broken)
    schedule.register("fine", at="01:05", job=counting("fine"))

    runs = schedule.run_due(now=at(DAY, 2, 0), worker_id="w")

    assert {r.job: r.status for r in runs} == {"broken": "failed", "fine": "done"}
    failed = ScheduledRun.objects.get(job="broken")
    assert "no route to the SMS gateway" in failed.error
    assert only == ["fine"]
    assert schedule.run_due(now=at(DAY, 3, 0), worker_id="w") == []  # not retried the same day


@pytest.mark.django_db
def test_the_scheduler_loop_checks_at_once_and_stops_when_told(only: list[str]) -> None:
    schedule.register("now", at="00:00", job=counting("now"))
    stop = threading.Event()
    stop.set()  # one check, then stop
    seen: list[str] = []
    schedule.loop(stop, interval=0, worker_id="w", report=lambda run: seen.append(run.job))
    assert seen == ["now"] and only == ["now"]


@pytest.mark.django_db
def test_schedule_command_lists_jobs_and_last_run(only: list[str]) -> None:
    schedule.register("engagement.commitments", at="01:10", job=counting("c"), description="提醒与升级")
    schedule.register("core.sessions", at="03:00", job=counting("s"))
    ScheduledRun.objects.create(
        job="engagement.commitments",
        day=DAY,
        claimed_at=at(DAY, 1, 10),
        worker_id="host-a-1",
        status=ScheduledRun.Status.DONE,
    )
    out = io.StringIO()
    call_command("schedule", stdout=out)
    text = out.getvalue()
    lines = text.splitlines()
    commitments = next(line for line in lines if line.startswith("engagement.commitments"))
    assert "01:10" in commitments and "2026-03-02" in commitments and "host-a-1" in commitments
    sessions = next(line for line in lines if line.startswith("core.sessions"))
    assert "never" in sessions
    assert "提醒与升级" in text

    out = io.StringIO()
    call_command("worker", "--list-schedule", stdout=out)
    assert out.getvalue() == text


@pytest.mark.django_db
@pytest.mark.parametrize("flag", ["", "--no-schedule"])
def test_worker_starts_the_scheduler_unless_told_not_to(
    flag: str, only: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    started: list[dict[str, Any]] = []
    monkeypatch.setattr(schedule, "loop", lambda stop, **kwargs: started.append(kwargs))
    # The task loop itself is not under test here: it returns at once.
    monkeypatch.setattr("pharmacrm.core.management.commands.worker.call_command", lambda *a, **k: None)
    out = io.StringIO()
    call_command("worker", *([flag] if flag else []), "--schedule-interval", "30", stdout=out)
    for thread in threading.enumerate():
        if thread.name == "schedule":
            thread.join(timeout=5)
    if flag:
        assert started == [] and "schedule off" in out.getvalue()
    else:
        assert [s["interval"] for s in started] == [30.0]
        assert "schedule 0 daily jobs" in out.getvalue()


@pytest.mark.django_db
def test_the_registered_jobs_all_run_by_04_00(settings: Any) -> None:
    """The real jobs, end to end on an empty database: each is claimed once and succeeds."""
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
    out = io.StringIO()
    call_command("schedule", "--run-due", stdout=out)  # whatever the hour now: only due ones
    ScheduledRun.objects.all().delete()

    runs = schedule.run_due(now=at(DAY, 4, 0), worker_id="w")

    assert {r.job for r in runs} == {j.name for j in schedule.jobs()}
    assert {r.job: r.status for r in runs if r.status != ScheduledRun.Status.DONE} == {}
    assert schedule.run_due(now=at(DAY, 4, 1), worker_id="other") == []
