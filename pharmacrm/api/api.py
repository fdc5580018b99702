"""The HTTP API at /api/v1/: authentication, one error shape, throttling, and the routers."""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.utils import translation
from django.utils.translation import gettext as _
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, Throttled, ValidationError
from ninja.renderers import JSONRenderer
from ninja.security import APIKeyCookie, HttpBearer
from ninja.throttling import AnonRateThrottle, AuthRateThrottle

from pharmacrm.core.errors import DomainError
from pharmacrm.core.services import authenticate_token

security_log = logging.getLogger("pharmacrm.security")


class BearerTokenAuth(HttpBearer):
    """`Authorization: Bearer pcrm_…` personal tokens."""

    def authenticate(self, request: HttpRequest, token: str) -> Any:
        user = authenticate_token(token)
        if user is None:
            security_log.warning(
                "api token refused", extra={"path": request.path, "ip": request.META.get("REMOTE_ADDR")}
            )
            return None
        request.user = user
        translation.activate(user.language)
        return user


class SessionAuth(APIKeyCookie):
    """The browser session, with Django's CSRF check on unsafe methods."""

    param_name = settings.SESSION_COOKIE_NAME

    def authenticate(self, request: HttpRequest, key: str | None) -> Any:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            return user
        return None


class Utf8JSONRenderer(JSONRenderer):
    json_dumps_params = {"ensure_ascii": False}


api = NinjaAPI(
    renderer=Utf8JSONRenderer(),
    title="PharmaCRM API",
    version="1",
    description="PharmaCRM HTTP API. Authenticate with `POST /api/v1/auth/token`, then send "
    "`Authorization: Bearer <token>`. Errors always have the shape "
    '`{"error": {"code", "message", "fields"}}`. Lists use cursor pagination (`next`).',
    auth=[BearerTokenAuth(), SessionAuth()],
    throttle=[
        AnonRateThrottle(settings.API_RATE_ANONYMOUS),
        AuthRateThrottle(settings.API_RATE_AUTHENTICATED),
    ],
    urls_namespace="api-1",
)


def error_response(
    request: HttpRequest, *, status: int, code: str, message: str, fields: dict[str, list[str]] | None = None
) -> HttpResponse:
    return api.create_response(
        request, {"error": {"code": code, "message": message, "fields": fields or {}}}, status=status
    )


VALIDATION_MESSAGES = {
    "missing": "此字段为必填项。",
    "extra_forbidden": "不允许的字段。",
    "string_too_long": "内容过长。",
    "string_too_short": "内容过短。",
    "int_parsing": "请输入整数。",
    "decimal_parsing": "请输入数字。",
    "date_from_datetime_parsing": "日期格式应为 YYYY-MM-DD。",
    "date_parsing": "日期格式应为 YYYY-MM-DD。",
    "enum": "不在可选值中。",
    "literal_error": "不在可选值中。",
}


def _field_key(loc: list[Any]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "payload", "data")]
    return ".".join(parts) or "__all__"


@api.exception_handler(ValidationError)
def on_validation_error(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    fields: dict[str, list[str]] = {}
    for err in exc.errors:
        if not isinstance(err, dict):
            continue
        if "loc" not in err:  # e.g. the cursor parser's {"cursor": "Invalid Cursor"}
            for key, value in err.items():
                fields.setdefault(str(key), []).append(str(value))
            continue
        template = VALIDATION_MESSAGES.get(err.get("type", ""))
        message = _(template) if template else str(err.get("msg", ""))
        fields.setdefault(_field_key(list(err["loc"])), []).append(message)
    return error_response(
        request,
        status=422,
        code="validation_error",
        message=_("提交的数据有误，请检查各字段。"),
        fields=fields,
    )


@api.exception_handler(AuthenticationError)
def on_auth_error(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    return error_response(
        request, status=401, code="not_authenticated", message=_("未登录，或令牌无效、已过期。")
    )


@api.exception_handler(Throttled)
def on_throttled(request: HttpRequest, exc: Throttled) -> HttpResponse:
    security_log.warning("api throttled", extra={"path": request.path, "ip": request.META.get("REMOTE_ADDR")})
    response = error_response(
        request, status=429, code="rate_limited", message=_("请求过于频繁，请稍后再试。")
    )
    if exc.wait:
        response["Retry-After"] = str(int(exc.wait) + 1)
    return response


@api.exception_handler(Http404)
def on_not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
    return error_response(request, status=404, code="not_found", message=_("对象不存在或无权查看。"))


@api.exception_handler(DomainError)
def on_domain_error(request: HttpRequest, exc: DomainError) -> HttpResponse:
    return error_response(request, status=exc.status, code=exc.code, message=exc.message, fields=exc.fields)


@api.exception_handler(DjangoValidationError)
def on_model_validation(request: HttpRequest, exc: DjangoValidationError) -> HttpResponse:
    fields = {
        k: [str(m) for m in v] for k, v in getattr(exc, "message_dict", {"__all__": exc.messages}).items()
    }
    return error_response(
        request,
        status=422,
        code="validation_error",
        message=_("提交的数据有误，请检查各字段。"),
        fields=fields,
    )


@api.exception_handler(RequestDataTooBig)
def on_too_big(request: HttpRequest, exc: RequestDataTooBig) -> HttpResponse:
    security_log.warning(
        "api request too big", extra={"path": request.path, "ip": request.META.get("REMOTE_ADDR")}
    )
    return error_response(request, status=413, code="too_large", message=_("请求体过大。"))


@api.exception_handler(HttpError)
def on_http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    codes = {400: "bad_request", 403: "forbidden", 405: "method_not_allowed", 409: "conflict"}
    message = str(exc)
    if exc.status_code == 400 and message.startswith("Cannot parse request body"):
        return error_response(
            request, status=400, code="malformed_json", message=_("请求体不是有效的 JSON。")
        )
    if exc.status_code == 403 and "CSRF" in message:
        message = _("CSRF 校验失败，请刷新页面后重试。")
    return error_response(
        request, status=exc.status_code, code=codes.get(exc.status_code, "error"), message=message
    )


def _register_routers() -> None:
    from pharmacrm.api.routers import (
        auth,
        channels,
        commercial,
        customers,
        flow,
        imports,
        org,
        planning,
        search,
        visits,
    )

    api.add_router("/", auth.router)
    api.add_router("/", org.router)
    api.add_router("/", customers.router)
    api.add_router("/", commercial.router)
    api.add_router("/", channels.router)
    api.add_router("/", flow.router)
    api.add_router("/", imports.router)
    api.add_router("/", search.router)
    api.add_router("/", planning.router)
    api.add_router("/", visits.router)


_register_routers()
