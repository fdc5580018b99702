"""The rep's own page for location consent."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from pharmacrm.core.models import Role
from pharmacrm.core.views import actor, role_required
from pharmacrm.engagement import location_consent


@role_required(*Role.values)
def location(request: HttpRequest) -> HttpResponse:
    user = actor(request)
    if request.method == "POST":
        if request.POST.get("action") == "give":
            location_consent.give_location_consent(actor=user)
            messages.success(request, _("已同意：签到时将记录您的位置。"))
        else:
            location_consent.withdraw_location_consent(actor=user)
            messages.success(request, _("已撤回：之后签到只记录时间，不记录位置。"))
        return redirect("engagement:location_consent")
    return render(
        request,
        "engagement/location_consent.html",
        {"consent": location_consent.live_location_consent(user=user), "title": _("位置信息授权")},
    )
