"""Visits, commitments and callbacks on the customers' 360° views: the professional's timeline and the institution page.

Registered from EngagementConfig.ready() with the customers registries, so customers never imports
engagement. Each source runs a fixed number of queries and reads through the user's visibility scope.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _l

from pharmacrm.core.visibility import visible
from pharmacrm.customers.models import Institution, Professional
from pharmacrm.engagement.models import Callback, Commitment, Visit

INSTITUTION_PANEL_VISITS = 10


def _visit_title(visit: Visit) -> str:
    if visit.status == Visit.Status.PLANNED:
        return _("计划拜访（{channel}）").format(channel=visit.get_channel_display())
    if visit.status == Visit.Status.CANCELLED:
        return _("取消拜访")
    return _("拜访（{channel}）").format(channel=visit.get_channel_display())


def visit_events(professional: Professional, user: Any, limit: int) -> Iterable[Any]:
    from pharmacrm.customers.timeline import Event

    rows = (
        visible(Visit, user=user)
        .filter(professionals=professional)
        .select_related("owner")
        .prefetch_related("products")
        .order_by("-starts_at")[:limit]
    )
    for visit in rows:
        parts = []
        products = "、".join(str(p) for p in visit.products.all())
        if products:
            parts.append(products)
        text = visit.feedback or visit.objective
        if text:
            parts.append(text[:80])
        flags = [
            label
            for label, on in (
                (_("签到距离异常"), visit.flagged_distance),
                (_("不符合接待制度"), visit.flagged_reception),
                (_("疑似不良事件"), visit.flagged_adverse_event),
            )
            if on
        ]
        if flags:
            parts.append("⚑ " + "、".join(flags))
        yield Event(
            visit.starts_at,
            "visit",
            _visit_title(visit),
            detail=" · ".join(parts),
            actor=str(visit.owner),
            url=visit.get_absolute_url(),
            icon="calendar-check" if visit.status == Visit.Status.COMPLETED else "calendar",
        )


def commitment_events(professional: Professional, user: Any, limit: int) -> Iterable[Any]:
    from pharmacrm.customers.timeline import Event, at_day

    rows = (
        visible(Commitment, user=user)
        .filter(professional=professional)
        .select_related("owner")
        .order_by("-created_at")[:limit]
    )
    for commitment in rows:
        yield Event(
            commitment.created_at,
            "commitment",
            _("承诺：{text}").format(text=commitment.description[:60]),
            detail=_("截止 {day}").format(day=commitment.due_on),
            actor=str(commitment.owner),
            icon="hand-thumbs-up",
        )
        if commitment.status == Commitment.Status.DONE and commitment.closed_on:
            yield Event(
                at_day(commitment.closed_on),
                "commitment",
                _("兑现承诺：{text}").format(text=commitment.description[:60]),
                detail=commitment.how_kept,
                actor=str(commitment.owner),
                icon="check2-circle",
            )


def callback_events(professional: Professional, user: Any, limit: int) -> Iterable[Any]:
    from pharmacrm.customers.timeline import Event

    rows = (
        visible(Callback, user=user)
        .filter(professional=professional, status=Callback.Status.DONE)
        .select_related("owner")
        .order_by("-done_at")[:limit]
    )
    for callback in rows:
        assert callback.done_at is not None
        detail = callback.outcome[:80]
        if callback.satisfaction:
            detail = _("满意度 {n}/5").format(n=callback.satisfaction) + (f" · {detail}" if detail else "")
        yield Event(
            callback.done_at,
            "callback",
            _("回访：{reason}").format(reason=callback.get_reason_display()),
            detail=detail,
            actor=str(callback.owner),
            icon="telephone-outbound",
        )


def institution_panel(institution: Institution, user: Any) -> Any:
    """Recent visits at the institution and what is owed there (open commitments, due callbacks)."""
    from pharmacrm.customers.profiles import Panel

    recent = list(
        visible(Visit, user=user)
        .filter(institution=institution)
        .select_related("owner")
        .prefetch_related("professionals")
        .order_by("-starts_at")[:INSTITUTION_PANEL_VISITS]
    )
    commitments = list(
        visible(Commitment, user=user)
        .filter(professional__institution=institution, status=Commitment.Status.OPEN)
        .select_related("professional", "owner")
        .order_by("due_on")[:10]
    )
    callbacks = list(
        visible(Callback, user=user)
        .filter(professional__institution=institution, status=Callback.Status.DUE)
        .select_related("professional")
        .order_by("due_on")[:10]
    )
    return Panel(
        title=_l("拜访与跟进"),
        template="engagement/_institution_visits.html",
        context={
            "visits": recent,
            "commitments": commitments,
            "callbacks": callbacks,
            "institution": institution,
            "today": timezone.localdate(),
        },
    )


def register() -> None:
    """Join the customers registries (they arrive with the customers 360° work; nothing to join before)."""
    try:
        from pharmacrm.customers import profiles, timeline
    except ModuleNotFoundError:
        return
    timeline.register("visits", visit_events)
    timeline.register("commitments", commitment_events)
    timeline.register("callbacks", callback_events)
    profiles.register_institution_panel("visits", institution_panel)
