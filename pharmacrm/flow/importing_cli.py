"""`pharmacrm import flow FILE --distributor CODE [--kind sales|inventory] [--dry-run] [--period YYYY-MM] [--user NAME]`.

Called by the generic `import` command; prints the flow report and returns the exit code
(1 when the file is refused).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from django.core.management.base import CommandError
from django.utils.translation import gettext as _

from pharmacrm.core.audit import Source
from pharmacrm.core.models import User
from pharmacrm.flow.importing import import_flow_file
from pharmacrm.flow.parsing import parse_period


def run_flow_import(options: dict[str, Any], write: Any) -> int:
    """Run one flow import from command-line options; `write` prints a line. Returns the exit code."""
    if not options.get("file"):
        raise CommandError(_("请指定要导入的流向文件。"))
    if not options.get("distributor"):
        raise CommandError(_("请用 --distributor 指定经销商编码。"))
    path = Path(options["file"])
    if not path.is_file():
        raise CommandError(_("文件不存在：{path}").format(path=path))
    period = None
    if options.get("period"):
        period = parse_period(options["period"])
        if period is None:
            raise CommandError(_("期间格式应为 YYYY-MM：{value}").format(value=options["period"]))
    actor = None
    if options.get("user"):
        actor = User.objects.filter(username=options["user"], is_active=True).first()
        if actor is None:
            raise CommandError(_("没有此用户：{name}").format(name=options["user"]))

    def progress(rows: int, fraction: float) -> None:
        if sys.stderr.isatty():
            sys.stderr.write(f"\r{rows:,} {fraction:.0%}")

    with path.open("rb") as handle:
        result = import_flow_file(
            actor=actor,
            distributor_code=options["distributor"],
            fileobj=handle,
            name=path.name,
            dry_run=bool(options.get("dry_run")),
            period=period,
            source=Source.CLI,
            on_progress=progress,
            kind=options.get("flow_kind") or "auto",
        )
    for line in result.lines():
        write(line)
    return 0 if result.ok else 1
