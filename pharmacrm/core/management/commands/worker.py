"""`pharmacrm worker`: run background tasks with the configured backend and report a heartbeat."""

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

from pharmacrm.core.models import WorkerHeartbeat


class Command(BaseCommand):
    help = "Run the background worker (django-tasks-db by default, RQ when TASK_BACKEND=rq)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--batch", action="store_true", help="Process what is queued, then exit.")
        parser.add_argument(
            "--interval", type=float, default=1.0, help="Seconds between polls (database backend)."
        )
        parser.add_argument("--heartbeat", type=float, default=15.0, help="Seconds between heartbeats.")

    def handle(self, *args: Any, batch: bool, interval: float, heartbeat: float, **options: Any) -> None:
        backend = settings.TASK_BACKEND
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

        thread = threading.Thread(target=beat, name="heartbeat", daemon=True)
        thread.start()
        self.stdout.write(f"worker {worker_id} on backend {backend}")
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
