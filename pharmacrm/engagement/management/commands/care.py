"""`pharmacrm care [--date YYYY-MM-DD] [--lead 7] [--dry-run] [--enqueue]`: write the coming week's care reminders."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from pharmacrm.core.audit import Source, audit_context
from pharmacrm.core.errors import DomainError
from pharmacrm.engagement import care
from pharmacrm.engagement.calendar_cn import occasion_label


class Command(BaseCommand):
    help = "Create care reminders for key dates customers shared and Chinese holidays in the coming days (idempotent; run daily)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--date", help="the day to run for (YYYY-MM-DD, default today)")
        parser.add_argument("--lead", type=int, default=care.LEAD_DAYS, help="days ahead to look")
        parser.add_argument("--dry-run", action="store_true")
        parser.add_argument(
            "--enqueue", action="store_true", help="queue the background task instead of running here"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            on = dt.date.fromisoformat(options["date"]) if options["date"] else None
        except ValueError as exc:
            raise CommandError(f"--date {options['date']!r} is not YYYY-MM-DD") from exc
        if options["enqueue"]:
            from pharmacrm.engagement.tasks import generate_care_reminders_task

            result = generate_care_reminders_task.enqueue(on.isoformat() if on else None)
            self.stdout.write(f"queued task {result.id}")
            return
        try:
            with audit_context(source=Source.CLI):
                run = care.generate_care_reminders(
                    on=on, lead_days=options["lead"], dry_run=options["dry_run"]
                )
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        verb = "would create" if run.dry_run else "created"
        self.stdout.write(
            f"{run.on:%Y-%m-%d}–{run.until:%Y-%m-%d}: {verb} {run.created} reminders "
            f"({run.existing} already there, {run.unassigned} without a covering rep)"
        )
        for occasion, count in sorted(run.by_occasion.items()):
            self.stdout.write(f"  {occasion_label(occasion)} ({occasion}): {count}")
