"""The rep's day, visit plans (generate, move, approve, ICS) and care reminders."""

# No `from __future__ import annotations` here: django-ninja builds its query-parameter models
# from the real annotations (a string "dt.date | None" would not resolve in ninja's namespace).
import datetime as dt
from decimal import Decimal
from typing import Any, cast

from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from ninja import Router, Schema, Status
from ninja.pagination import CursorPagination, paginate

from pharmacrm.api.schemas import ErrorOut, InputSchema
from pharmacrm.core.models import User
from pharmacrm.core.visibility import get_visible_or_404, visible
from pharmacrm.customers.models import Professional
from pharmacrm.engagement import care, ics, planning
from pharmacrm.engagement import today as today_service
from pharmacrm.engagement.calendar_cn import occasion_label
from pharmacrm.engagement.models import CareReminder, Visit
from pharmacrm.engagement.planning import Period
from pharmacrm.engagement.views_planning import visit_url

router = Router(tags=["planning"])


def _actor(request: HttpRequest) -> User:
    """The signed-in user (login is required before any route is reached)."""
    return cast(User, request.user)


# --- Today ----------------------------------------------------------------------------------------


class PersonOut(Schema):
    id: int
    name: str


class TodayVisitOut(Schema):
    id: int
    starts_at: dt.datetime
    duration_minutes: int
    institution_id: int
    institution: str
    professionals: list[PersonOut]
    objective: str
    status: str
    approval: str


class DueOut(Schema):
    id: int
    professional_id: int
    professional: str
    what: str
    due_on: dt.date


class KeyDateOut(Schema):
    professional_id: int
    professional: str
    label: str
    day: dt.date


class ReasonOut(Schema):
    factor: str
    label: str
    detail: str
    weight: Decimal
    intensity: float
    learned: float
    points: float


class SuggestionOut(Schema):
    professional_id: int
    name: str
    institution: str
    tier: str
    score: float
    reasons: list[ReasonOut]
    last_visit: dt.datetime | None


class TodayOut(Schema):
    day: dt.date
    working_day: bool
    visits: list[TodayVisitOut]
    commitments: list[DueOut]
    callbacks: list[DueOut]
    key_dates: list[KeyDateOut]
    suggestions: list[SuggestionOut]


@router.get("/today", response=TodayOut)
def get_today(request: HttpRequest) -> Any:
    """The caller's day: planned visits, commitments and callbacks due, key dates this week, and
    whom else to see, each suggestion with its reasons (points = weight × intensity × learned)."""
    view = today_service.today_for(user=request.user)
    return {
        "day": view.day,
        "working_day": view.working_day,
        "visits": [
            {
                "id": v.pk,
                "starts_at": v.starts_at,
                "duration_minutes": v.duration_minutes,
                "institution_id": v.institution_id,
                "institution": v.institution.name,
                "professionals": [{"id": p.pk, "name": p.name} for p in v.professionals.all()],
                "objective": v.objective,
                "status": v.status,
                "approval": v.approval,
            }
            for v in view.visits
        ],
        "commitments": [
            {
                "id": c.pk,
                "professional_id": c.professional_id,
                "professional": c.professional.name,
                "what": c.description,
                "due_on": c.due_on,
            }
            for c in view.commitments
        ],
        "callbacks": [
            {
                "id": c.pk,
                "professional_id": c.professional_id,
                "professional": c.professional.name,
                "what": c.get_reason_display(),
                "due_on": c.due_on,
            }
            for c in view.callbacks
        ],
        "key_dates": [
            {"professional_id": k.professional_id, "professional": k.name, "label": k.label, "day": k.day}
            for k in view.key_dates
        ],
        "suggestions": [
            {
                "professional_id": s.professional_id,
                "name": s.name,
                "institution": s.institution,
                "tier": s.tier,
                "score": s.score,
                "last_visit": s.last_visit,
                "reasons": [
                    {
                        "factor": r.factor,
                        "label": r.label,
                        "detail": r.detail,
                        "weight": r.weight,
                        "intensity": r.intensity,
                        "learned": r.learned,
                        "points": r.points,
                    }
                    for r in s.reasons
                ],
            }
            for s in view.suggestions
        ],
    }


class DismissIn(InputSchema):
    professional_id: int
    reason: str
    factor: str = ""


class DismissalOut(Schema):
    id: int
    professional_id: int
    reason: str
    factor: str
    until: dt.date


@router.post("/today/dismissals", response={201: DismissalOut, 400: ErrorOut, 404: ErrorOut})
def dismiss_suggestion(request: HttpRequest, payload: DismissIn) -> Any:
    """Set a suggestion aside with a reason; it stays away for `dismiss_days` and its reason weighs less next time."""
    professional = get_visible_or_404(Professional, user=request.user, pk=payload.professional_id)
    return Status(
        201,
        today_service.dismiss_suggestion(
            actor=_actor(request), professional=professional, reason=payload.reason, factor=payload.factor
        ),
    )


# --- Plans --------------------------------------------------------------------------------------------


class GenerateIn(InputSchema):
    period: str
    rep_id: int | None = None
    dry_run: bool = False


class PlannedOut(Schema):
    professional_id: int
    professional: str
    institution_id: int
    institution: str
    starts_at: dt.datetime
    objective: str


class UnplacedOut(Schema):
    professional_id: int
    professional: str
    missing: int
    reason: str


class PlanOut(Schema):
    rep_id: int
    period: str
    start: dt.date
    end: dt.date
    dry_run: bool
    approval: str
    created: int
    already: int
    customers: int
    working_days: int
    provisional_holidays: bool
    planned: list[PlannedOut]
    unplaced: list[UnplacedOut]


def _rep(request: HttpRequest, rep_id: int | None) -> User:
    if rep_id is None:
        return _actor(request)
    return get_visible_or_404(planning.plannable_reps(user=request.user), user=request.user, pk=rep_id)


@router.post(
    "/visit-plans/generate",
    response={200: PlanOut, 400: ErrorOut, 403: ErrorOut, 404: ErrorOut, 422: ErrorOut},
)
def generate_plan(request: HttpRequest, payload: GenerateIn) -> Any:
    """Generate a rep's plan for a month ("2026-12") or ISO week ("2026-W49"); `dry_run` only previews.
    Running it again plans nothing twice."""
    rep = _rep(request, payload.rep_id)
    period = Period.parse(payload.period)
    result = planning.generate_plan(actor=_actor(request), rep=rep, period=period, dry_run=payload.dry_run)
    return {
        "rep_id": rep.pk,
        "period": period.code,
        "start": period.start,
        "end": period.end,
        "dry_run": result.dry_run,
        "approval": result.approval,
        "created": len(result.planned),
        "already": result.already,
        "customers": result.customers,
        "working_days": result.working_days,
        "provisional_holidays": result.provisional_holidays,
        "planned": [p.__dict__ for p in result.planned],
        "unplaced": [u.__dict__ for u in result.unplaced],
    }


def _ics(request: HttpRequest, rep: User) -> HttpResponse:
    body = ics.rep_calendar(
        user=request.user, rep=rep, link=lambda v: request.build_absolute_uri(visit_url(v))
    )
    response = HttpResponse(body, content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="visits-{rep.username}.ics"'
    return response


@router.get(
    "/visit-plans/me.ics",
    response={200: None},
    openapi_extra={"responses": {200: {"content": {"text/calendar": {}}}}},
)
def my_plan_ics(request: HttpRequest) -> HttpResponse:
    """The caller's visit plan as iCalendar (no contact data in the events)."""
    return _ics(request, _actor(request))


@router.get(
    "/visit-plans/{user_id}.ics",
    response={200: None, 404: ErrorOut},
    openapi_extra={"responses": {200: {"content": {"text/calendar": {}}}}},
)
def plan_ics(request: HttpRequest, user_id: int) -> HttpResponse:
    """A rep's visit plan as iCalendar; a rep outside the caller's view is a 404."""
    return _ics(request, _rep(request, user_id))


class DecisionIn(InputSchema):
    approve: bool
    reason: str = ""


class DecisionOut(Schema):
    id: int
    rep_id: int
    period_start: dt.date
    period_end: dt.date
    decision: str
    reason: str
    visit_count: int
    decided_by_id: int
    decided_at: dt.datetime


@router.post(
    "/visit-plans/{user_id}/{period}/decision",
    response={200: DecisionOut, 400: ErrorOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut},
)
def decide_plan(request: HttpRequest, user_id: int, period: str, payload: DecisionIn) -> Any:
    """A manager approves a rep's pending planned visits of the period, or returns them with a reason."""
    rep = _rep(request, user_id)
    return planning.decide_plan(
        actor=_actor(request),
        rep=rep,
        period=Period.parse(period),
        approve=payload.approve,
        reason=payload.reason,
    )


class MoveIn(InputSchema):
    starts_at: dt.datetime
    duration_minutes: int | None = None


class MoveOut(Schema):
    id: int
    starts_at: dt.datetime
    duration_minutes: int
    warnings: list[str]


@router.post(
    "/planned-visits/{visit_id}/move",
    response={200: MoveOut, 400: ErrorOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut},
)
def move_visit(request: HttpRequest, visit_id: int, payload: MoveIn) -> Any:
    """Move a planned visit. Overlaps and past times are refused (409/400); leaving the reception
    hours or landing on a day off is allowed with warnings."""
    visit = get_visible_or_404(Visit, user=request.user, pk=visit_id)
    starts_at = payload.starts_at
    if timezone.is_naive(starts_at):
        starts_at = timezone.make_aware(starts_at, timezone.get_default_timezone())
    placement = planning.move_visit(
        actor=_actor(request), visit=visit, starts_at=starts_at, minutes=payload.duration_minutes
    )
    return {
        "id": placement.visit.pk,
        "starts_at": placement.visit.starts_at,
        "duration_minutes": placement.visit.duration_minutes,
        "warnings": placement.warnings,
    }


# --- Care reminders -------------------------------------------------------------------------------


class CareReminderOut(Schema):
    id: int
    professional_id: int
    professional: str
    occasion: str
    occasion_label: str
    due_on: dt.date
    status: str
    message: str
    done_at: dt.datetime | None

    @staticmethod
    def resolve_professional(obj: CareReminder) -> str:
        return obj.professional.name

    @staticmethod
    def resolve_occasion_label(obj: CareReminder) -> str:
        return occasion_label(obj.occasion)


class CareSuggestionOut(CareReminderOut):
    suggestions: list[str]


@router.get("/care-reminders", response=list[CareReminderOut])
@paginate(CursorPagination, ordering=("due_on", "id"))
def list_care_reminders(
    request: HttpRequest,
    status: str | None = None,
    due_from: dt.date | None = None,
    due_to: dt.date | None = None,
) -> Any:
    """Care reminders the caller may see (a rep: their own customers'), filtered by status and due date."""
    qs = visible(CareReminder, user=request.user).select_related("professional")
    if status:
        qs = qs.filter(status=status)
    if due_from:
        qs = qs.filter(due_on__gte=due_from)
    if due_to:
        qs = qs.filter(due_on__lte=due_to)
    return qs


@router.get("/care-reminders/{reminder_id}", response={200: CareSuggestionOut, 404: ErrorOut})
def get_care_reminder(request: HttpRequest, reminder_id: int) -> Any:
    """One reminder with the suggested non-material messages for its occasion."""
    reminder = get_visible_or_404(
        CareReminder.objects.select_related("professional", "owner"), user=request.user, pk=reminder_id
    )
    reminder.suggestions = care.suggestions(reminder, care.templates_by_occasion([reminder.occasion]))  # type: ignore[attr-defined]
    return reminder


class SentIn(InputSchema):
    message: str
    channel: str = "wechat"


@router.post(
    "/care-reminders/{reminder_id}/sent",
    response={
        200: CareReminderOut,
        400: ErrorOut,
        403: ErrorOut,
        404: ErrorOut,
        409: ErrorOut,
        422: ErrorOut,
    },
)
def mark_care_sent(request: HttpRequest, reminder_id: int, payload: SentIn) -> Any:
    """Record the greeting sent; the channel needs the customer's consent (PIPL), refused with the rule otherwise."""
    reminder = get_visible_or_404(CareReminder, user=request.user, pk=reminder_id)
    return care.mark_sent(
        actor=_actor(request), reminder=reminder, message=payload.message, channel=payload.channel
    )


@router.post(
    "/care-reminders/{reminder_id}/dismiss",
    response={200: CareReminderOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut},
)
def dismiss_care(request: HttpRequest, reminder_id: int) -> Any:
    reminder = get_visible_or_404(CareReminder, user=request.user, pk=reminder_id)
    return care.dismiss(actor=_actor(request), reminder=reminder)
