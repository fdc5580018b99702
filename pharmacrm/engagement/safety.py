"""Adverse-event watch: visit notes and feedback that mention adverse-event words go to the safety queue at once.

A rep must not hide an adverse reaction (RULES_CN §1). The watch is deliberately broad: any active
AdverseEventTerm in the notes or the feedback raises a SafetySignal in the same transaction as the
visit, sets `flagged_adverse_event`, records a FLAGGED compliance event and hands the rep a message
saying why. Service and compliance staff triage the queue.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from pharmacrm.core.audit import acting_as
from pharmacrm.core.errors import DomainError, NotAllowed
from pharmacrm.core.models import Role
from pharmacrm.core.visibility import get_visible_or_404
from pharmacrm.engagement.models import AdverseEventTerm, SafetySignal, Visit

RULE = "adverse_event_watch"
# Who works the safety queue.
TRIAGE_ROLES = frozenset({Role.SERVICE, Role.COMPLIANCE, Role.ADMIN})
EXCERPT_RADIUS = 40


def may_triage(user: Any) -> bool:
    return bool(getattr(user, "is_authenticated", False) and user.has_role(*TRIAGE_ROLES))


def active_terms() -> list[str]:
    return list(AdverseEventTerm.objects.filter(is_active=True).values_list("term", flat=True))


def find_terms(text: str, terms: list[str]) -> list[str]:
    """The terms that occur in `text`, in the order they first appear."""
    hits = [(text.find(term), term) for term in terms if term and term in text]
    return [term for _pos, term in sorted(hits)]


def excerpt(text: str, terms: list[str]) -> str:
    """The text around each hit, so the triager reads the context without opening the visit."""
    pieces: list[str] = []
    for term in terms:
        pos = text.find(term)
        start, end = max(0, pos - EXCERPT_RADIUS), min(len(text), pos + len(term) + EXCERPT_RADIUS)
        piece = ("…" if start else "") + text[start:end] + ("…" if end < len(text) else "")
        if piece not in pieces:
            pieces.append(piece)
    return "\n".join(pieces)


@dataclass(frozen=True)
class Scan:
    """Adverse-event words found in a visit's texts that were not signalled on it before."""

    terms: list[str]
    excerpt: str
    message: str


def scan_visit(*, visit: Visit, texts: dict[str, str]) -> Scan | None:
    """Look for active adverse-event words in `texts` (label → text), skipping words already signalled."""
    terms = active_terms()
    found: list[str] = []
    parts: list[str] = []
    for label, text in texts.items():
        hits = find_terms(text or "", terms)
        if hits:
            parts.append(f"{label}：{excerpt(text, hits)}")
            found.extend(t for t in hits if t not in found)
    if not found:
        return None
    already: set[str] = set()
    if visit.pk:
        for row in SafetySignal.objects.filter(visit=visit).values_list("terms", flat=True):
            already.update(row.split("、"))
    new = [t for t in found if t not in already]
    if not new:
        return None
    words = "、".join(new)
    message = _(
        "拜访记录中出现“{words}”，可能涉及不良反应/不良事件，已转药物警戒与客服处理。"
        "请勿删除相关内容，并配合同事在 24 小时内补充患者与用药信息（规则：不良事件监测，医药代表不得隐瞒不良反应）。"
    ).format(words=words)
    return Scan(terms=new, excerpt="\n".join(parts), message=message)


def raise_signal(*, visit: Visit, scan: Scan, actor: Any) -> SafetySignal:
    """Put the saved, flagged visit in the safety queue (the caller records the FLAGGED event with its other flags)."""
    with acting_as(actor):
        return SafetySignal.objects.create(
            visit=visit, terms="、".join(scan.terms)[:200], excerpt=scan.excerpt
        )


@transaction.atomic
def triage_signal(
    *, actor: Any, signal: SafetySignal, status: str, note: str = "", now: dt.datetime | None = None
) -> SafetySignal:
    """Set a signal's triage status (triaged, reported, not an AE) with a note; only the safety queue's roles may."""
    if not may_triage(actor):
        raise NotAllowed(_("只有客服、合规或管理员可以处理不良事件信号。"))
    signal = get_visible_or_404(
        SafetySignal.objects.select_for_update(of=("self",)), user=actor, pk=signal.pk
    )
    if status not in SafetySignal.Status.values or status == SafetySignal.Status.NEW:
        message = _("处理状态“{value}”无效，请选择：已评估、已上报或非不良事件。").format(value=status)
        raise DomainError(message, fields={"status": [message]})
    note = (note or "").strip()
    if status == SafetySignal.Status.NOT_AE and not note:
        message = _("判定为非不良事件时，请写明理由。")
        raise DomainError(message, fields={"note": [message]})
    signal.status = status
    signal.note = note
    signal.handled_by = actor
    signal.handled_at = now or timezone.now()
    with acting_as(actor):
        signal.save()
    return signal
