"""Writes to the organisation, roles, territory coverage and API tokens."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from collections.abc import Callable
from functools import partial
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from pharmacrm.core.errors import Conflict, DomainError, NotAllowed
from pharmacrm.core.models import ApiToken, OrgUnit, Role, Territory, TerritoryAssignment, User, UserRole
from pharmacrm.core.visibility import forget_scope

TOKEN_PREFIX = "pcrm"  # noqa: S105 (a label, not a secret)


def _require_admin(actor: User) -> None:
    if not actor.has_role(Role.ADMIN):
        raise NotAllowed(_("只有系统管理员可以执行此操作。"))


# --- API tokens -------------------------------------------------------------------------


def hash_token_secret(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


@transaction.atomic
def create_api_token(*, actor: User, name: str, days: int | None = None) -> tuple[ApiToken, str]:
    """Create a token for `actor`; returns the row and the secret, which is never shown again."""
    name = name.strip()
    if not name:
        raise DomainError(_("请填写令牌名称。"), fields={"name": [_("此字段为必填项。")]})
    if len(name) > 64:
        raise DomainError(_("令牌名称最多 64 个字符。"), fields={"name": [_("最多 64 个字符。")]})
    days = settings.API_TOKEN_DEFAULT_DAYS if days is None else days
    if not 1 <= days <= 366:
        raise DomainError(_("有效期须在 1 到 366 天之间。"), fields={"days": [_("须在 1 到 366 之间。")]})
    prefix = secrets.token_hex(4)
    secret = secrets.token_urlsafe(32)
    raw = f"{TOKEN_PREFIX}_{prefix}_{secret}"
    token = ApiToken.objects.create(
        user=actor,
        name=name,
        prefix=prefix,
        key_hash=hash_token_secret(raw),
        expires_at=timezone.now() + dt.timedelta(days=days),
    )
    return token, raw


@transaction.atomic
def revoke_api_token(*, actor: User, token_id: int) -> ApiToken:
    token = ApiToken.objects.select_for_update().filter(pk=token_id, user=actor).first()
    if token is None:
        raise DomainError(_("令牌不存在。"), code="not_found")
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
    return token


def authenticate_token(raw: str) -> User | None:
    """The active user behind a raw bearer token, or None (unknown, revoked or expired)."""
    if not raw.startswith(TOKEN_PREFIX + "_"):
        return None
    token = ApiToken.objects.select_related("user").filter(key_hash=hash_token_secret(raw)).first()
    if token is None or not token.is_active or not token.user.is_active:
        return None
    now = timezone.now()
    # Touch at most once a minute so reads don't turn into a write per request.
    if token.last_used_at is None or now - token.last_used_at > dt.timedelta(minutes=1):
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token.user


# --- Organisation ---------------------------------------------------------------------


@transaction.atomic
def create_org_unit(*, actor: User, name: str, code: str, kind: str, parent: OrgUnit | None) -> OrgUnit:
    _require_admin(actor)
    order = [OrgUnit.Kind.COMPANY, OrgUnit.Kind.REGION, OrgUnit.Kind.DISTRICT, OrgUnit.Kind.TEAM]
    if (parent is None) != (kind == OrgUnit.Kind.COMPANY):
        raise DomainError(
            _("只有公司是顶层组织，其余组织必须有上级。"), fields={"parent": [_("上级不正确。")]}
        )
    if parent is not None and order.index(OrgUnit.Kind(kind)) <= order.index(OrgUnit.Kind(parent.kind)):
        raise DomainError(_("下级组织的层级必须低于上级。"), fields={"kind": [_("层级不正确。")]})
    if OrgUnit.objects.filter(code=code).exists():
        raise Conflict(_("编码 {code} 已存在。").format(code=code), fields={"code": [_("已存在。")]})
    return OrgUnit.objects.create(name=name, code=code, kind=kind, parent=parent)


@transaction.atomic
def set_roles(*, actor: User, user: User, roles: list[str]) -> User:
    """Replace `user`'s roles. Every grant and removal is a historical row."""
    _require_admin(actor)
    wanted = set(roles)
    unknown = wanted - set(Role.values)
    if unknown:
        raise DomainError(
            _("未知角色：{roles}").format(roles=", ".join(sorted(unknown))),
            fields={"roles": [_("未知角色。")]},
        )
    if user.pk == actor.pk and Role.ADMIN not in wanted:
        raise DomainError(
            _("不能移除自己的系统管理员角色。"), fields={"roles": [_("不能移除自己的管理员角色。")]}
        )
    current = {r.role: r for r in user.role_rows.all()}
    for role, row in current.items():
        if role not in wanted:
            row.delete()
    for role in wanted - set(current):
        UserRole.objects.create(user=user, role=role)
    forget_scope(user)
    return user


# --- Coverage history -----------------------------------------------------------------
# Apps above core react to corrected coverage (flow re-attributes sales) but core may not import
# them: they register a callback from their AppConfig.ready(). Callbacks run after commit with the
# territory and the first day whose coverage changed: listener(*, territory_id, since).
_coverage_listeners: list[Callable[..., None]] = []


def on_coverage_change(listener: Callable[..., None]) -> None:
    """Call `listener(territory_id=…, since=…)` after every committed change of coverage history."""
    if listener not in _coverage_listeners:
        _coverage_listeners.append(listener)


def _coverage_changed(*, territory_id: int, since: dt.date) -> None:
    for listener in _coverage_listeners:
        transaction.on_commit(partial(listener, territory_id=territory_id, since=since))


@transaction.atomic
def assign_territory(
    *,
    actor: User | None,
    territory: Territory,
    user: User,
    valid_from: dt.date,
    kind: str = TerritoryAssignment.Kind.PRIMARY,
) -> TerritoryAssignment:
    """Give `user` the territory from `valid_from`; a previous primary holder's coverage ends the day before.

    The history is what sales attribution reads, so periods never overlap for the primary holder.
    """
    if actor is not None:
        _require_admin(actor)
    if not user.has_role(Role.REP, Role.COMMERCIAL):
        raise DomainError(
            _("只有医药代表或商务人员可以负责辖区。"), fields={"user": [_("该用户没有医药代表或商务角色。")]}
        )
    if kind == TerritoryAssignment.Kind.PRIMARY:
        primary = TerritoryAssignment.objects.select_for_update().filter(
            territory=territory, kind=TerritoryAssignment.Kind.PRIMARY
        )
        # The new period is open-ended, so a holder starting later would overlap it.
        later = primary.filter(valid_from__gt=valid_from).order_by("valid_from").first()
        if later is not None:
            raise Conflict(
                _("{territory} 从 {day} 起已有主负责人 {user}。").format(
                    territory=territory, day=later.valid_from, user=later.user
                ),
                fields={"valid_from": [_("与现有分配重叠。")]},
            )
        open_rows = primary.on(valid_from)
        for row in open_rows:
            if row.valid_from == valid_from:
                raise Conflict(
                    _("{territory} 在 {day} 已有主负责人 {user}。").format(
                        territory=territory, day=valid_from, user=row.user
                    ),
                    fields={"valid_from": [_("与现有分配重叠。")]},
                )
            row.valid_to = valid_from - dt.timedelta(days=1)
            row.save(update_fields=["valid_to"])
    assignment = TerritoryAssignment.objects.create(
        territory=territory, user=user, kind=kind, valid_from=valid_from
    )
    forget_scope(user)
    _coverage_changed(territory_id=territory.pk, since=valid_from)
    return assignment


@transaction.atomic
def correct_assignment(
    *, actor: User | None, assignment: TerritoryAssignment, valid_from: dt.date, valid_to: dt.date | None
) -> TerritoryAssignment:
    """Correct the dates of a recorded coverage period (e.g. a takeover entered with the wrong day).

    Primary periods of one territory may not overlap; sales attributed from the earliest affected
    day on are re-attributed after commit (see on_coverage_change).
    """
    if actor is not None:
        _require_admin(actor)
    if valid_to is not None and valid_to < valid_from:
        raise DomainError(_("结束日期不能早于开始日期。"), fields={"valid_to": [_("早于开始日期。")]})
    row = TerritoryAssignment.objects.select_for_update().get(pk=assignment.pk)
    if row.kind == TerritoryAssignment.Kind.PRIMARY:
        others = TerritoryAssignment.objects.filter(
            territory_id=row.territory_id, kind=TerritoryAssignment.Kind.PRIMARY
        ).exclude(pk=row.pk)
        overlapping = others.filter(valid_to__isnull=True) | others.filter(valid_to__gte=valid_from)
        if valid_to is not None:
            overlapping = overlapping.filter(valid_from__lte=valid_to)
        clash = overlapping.select_related("user").order_by("valid_from").first()
        if clash is not None:
            raise Conflict(
                _("与 {user} 的分配（{start}–{end}）重叠。").format(
                    user=clash.user, start=clash.valid_from, end=clash.valid_to or "…"
                ),
                fields={"valid_from": [_("与现有分配重叠。")]},
            )
    since = min(row.valid_from, valid_from)
    row.valid_from, row.valid_to = valid_from, valid_to
    row.save(update_fields=["valid_from", "valid_to"])
    forget_scope(row.user)
    _coverage_changed(territory_id=row.territory_id, since=since)
    return row


@transaction.atomic
def set_language(*, actor: User, language: str) -> User:
    if language not in dict(settings.LANGUAGES):
        raise DomainError(
            _("不支持的语言：{lang}").format(lang=language), fields={"language": [_("不支持的语言。")]}
        )
    actor.language = language
    actor.save(update_fields=["language"])
    return actor


def describe_user(user: Any) -> dict[str, Any]:
    """What the shell and /api/v1/me show about the signed-in user."""
    unit = user.org_unit
    return {
        "id": user.pk,
        "username": user.username,
        "display_name": str(user),
        "roles": sorted(user.roles),
        "org_unit": {"id": unit.pk, "name": unit.name, "kind": unit.kind} if unit else None,
        "language": user.language,
    }
