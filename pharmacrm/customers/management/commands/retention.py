"""`pharmacrm retention [--dry-run]`: apply the personal-data retention rules (run daily from cron or a scheduler)."""

from typing import Any

from django.core.management.base import BaseCommand

from pharmacrm.core.audit import Source, audit_context
from pharmacrm.customers.privacy import run_retention


class Command(BaseCommand):
    help = "Clear personal data whose retention period has passed (PIPL). --dry-run only reports."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--dry-run", action="store_true")

    def handle(self, *args: Any, dry_run: bool, **options: Any) -> None:
        with audit_context(source=Source.SYSTEM):
            report = run_retention(dry_run=dry_run)
        verb = "would clear" if dry_run else "cleared"
        for line in report:
            self.stdout.write(f"{line['target']}: {verb} {line['count']} (after {line['months']} months)")
