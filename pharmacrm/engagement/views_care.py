"""Care reminders page: this week's greetings with suggested non-material messages; mark sent or dismiss."""

from __future__ import annotations

import datetime as dt
from typing import cast

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from pharmacrm.core.errors import DomainError
from pharmacrm.core.models import User
from pharmacrm.core.visibility import get_visible_or_404
from pharmacrm.engagement import care
from pharmacrm.engagement.models import CareReminder, Channel
from pharmacrm.engagement.views_planning import _safe_next


def _actor(request: HttpRequest) -> User:
    return cast(User, request.user)


@login_required
def care_list(request: HttpRequest) -> HttpResponse:
    user = _actor(request)
    today = timezone.localdate()
    reminders = list(
        care.open_reminders(user=user, first=today - dt.timedelta(days=7), last=today + dt.timedelta(days=14))
    )
    templates = care.templates_by_occasion(r.occasion for r in reminders)
    rows = [
        {"reminder": r, "suggestions": care.suggestions(r, templates), "late": r.due_on < today}
        for r in reminders
    ]
    title = _("人文关怀提醒")
    return render(
        request,
        "engagement/care.html",
        {
            "rows": rows,
            "today": today,
            "title": title,
            "breadcrumbs": [(title, None)],
            "notice": care.MATERIAL_NOTICE,
            "channels": [(c, Channel(c).label) for c in care.SEND_CHANNELS],
        },
    )


@require_POST
@login_required
def care_done(request: HttpRequest, pk: int) -> HttpResponse:
    user = _actor(request)
    reminder = get_visible_or_404(CareReminder.objects.select_related("professional"), user=user, pk=pk)
    back = _safe_next(request, reverse("engagement:care"))
    try:
        if request.POST.get("action") == "dismiss":
            care.dismiss(actor=user, reminder=reminder)
            messages.info(request, _("已忽略这条提醒。"))
        else:
            care.mark_sent(
                actor=user,
                reminder=reminder,
                message=request.POST.get("message", ""),
                channel=request.POST.get("channel", "wechat"),
            )
            messages.success(request, _("已记录向{name}的问候。").format(name=reminder.professional.name))
    except DomainError as exc:
        messages.error(request, exc.message)
    return redirect(back)
