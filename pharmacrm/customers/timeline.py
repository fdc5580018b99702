"""The 360° timeline of a professional: everything that happened with them, merged from registered sources, newest first.

A source is a function `(professional, user, limit) -> Iterable[Event]` registered under a name.
The customers app registers its own (profile changes, needs, plans); apps that build on customers
register theirs from their AppConfig.ready() — commercial adds listing changes, engagement will add
visits and commitments — so customers never imports them. Each source returns at most `limit`
events with a fixed number of queries, and sees only what the user may see.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _

from pharmacrm.core.visibility import visible
from pharmacrm.customers.models import DevelopmentPlan, DevelopmentStep, Need, Professional, Segment


@dataclass(frozen=True)
class Event:
    when: dt.datetime
    kind: str  # the source's name, used for the icon and filters
    title: str
    detail: str = ""
    actor: str = ""
    url: str = ""
    icon: str = "dot"


Source = Callable[[Professional, Any, int], Iterable[Event]]
_sources: dict[str, Source] = {}


def register(name: str, source: Source) -> None:
    """Add (or replace) a source of timeline events."""
    _sources[name] = source


def registered() -> list[str]:
    return list(_sources)


def at_day(day: dt.date) -> dt.datetime:
    """A calendar date as the start of that day in the site's time zone, for ordering against datetimes."""
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


def timeline_for(professional: Professional, *, user: Any, limit: int = 50) -> list[Event]:
    """The newest `limit` events from every source."""
    events: list[Event] = []
    for source in _sources.values():
        events.extend(source(professional, user, limit))
    events.sort(key=lambda e: e.when, reverse=True)
    return events[:limit]


# --- The customers app's own sources ---------------------------------------------------------------

# Fields whose change is worth a line in the timeline (the history tab shows every change).
_TIMELINE_FIELDS = {
    "name",
    "title",
    "role",
    "institution",
    "department",
    "status",
    "tier",
    "prescribing_potential",
    "engagement_stage",
    "product_attitude",
    "preferred_channel",
    "preferred_time",
    "interests",
    "current_concerns",
    "academic_posts",
    "prescribing_habits",
    "therapeutic_areas",
    "influence_decision",
    "influence_prescribing",
    "influence_academic",
}


_DIMENSIONS = {"tier", "prescribing_potential", "engagement_stage"}


def _profile_changes(professional: Professional, user: Any, limit: int) -> Iterable[Event]:
    # One query for the newest records plus the one before the oldest, to diff against.
    history: Any = professional.history
    records = list(
        history.select_related("history_user").order_by("-history_date", "-history_id")[: limit + 1]
    )
    for i, record in enumerate(records[:limit]):
        actor = str(record.history_user) if record.history_user else _("系统")
        if record.history_type == "+":
            yield Event(record.history_date, "profile", _("建立档案"), actor=actor, icon="person-plus")
            continue
        previous = records[i + 1] if i + 1 < len(records) else None
        if previous is None:
            continue
        delta = record.diff_against(previous)
        labels = []
        for change in delta.changes:
            if change.field not in _TIMELINE_FIELDS:
                continue
            field: Any = Professional._meta.get_field(change.field)
            label = str(field.verbose_name)
            if change.field in _DIMENSIONS:
                choices = dict(field.choices or [])
                label += f"：{choices.get(change.old, change.old)} → {choices.get(change.new, change.new)}"
            labels.append(label)
        if not labels:
            continue
        detail = "、".join(labels)
        if record.history_change_reason:
            detail += f"（{record.history_change_reason}）"
        title = _("客户分类变化") if "tier" in {c.field for c in delta.changes} else _("更新档案")
        yield Event(record.history_date, "profile", title, detail=detail, actor=actor, icon="pencil-square")


def _needs(professional: Professional, user: Any, limit: int) -> Iterable[Event]:
    needs = visible(Need, user=user).filter(professional=professional).order_by("-found_on", "-id")[:limit]
    for need in needs:
        text = f"{need.get_kind_display()}：{need.description[:80]}"
        yield Event(at_day(need.found_on), "need", _("发现需求"), detail=text, icon="lightbulb")
        if need.met and need.met_on:
            yield Event(at_day(need.met_on), "need", _("需求已满足"), detail=text, icon="check2-circle")


def _plans(professional: Professional, user: Any, limit: int) -> Iterable[Event]:
    plans = (
        visible(DevelopmentPlan, user=user)
        .filter(professional=professional)
        .select_related("owner")
        .order_by("-created_at")[:limit]
    )
    for plan in plans:
        yield Event(
            plan.created_at,
            "plan",
            _("制定开发计划"),
            detail=plan.title,
            actor=str(plan.owner),
            url=plan.get_absolute_url(),
            icon="flag",
        )
    steps = (
        visible(DevelopmentStep, user=user)
        .filter(plan__professional=professional, done_on__isnull=False)
        .select_related("plan")
        .order_by("-done_on")[:limit]
    )
    for step in steps:
        assert step.done_on is not None
        yield Event(
            at_day(step.done_on),
            "plan",
            _("完成计划步骤"),
            detail=f"{step.plan.title} · {step.title}",
            url=step.plan.get_absolute_url(),
            icon="check2-square",
        )


def _overrides(professional: Professional, user: Any, limit: int) -> Iterable[Event]:
    history: Any = Segment.history
    records = (
        history.filter(professional_id=professional.pk)
        .exclude(history_change_reason__isnull=True)
        .exclude(history_change_reason="")
        .select_related("history_user")
        .order_by("-history_date")[:limit]
    )
    for record in records:
        label = str(
            dict(Segment._meta.get_field("dimension").choices or []).get(record.dimension, record.dimension)
        )
        title = (
            _("人工调整{dimension}").format(dimension=label)
            if record.override_value
            else _("取消人工调整{dimension}").format(dimension=label)
        )
        yield Event(
            record.history_date,
            "segment",
            title,
            detail=record.history_change_reason,
            actor=str(record.history_user) if record.history_user else "",
            icon="sliders",
        )


register("profile", _profile_changes)
register("needs", _needs)
register("plans", _plans)
register("segments", _overrides)
