"""Which kinds can be imported. Apps declare theirs in an `importing` module, found on first use.

core knows no domain app: `autodiscover_modules("importing")` imports `<app>.importing` for every
installed app (the way the admin finds `admin.py`), and those modules call `register`. Flow data
and market data (later issues) add their kinds the same way.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.utils.module_loading import autodiscover_modules
from django.utils.translation import gettext as _

from pharmacrm.core.errors import DomainError

if TYPE_CHECKING:
    from pharmacrm.core.imports.engine import ImportKind

_kinds: dict[str, type[ImportKind]] = {}
_discovered = False


def register(kind: type[ImportKind]) -> type[ImportKind]:
    """Class decorator: make `kind` importable under `kind.name`."""
    _kinds[kind.name] = kind
    return kind


def _discover() -> None:
    global _discovered
    if not _discovered:
        _discovered = True
        autodiscover_modules("importing")


def all_kinds() -> list[type[ImportKind]]:
    _discover()
    return list(_kinds.values())


def get_kind(name: str) -> type[ImportKind]:
    _discover()
    try:
        return _kinds[name]
    except KeyError:
        raise DomainError(
            _("未知的导入类型“{name}”，可选：{kinds}").format(name=name, kinds="、".join(sorted(_kinds))),
            fields={"kind": [_("不在可选值中。")]},
            code="unknown_kind",
        ) from None
