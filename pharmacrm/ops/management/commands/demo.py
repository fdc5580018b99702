"""`pharmacrm demo --scale tiny|small|medium|large [--seed N] [--reset]`: load the demo company."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from pharmacrm.ops.demo.loader import DEMO_PASSWORD, DemoConflict, demo_counts, load_demo, reset_demo
from pharmacrm.ops.demo.scales import SCALES


class Command(BaseCommand):
    help = "Load demo data: the invented company 华信医药 calling on real hospitals (people are invented)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--scale", choices=list(SCALES), default="small")
        parser.add_argument("--seed", type=int, default=42, help="same seed and day → same data")
        parser.add_argument("--reset", action="store_true", help="delete existing demo data first")

    def handle(self, *args: Any, **options: Any) -> None:
        scale = SCALES[options["scale"]]
        say = self.stdout.write
        try:
            existing = demo_counts()
            if any(existing.values()):
                if not options["reset"]:
                    say(
                        self.style.WARNING(
                            "Demo data is already loaded ("
                            + ", ".join(f"{n} {label}" for label, n in existing.items())
                            + "). Nothing changed; run with --reset to replace it."
                        )
                    )
                    return
                say("Removing the existing demo data …")
                reset_demo(progress=say)
            say(f"Loading the {scale.name} demo (seed {options['seed']}) …")
            summary = load_demo(scale=scale, seed=options["seed"], today=timezone.localdate(), progress=say)
        except DemoConflict as exc:
            raise CommandError(str(exc)) from exc

        say("")
        width = max(len(label) for label in summary.counts)
        for label, value in summary.counts.items():
            say(f"  {label.ljust(width)}  {value:>9,}")
        say(
            self.style.SUCCESS(
                f"Loaded the {summary.scale} demo (seed {summary.seed}) in {summary.seconds:.1f} s."
            )
        )
        if summary.history:
            say("Audit history: one 'created' row per object, source=system (visits excepted).")
        else:
            # Writing a history row per object would double the load time at this size.
            say("Audit history: skipped at this scale (objects have no 'created' history row).")
        say("")
        say(f"Logins (password {DEMO_PASSWORD}):")
        for username, name, roles, unit in summary.logins:
            say(f"  {username:<12} {name:<5}  {roles:<8}  {unit}")
        say(
            "Every other active demo user (usernames hx10001 …) has the same password; "
            "reps who left the company are inactive and cannot log in."
        )
