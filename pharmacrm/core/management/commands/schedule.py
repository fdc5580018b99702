"""`pharmacrm schedule [--run-due]`: the daily jobs the workers run, when, and their last run."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from pharmacrm.core import schedule


class Command(BaseCommand):
    help = "List the daily jobs (time of day in Asia/Shanghai) with their last run; --run-due claims and starts the due ones now."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--run-due", action="store_true", help="claim and enqueue the jobs due now (as a worker would)"
        )

    def handle(self, *args: Any, run_due: bool, **options: Any) -> None:
        if run_due:
            for run in schedule.run_due(worker_id="cli"):
                self.stdout.write(f"{run.job} {run.day}: {run.status} {run.task_id}".rstrip())
        rows = schedule.status()
        if not rows:
            self.stdout.write("no daily jobs registered")
            return
        self.stdout.write(f"{'job':<32} {'at':<5}  {'last run':<36} target")
        for row in rows:
            last = row.last_run
            when = f"{last.day} {row.task_status or last.status}" if last else "never"
            if last and last.worker_id:
                when += f" ({last.worker_id[:12]})"
            flag = " *due" if row.due_now else ""
            self.stdout.write(f"{row.job.name:<32} {row.job.at:%H:%M}  {when:<36} {row.job.target}{flag}")
            if row.job.description:
                self.stdout.write(f"{'':<40}{row.job.description}")
