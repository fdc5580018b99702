"""The downloadable template of an import kind: Chinese headers, example rows and, in xlsx, a notes sheet."""

from __future__ import annotations

import io
from typing import Any

from django.utils.translation import gettext as _

from pharmacrm.core.imports.engine import ImportKind
from pharmacrm.core.spreadsheets import csv_chunks, write_xlsx

CONTENT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def template_filename(kind: type[ImportKind], fmt: str) -> str:
    return f"{kind.name}-template.{fmt}"


def template_bytes(kind: type[ImportKind], fmt: str) -> bytes:
    """The template file's content. CSV is UTF-8 with BOM so Excel shows the Chinese headers."""
    columns = kind.import_columns()
    header = [c.header for c in columns]
    examples: list[list[Any]] = [row[: len(header)] for row in kind.examples]
    if fmt == "csv":
        return b"".join(csv_chunks(header, examples))
    if fmt != "xlsx":
        raise ValueError(fmt)
    notes: list[list[str]] = [[_("列名"), _("英文代码"), _("必填"), _("说明"), _("示例")]]
    for i, column in enumerate(columns):
        example = str(examples[0][i]) if examples and i < len(examples[0]) else ""
        notes.append(
            [column.header, column.name, _("是") if column.required else "", str(column.help), example]
        )
    notes.append([])
    notes.extend([[str(line)] for line in kind.notes])
    notes.append(
        [
            _(
                "支持 xlsx 和 CSV（UTF-8 或 GBK 编码均可）；第 1 行为表头，列的顺序不限，也可以用英文代码作列名；"
                "表头不要合并单元格。选项可以填中文名称或英文代码。"
            )
        ]
    )
    buffer = io.BytesIO()
    write_xlsx(buffer, header, examples, title=str(kind.label), notes=notes)
    return buffer.getvalue()
