"""`pharmacrm bench NAME`: run bench/NAME.py against a dedicated database and print its figures."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from pharmacrm.ops import benchmarks
from pharmacrm.ops.demo.scales import SCALES


class Command(BaseCommand):
    help = "Run a benchmark from bench/ (e.g. `pharmacrm bench api`); `pharmacrm bench list` lists them."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", help="benchmark name: bench/NAME.py, or 'list'")
        parser.add_argument("--requests", type=int, default=300, help="requests per round")
        parser.add_argument("--rounds", type=int, default=3, help="rounds; figures are the median")
        parser.add_argument("--warmup", type=int, default=50, help="requests before measuring")
        parser.add_argument(
            "--scale", choices=list(SCALES), default="small", help="demo scale if the bench DB is empty"
        )
        parser.add_argument(
            "--option",
            "-o",
            action="append",
            default=[],
            metavar="KEY=VALUE",
            help="benchmark-specific setting",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        name = options["name"]
        if name == "list":
            for available in benchmarks.available():
                self.stdout.write(available)
            return
        if name not in benchmarks.available():
            raise CommandError(
                f"no benchmark {name!r}; available: {', '.join(benchmarks.available()) or 'none'}"
            )
        if os.environ.get(benchmarks.CHILD_FLAG) != "1":
            # Run in a fresh process: the bench database and settings (rate limit, logging) have to
            # be in place before Django loads, and the demo database must stay untouched.
            argv = [name, "--requests", str(options["requests"]), "--rounds", str(options["rounds"])]
            argv += ["--warmup", str(options["warmup"]), "--scale", options["scale"]]
            for item in options["option"]:
                argv += ["--option", item]
            self.stdout.flush()
            code = subprocess.call(  # noqa: S603 (our own interpreter and command)
                [sys.executable, "-m", "pharmacrm", "bench", *argv], env=benchmarks.child_environment()
            )
            if code:
                raise CommandError(f"benchmark {name} failed (exit {code})")
            return
        try:
            module = benchmarks.load(name)
        except LookupError as exc:
            raise CommandError(str(exc)) from exc
        extra = dict(item.split("=", 1) for item in options["option"] if "=" in item)
        out = self.stdout.write
        out(f"Machine: {benchmarks.describe_machine()}")
        # A benchmark that builds its own databases sets NEEDS_DEMO_DATABASE = False.
        if getattr(module, "NEEDS_DEMO_DATABASE", True):
            benchmarks.ensure_database(scale=options["scale"], out=out)
        ctx = benchmarks.BenchContext(
            out=out,
            requests=options["requests"],
            rounds=options["rounds"],
            warmup=options["warmup"],
            options=extra,
        )
        module.run(ctx=ctx)
        out(f"\nAfterwards: {benchmarks.describe_load()}")
