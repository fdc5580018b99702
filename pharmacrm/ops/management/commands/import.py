"""`pharmacrm import KIND FILE [--dry-run] [--partial]` and `pharmacrm import KIND --template`.

Runs the same engine as the 导入 page and the API, in the foreground, and prints the row report.
Exits 1 when any row or the file is refused (with --partial: when the file is refused or any row
was skipped), so scripts and CI can rely on the exit code. `import` is a Python keyword, but Django
finds commands by file name, so this module is loaded by path and never imported by name.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import translation
from django.utils.translation import gettext as _

from pharmacrm.core.errors import DomainError
from pharmacrm.core.imports.engine import run_import
from pharmacrm.core.imports.registry import all_kinds, get_kind
from pharmacrm.core.imports.template import template_bytes, template_filename
from pharmacrm.core.models import User


class Command(BaseCommand):
    help = "Import customer master data (and later flow and market data) from CSV or xlsx."
    # The system checks load every URLconf, view and API schema (measured: +32 MB peak RSS and ~2 s
    # of CPU before the first row) for a command that serves no request; `pharmacrm check` and
    # every server start still run them.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "kind", help="What the file holds: " + ", ".join(sorted(k.name for k in all_kinds()))
        )
        parser.add_argument("file", nargs="?", help="CSV (UTF-8 or GBK) or xlsx file")
        parser.add_argument("--dry-run", action="store_true", help="Check every row, write nothing.")
        parser.add_argument(
            "--partial", action="store_true", help="Write the good rows even if some are bad."
        )
        parser.add_argument("--user", help="Username to attribute the import to (its roles must allow it).")
        parser.add_argument(
            "--template", action="store_true", help="Write the kind's blank template instead."
        )
        parser.add_argument("--format", choices=["xlsx", "csv"], default="xlsx", help="Template format.")
        parser.add_argument("-o", "--output", help="Template path (default: KIND-template.FORMAT here).")
        parser.add_argument(
            "--language", default="zh-hans", choices=["zh-hans", "en"], help="Report language."
        )
        parser.add_argument("--distributor", help="flow: the distributor's channel partner code.")
        parser.add_argument(
            "--period", help="flow: the month the file covers, YYYY-MM (default: from its dates)."
        )
        parser.add_argument(
            "--kind",
            dest="flow_kind",  # the positional KIND is taken
            choices=["auto", "sales", "inventory"],
            default="auto",
            help="flow: a sales (流向) or an inventory (库存) file (default auto: the distributor's "
            "template for the header, else the headers decide).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        with translation.override(options["language"]):
            if options["kind"] == "flow":  # flow files need a distributor: their own importer
                from pharmacrm.flow.importing_cli import run_flow_import

                if run_flow_import(options, self.stdout.write):
                    sys.exit(1)
                return
            try:
                kind = get_kind(options["kind"])
            except DomainError as exc:
                raise CommandError(exc.message) from None
            if options["template"]:
                self._template(kind, options["format"], options["output"])
                return
            if not options["file"]:
                raise CommandError(_("请指定要导入的文件，或用 --template 生成模板。"))
            path = Path(options["file"])
            if not path.is_file():
                raise CommandError(_("文件不存在：{path}").format(path=path))
            actor = self._actor(options["user"], kind)
            with path.open("rb") as handle:
                report = run_import(
                    kind, handle, actor=actor, dry_run=options["dry_run"], partial=options["partial"]
                )
            for line in report.lines():
                self.stdout.write(line)
            if not report.ok:
                sys.exit(1)

    def _template(self, kind: Any, fmt: str, output: str | None) -> None:
        target = Path(output or template_filename(kind, fmt))
        target.write_bytes(template_bytes(kind, fmt))
        self.stdout.write(_("已生成模板：{path}").format(path=target))

    def _actor(self, username: str | None, kind: Any) -> User | None:
        if not username:
            return None  # an operator at the shell: attributed to nobody, source "import"
        user = User.objects.filter(username=username, is_active=True).first()
        if user is None:
            raise CommandError(_("没有此用户：{name}").format(name=username))
        if not kind.may_import(user):
            raise CommandError(
                _("用户 {name} 的角色不能导入“{kind}”。").format(name=username, kind=kind.label)
            )
        return user
