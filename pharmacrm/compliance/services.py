"""Writes to compliance records: registrations, the policy in force, consents, the access log, subject requests."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.apps import apps
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from pharmacrm.compliance.models import (
    Consent,
    ContactChannel,
    DataSubjectRequest,
    PolicyRule,
    PolicySet,
    Purpose,
    RepRegistration,
    SensitiveAccess,
)
from pharmacrm.compliance.rules import CATALOGUE, find_conflicts, validate_params
from pharmacrm.core.errors import Conflict, DomainError, NotAllowed
from pharmacrm.core.models import Role, User
from pharmacrm.core.visibility import get_visible_or_404

# PIPL Art. 50: answer a subject's request within a reasonable time; we hold ourselves to 15 days.
SUBJECT_REQUEST_DAYS = 15


def _require(actor: Any, *roles: str) -> None:
    if not actor.has_role(*roles):
        raise NotAllowed(_("您的角色不能执行此操作。"))


# --- Rep registration ----------------------------------------------------------------------------


@transaction.atomic
def record_registration(
    *,
    actor: User,
    rep: User,
    status: str,
    number: str = "",
    filed_on: dt.date | None = None,
    expires_on: dt.date | None = None,
    notes: str = "",
) -> RepRegistration:
    """File (or update) a rep's registration. Only compliance and admin may."""
    _require(actor, Role.COMPLIANCE, Role.ADMIN)
    if not rep.has_role(Role.REP):
        raise DomainError(
            _("{user} 不是医药代表，无需备案。").format(user=rep), fields={"rep": [_("不是医药代表。")]}
        )
    errors: dict[str, list[str]] = {}
    if status not in RepRegistration.Status.values:
        errors["status"] = [_("未知状态：{value}").format(value=status)]
    if status == RepRegistration.Status.FILED:
        if not number.strip():
            errors["number"] = [_("已备案须填写备案号。")]
        if filed_on is None:
            errors["filed_on"] = [_("已备案须填写备案日期。")]
    if filed_on and expires_on and expires_on <= filed_on:
        errors["expires_on"] = [_("有效期须晚于备案日期。")]
    if errors:
        raise DomainError(_("备案信息有误。"), fields=errors)
    registration, _created = RepRegistration.objects.update_or_create(
        user=rep,
        defaults={
            "status": status,
            "number": number.strip(),
            "filed_on": filed_on,
            "expires_on": expires_on,
            "notes": notes,
        },
    )
    return registration


def registrations_expiring(*, within_days: int = 30, on: dt.date | None = None) -> list[RepRegistration]:
    on = on or timezone.localdate()
    return list(
        RepRegistration.objects.select_related("user")
        .filter(
            status=RepRegistration.Status.FILED,
            expires_on__gte=on,
            expires_on__lte=on + dt.timedelta(days=within_days),
        )
        .order_by("expires_on")
    )


# --- Policy in force -------------------------------------------------------------------------------


@transaction.atomic
def set_rule(
    *, actor: User, policy_set: PolicySet, code: str, params: dict[str, Any], enabled: bool = True
) -> PolicyRule:
    """Switch a rule on or off in a set, with parameters. Refused if invalid or in conflict with the set's other rules."""
    _require(actor, Role.COMPLIANCE, Role.ADMIN)
    try:
        cleaned = validate_params(code, params)
    except ValueError as exc:
        raise DomainError(str(exc), fields={"params": [str(exc)]}) from exc
    proposed = {
        r.code: validate_params(r.code, r.params)
        for r in PolicyRule.objects.filter(policy_set=policy_set, enabled=True).exclude(code=code)
        if r.code in CATALOGUE
    }
    if enabled:
        proposed[code] = cleaned
    conflicts = find_conflicts(proposed)
    if conflicts:
        raise Conflict(_("规则冲突：") + "；".join(conflicts), fields={"params": conflicts})
    rule, _created = PolicyRule.objects.update_or_create(
        policy_set=policy_set, code=code, defaults={"params": cleaned, "enabled": enabled}
    )
    return rule


@transaction.atomic
def activate_policy_set(*, actor: User, policy_set: PolicySet) -> PolicySet:
    _require(actor, Role.COMPLIANCE, Role.ADMIN)
    rules = {
        r.code: validate_params(r.code, r.params)
        for r in policy_set.rules.filter(enabled=True)
        if r.code in CATALOGUE
    }
    conflicts = find_conflicts(rules)
    if conflicts:
        raise Conflict(_("该政策集存在冲突，不能启用：") + "；".join(conflicts))
    for other in PolicySet.objects.filter(is_active=True).exclude(pk=policy_set.pk):
        other.is_active = False
        other.save(update_fields=["is_active"])
    policy_set.is_active = True
    policy_set.save(update_fields=["is_active"])
    return policy_set


# --- Consent -----------------------------------------------------------------------------------------


@transaction.atomic
def record_consent(
    *,
    actor: User,
    professional_id: int,
    purpose: str,
    channel: str,
    source: str,
    given_on: dt.date,
    scope: str = "",
    evidence: str = "",
) -> Consent:
    """Record a consent. A consent without a source, for an unknown purpose or in the future is refused."""
    professional_model = apps.get_model("customers", "Professional")
    get_visible_or_404(professional_model, user=actor, pk=professional_id)
    errors: dict[str, list[str]] = {}
    if source not in Consent.Source.values:
        errors["source"] = [_("请注明同意的来源（纸质、电子、口头记录、微信确认或活动报名）。")]
    if purpose not in Purpose.values:
        errors["purpose"] = [_("未知目的：{value}").format(value=purpose)]
    if channel not in ContactChannel.values:
        errors["channel"] = [_("未知渠道：{value}").format(value=channel)]
    if given_on > timezone.localdate():
        errors["given_on"] = [_("同意日期不能晚于今天。")]
    if errors:
        raise DomainError(_("同意记录不完整，未保存。"), fields=errors)
    if Consent.objects.filter(
        professional_id=professional_id, purpose=purpose, channel=channel, withdrawn_at__isnull=True
    ).exists():
        raise Conflict(_("该目的与渠道已有有效的同意记录。"), fields={"channel": [_("已存在。")]})
    return Consent.objects.create(
        professional_id=professional_id,
        purpose=purpose,
        channel=channel,
        source=source,
        given_on=given_on,
        scope=scope,
        evidence=evidence,
        recorded_by=actor,
    )


@transaction.atomic
def withdraw_consent(*, actor: User, consent_id: int) -> Consent:
    """Withdrawal takes effect at once: the next check for that channel and purpose denies."""
    consent = get_visible_or_404(Consent.objects.select_for_update(of=("self",)), user=actor, pk=consent_id)
    if consent.withdrawn_at is None:
        consent.withdrawn_at = timezone.now()
        consent.save(update_fields=["withdrawn_at"])
    return consent


# --- Sensitive access log -------------------------------------------------------------------------------


def log_sensitive_access(
    *,
    user: Any,
    kind: str,
    model: str,
    object_id: Any = "",
    fields: list[str],
    rows: int = 1,
    ip: str | None = None,
) -> SensitiveAccess:
    """Append to the access log. Deliberately outside any business transaction: a view is logged even if nothing else is written."""
    return SensitiveAccess.objects.create(
        user=user, kind=kind, model=model, object_id=str(object_id), fields=",".join(fields), rows=rows, ip=ip
    )


# --- Subject requests -------------------------------------------------------------------------------------


@transaction.atomic
def open_subject_request(
    *,
    actor: User,
    subject_name: str,
    kind: str,
    professional_id: int | None,
    channel: str = "",
    received_on: dt.date | None = None,
) -> DataSubjectRequest:
    _require(actor, Role.COMPLIANCE, Role.SERVICE, Role.ADMIN)
    if kind not in DataSubjectRequest.Kind.values:
        raise DomainError(_("未知请求类型：{value}").format(value=kind), fields={"kind": [_("未知类型。")]})
    if not subject_name.strip():
        raise DomainError(_("请填写申请人姓名。"), fields={"subject_name": [_("此字段为必填项。")]})
    received_on = received_on or timezone.localdate()
    return DataSubjectRequest.objects.create(
        subject_name=subject_name.strip(),
        kind=kind,
        professional_id=professional_id,
        channel=channel,
        received_on=received_on,
        due_on=received_on + dt.timedelta(days=SUBJECT_REQUEST_DAYS),
        created_by=actor,
    )


@transaction.atomic
def verify_subject_request(*, actor: User, request_id: int, note: str) -> DataSubjectRequest:
    _require(actor, Role.COMPLIANCE, Role.ADMIN)
    request = DataSubjectRequest.objects.select_for_update().get(pk=request_id)
    if not note.strip():
        raise DomainError(
            _("请说明如何核验了申请人身份。"), fields={"verification_note": [_("此字段为必填项。")]}
        )
    if request.professional_id is None:
        raise DomainError(_("请先关联对应的医务人员档案。"), fields={"professional": [_("未关联。")]})
    request.status = DataSubjectRequest.Status.VERIFIED
    request.verified_by = actor
    request.verification_note = note.strip()
    request.save(update_fields=["status", "verified_by", "verification_note"])
    return request


@transaction.atomic
def complete_subject_request(*, actor: User, request: DataSubjectRequest, outcome: str) -> DataSubjectRequest:
    _require(actor, Role.COMPLIANCE, Role.ADMIN)
    if request.status != DataSubjectRequest.Status.VERIFIED:
        raise DomainError(_("请求尚未核验身份，不能办结。"))
    request.status = DataSubjectRequest.Status.COMPLETED
    request.completed_at = timezone.now()
    request.outcome = outcome
    request.save(update_fields=["status", "completed_at", "outcome", "export_file"])
    return request
