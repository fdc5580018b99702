"""Columns of an import file: header names (Chinese, English code name, a few aliases) and cell parsers.

A parser turns the cell text into a Python value or raises CellError with the reason in the
user's language; the engine adds the row, the column and the value to the message.
"""

from __future__ import annotations

import datetime as dt
import decimal
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db.models import TextChoices
from django.utils import translation
from django.utils.translation import gettext as _

Parser = Callable[[str], Any]


class CellError(ValueError):
    """A cell's value is refused; the message says why (already translated)."""


@dataclass(frozen=True)
class Column:
    """One column of an import kind.

    `name` is the English code name (accepted as a header), `header` the Chinese header of the
    template. An empty optional cell parses to `blank`. `export_only` columns are written by
    exports (so an exported file re-imports cleanly) and ignored on import.
    """

    name: str
    header: str
    parse: Parser = field(default=lambda text: text)
    required: bool = False
    blank: Any = ""
    aliases: tuple[str, ...] = ()
    help: Any = ""  # a lazy translation
    example: str = ""
    export_only: bool = False

    def names(self) -> Iterable[str]:
        yield self.header
        yield self.name
        yield from self.aliases


def normalise_header(text: str) -> str:
    """'名称*', ' Name ', '名称（必填）' all become the same key."""
    text = text.strip().strip("\ufeff").lower()
    text = re.sub(r"[（(][^）)]*[）)]$", "", text)
    return text.rstrip("*＊ ").replace(" ", "").replace("_", "")


# --- Parsers ---------------------------------------------------------------------------------------


def text(max_length: int) -> Parser:
    def parse(value: str) -> str:
        if len(value) > max_length:
            raise CellError(
                _("超过 {limit} 个字符的长度上限（实际 {length} 个）").format(
                    limit=max_length, length=len(value)
                )
            )
        return value

    return parse


def integer(*, minimum: int = 0, maximum: int = 2_147_483_647) -> Parser:
    def parse(value: str) -> int:
        cleaned = value.replace(",", "").replace("，", "")
        if cleaned.endswith(".0"):
            cleaned = cleaned[:-2]
        if not re.fullmatch(r"[+-]?\d+", cleaned):
            raise CellError(_("应为整数"))
        number = int(cleaned)
        if not minimum <= number <= maximum:
            raise CellError(_("应在 {minimum} 到 {maximum} 之间").format(minimum=minimum, maximum=maximum))
        return number

    return parse


def number(*, minimum: decimal.Decimal, maximum: decimal.Decimal, places: int) -> Parser:
    quantum = decimal.Decimal(1).scaleb(-places)

    def parse(value: str) -> decimal.Decimal:
        try:
            result = decimal.Decimal(value)
        except decimal.InvalidOperation:
            raise CellError(_("应为数字")) from None
        if not result.is_finite() or not minimum <= result <= maximum:
            raise CellError(_("应在 {minimum} 到 {maximum} 之间").format(minimum=minimum, maximum=maximum))
        return result.quantize(quantum, rounding=decimal.ROUND_HALF_UP)

    return parse


_TRUE = {"是", "y", "yes", "true", "1", "√", "✓", "对"}
_FALSE = {"否", "n", "no", "false", "0", "×", "✗", "不"}


def boolean(value: str) -> bool:
    lowered = value.lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise CellError(_("应为“是”或“否”"))


def date(value: str) -> dt.date:
    cleaned = value.replace("/", "-").replace(".", "-").replace("年", "-").replace("月", "-").rstrip("日")
    cleaned = cleaned.split(" ")[0]
    try:
        return dt.date.fromisoformat("-".join(p.zfill(2) for p in cleaned.split("-")))
    except ValueError:
        raise CellError(_("日期格式应为 YYYY-MM-DD")) from None


def email(value: str) -> str:
    if len(value) > 254:
        raise CellError(
            _("超过 {limit} 个字符的长度上限（实际 {length} 个）").format(limit=254, length=len(value))
        )
    try:
        validate_email(value)
    except ValidationError:
        raise CellError(_("不是有效的邮箱地址")) from None
    return value


_PHONE = re.compile(r"^\+?[\d\- ]{5,20}$")


def phone(value: str) -> str:
    cleaned = value.replace("（", "(").replace("）", ")").replace("(", "").replace(")", "")
    if not _PHONE.match(cleaned):
        raise CellError(_("不是有效的电话号码"))
    return cleaned.replace(" ", "")


@cache
def _choice_map(choices: type[TextChoices], synonyms: tuple[tuple[str, str], ...]) -> dict[str, str]:
    mapping: dict[str, str] = {}
    for value, label in choices.choices:
        mapping[str(value).lower()] = value
        for language in ("zh-hans", "en"):
            with translation.override(language):
                mapping[str(label).lower()] = value
    for alias, value in synonyms:
        mapping[alias.lower()] = value
    return mapping


def choice(choices: type[TextChoices], **synonyms: str) -> Parser:
    """Accept the code value (`3a`), the Chinese label (三级甲等), the English label, or a synonym."""
    frozen = tuple(sorted(synonyms.items()))

    def parse(value: str) -> str:
        mapping = _choice_map(choices, frozen)
        found = mapping.get(value.lower()) or mapping.get(value.lower().replace(" ", ""))
        if found is None:
            raise CellError(_("不在可选值中，可选：{options}").format(options=choice_labels(choices)))
        return found

    return parse


def choice_labels(choices: type[TextChoices]) -> str:
    return "、".join(f"{label}（{value}）" for value, label in choices.choices)
