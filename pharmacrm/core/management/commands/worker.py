"""`pharmacrm worker`: run background tasks with the configured backend, report a heartbeat and start the daily jobs."""

from __future__ import annotations

import os
import socket
import threading
import uuid
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.db import close_old_connections
from django.utils import timezone

from pharmacrm.core import schedule
from pharmacrm.core.models import WorkerHeartbeat


class Command(BaseCommand):
    help = (
        "Run the background worker (django-tasks-db by default, RQ when TASK_BACKEND=rq); it also "
        "enqueues the registered daily jobs once a day (see `pharmacrm schedule`)."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--batch", action="store_true", help="Process what is queued, then exit.")
        parser.add_argument(
            "--interval", type=float, default=1.0, help="Seconds between polls (database backend)."
        )
        parser.add_argument("--heartbeat", type=float, default=15.0, help="Seconds between heartbeats.")
        parser.add_argument(
            "--no-schedule",
            action="store_true",
            help="Do not enqueue the daily jobs from this worker (another worker or cron does).",
        )
        parser.add_argument(
            "--schedule-interval", type=float, default=60.0, help="Seconds between checks for due daily jobs."
        )
        parser.add_argument(
            "--list-schedule", action="store_true", help="Print the daily jobs and their last run, then exit."
        )

    def handle(
        self,
        *args: Any,
        batch: bool,
        interval: float,
        heartbeat: float,
        no_schedule: bool,
        schedule_interval: float,
        list_schedule: bool,
        **options: Any,
    ) -> None:
        if list_schedule:
            call_command("schedule", stdout=self.stdout)
            return
        backend = settings.TASK_BACKEND
        # A worker killed mid-import left its job "importing": its heartbeat file has gone stale.
        from pharmacrm.core.imports.jobs import fail_abandoned_jobs

        if abandoned := fail_abandoned_jobs():
            self.stdout.write(f"{abandoned} import job(s) abandoned by a stopped worker marked failed")
        worker_id = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        now = timezone.now()
        WorkerHeartbeat.objects.update_or_create(
            worker_id=worker_id, defaults={"backend": backend, "started_at": now, "last_seen_at": now}
        )
        stop = threading.Event()

        def beat() -> None:
            while not stop.wait(heartbeat):
                WorkerHeartbeat.objects.filter(worker_id=worker_id).update(last_seen_at=timezone.now())
                close_old_connections()

        def tick() -> None:
            schedule.loop(
                stop,
                interval=schedule_interval,
                worker_id=worker_id,
                report=lambda run: self.stdout.write(
                    f"daily job {run.job} for {run.day}: {run.status} {run.task_id}".rstrip()
                ),
                on_error=lambda exc: self.stderr.write(f"scheduler: {exc}"),
            )

        threads = [threading.Thread(target=beat, name="heartbeat", daemon=True)]
        if not no_schedule and not batch:
            threads.append(threading.Thread(target=tick, name="schedule", daemon=True))
        for thread in threads:
            thread.start()
        scheduling = "off" if no_schedule or batch else f"{len(schedule.jobs())} daily jobs"
        self.stdout.write(f"worker {worker_id} on backend {backend}; schedule {scheduling}")
        try:
            if backend == "rq":
                rq_args = ["default", "--job-class", "django_tasks_rq.Job"]
                if batch:
                    rq_args.append("--burst")
                call_command("rqworker", *rq_args)
            else:
                db_args = ["--interval", str(interval), "--worker-id", worker_id[:64]]
                if batch:
                    db_args.append("--batch")
                call_command("db_worker", *db_args)
        finally:
            stop.set()
            WorkerHeartbeat.objects.filter(worker_id=worker_id).delete()
