"""`pharmacrm licence_alerts [--date YYYY-MM-DD] [--days 60] [--enqueue]`: record partner licence expiry alerts."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from pharmacrm.channels import services
from pharmacrm.channels.tasks import LICENCE_ALERT_DAYS
from pharmacrm.core.audit import Source, audit_context


class Command(BaseCommand):
    help = "Record an alert for each channel partner licence expiring soon (idempotent; run daily)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--date", type=dt.date.fromisoformat, default=None, help="as of (default today)")
        parser.add_argument("--days", type=int, default=LICENCE_ALERT_DAYS, help="look-ahead in days")
        parser.add_argument("--enqueue", action="store_true", help="queue the background task instead")

    def handle(self, *args: Any, **options: Any) -> None:
        on: dt.date | None = options["date"]
        if options["enqueue"]:
            from pharmacrm.channels.tasks import record_licence_alerts_task

            result = record_licence_alerts_task.enqueue(on.isoformat() if on else None, options["days"])
            self.stdout.write(f"queued {record_licence_alerts_task.name}: {result.id}")
            return
        with audit_context(source=Source.CLI):
            created = services.record_licence_alerts(on=on, within_days=options["days"])
        self.stdout.write(f"licence alerts: {len(created)} new")
