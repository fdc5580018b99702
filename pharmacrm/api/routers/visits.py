"""Visits (plan, record, complete, edit within 48 h, amend, cancel, coach), commitments, callbacks and safety signals.

The same services as the pages, so the same refusals: the rule or field named in the one error
shape, nothing written. Reads start from the caller's visibility scope; a hidden row is a 404.
"""

# No `from __future__ import annotations` here: django-ninja builds its models from the real annotations.
import datetime as dt
from decimal import Decimal
from typing import Any, Literal, cast

from django.db.models import Q, QuerySet
from django.http import HttpRequest
from django.utils import timezone
from ninja import Field, Router, Schema, Status
from ninja.pagination import CursorPagination, paginate

from pharmacrm.api.schemas import ErrorOut, InputSchema
from pharmacrm.core.models import User
from pharmacrm.core.visibility import get_visible_or_404, visible
from pharmacrm.engagement import followups, safety, visits
from pharmacrm.engagement.models import Callback, Commitment, SafetySignal, Visit
from pharmacrm.engagement.visits import CheckIn, CommitmentMade, HospitalityGiven, NeedFound, VisitReport

router = Router(tags=["visits"])

WRITE_ERRORS: dict[int, Any] = {400: ErrorOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut}


def _actor(request: HttpRequest) -> User:
    """The signed-in user (login is required before any route is reached)."""
    return cast(User, request.user)


def _aware(value: dt.datetime) -> dt.datetime:
    return timezone.make_aware(value) if timezone.is_naive(value) else value


# --- Output ---------------------------------------------------------------------------------------


class VisitOut(Schema):
    id: int
    owner_id: int
    institution_id: int
    status: str
    was_planned: bool
    channel: str
    objective: str
    starts_at: dt.datetime
    duration_minutes: int
    professional_ids: list[int]
    product_ids: list[int]
    key_message_ids: list[int]
    feedback: str
    notes: str
    next_step: str
    materials_given: str
    completed_at: dt.datetime | None
    check_in_at: dt.datetime | None
    check_in_distance_m: int | None
    co_visitor_id: int | None
    flagged_distance: bool
    flagged_reception: bool
    flagged_adverse_event: bool
    flag_reasons: dict[str, str]

    @staticmethod
    def resolve_professional_ids(obj: Visit) -> list[int]:
        return [p.pk for p in obj.professionals.all()]

    @staticmethod
    def resolve_product_ids(obj: Visit) -> list[int]:
        return [p.pk for p in obj.products.all()]

    @staticmethod
    def resolve_key_message_ids(obj: Visit) -> list[int]:
        return [m.pk for m in obj.key_messages.all()]


class AmendmentOut(Schema):
    id: int
    author_id: int
    reason: str
    changes: dict[str, Any]
    created_at: dt.datetime


class CoachingOut(Schema):
    coach_id: int
    preparation: int
    messaging: int
    listening: int
    compliance: int
    strengths: str
    improvements: str


class VisitDetailOut(VisitOut):
    locked: bool
    amendments: list[AmendmentOut]
    coaching: CoachingOut | None

    @staticmethod
    def resolve_locked(obj: Visit) -> bool:
        return obj.locked_on(timezone.now())

    @staticmethod
    def resolve_amendments(obj: Visit) -> list[Any]:
        return list(obj.amendments.order_by("created_at"))

    @staticmethod
    def resolve_coaching(obj: Visit) -> Any:
        from pharmacrm.engagement.models import Coaching

        return Coaching.objects.filter(visit=obj).first()


class OutcomeOut(Schema):
    """The visit written, and what the person must be told (flags are also seen by compliance)."""

    visit: VisitOut
    warnings: list[str]
    flags: list[str]
    notices: list[str]


class AmendmentOutcomeOut(Schema):
    amendment: AmendmentOut
    flags: list[str]


class CommitmentOut(Schema):
    id: int
    visit_id: int | None
    professional_id: int
    owner_id: int
    description: str
    due_on: dt.date
    status: str
    closed_on: dt.date | None
    how_kept: str
    reminded_at: dt.datetime | None
    escalated_at: dt.datetime | None
    escalated_to_id: int | None


class CallbackOut(Schema):
    id: int
    professional_id: int
    owner_id: int
    reason: str
    source: str
    due_on: dt.date
    status: str
    done_at: dt.datetime | None
    outcome: str
    satisfaction: int | None


class SafetySignalOut(Schema):
    id: int
    visit_id: int
    terms: str
    excerpt: str
    status: str
    created_at: dt.datetime
    handled_by_id: int | None
    handled_at: dt.datetime | None
    note: str


# --- Input ----------------------------------------------------------------------------------------


class NeedIn(InputSchema):
    professional_id: int
    description: str = ""
    kind: str = "clinical"
    need_id: int | None = None
    status: str = "open"


class CommitmentMadeIn(InputSchema):
    professional_id: int
    description: str
    due_on: dt.date | None = None


class HospitalityIn(InputSchema):
    professional_id: int
    kind: str
    amount_per_person: Decimal = Decimal("0")
    attendees: int = 1
    description: str = ""


class CheckInIn(InputSchema):
    at: dt.datetime | None = None
    latitude: Decimal | None = None
    longitude: Decimal | None = None


class ReportIn(InputSchema):
    """What was discussed; the same fields as the record form."""

    channel: str = "in_person"
    professional_ids: list[int] = Field(default_factory=list)
    product_ids: list[int] = Field(default_factory=list)
    key_message_ids: list[int] = Field(default_factory=list)
    feedback: str = ""
    notes: str = ""
    next_step: str = ""
    materials_given: str = ""
    duration_minutes: int = 30
    needs: list[NeedIn] = Field(default_factory=list)
    commitments: list[CommitmentMadeIn] = Field(default_factory=list)
    hospitality: list[HospitalityIn] = Field(default_factory=list)
    check_in: CheckInIn | None = None
    co_visitor_id: int | None = None

    def report(self) -> VisitReport:
        check_in = None
        if self.check_in is not None:
            check_in = CheckIn(
                at=_aware(self.check_in.at) if self.check_in.at else timezone.now(),
                latitude=self.check_in.latitude,
                longitude=self.check_in.longitude,
            )
        return VisitReport(
            channel=self.channel,
            professional_ids=self.professional_ids,
            product_ids=self.product_ids,
            key_message_ids=self.key_message_ids,
            feedback=self.feedback,
            notes=self.notes,
            next_step=self.next_step,
            materials_given=self.materials_given,
            duration_minutes=self.duration_minutes,
            needs=[NeedFound(**n.model_dump()) for n in self.needs],
            commitments=[CommitmentMade(**c.model_dump()) for c in self.commitments],
            hospitality=[HospitalityGiven(**h.model_dump()) for h in self.hospitality],
            check_in=check_in,
            co_visitor_id=self.co_visitor_id,
        )


class VisitIn(ReportIn):
    """Plan a visit (`status: planned`, objective required) or record one that happened (`completed`)."""

    status: Literal["planned", "completed"] = "completed"
    institution_id: int
    starts_at: dt.datetime
    objective: str = ""


class CompleteIn(ReportIn):
    starts_at: dt.datetime | None = None


class AmendmentIn(InputSchema):
    reason: str
    changes: dict[str, Any]


class CancelIn(InputSchema):
    reason: str


class CoachingIn(InputSchema):
    preparation: int
    messaging: int
    listening: int
    compliance: int
    strengths: str = ""
    improvements: str = ""


class CommitmentIn(InputSchema):
    professional_id: int
    description: str
    due_on: dt.date | None = None


class CloseIn(InputSchema):
    how_kept: str
    closed_on: dt.date | None = None


class CallbackDoneIn(InputSchema):
    outcome: str
    satisfaction: int | None = None


class TriageIn(InputSchema):
    status: str
    note: str = ""


# --- Visits ---------------------------------------------------------------------------------------


def _visits(user: Any) -> QuerySet[Visit]:
    return visible(Visit, user=user).prefetch_related("professionals", "products", "key_messages")


def _outcome(outcome: visits.VisitOutcome, user: Any) -> dict[str, Any]:
    visit = _visits(user).get(pk=outcome.visit.pk)
    return {"visit": visit, "warnings": outcome.warnings, "flags": outcome.flags, "notices": outcome.notices}


@router.get("/visits", response=list[VisitOut])
@paginate(CursorPagination, ordering=("-starts_at", "-id"))
def list_visits(
    request: HttpRequest,
    status: str | None = None,
    channel: str | None = None,
    owner_id: int | None = None,
    institution_id: int | None = None,
    professional_id: int | None = None,
    since: dt.date | None = None,
    until: dt.date | None = None,
    flagged: bool | None = None,
) -> Any:
    """Visits the caller may see; `since`/`until` are local dates, `flagged` any compliance flag."""
    qs = _visits(request.user)
    exact = {"status": status, "channel": channel, "owner_id": owner_id, "institution_id": institution_id}
    qs = qs.filter(**{k: v for k, v in exact.items() if v not in (None, "")})
    if professional_id:
        qs = qs.filter(professionals=professional_id)
    if since:
        qs = qs.filter(starts_at__date__gte=since)
    if until:
        qs = qs.filter(starts_at__date__lte=until)
    if flagged is not None:
        any_flag = Q(flagged_distance=True) | Q(flagged_reception=True) | Q(flagged_adverse_event=True)
        qs = qs.filter(any_flag) if flagged else qs.exclude(any_flag)
    return qs


@router.get("/visits/{visit_id}", response={200: VisitDetailOut, 404: ErrorOut})
def get_visit(request: HttpRequest, visit_id: int) -> Any:
    return get_visible_or_404(_visits(request.user), user=request.user, pk=visit_id)


@router.post("/visits", response={201: OutcomeOut, **WRITE_ERRORS})
def create_visit(request: HttpRequest, payload: VisitIn) -> Any:
    """Plan (warns outside reception rules) or record (refusals name the rule; flags are written and returned)."""
    actor = _actor(request)
    if payload.status == "planned":
        outcome = visits.plan_visit(
            actor=actor,
            institution=payload.institution_id,
            starts_at=_aware(payload.starts_at),
            objective=payload.objective,
            professional_ids=payload.professional_ids,
            channel=payload.channel,
            duration_minutes=payload.duration_minutes,
            co_visitor_id=payload.co_visitor_id,
        )
    else:
        outcome = visits.record_visit(
            actor=actor,
            institution=payload.institution_id,
            starts_at=_aware(payload.starts_at),
            objective=payload.objective,
            report=payload.report(),
        )
    return Status(201, _outcome(outcome, actor))


@router.post("/visits/{visit_id}/complete", response={200: OutcomeOut, **WRITE_ERRORS})
def complete_visit(request: HttpRequest, visit_id: int, payload: CompleteIn) -> Any:
    outcome = visits.record_visit(
        actor=_actor(request),
        visit=visit_id,
        starts_at=_aware(payload.starts_at) if payload.starts_at else None,
        report=payload.report(),
    )
    return _outcome(outcome, request.user)


@router.patch("/visits/{visit_id}", response={200: OutcomeOut, **WRITE_ERRORS})
def update_visit(request: HttpRequest, visit_id: int, payload: ReportIn) -> Any:
    """Replace the report of a visit completed less than 48 hours ago (then: amendments)."""
    outcome = visits.update_visit(actor=_actor(request), visit=visit_id, report=payload.report())
    return _outcome(outcome, request.user)


@router.post("/visits/{visit_id}/amendments", response={201: AmendmentOutcomeOut, **WRITE_ERRORS})
def amend_visit(request: HttpRequest, visit_id: int, payload: AmendmentIn) -> Any:
    """Correct a completed visit: `changes` may hold feedback, notes, next_step, materials_given,
    duration_minutes, product_ids, key_message_ids."""
    outcome = visits.amend_visit(
        actor=_actor(request), visit=visit_id, reason=payload.reason, changes=payload.changes
    )
    return Status(201, {"amendment": outcome.amendment, "flags": outcome.flags})


@router.post("/visits/{visit_id}/cancel", response={200: VisitOut, **WRITE_ERRORS})
def cancel_visit(request: HttpRequest, visit_id: int, payload: CancelIn) -> Any:
    visit = visits.cancel_visit(actor=_actor(request), visit=visit_id, reason=payload.reason)
    return _visits(request.user).get(pk=visit.pk)


@router.post("/visits/{visit_id}/coaching", response={200: CoachingOut, **WRITE_ERRORS})
def coach_visit(request: HttpRequest, visit_id: int, payload: CoachingIn) -> Any:
    data = payload.model_dump()
    return visits.record_coaching(
        actor=_actor(request),
        visit=visit_id,
        scores={name: data[name] for name in visits.COACHING_SCORES},
        strengths=payload.strengths,
        improvements=payload.improvements,
    )


# --- Commitments ------------------------------------------------------------------------------------


@router.get("/commitments", response=list[CommitmentOut])
@paginate(CursorPagination, ordering=("due_on", "id"))
def list_commitments(
    request: HttpRequest,
    status: str | None = None,
    owner_id: int | None = None,
    professional_id: int | None = None,
    overdue: bool | None = None,
    escalated_to_me: bool | None = None,
) -> Any:
    qs = visible(Commitment, user=request.user)
    exact = {"status": status, "owner_id": owner_id, "professional_id": professional_id}
    qs = qs.filter(**{k: v for k, v in exact.items() if v not in (None, "")})
    if overdue is not None:
        late = Q(status=Commitment.Status.OPEN, due_on__lt=timezone.localdate())
        qs = qs.filter(late) if overdue else qs.exclude(late)
    if escalated_to_me:
        qs = qs.filter(escalated_to=_actor(request))
    return qs


@router.get("/commitments/{commitment_id}", response={200: CommitmentOut, 404: ErrorOut})
def get_commitment(request: HttpRequest, commitment_id: int) -> Any:
    return get_visible_or_404(Commitment, user=request.user, pk=commitment_id)


@router.post("/commitments", response={201: CommitmentOut, **WRITE_ERRORS})
def create_commitment(request: HttpRequest, payload: CommitmentIn) -> Any:
    return Status(
        201,
        followups.create_commitment(
            actor=_actor(request),
            professional=payload.professional_id,
            description=payload.description,
            due_on=payload.due_on,
        ),
    )


@router.post("/commitments/{commitment_id}/close", response={200: CommitmentOut, **WRITE_ERRORS})
def close_commitment(request: HttpRequest, commitment_id: int, payload: CloseIn) -> Any:
    return followups.close_commitment(
        actor=_actor(request),
        commitment=commitment_id,
        how_kept=payload.how_kept,
        closed_on=payload.closed_on,
    )


@router.post("/commitments/{commitment_id}/cancel", response={200: CommitmentOut, **WRITE_ERRORS})
def cancel_commitment(request: HttpRequest, commitment_id: int, payload: CancelIn) -> Any:
    return followups.cancel_commitment(actor=_actor(request), commitment=commitment_id, reason=payload.reason)


# --- Callbacks ----------------------------------------------------------------------------------------


@router.get("/callbacks", response=list[CallbackOut])
@paginate(CursorPagination, ordering=("due_on", "id"))
def list_callbacks(
    request: HttpRequest,
    status: str | None = None,
    owner_id: int | None = None,
    professional_id: int | None = None,
) -> Any:
    qs = visible(Callback, user=request.user)
    exact = {"status": status, "owner_id": owner_id, "professional_id": professional_id}
    return qs.filter(**{k: v for k, v in exact.items() if v not in (None, "")})


@router.get("/callbacks/{callback_id}", response={200: CallbackOut, 404: ErrorOut})
def get_callback(request: HttpRequest, callback_id: int) -> Any:
    return get_visible_or_404(Callback, user=request.user, pk=callback_id)


@router.post("/callbacks/{callback_id}/complete", response={200: CallbackOut, **WRITE_ERRORS})
def complete_callback(request: HttpRequest, callback_id: int, payload: CallbackDoneIn) -> Any:
    return followups.complete_callback(
        actor=_actor(request),
        callback=callback_id,
        outcome=payload.outcome,
        satisfaction=payload.satisfaction,
    )


# --- Safety signals --------------------------------------------------------------------------------------


@router.get("/safety-signals", response=list[SafetySignalOut])
@paginate(CursorPagination, ordering=("-created_at", "-id"))
def list_safety_signals(request: HttpRequest, status: str | None = None) -> Any:
    qs = visible(SafetySignal, user=request.user)
    return qs.filter(status=status) if status else qs


@router.get("/safety-signals/{signal_id}", response={200: SafetySignalOut, 404: ErrorOut})
def get_safety_signal(request: HttpRequest, signal_id: int) -> Any:
    return get_visible_or_404(SafetySignal, user=request.user, pk=signal_id)


@router.post("/safety-signals/{signal_id}/triage", response={200: SafetySignalOut, **WRITE_ERRORS})
def triage_safety_signal(request: HttpRequest, signal_id: int, payload: TriageIn) -> Any:
    signal = get_visible_or_404(SafetySignal, user=request.user, pk=signal_id)
    return safety.triage_signal(
        actor=_actor(request), signal=signal, status=payload.status, note=payload.note
    )
