"""`pharmacrm plan --rep USERNAME --month 2026-12 [--week 2026-W49] [--dry-run]`: generate a rep's visit plan."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from pharmacrm.core.audit import Source, audit_context
from pharmacrm.core.errors import DomainError
from pharmacrm.core.models import User
from pharmacrm.engagement import planning
from pharmacrm.engagement.planning import Period


class Command(BaseCommand):
    help = "Generate a rep's visit plan for a month or ISO week from the frequency rules (idempotent)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--rep", required=True, help="the rep's username")
        period = parser.add_mutually_exclusive_group()
        period.add_argument("--month", help="YYYY-MM (default: next month)")
        period.add_argument("--week", help="YYYY-Www, e.g. 2026-W49")
        parser.add_argument("--as", dest="actor", help="username acting (default: the rep)")
        parser.add_argument("--dry-run", action="store_true", help="only say what would be planned")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            rep = User.objects.get(username=options["rep"], is_active=True)
            actor = User.objects.get(username=options["actor"], is_active=True) if options["actor"] else rep
        except User.DoesNotExist as exc:
            raise CommandError(f"no active user {options['actor'] or options['rep']!r}") from exc
        today = timezone.localdate()
        code = (
            options["month"]
            or options["week"]
            or f"{today.year + (today.month == 12)}-{today.month % 12 + 1:02d}"
        )
        try:
            period = Period.parse(code)
            with audit_context(source=Source.CLI, actor=actor):
                result = planning.generate_plan(
                    actor=actor, rep=rep, period=period, dry_run=options["dry_run"]
                )
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        verb = "would plan" if options["dry_run"] else "planned"
        self.stdout.write(
            f"{rep.username} {period.code}: {verb} {len(result.planned)} visits for {result.customers} customers "
            f"over {result.working_days} working days ({result.already} already planned or done"
            f"{', awaiting approval' if result.approval == 'pending' and result.planned else ''})"
        )
        for day, count in result.per_day:
            self.stdout.write(f"  {day:%Y-%m-%d %a}  {count}")
        for item in result.unplaced:
            self.stdout.write(f"  not placed: {item.professional} x{item.missing} - {item.reason}")
        if result.provisional_holidays:
            self.stdout.write("  note: public holidays of this year are derived, not yet published")
