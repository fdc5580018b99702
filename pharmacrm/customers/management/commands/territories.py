"""`pharmacrm territories …`: an institution's territory history, moves, and the province/city rules.

    pharmacrm territories history INSTITUTION
    pharmacrm territories move INSTITUTION --territory CODE --user NAME [--effective YYYY-MM-DD] [--reason TEXT]
    pharmacrm territories rule PROVINCE [--city CITY] --territory CODE [--user NAME] [--effective …] [--reason …]
    pharmacrm territories unrule PROVINCE [--city CITY] [--user NAME] [--effective …] [--reason …]

INSTITUTION is an external id, or `#` and the id. The same services as the pages and the API: a
move is checked as the named user (who must see the institution and the territory; only an
admin backdates, with a reason); rules are for admins (without --user the shell operator is
trusted). Moves queue re-attribution of the affected sales. A refusal exits 1 and changes nothing.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.http import Http404
from django.utils import translation

from pharmacrm.core.audit import Source, audit_context
from pharmacrm.core.errors import DomainError
from pharmacrm.core.models import Territory, TerritoryRule, User
from pharmacrm.customers import services, territory_history
from pharmacrm.customers.models import Institution, InstitutionTerritoryPeriod


class Command(BaseCommand):
    help = "Show an institution's territory history, record a move, or change a province/city territory rule."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        history = sub.add_parser("history", help="an institution's territory periods")
        history.add_argument("institution", help="external id, or #id")
        move = sub.add_parser("move", help="move an institution to another territory")
        move.add_argument("institution", help="external id, or #id")
        move.add_argument("--territory", default="", help="territory code (empty: back to its area's rule)")
        move.add_argument("--user", required=True, help="who records the move (checked like on the page)")
        for name, action in (("rule", "give an area to a territory"), ("unrule", "remove an area's rule")):
            rule = sub.add_parser(name, help=action)
            rule.add_argument("province", help="province code, e.g. 11")
            rule.add_argument("--city", default=None, help="city code, e.g. 1101")
            if name == "rule":
                rule.add_argument("--territory", required=True, help="territory code")
            rule.add_argument("--user", default=None, help="acting admin (default: the shell operator)")
        for name in ("move", "rule", "unrule"):
            target = sub.choices[name]
            target.add_argument("--effective", type=dt.date.fromisoformat, default=None, help="default today")
            target.add_argument("--reason", default="", help="required for an effective date before today")

    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"]
        actor = self._user(options.get("user"))
        # Refusals in the acting user's language, else the project's (not whatever a caller left active).
        with translation.override(actor.language if actor else settings.LANGUAGE_CODE):
            self._handle(action, actor, options)

    def _handle(self, action: str, actor: User | None, options: dict[str, Any]) -> None:
        try:
            with audit_context(source=Source.CLI, actor=actor):
                if action == "history":
                    institution = self._institution(options["institution"])
                elif action == "move":
                    institution = self._institution(options["institution"])
                    assert actor is not None  # --user is required for a move
                    result = services.move_institution(
                        actor=actor,
                        institution=institution,
                        territory=self._territory(options["territory"]) if options["territory"] else None,
                        effective=options["effective"],
                        reason=options["reason"],
                    )
                    institution = result.institution
                    self.stdout.write(
                        f"moved from {result.since or 'the beginning'}; re-attribution queued"
                        if result.moved
                        else "unchanged: the history already says so"
                    )
                else:
                    self._rule(action, actor, options)
                    return
        except Http404:
            raise CommandError(f"{options['institution']}: not found, or not visible to {actor}") from None
        except DomainError as exc:
            raise CommandError(exc.message) from None
        self._print_history(institution)

    def _rule(self, action: str, actor: User | None, options: dict[str, Any]) -> None:
        if action == "rule":
            change = territory_history.set_territory_rule(
                actor=actor,
                territory=self._territory(options["territory"]),
                province=options["province"],
                city=options["city"],
                effective=options["effective"],
                reason=options["reason"],
            )
            self.stdout.write(f"rule: {change.rule}")
            return
        found = TerritoryRule.objects.filter(province_id=options["province"], city_id=options["city"]).first()
        if found is None:
            raise CommandError(f"no rule for {options['province']} {options['city'] or ''}".strip())
        territory_history.remove_territory_rule(
            actor=actor, rule=found, effective=options["effective"], reason=options["reason"]
        )
        self.stdout.write(f"removed: {found}")

    def _user(self, name: str | None) -> User | None:
        if not name:
            return None
        user = User.objects.filter(username=name, is_active=True).first()
        if user is None:
            raise CommandError(f"no active user {name!r}")
        return user

    def _institution(self, ref: str) -> Institution:
        found = (
            Institution.objects.filter(pk=int(ref[1:])).first()
            if ref.startswith("#") and ref[1:].isdigit()
            else Institution.objects.filter(external_id=ref).first()
        )
        if found is None:
            raise CommandError(f"no institution {ref!r} (an external id, or #id)")
        return found

    def _territory(self, code: str) -> Territory:
        found = Territory.objects.filter(code=code).first()
        if found is None:
            raise CommandError(f"no territory {code!r}")
        return found

    def _print_history(self, institution: Institution) -> None:
        self.stdout.write(
            f"{institution.name} (#{institution.pk}), territory now: {institution.territory or '—'}"
        )
        # Oldest first (the model's ordering: an open start first); periods never overlap.
        periods = InstitutionTerritoryPeriod.objects.filter(institution=institution).select_related(
            "territory", "recorded_by"
        )
        for period in periods:
            start = period.valid_from.isoformat() if period.valid_from else "beginning"
            end = period.valid_to.isoformat() if period.valid_to else "now"
            who = f"  {period.recorded_by or ''} {period.reason}".rstrip()
            self.stdout.write(
                f"  {start:>10} – {end:<10} {period.territory.code} {period.territory.name}{who}"
            )
