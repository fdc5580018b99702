"""The audit trail: who changed what, when, and from where, on top of django-simple-history.

Every audited model declares `history = AuditedHistory()`. Each saved or deleted row gets a
historical row carrying the acting user and the channel (`ui`, `api`, `import`, `cli`,
`system`). Web requests set both through middleware; imports, CLI commands and tasks wrap
their work in `audit_context(...)`.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from django.db import models
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords
from simple_history.signals import pre_create_historical_record


class Source(models.TextChoices):
    UI = "ui", _("网页")
    API = "api", _("接口")
    IMPORT = "import", _("导入")
    CLI = "cli", _("命令行")
    SYSTEM = "system", _("系统")


@dataclass(frozen=True)
class AuditState:
    source: str
    actor: Any = None
    ip: str | None = None


_state: contextvars.ContextVar[AuditState | None] = contextvars.ContextVar("pharmacrm_audit", default=None)


@contextlib.contextmanager
def audit_context(*, source: str, actor: Any = None, ip: str | None = None) -> Iterator[None]:
    """Attribute every audited write inside the block to `actor` via `source`."""
    token = _state.set(AuditState(source=source, actor=actor, ip=ip))
    try:
        yield
    finally:
        _state.reset(token)


def current_state() -> AuditState | None:
    return _state.get()


@contextlib.contextmanager
def acting_as(actor: Any) -> Iterator[None]:
    """Attribute the writes inside the block to `actor`, keeping the current source and IP.

    Services wrap their writes in it so the history names the acting user whether the call came
    from a page, the API, a task or a test.
    """
    state = _state.get()
    with audit_context(
        source=state.source if state else Source.SYSTEM, actor=actor, ip=state.ip if state else None
    ):
        yield


class AuditFields(models.Model):
    """Extra columns on every historical table."""

    history_source = models.CharField(_("来源"), max_length=16, choices=Source.choices, default=Source.SYSTEM)
    history_ip = models.GenericIPAddressField(_("IP"), null=True, blank=True)

    class Meta:
        abstract = True


def _history_user(instance: Any = None, request: Any = None, **kwargs: Any) -> Any:
    state = _state.get()
    if state is not None and state.actor is not None:
        return state.actor
    request = getattr(HistoricalRecords.context, "request", None)
    user = getattr(request, "user", None)
    if user is not None and getattr(user, "is_authenticated", False):
        return user
    return None


class AuditedHistory(HistoricalRecords):
    """HistoricalRecords with the source and IP columns and our user lookup."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("bases", [AuditFields])
        kwargs.setdefault("get_user", _history_user)
        kwargs.setdefault("cascade_delete_history", False)
        super().__init__(**kwargs)


def _stamp_source(sender: Any, history_instance: Any, **kwargs: Any) -> None:
    state = _state.get()
    if state is not None:
        history_instance.history_source = state.source
        history_instance.history_ip = state.ip


def connect() -> None:
    pre_create_historical_record.connect(_stamp_source, dispatch_uid="pharmacrm_audit_source")


@dataclass(frozen=True)
class FieldChange:
    field: str
    label: str
    old: Any
    new: Any


@dataclass(frozen=True)
class HistoryEntry:
    record: Any
    changes: list[FieldChange]


def history_entries(obj: models.Model, *, limit: int = 100) -> list[HistoryEntry]:
    """An object's history, newest first, each with the fields it changed (before → after)."""
    manager: Any = obj.history  # type: ignore[attr-defined]  # added by simple-history
    records = list(
        manager.select_related("history_user").order_by("-history_date", "-history_id")[: limit + 1]
    )
    entries: list[HistoryEntry] = []
    model = obj.__class__
    for i, record in enumerate(records[:limit]):
        previous = records[i + 1] if i + 1 < len(records) else None
        changes: list[FieldChange] = []
        if previous is not None and record.history_type == "~":
            delta = record.diff_against(previous)
            for change in delta.changes:
                try:
                    label = str(getattr(model._meta.get_field(change.field), "verbose_name", change.field))
                except Exception:
                    label = change.field
                changes.append(FieldChange(change.field, label, change.old, change.new))
        entries.append(HistoryEntry(record=record, changes=changes))
    return entries
