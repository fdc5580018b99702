"""The rep's day (/today/), the one-screen visit brief, dismissing a suggestion, and call/message links that log and check consent."""

from __future__ import annotations

from typing import Any, cast

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from pharmacrm.core.errors import DomainError
from pharmacrm.core.models import User
from pharmacrm.core.visibility import get_visible_or_404
from pharmacrm.customers.models import Professional
from pharmacrm.engagement import today as today_service
from pharmacrm.engagement.views_planning import _safe_next, record_url


def _actor(request: HttpRequest) -> User:
    return cast(User, request.user)


@login_required
def today(request: HttpRequest) -> HttpResponse:
    user = _actor(request)
    view = today_service.today_for(user=user)
    context: dict[str, Any] = {
        "today": view,
        "title": _("今日工作"),
        "dismiss_reasons": today_service.DISMISS_REASONS,
        "record_base": record_url(),
        "factors": [(code, label, view.weights.get(code)) for code, label in today_service.FACTORS.items()],
    }
    return render(request, "engagement/today.html", context)


@require_POST
@login_required
def dismiss(request: HttpRequest, professional_id: int) -> HttpResponse:
    user = _actor(request)
    professional = get_visible_or_404(Professional, user=user, pk=professional_id)
    reason = request.POST.get("reason", "")
    if reason == str(today_service.DISMISS_REASONS[-1]) and request.POST.get("other"):
        reason = f"{reason}：{request.POST['other']}"
    try:
        dismissal = today_service.dismiss_suggestion(
            actor=user, professional=professional, reason=reason, factor=request.POST.get("factor", "")
        )
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.info(
            request,
            _("已暂时不再推荐{name}（至 {until:%m-%d}）。").format(
                name=professional.name, until=dismissal.until
            ),
        )
    return redirect(_safe_next(request, reverse("today")))


@login_required
def brief(request: HttpRequest, professional_id: int) -> HttpResponse:
    user = _actor(request)
    professional = get_visible_or_404(
        Professional.objects.select_related("institution", "department"), user=user, pk=professional_id
    )
    data = today_service.visit_brief(user=user, professional=professional)
    title = _("拜访简报：{name}").format(name=professional.name)
    return render(
        request,
        "engagement/brief.html",
        {
            "brief": data,
            "p": professional,
            "title": title,
            "record_url": record_url(professional.pk),
            "breadcrumbs": [(_("今日工作"), reverse("today")), (title, None)],
        },
    )


class ContactRedirect(HttpResponseRedirect):
    allowed_schemes = ["tel", "sms"]


@login_required
def contact(request: HttpRequest, professional_id: int, how: str) -> HttpResponse:
    """tel:/sms: for a one-tap call or message: consent checked, the clear number logged, never in the page."""
    from pharmacrm.compliance.policy import enforce
    from pharmacrm.customers.privacy import contact_details

    user = _actor(request)
    professional = get_visible_or_404(Professional, user=user, pk=professional_id)
    back = _safe_next(request, reverse("today"))
    if how not in ("call", "message"):
        return redirect(back)
    try:
        enforce(
            "contact",
            actor=user,
            subject=f"professional:{professional.pk}",
            professional_id=professional.pk,
            purpose="contact",
            channel="phone",
        )
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect(back)
    details = contact_details(professional=professional, user=user, ip=request.META.get("REMOTE_ADDR"))
    number = "".join(ch for ch in details.get("mobile", "") if ch.isdigit() or ch == "+")
    if not number or "*" in details.get("mobile", ""):
        messages.error(request, _("没有可用的手机号码。"))
        return redirect(back)
    return ContactRedirect(f"{'tel' if how == 'call' else 'sms'}:{number}")
