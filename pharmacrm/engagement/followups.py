"""What follows a visit: commitments kept (or escalated when overdue) and callbacks scheduled by rule.

Commitments need a due date; closing one says how it was kept. A daily task reminds owners before
the due date and escalates overdue ones to the owner's line manager, marking `reminded_at` and
`escalated_at` so running it twice changes nothing. Callbacks (回访) are scheduled by rules — after a
visit that found a need with a key customer, after a hospital's first purchase of a product — and
record their outcome and the customer's satisfaction.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from pharmacrm.commercial.models import Listing
from pharmacrm.core.audit import acting_as, audit_context
from pharmacrm.core.errors import Conflict, DomainError, NotAllowed
from pharmacrm.core.models import User
from pharmacrm.core.visibility import get_visible_or_404
from pharmacrm.customers.models import Professional
from pharmacrm.engagement.hierarchy import is_manager_above, nearest_manager
from pharmacrm.engagement.models import Callback, Commitment, Visit

DESCRIPTION_MAX = 300
# Owners are reminded this many days before a commitment falls due.
REMIND_DAYS_BEFORE = 2


def _refuse(field: str, message: str, *, cls: type[DomainError] = DomainError) -> DomainError:
    return cls(message, fields={field: [message]})


def _may_act_for(actor: Any, owner: Any) -> bool:
    """The owner, or a manager above the owner."""
    return bool(actor.pk == owner.pk or is_manager_above(actor, owner))


# --- Commitments ---------------------------------------------------------------------------------------


def check_commitment(
    *, description: str, due_on: dt.date | None, not_before: dt.date, label: str = ""
) -> str:
    """Refuse a commitment without text or due date, or due before it was made; return the cleaned text."""
    description = (description or "").strip()
    prefix = f"{label}" if label else ""
    if not description:
        raise _refuse("description", prefix + _("请写明承诺事项。"))
    if len(description) > DESCRIPTION_MAX:
        raise _refuse("description", prefix + _("承诺事项最多 {n} 个字符。").format(n=DESCRIPTION_MAX))
    if due_on is None:
        raise _refuse(
            "due_on",
            prefix
            + _("承诺事项“{text}”缺少截止日期（规则：承诺事项须有截止日期）。").format(text=description[:40]),
        )
    if due_on < not_before:
        raise _refuse(
            "due_on",
            prefix
            + _("承诺事项“{text}”的截止日期 {due} 早于承诺日期 {day}。").format(
                text=description[:40], due=due_on, day=not_before
            ),
        )
    return description


def add_commitment(
    *,
    actor: Any,
    owner: Any,
    professional: Professional,
    description: str,
    due_on: dt.date,
    visit: Visit | None,
) -> Commitment:
    """Write an already checked commitment (inside the caller's transaction)."""
    with acting_as(actor):
        return Commitment.objects.create(
            visit=visit, professional=professional, owner=owner, description=description, due_on=due_on
        )


@transaction.atomic
def create_commitment(
    *,
    actor: User,
    professional: Professional | int,
    description: str,
    due_on: dt.date | None,
    visit: Visit | None = None,
    today: dt.date | None = None,
) -> Commitment:
    """Promise something to a customer the actor may see; the actor owns it."""
    pk = professional.pk if isinstance(professional, Professional) else professional
    found = get_visible_or_404(Professional, user=actor, pk=pk)
    today = today or timezone.localdate()
    text = check_commitment(description=description, due_on=due_on, not_before=today)
    assert due_on is not None
    return add_commitment(
        actor=actor, owner=actor, professional=found, description=text, due_on=due_on, visit=visit
    )


def _locked_commitment(actor: Any, commitment: Commitment | int) -> Commitment:
    pk = commitment.pk if isinstance(commitment, Commitment) else commitment
    row = get_visible_or_404(
        Commitment.objects.select_for_update(of=("self",)).select_related("owner__org_unit"),
        user=actor,
        pk=pk,
    )
    if not _may_act_for(actor, row.owner):
        raise NotAllowed(_("只有负责人或其上级经理可以处理该承诺事项。"))
    if row.status != Commitment.Status.OPEN:
        raise _refuse(
            "status",
            _("该承诺事项已{status}，不能再处理。").format(status=row.get_status_display()),
            cls=Conflict,
        )
    return row


@transaction.atomic
def close_commitment(
    *, actor: User, commitment: Commitment | int, how_kept: str, closed_on: dt.date | None = None
) -> Commitment:
    """Mark a commitment kept, saying how (required)."""
    row = _locked_commitment(actor, commitment)
    how_kept = (how_kept or "").strip()
    if not how_kept:
        raise _refuse("how_kept", _("请写明承诺是如何兑现的（规则：关闭承诺须记录兑现情况）。"))
    if len(how_kept) > DESCRIPTION_MAX:
        raise _refuse("how_kept", _("兑现情况最多 {n} 个字符。").format(n=DESCRIPTION_MAX))
    today = timezone.localdate()
    closed_on = closed_on or today
    if closed_on > today:
        raise _refuse("closed_on", _("完成日期不能晚于今天：{day}。").format(day=closed_on))
    row.status = Commitment.Status.DONE
    row.how_kept = how_kept
    row.closed_on = closed_on
    with acting_as(actor):
        row.save()
    return row


@transaction.atomic
def cancel_commitment(*, actor: User, commitment: Commitment | int, reason: str) -> Commitment:
    """Withdraw a commitment that no longer applies; the reason is kept where 'how kept' would be."""
    row = _locked_commitment(actor, commitment)
    reason = (reason or "").strip()
    if not reason:
        raise _refuse("reason", _("请写明取消原因。"))
    row.status = Commitment.Status.CANCELLED
    row.how_kept = (_("取消：") + reason)[:DESCRIPTION_MAX]
    row.closed_on = timezone.localdate()
    with acting_as(actor):
        row.save()
    return row


@dataclass(frozen=True)
class FollowUpRun:
    reminded: int
    escalated: int


def remind_and_escalate_commitments(*, now: dt.datetime | None = None) -> FollowUpRun:
    """Mark open commitments due soon as reminded and overdue ones as escalated to the owner's line manager.

    Idempotent: a commitment is reminded once and escalated once. The marks are what the pages show
    (no e-mail): the owner's list highlights them, the manager's list gathers escalations.
    """
    now = now or timezone.now()
    today = timezone.localdate(now)
    open_ = Commitment.objects.filter(status=Commitment.Status.OPEN)
    with audit_context(source="system"), transaction.atomic():
        reminded = open_.filter(
            reminded_at__isnull=True, due_on__lte=today + dt.timedelta(days=REMIND_DAYS_BEFORE)
        ).update(reminded_at=now)
        escalated = 0
        overdue = list(
            open_.filter(escalated_at__isnull=True, due_on__lt=today)
            .select_related("owner__org_unit")
            .select_for_update(of=("self",))
        )
        managers: dict[int, User | None] = {}
        for commitment in overdue:
            if commitment.owner_id not in managers:
                managers[commitment.owner_id] = nearest_manager(commitment.owner)
            commitment.escalated_at = now
            commitment.escalated_to = managers[commitment.owner_id]
            commitment.save(update_fields=["escalated_at", "escalated_to"])
            escalated += 1
    return FollowUpRun(reminded=reminded, escalated=escalated)


# --- Callbacks -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CallbackRule:
    """After `trigger`, call back customers of these tiers `days` later."""

    trigger: str  # "visit_need_found" | "first_purchase"
    days: int
    tiers: frozenset[str] = frozenset()  # empty: any tier


DEFAULT_CALLBACK_RULES = [
    # A key customer told us of a need: call back within a week to show it is being handled.
    {"trigger": "visit_need_found", "days": 7, "tiers": ["key"]},
    # A hospital bought the product for the first time: ask how the first patients did.
    {"trigger": "first_purchase", "days": 14, "tiers": []},
]


def callback_rules(trigger: str) -> list[CallbackRule]:
    """The rules in force (settings.ENGAGEMENT_CALLBACK_RULES overrides the defaults) for one trigger."""
    rows = getattr(settings, "ENGAGEMENT_CALLBACK_RULES", DEFAULT_CALLBACK_RULES)
    return [
        CallbackRule(trigger=row["trigger"], days=int(row["days"]), tiers=frozenset(row.get("tiers") or ()))
        for row in rows
        if row["trigger"] == trigger
    ]


def _schedule(
    *, owner: Any, professional: Professional, reason: str, source: str, due_on: dt.date
) -> Callback | None:
    """Create the callback unless this source already scheduled one for this person."""
    callback, created = Callback.objects.get_or_create(
        professional=professional,
        reason=reason,
        source=source,
        defaults={"owner": owner, "due_on": due_on},
    )
    return callback if created else None


def schedule_after_visit(
    *, visit: Visit, actor: Any, need_found_for: Iterable[Professional]
) -> list[Callback]:
    """Callbacks the rules ask for after `visit` (inside the visit's transaction)."""
    made: list[Callback] = []
    day = timezone.localdate(visit.starts_at)
    with acting_as(actor):
        for rule in callback_rules("visit_need_found"):
            for professional in need_found_for:
                if rule.tiers and professional.tier not in rule.tiers:
                    continue
                callback = _schedule(
                    owner=visit.owner,
                    professional=professional,
                    reason=Callback.Reason.AFTER_VISIT,
                    source=f"visit:{visit.pk}",
                    due_on=day + dt.timedelta(days=rule.days),
                )
                if callback:
                    made.append(callback)
    return made


# How far back a first purchase still gets its callback when the task first sees it.
FIRST_PURCHASE_LOOKBACK_DAYS = 30
# Whose opinion a first-purchase callback asks: the people visited about the product before it.
FIRST_PURCHASE_VISIT_WINDOW_DAYS = 180


def schedule_first_purchase_callbacks(*, today: dt.date | None = None) -> int:
    """Callbacks after each recent first purchase (listing stage first_purchase); idempotent.

    The callback goes to the professionals visited about that product at that hospital in the
    months before (else its pharmacy director), owned by the listing's owner.
    """
    today = today or timezone.localdate()
    rules = callback_rules("first_purchase")
    if not rules:
        return 0
    listings = list(
        Listing.objects.filter(
            stage=Listing.Stage.FIRST_PURCHASE,
            first_purchase_on__gte=today - dt.timedelta(days=FIRST_PURCHASE_LOOKBACK_DAYS),
            first_purchase_on__lte=today,
        ).select_related("owner")
    )
    created = 0
    with audit_context(source="system"), transaction.atomic():
        for listing in listings:
            assert listing.first_purchase_on is not None
            since = listing.first_purchase_on - dt.timedelta(days=FIRST_PURCHASE_VISIT_WINDOW_DAYS)
            people = list(
                Professional.objects.filter(
                    visits__institution_id=listing.institution_id,
                    visits__products=listing.product_id,
                    visits__status=Visit.Status.COMPLETED,
                    visits__starts_at__date__gte=since,
                    status=Professional.Status.ACTIVE,
                ).distinct()
            )
            if not people:
                people = list(
                    Professional.objects.filter(
                        institution_id=listing.institution_id,
                        role=Professional.Role.PHARMACY_DIRECTOR,
                        status=Professional.Status.ACTIVE,
                    )
                )
            for rule in rules:
                for professional in people:
                    if rule.tiers and professional.tier not in rule.tiers:
                        continue
                    if _schedule(
                        owner=listing.owner,
                        professional=professional,
                        reason=Callback.Reason.FIRST_PRESCRIPTION,
                        source=f"listing:{listing.pk}",
                        due_on=listing.first_purchase_on + dt.timedelta(days=rule.days),
                    ):
                        created += 1
    return created


@transaction.atomic
def create_callback(
    *,
    actor: User,
    professional: Professional | int,
    due_on: dt.date | None,
    reason: str = Callback.Reason.SCHEDULED,
) -> Callback:
    """Schedule a callback by hand (a periodic check-in); the actor owns it."""
    pk = professional.pk if isinstance(professional, Professional) else professional
    found = get_visible_or_404(Professional, user=actor, pk=pk)
    if reason not in Callback.Reason.values:
        raise _refuse("reason", _("回访原因“{value}”不在可选值中。").format(value=reason))
    if due_on is None:
        raise _refuse("due_on", _("请填写应回访日期。"))
    with acting_as(actor):
        return Callback.objects.create(professional=found, owner=actor, reason=reason, due_on=due_on)


def _locked_callback(actor: Any, callback: Callback | int) -> Callback:
    pk = callback.pk if isinstance(callback, Callback) else callback
    row = get_visible_or_404(
        Callback.objects.select_for_update(of=("self",)).select_related("owner__org_unit"), user=actor, pk=pk
    )
    if not _may_act_for(actor, row.owner):
        raise NotAllowed(_("只有负责人或其上级经理可以处理该回访。"))
    if row.status != Callback.Status.DUE:
        raise _refuse("status", _("该回访已{status}。").format(status=row.get_status_display()), cls=Conflict)
    return row


@transaction.atomic
def complete_callback(
    *,
    actor: User,
    callback: Callback | int,
    outcome: str,
    satisfaction: int | None,
    done_at: dt.datetime | None = None,
) -> Callback:
    """Record what the callback found and how satisfied the customer is (1–5); both required."""
    row = _locked_callback(actor, callback)
    outcome = (outcome or "").strip()
    now = timezone.now()
    done_at = done_at or now
    if not outcome:
        raise _refuse("outcome", _("请填写回访结果。"))
    if satisfaction is None or not 1 <= int(satisfaction) <= 5:
        raise _refuse("satisfaction", _("满意度须为 1–5 分。"))
    if done_at > now:
        raise _refuse("done_at", _("回访时间不能晚于现在。"))
    row.status = Callback.Status.DONE
    row.outcome = outcome
    row.satisfaction = int(satisfaction)
    row.done_at = done_at
    with acting_as(actor):
        row.save()
    return row


@transaction.atomic
def cancel_callback(*, actor: User, callback: Callback | int, reason: str) -> Callback:
    row = _locked_callback(actor, callback)
    reason = (reason or "").strip()
    if not reason:
        raise _refuse("reason", _("请写明取消原因。"))
    row.status = Callback.Status.CANCELLED
    row.outcome = _("取消：") + reason
    with acting_as(actor):
        row.save()
    return row
