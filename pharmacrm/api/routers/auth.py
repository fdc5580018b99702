"""POST /auth/token and GET /me."""

from __future__ import annotations

import logging
from typing import Any

from django.contrib.auth import authenticate
from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Router, Schema, Status
from ninja.throttling import AnonRateThrottle
from pydantic import Field

from pharmacrm.api.schemas import ErrorOut, InputSchema
from pharmacrm.core.errors import InvalidCredentials, LockedOut
from pharmacrm.core.services import create_api_token, describe_user

router = Router(tags=["auth"])
security_log = logging.getLogger("pharmacrm.security")


class TokenIn(InputSchema):
    username: str = Field(min_length=1, max_length=150)
    password: str = Field(min_length=1, max_length=256)
    name: str = Field(default="api", max_length=64)
    days: int = Field(default=90, ge=1, le=366)


class TokenOut(Schema):
    token: str
    expires_at: str


class OrgUnitOut(Schema):
    id: int
    name: str
    kind: str


class MeOut(Schema):
    id: int
    username: str
    display_name: str
    roles: list[str]
    org_unit: OrgUnitOut | None
    language: str


@router.post(
    "/auth/token",
    auth=None,
    throttle=[AnonRateThrottle("10/m")],
    response={201: TokenOut, 401: ErrorOut, 403: ErrorOut, 422: ErrorOut, 429: ErrorOut},
)
def issue_token(request: HttpRequest, payload: TokenIn) -> Any:
    """Exchange username and password for a personal API token (shown once)."""
    user = authenticate(request, username=payload.username, password=payload.password)
    # django-axes refuses a locked-out login inside authenticate(), which then returns None; the
    # flag it leaves on the request is the only way to tell a lockout from a wrong password.
    if getattr(request, "axes_locked_out", False):
        raise LockedOut(_("登录失败次数过多，账户已暂时锁定，请 15 分钟后再试。"))
    if user is None or not user.is_active:
        security_log.warning(
            "api login failed", extra={"username": payload.username, "ip": request.META.get("REMOTE_ADDR")}
        )
        raise InvalidCredentials(_("用户名或密码错误。"))
    # The token is created for and by this user: attribute its history row to them.
    request.user = user
    token, raw = create_api_token(actor=user, name=payload.name, days=payload.days)
    assert token.expires_at is not None
    return Status(201, {"token": raw, "expires_at": token.expires_at.isoformat()})


@router.get("/me", response={200: MeOut, 401: ErrorOut})
def me(request: HttpRequest) -> Any:
    """The signed-in user: roles, org unit, language."""
    return describe_user(request.user)
