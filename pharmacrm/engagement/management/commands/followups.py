"""`pharmacrm followups [--enqueue]`: remind commitments due soon, escalate overdue ones, schedule first-purchase callbacks."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from pharmacrm.core.audit import Source, audit_context
from pharmacrm.engagement import followups


class Command(BaseCommand):
    help = "Run the daily follow-up jobs (idempotent): commitment reminders and escalations, callbacks after first purchases."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--enqueue", action="store_true", help="queue the background tasks instead of running here"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["enqueue"]:
            from pharmacrm.engagement.tasks import remind_commitments, schedule_callbacks

            for job in (remind_commitments, schedule_callbacks):
                self.stdout.write(f"queued {job.name}: {job.enqueue().id}")
            return
        with audit_context(source=Source.CLI):
            run = followups.remind_and_escalate_commitments()
            callbacks = followups.schedule_first_purchase_callbacks()
        self.stdout.write(
            f"commitments: {run.reminded} reminded, {run.escalated} escalated; "
            f"callbacks after first purchases: {callbacks} scheduled"
        )
