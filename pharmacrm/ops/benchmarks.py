"""Find, prepare and run the benchmarks in bench/ (`pharmacrm bench NAME` runs bench/NAME.py).

A benchmark module defines `run(*, ctx: BenchContext) -> None` and prints its figures through
`ctx.out`. It runs in a child process whose PHARMACRM_VAR_DIR is var/bench/, so its SQLite
database never touches the demo's; unless the module sets `NEEDS_DEMO_DATABASE = False`, that
database is migrated and filled with the demo (small scale by default) first.
"""

from __future__ import annotations

import importlib.util
import json
import os
import platform
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import django
from django.conf import settings
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from pharmacrm.ops.demo.loader import demo_counts, load_demo
from pharmacrm.ops.demo.scales import SCALES

BENCH_DIR = Path(settings.PROJECT_DIR) / "bench"
CHILD_FLAG = "PHARMACRM_BENCH_CHILD"
# The API's rate limit would stop a benchmark after 1,200 requests a minute; the throttle still
# runs on every request (its cost is part of what is measured), it just never trips.
CHILD_ENV = {"API_RATE_AUTHENTICATED": "100000000/m", "LOG_LEVEL": "WARNING", "DEBUG": "0"}


@dataclass(frozen=True)
class BenchContext:
    """What a benchmark's `run(ctx=...)` gets: where to print and how hard to push."""

    out: Callable[[str], None]
    requests: int
    rounds: int
    warmup: int
    options: dict[str, str]


def available() -> list[str]:
    return sorted(p.stem for p in BENCH_DIR.glob("*.py") if not p.stem.startswith("_"))


def load(name: str) -> ModuleType:
    """Import bench/NAME.py as module `bench.NAME` (bench/ is not a package the project ships)."""
    path = BENCH_DIR / f"{name}.py"
    if not path.is_file():
        raise LookupError(f"no benchmark {name!r}; available: {', '.join(available()) or 'none'}")
    module_name = f"bench.{name}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise LookupError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    # Registered so a benchmark can name itself as ROOT_URLCONF.
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    if not callable(getattr(module, "run", None)):
        raise LookupError(f"{path} has no run(*, ctx) function")
    return module


def child_environment() -> dict[str, str]:
    """The environment for the process that runs the benchmark: its own database under var/bench/."""
    env = dict(os.environ)
    env.update(CHILD_ENV)
    env[CHILD_FLAG] = "1"
    env["PHARMACRM_VAR_DIR"] = str(Path(settings.VAR_DIR) / "bench")
    # Never point a benchmark at the configured database (it builds demo data if there is none);
    # PHARMACRM_BENCH_DATABASE_URL names a throwaway PostgreSQL database when one is wanted.
    env.pop("DATABASE_URL", None)
    if os.environ.get("PHARMACRM_BENCH_DATABASE_URL"):
        env["DATABASE_URL"] = os.environ["PHARMACRM_BENCH_DATABASE_URL"]
    return env


def create_database_if_missing(*, out: Callable[[str], None], name: str | None = None) -> None:
    """On PostgreSQL, create database `name` (default: the one the URL names) if the server has none of that name."""
    if connection.vendor != "postgresql":
        return  # SQLite creates its file on connect
    name = name or connection.settings_dict["NAME"]
    # Django's maintenance connection (the `postgres` database), as its test runner uses.
    with connection._nodb_cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
        if cursor.fetchone() is None:
            cursor.execute(f"CREATE DATABASE {connection.ops.quote_name(name)}")
            out(f"Created PostgreSQL database {name}")


def ensure_database(*, scale: str, out: Callable[[str], None]) -> None:
    """Migrate the benchmark database and load the demo at `scale` if it holds no demo data yet."""
    create_database_if_missing(out=out)
    call_command("migrate", verbosity=0, interactive=False)
    # WhiteNoise warns on every process start when the static root is missing.
    Path(settings.STATIC_ROOT).mkdir(parents=True, exist_ok=True)
    counts = demo_counts()
    if counts["professionals"]:
        out(f"Benchmark database: {describe_database()} ({counts['professionals']:,} professionals, reused)")
        return
    out(f"Benchmark database: {describe_database()} is empty; loading the {scale} demo into it …")
    summary = load_demo(scale=SCALES[scale], seed=42, today=timezone.localdate())
    out(f"  loaded {summary.counts['professionals']:,} professionals in {summary.seconds:.1f} s")


@dataclass(frozen=True)
class ChildRun:
    """A command run by a benchmark: its exit code, wall time and its own peak resident set."""

    code: int
    seconds: float
    peak_mb: float


# Spawns the command and reports its rusage. It exists because ru_maxrss is not reset by exec:
# Linux keeps the larger of the exec'd program's peak and the high-water mark of the address space
# it replaced, and Python's subprocess starts children with vfork, whose address space is the
# parent's. A benchmark process that had peaked at 340 MB (demo load, raw insert) therefore saw
# 340 MB as its child's peak, whatever the child did (`/bin/true` reports it too). This launcher
# is a bare interpreter (~10 MB), so the command's figure is its own.
_LAUNCHER = """
import json, os, subprocess, sys
child = subprocess.Popen(sys.argv[2:])
_pid, status, usage = os.wait4(child.pid, 0)
with open(sys.argv[1], "w") as out:
    json.dump({"code": os.waitstatus_to_exitcode(status), "maxrss_kb": usage.ru_maxrss}, out)
"""


def run_child(argv: list[str], *, env: dict[str, str], output: Any) -> ChildRun:
    """Run `argv` with stdout and stderr to `output` (a file); wall time and its own peak RSS (MB)."""
    with tempfile.NamedTemporaryFile("r", suffix=".json") as figures:
        started = time.perf_counter()
        launcher = subprocess.run(  # noqa: S603 (our own interpreter and command)
            [sys.executable, "-c", _LAUNCHER, figures.name, *argv],
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            check=False,
        )
        seconds = time.perf_counter() - started
        text = figures.read()
    if not text:
        raise RuntimeError(f"the launcher of {argv[:4]} failed (exit {launcher.returncode})")
    data = json.loads(text)
    return ChildRun(code=int(data["code"]), seconds=seconds, peak_mb=data["maxrss_kb"] / 1024)


def describe_database() -> str:
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA journal_mode")
            mode = cursor.fetchone()[0]
        return f"SQLite {sqlite3.sqlite_version} ({mode.upper()}) at {connection.settings_dict['NAME']}"
    return f"{connection.vendor} {connection.display_name} {'.'.join(map(str, connection.get_database_version()))}"


def describe_machine() -> str:
    memory = ""
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        for line in meminfo.read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory = f", {int(line.split()[1]) / 1024 / 1024:.0f} GiB RAM"
    return (
        f"{os.cpu_count()} cores{memory}, {platform.system()} {platform.machine()}, "
        f"Python {platform.python_version()}, Django {django.get_version()}, {describe_load()}"
    )


def describe_load() -> str:
    """Other work on the machine skews every figure; print it so a reader can judge."""
    one, five, _fifteen = os.getloadavg()
    return f"load average {one:.1f} (1 min) / {five:.1f} (5 min)"
