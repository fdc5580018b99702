"""`pharmacrm visits record --user U --file visit.json` and `pharmacrm visits list --user U`: the visit services from the shell.

The JSON has the API's fields: institution_id, starts_at (ISO), status (planned|completed), objective,
channel, professional_ids, product_ids, key_message_ids, feedback, notes, next_step, materials_given,
duration_minutes, needs, commitments, hospitality, co_visitor_id. Refusals print the rule and write nothing.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.http import Http404
from django.utils import timezone

from pharmacrm.core.audit import Source, audit_context
from pharmacrm.core.errors import DomainError
from pharmacrm.core.models import User
from pharmacrm.core.visibility import visible
from pharmacrm.engagement import visits
from pharmacrm.engagement.models import Visit
from pharmacrm.engagement.visits import CommitmentMade, HospitalityGiven, NeedFound, VisitReport

REPORT_FIELDS = {
    "channel",
    "professional_ids",
    "product_ids",
    "key_message_ids",
    "feedback",
    "notes",
    "next_step",
    "materials_given",
    "duration_minutes",
    "co_visitor_id",
}


def _report(data: dict[str, Any]) -> VisitReport:
    values = {k: v for k, v in data.items() if k in REPORT_FIELDS}
    values["needs"] = [NeedFound(**n) for n in data.get("needs", [])]
    values["commitments"] = [
        CommitmentMade(
            professional_id=c["professional_id"],
            description=c.get("description", ""),
            due_on=dt.date.fromisoformat(c["due_on"]) if c.get("due_on") else None,
        )
        for c in data.get("commitments", [])
    ]
    values["hospitality"] = [
        HospitalityGiven(**{**h, "amount_per_person": Decimal(str(h.get("amount_per_person", "0")))})
        for h in data.get("hospitality", [])
    ]
    return VisitReport(**values)


class Command(BaseCommand):
    help = "Record or plan a visit from a JSON file, or list the visits a user may see."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        record = sub.add_parser("record", help="plan or record one visit")
        record.add_argument("--user", required=True, help="username of the rep recording it")
        record.add_argument("--file", required=True, help="JSON file, or - for standard input")
        listing = sub.add_parser("list", help="visits the user may see, newest first")
        listing.add_argument("--user", required=True)
        listing.add_argument("--limit", type=int, default=20)

    def _user(self, username: str) -> User:
        user = User.objects.filter(username=username, is_active=True).first()
        if user is None:
            raise CommandError(f"no active user {username!r}")
        return user

    def handle(self, *args: Any, **options: Any) -> None:
        user = self._user(options["user"])
        if options["action"] == "list":
            rows = visible(Visit, user=user).select_related("institution", "owner").order_by("-starts_at")
            for visit in rows[: options["limit"]]:
                flags = "".join(
                    mark
                    for mark, on in (
                        ("D", visit.flagged_distance),
                        ("R", visit.flagged_reception),
                        ("A", visit.flagged_adverse_event),
                    )
                    if on
                )
                self.stdout.write(
                    f"{visit.pk}\t{timezone.localtime(visit.starts_at):%Y-%m-%d %H:%M}\t{visit.status}\t"
                    f"{visit.institution.name}\t{visit.owner}\t{flags}"
                )
            return
        try:
            text = (
                sys.stdin.read()
                if options["file"] == "-"
                else Path(options["file"]).read_text(encoding="utf-8")
            )
            data = json.loads(text)
        except (OSError, json.JSONDecodeError) as exc:
            raise CommandError(f"cannot read {options['file']}: {exc}") from exc
        try:
            starts_at = dt.datetime.fromisoformat(data["starts_at"])
            if timezone.is_naive(starts_at):
                starts_at = timezone.make_aware(starts_at)
            with audit_context(source=Source.CLI, actor=user):
                if data.get("status") == "planned":
                    outcome = visits.plan_visit(
                        actor=user,
                        institution=data["institution_id"],
                        starts_at=starts_at,
                        objective=data.get("objective", ""),
                        professional_ids=data.get("professional_ids", []),
                        channel=data.get("channel", "in_person"),
                        duration_minutes=data.get("duration_minutes", 30),
                        co_visitor_id=data.get("co_visitor_id"),
                    )
                else:
                    outcome = visits.record_visit(
                        actor=user,
                        institution=data["institution_id"],
                        starts_at=starts_at,
                        objective=data.get("objective", ""),
                        report=_report(data),
                    )
        except KeyError as exc:
            raise CommandError(f"missing field {exc}") from exc
        except (TypeError, ValueError) as exc:
            raise CommandError(str(exc)) from exc
        except Http404 as exc:
            raise CommandError("对象不存在或无权查看（机构不在您的辖区内）。") from exc
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        finally:
            from pharmacrm.compliance.policy import flush_events

            flush_events()  # refusals raised inside the rolled-back transaction reach compliance
        self.stdout.write(f"visit {outcome.visit.pk}: {outcome.visit.get_status_display()}")
        for line in [*outcome.flags, *outcome.warnings, *outcome.notices]:
            self.stdout.write(f"  ! {line}")
