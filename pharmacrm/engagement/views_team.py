"""The team page: plan vs actual by rep and ISO week, key-customer frequency compliance, overdue commitments, co-visits, approvals."""

from __future__ import annotations

import datetime as dt

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _

from pharmacrm.core.errors import DomainError
from pharmacrm.engagement import manager
from pharmacrm.engagement.planning import Period


@login_required
def team(request: HttpRequest) -> HttpResponse:
    period = None
    if request.GET.get("month"):
        try:
            period = Period.parse(request.GET["month"])
        except DomainError:
            period = None
    if period is not None and period.kind != "month":
        period = Period.month(period.start.year, period.start.month)
    view = manager.team_view(user=request.user, period=period)
    title = _("团队拜访")
    previous = view.period.start.replace(day=1) - dt.timedelta(days=1)
    return render(
        request,
        "engagement/team.html",
        {
            "team": view,
            "title": title,
            "breadcrumbs": [(title, None)],
            "previous": f"{previous:%Y-%m}",
            "following": f"{view.period.end + dt.timedelta(days=1):%Y-%m}",
        },
    )
