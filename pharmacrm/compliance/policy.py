"""The one function every service asks before acting: `check(action, actor=…, **facts)` → allow, or deny with the rule quoted.

Services call `enforce(...)`, which raises core.errors.RuleViolation on a deny, so the UI, the
API, imports and the CLI obey the same rules. The active PolicySet decides which rules of the
catalogue (compliance.rules) are on and with which parameters; with no active set, the China
defaults apply, so a fresh database is never rule-free.
"""

from __future__ import annotations

import contextvars
import datetime as dt
from typing import Any

from django.db import connection
from django.db.models import Q
from django.utils import timezone

from pharmacrm.compliance.models import (
    ComplianceEvent,
    Consent,
    ContactChannel,
    PolicyRule,
    PolicySet,
    RepRegistration,
)
from pharmacrm.compliance.rules import CATALOGUE, Decision, validate_params
from pharmacrm.core.errors import RuleViolation
from pharmacrm.core.models import Role

CHINA_DEFAULT_RULES = [
    "rep_must_be_registered",
    "no_sales_target_for_rep",
    "no_per_doctor_prescription_stats",
    "department_stats_roles",
    "professional_estimate_roles",
    "forbidden_gift_kinds",
    "permitted_gift_kinds",
    "meal_cap_per_person",
    "speaker_fee_annual_cap",
    "no_speaker_fee_same_department",
    "consent_required_for_contact",
    "mask_contacts_for_roles",
]


def active_rules() -> dict[str, dict[str, Any]]:
    """code → parameters of the rules in force."""
    policy_set = PolicySet.objects.filter(is_active=True).first()
    if policy_set is None:
        return {code: validate_params(code, {}) for code in CHINA_DEFAULT_RULES}
    rows = PolicyRule.objects.filter(policy_set=policy_set, enabled=True).values_list("code", "params")
    return {code: validate_params(code, params) for code, params in rows if code in CATALOGUE}


def registration_valid(user: Any, *, on: dt.date) -> bool:
    return any(
        r.is_valid_on(on)
        for r in RepRegistration.objects.filter(user=user, status=RepRegistration.Status.FILED)
    )


def has_consent(*, professional_id: int, purpose: str, channel: str, on: dt.date | None = None) -> bool:
    on = on or timezone.localdate()
    return Consent.objects.filter(
        Q(channel=channel) | Q(channel=ContactChannel.ANY),
        professional_id=professional_id,
        purpose=purpose,
        withdrawn_at__isnull=True,
        given_on__lte=on,
    ).exists()


def _facts(action: str, actor: Any, facts: dict[str, Any]) -> dict[str, Any]:
    ctx = dict(facts)
    roles = set(actor.roles) if actor is not None else set()
    ctx.setdefault("actor_roles", roles)
    ctx.setdefault("actor_is_rep", Role.REP in roles)
    if action in {"visit.record", "material.share", "event.invite"} and ctx["actor_is_rep"]:
        ctx.setdefault(
            "registration_valid", registration_valid(actor, on=ctx.get("on") or timezone.localdate())
        )
    if action == "contact" and "has_consent" not in ctx:
        ctx["has_consent"] = has_consent(
            professional_id=ctx["professional_id"],
            purpose=ctx["purpose"],
            channel=ctx["channel"],
            on=ctx.get("on"),
        )
    return ctx


def check(action: str, *, actor: Any, **facts: Any) -> Decision:
    """Allow, or the first rule in force that denies `action`, with its message quoting the rule."""
    rules = active_rules()
    relevant = [(code, params) for code, params in rules.items() if action in CATALOGUE[code].actions]
    if not relevant:
        return Decision(True)
    ctx = _facts(action, actor, facts)
    for code, params in relevant:
        definition = CATALOGUE[code]
        reason = definition.evaluate(params, ctx)
        if reason:
            return Decision(False, code, definition.deny_message(reason))
    return Decision(True)


def enforce(action: str, *, actor: Any, subject: str = "", **facts: Any) -> None:
    """Raise RuleViolation on a deny, and make sure compliance sees the attempt."""
    decision = check(action, actor=actor, **facts)
    if not decision.allowed:
        record_event(
            kind=ComplianceEvent.Kind.REFUSED,
            action=action,
            rule=decision.rule,
            message=decision.message,
            actor=actor,
            subject=subject,
        )
        raise RuleViolation(decision.message, rule=decision.rule)


# A refusal usually happens inside a service's transaction, which the exception rolls back. So
# events raised inside a transaction wait here and are written when the request (or command)
# ends — see compliance.middleware and flush_events().
_pending: contextvars.ContextVar[list[dict[str, Any]] | None] = contextvars.ContextVar(
    "compliance_pending", default=None
)


def record_event(*, kind: str, action: str, rule: str, message: str, actor: Any, subject: str = "") -> None:
    data = {
        "kind": kind,
        "action": action,
        "rule": rule,
        "message": message[:500],
        "actor_id": getattr(actor, "pk", None),
        "subject": subject[:100],
        "at": timezone.now(),
    }
    if kind == ComplianceEvent.Kind.FLAGGED or not connection.in_atomic_block:
        # Flags are written with the business record they flag; outside a transaction, write now.
        ComplianceEvent.objects.create(**data)
        return
    pending = _pending.get()
    if pending is None:
        pending = []
        _pending.set(pending)
    pending.append(data)


def discard_pending_events() -> None:
    """Forget buffered refusals (tests: each test's transaction is rolled back, its buffer must go too)."""
    _pending.set(None)


def flush_events() -> int:
    """Write refusals that were raised inside a (since rolled back) transaction."""
    pending = _pending.get()
    if not pending:
        return 0
    ComplianceEvent.objects.bulk_create([ComplianceEvent(**data) for data in pending])
    count = len(pending)
    pending.clear()
    return count


def contacts_masked_for(user: Any) -> bool:
    return not check("sensitive.view", actor=user).allowed


def mask(value: str) -> str:
    """138****5678, wx****id: enough to recognise, not to contact."""
    if not value:
        return value
    if len(value) <= 4:
        return "*" * len(value)
    keep = 3 if len(value) >= 8 else 1
    return value[:keep] + "****" + value[-(4 if len(value) >= 8 else 1) :]
