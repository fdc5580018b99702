"""Institutions, departments and professionals with their profile parts, segments and development plans."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, cast

from django.http import Http404, HttpRequest
from ninja import Router, Schema, Status
from ninja.pagination import CursorPagination, paginate

from pharmacrm.api.schemas import ErrorOut, InputSchema
from pharmacrm.core.models import User
from pharmacrm.core.visibility import get_visible_or_404, visible
from pharmacrm.customers import privacy, segmentation, selectors, services
from pharmacrm.customers.models import (
    Affiliation,
    Department,
    DevelopmentPlan,
    DevelopmentStep,
    Institution,
    InstitutionTerritoryPeriod,
    KeyDate,
    Need,
    Professional,
    Segment,
)


def _actor(request: HttpRequest) -> User:
    """The signed-in user (login is required before any write is reached)."""
    return cast(User, request.user)


router = Router(tags=["customers"])


class InstitutionOut(Schema):
    id: int
    external_id: str | None
    name: str
    kind: str
    grade: str
    ownership: str
    province_code: str
    city_code: str | None
    address: str
    territory_id: int | None
    status: str

    @staticmethod
    def resolve_province_code(obj: Institution) -> str:
        return obj.province_id

    @staticmethod
    def resolve_city_code(obj: Institution) -> str | None:
        return obj.city_id


class ProfessionalOut(Schema):
    id: int
    external_id: str | None
    name: str
    gender: str
    title: str
    role: str
    institution_id: int
    department_id: int | None
    tier: str
    prescribing_potential: str
    engagement_stage: str
    influence_decision: int
    influence_prescribing: int
    influence_academic: int
    status: str


@router.get("/institutions", response=list[InstitutionOut])
@paginate(CursorPagination, ordering=("id",))
def list_institutions(request: HttpRequest, kind: str | None = None) -> Any:
    qs = selectors.visible_institutions(user=request.user)
    return qs.filter(kind=kind) if kind else qs


@router.get("/institutions/{institution_id}", response={200: InstitutionOut, 404: ErrorOut})
def get_institution(request: HttpRequest, institution_id: int) -> Any:
    return get_visible_or_404(Institution, user=request.user, pk=institution_id)


@router.get("/professionals", response=list[ProfessionalOut])
@paginate(CursorPagination, ordering=("id",))
def list_professionals(
    request: HttpRequest,
    tier: str | None = None,
    institution_id: int | None = None,
    role: str | None = None,
    prescribing_potential: str | None = None,
    engagement_stage: str | None = None,
    department: str | None = None,
    status: str | None = None,
) -> Any:
    """Filters match the list page: tier, role, potential, stage, department name (contains), status."""
    qs = selectors.visible_professionals(user=request.user)
    exact = {
        "tier": tier,
        "institution_id": institution_id,
        "role": role,
        "prescribing_potential": prescribing_potential,
        "engagement_stage": engagement_stage,
        "status": status,
    }
    qs = qs.filter(**{k: v for k, v in exact.items() if v not in (None, "")})
    if department:
        qs = qs.filter(department__name__contains=department)
    return qs


@router.get("/professionals/{professional_id}", response={200: ProfessionalOut, 404: ErrorOut})
def get_professional(request: HttpRequest, professional_id: int) -> Any:
    return get_visible_or_404(Professional, user=request.user, pk=professional_id)


# --- Writes: master data, profile parts, segments, plans (issue 4) ----------------------------------
# Request bodies refuse unknown fields (InputSchema); choices, relations and rules are checked by the
# services, whose DomainError becomes the one error shape. Objects out of the caller's scope are 404.


def _changes(payload: Schema, renames: dict[str, str] | None = None) -> dict[str, Any]:
    """The fields the client sent, under the services' names (e.g. territory_id → territory)."""
    data = payload.model_dump(exclude_unset=True)
    return {(renames or {}).get(k, k): v for k, v in data.items()}


_INSTITUTION_RENAMES = {
    "province_code": "province",
    "city_code": "city",
    "county_code": "county",
    "parent_id": "parent",
    "territory_id": "territory",
}


class InstitutionPatch(InputSchema):
    name: str | None = None
    kind: str | None = None
    external_id: str | None = None
    aliases: str | None = None
    grade: str | None = None
    ownership: str | None = None
    beds: int | None = None
    outpatient_volume: int | None = None
    province_code: str | None = None
    city_code: str | None = None
    county_code: str | None = None
    address: str | None = None
    latitude: Decimal | None = None
    longitude: Decimal | None = None
    parent_id: int | None = None
    network: str | None = None
    territory_id: int | None = None
    status: str | None = None


class InstitutionIn(InstitutionPatch):
    name: str
    kind: str
    province_code: str


@router.post(
    "/institutions",
    response={201: InstitutionOut, 400: ErrorOut, 403: ErrorOut, 409: ErrorOut, 422: ErrorOut},
)
def create_institution(request: HttpRequest, payload: InstitutionIn) -> Any:
    return Status(
        201, services.create_institution(actor=_actor(request), **_changes(payload, _INSTITUTION_RENAMES))
    )


@router.patch(
    "/institutions/{institution_id}",
    response={200: InstitutionOut, 400: ErrorOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut},
)
def update_institution(request: HttpRequest, institution_id: int, payload: InstitutionPatch) -> Any:
    institution = get_visible_or_404(Institution, user=request.user, pk=institution_id)
    return services.update_institution(
        actor=_actor(request),
        institution=institution,
        changes=_changes(payload, _INSTITUTION_RENAMES),
    )


class TerritoryPeriodOut(Schema):
    id: int
    institution_id: int
    territory_id: int
    territory_name: str
    valid_from: dt.date | None  # None: since the beginning
    valid_to: dt.date | None  # None: still in force
    recorded_by: str | None
    reason: str

    @staticmethod
    def resolve_territory_name(obj: InstitutionTerritoryPeriod) -> str:
        return obj.territory.name

    @staticmethod
    def resolve_recorded_by(obj: InstitutionTerritoryPeriod) -> str | None:
        return str(obj.recorded_by) if obj.recorded_by_id else None


@router.get(
    "/institutions/{institution_id}/territory-periods",
    response={200: list[TerritoryPeriodOut], 404: ErrorOut},
)
@paginate(CursorPagination, ordering=("id",))
def list_territory_periods(request: HttpRequest, institution_id: int) -> Any:
    """The institution's territory history (what sales attribution reads), oldest record first."""
    institution = get_visible_or_404(Institution, user=request.user, pk=institution_id)
    return selectors.territory_periods(user=request.user, institution=institution)


class MoveIn(InputSchema):
    territory_id: int | None  # None: back to the territory rule of the institution's area
    effective: dt.date | None = None  # None: today; earlier dates are for admins, with a reason
    reason: str = ""


class MoveOut(Schema):
    institution: InstitutionOut
    moved: bool
    since: dt.date | None
    territory_periods: list[TerritoryPeriodOut]


@router.post(
    "/institutions/{institution_id}/moves",
    response={
        200: MoveOut,
        201: MoveOut,
        400: ErrorOut,
        403: ErrorOut,
        404: ErrorOut,
        409: ErrorOut,
        422: ErrorOut,
    },
)
def move_institution(request: HttpRequest, institution_id: int, payload: MoveIn) -> Any:
    """Record a move to another territory; 201 when the history changed (re-attribution queued), 200 when not."""
    institution = get_visible_or_404(Institution, user=request.user, pk=institution_id)
    result = services.move_institution(
        actor=_actor(request),
        institution=institution,
        territory=payload.territory_id,
        effective=payload.effective,
        reason=payload.reason,
    )
    body = {
        "institution": result.institution,
        "moved": result.moved,
        "since": result.since,
        "territory_periods": list(
            selectors.territory_periods(user=request.user, institution=result.institution).order_by("id")
        ),
    }
    return Status(201 if result.moved else 200, body)


class DepartmentOut(Schema):
    id: int
    institution_id: int
    name: str
    specialty: str
    headcount: int | None


class DepartmentPatch(InputSchema):
    name: str | None = None
    specialty: str | None = None
    headcount: int | None = None


class DepartmentIn(InputSchema):
    name: str
    specialty: str = ""
    headcount: int | None = None


@router.get("/institutions/{institution_id}/departments", response={200: list[DepartmentOut], 404: ErrorOut})
def list_departments(request: HttpRequest, institution_id: int) -> Any:
    institution = get_visible_or_404(Institution, user=request.user, pk=institution_id)
    return visible(Department, user=request.user).filter(institution=institution).order_by("name")


@router.post(
    "/institutions/{institution_id}/departments",
    response={201: DepartmentOut, 400: ErrorOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut},
)
def create_department(request: HttpRequest, institution_id: int, payload: DepartmentIn) -> Any:
    institution = get_visible_or_404(Institution, user=request.user, pk=institution_id)
    return Status(
        201,
        services.create_department(actor=_actor(request), institution=institution, **payload.model_dump()),
    )


@router.patch(
    "/departments/{department_id}",
    response={200: DepartmentOut, 400: ErrorOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut},
)
def update_department(request: HttpRequest, department_id: int, payload: DepartmentPatch) -> Any:
    department = get_visible_or_404(Department, user=request.user, pk=department_id)
    return services.update_department(actor=_actor(request), department=department, changes=_changes(payload))


class ProfessionalProfileOut(ProfessionalOut):
    mobile: str
    wechat_id: str
    email: str
    preferred_channel: str
    preferred_time: str
    interests: str
    current_concerns: str
    academic_posts: str
    publications: str
    prescribing_habits: str
    therapeutic_areas: str
    product_attitude: str
    completeness: int
    confirmed_fields: dict[str, str]

    @staticmethod
    def resolve_mobile(obj: Professional, context: dict[str, Any]) -> str:
        return _contacts(obj, context)["mobile"]

    @staticmethod
    def resolve_wechat_id(obj: Professional, context: dict[str, Any]) -> str:
        return _contacts(obj, context)["wechat_id"]

    @staticmethod
    def resolve_email(obj: Professional, context: dict[str, Any]) -> str:
        return _contacts(obj, context)["email"]


def _contacts(obj: Professional, context: dict[str, Any]) -> dict[str, str]:
    """Contacts as the caller may see them, looked up (and logged) once per response."""
    cached: dict[str, str] | None = getattr(obj, "_api_contacts", None)
    if cached is None:
        request = context["request"]
        cached = privacy.contact_details(
            professional=obj, user=request.user, ip=request.META.get("REMOTE_ADDR")
        )
        obj._api_contacts = cached  # type: ignore[attr-defined]
    return cached


_PROFESSIONAL_RENAMES = {"institution_id": "institution", "department_id": "department"}


class ProfessionalPatch(InputSchema):
    name: str | None = None
    gender: str | None = None
    title: str | None = None
    role: str | None = None
    institution_id: int | None = None
    department_id: int | None = None
    external_id: str | None = None
    mobile: str | None = None
    wechat_id: str | None = None
    email: str | None = None
    preferred_channel: str | None = None
    preferred_time: str | None = None
    interests: str | None = None
    current_concerns: str | None = None
    academic_posts: str | None = None
    publications: str | None = None
    prescribing_habits: str | None = None
    therapeutic_areas: str | None = None
    product_attitude: str | None = None
    personal_notes: str | None = None
    prescribing_potential: str | None = None
    engagement_stage: str | None = None
    influence_decision: int | None = None
    influence_prescribing: int | None = None
    influence_academic: int | None = None
    status: str | None = None


class ProfessionalIn(ProfessionalPatch):
    name: str
    role: str
    institution_id: int


@router.post(
    "/professionals",
    response={201: ProfessionalProfileOut, 400: ErrorOut, 403: ErrorOut, 409: ErrorOut, 422: ErrorOut},
)
def create_professional(request: HttpRequest, payload: ProfessionalIn) -> Any:
    return Status(
        201, services.create_professional(actor=_actor(request), **_changes(payload, _PROFESSIONAL_RENAMES))
    )


@router.get("/professionals/{professional_id}/profile", response={200: ProfessionalProfileOut, 404: ErrorOut})
def get_professional_profile(request: HttpRequest, professional_id: int) -> Any:
    """The whole profile; contact details masked for roles the policy names, and every clear read logged."""
    return get_visible_or_404(Professional, user=request.user, pk=professional_id)


@router.patch(
    "/professionals/{professional_id}",
    response={
        200: ProfessionalProfileOut,
        400: ErrorOut,
        403: ErrorOut,
        404: ErrorOut,
        409: ErrorOut,
        422: ErrorOut,
    },
)
def update_professional(request: HttpRequest, professional_id: int, payload: ProfessionalPatch) -> Any:
    professional = get_visible_or_404(Professional, user=request.user, pk=professional_id)
    return services.update_professional(
        actor=_actor(request),
        professional=professional,
        changes=_changes(payload, _PROFESSIONAL_RENAMES),
    )


class ConfirmIn(InputSchema):
    fields: list[str] | None = None


class ConfirmOut(Schema):
    confirmed: list[str]
    completeness: int


@router.post(
    "/professionals/{professional_id}/confirm",
    response={200: ConfirmOut, 400: ErrorOut, 403: ErrorOut, 404: ErrorOut},
)
def confirm_profile(request: HttpRequest, professional_id: int, payload: ConfirmIn) -> Any:
    """Mark profile fields as confirmed with the customer today (default: every filled required field)."""
    professional = get_visible_or_404(Professional, user=request.user, pk=professional_id)
    confirmed = services.confirm_profile(
        actor=_actor(request), professional=professional, fields=payload.fields
    )
    professional.refresh_from_db(fields=["completeness"])
    return {"confirmed": confirmed, "completeness": professional.completeness}


# Affiliations


class AffiliationOut(Schema):
    id: int
    professional_id: int
    institution_id: int
    department_id: int | None
    position: str
    is_primary: bool
    valid_from: dt.date | None
    valid_to: dt.date | None


class AffiliationIn(InputSchema):
    institution_id: int
    department_id: int | None = None
    position: str = ""
    is_primary: bool = False
    valid_from: dt.date | None = None


class AffiliationEnd(InputSchema):
    valid_to: dt.date | None = None


@router.get(
    "/professionals/{professional_id}/affiliations", response={200: list[AffiliationOut], 404: ErrorOut}
)
def list_affiliations(request: HttpRequest, professional_id: int) -> Any:
    professional = get_visible_or_404(Professional, user=request.user, pk=professional_id)
    return Affiliation.objects.filter(professional=professional).order_by(
        "valid_to", "-is_primary", "-valid_from"
    )


@router.get("/affiliations/{affiliation_id}", response={200: AffiliationOut, 404: ErrorOut})
def get_affiliation(request: HttpRequest, affiliation_id: int) -> Any:
    return get_visible_or_404(Affiliation, user=request.user, pk=affiliation_id)


@router.post(
    "/professionals/{professional_id}/affiliations",
    response={201: AffiliationOut, 400: ErrorOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut},
)
def add_affiliation(request: HttpRequest, professional_id: int, payload: AffiliationIn) -> Any:
    professional = get_visible_or_404(Professional, user=request.user, pk=professional_id)
    data = payload.model_dump()
    return Status(
        201,
        services.add_affiliation(
            actor=_actor(request),
            professional=professional,
            institution=data.pop("institution_id"),
            department=data.pop("department_id"),
            **data,
        ),
    )


@router.post(
    "/affiliations/{affiliation_id}/end",
    response={200: AffiliationOut, 400: ErrorOut, 403: ErrorOut, 404: ErrorOut},
)
def end_affiliation(request: HttpRequest, affiliation_id: int, payload: AffiliationEnd) -> Any:
    affiliation = get_visible_or_404(Affiliation, user=request.user, pk=affiliation_id)
    return services.end_affiliation(actor=_actor(request), affiliation=affiliation, valid_to=payload.valid_to)


# Key dates


class KeyDateOut(Schema):
    id: int
    professional_id: int
    kind: str
    label: str
    month: int
    day: int
    year: int | None
    shared_by_customer: bool


class KeyDateIn(InputSchema):
    kind: str
    month: int
    day: int
    shared_by_customer: bool
    year: int | None = None
    label: str = ""


@router.get("/professionals/{professional_id}/key-dates", response={200: list[KeyDateOut], 404: ErrorOut})
def list_key_dates(request: HttpRequest, professional_id: int) -> Any:
    """Key dates are personal: empty for roles the policy masks, and every clear read is logged."""
    professional = get_visible_or_404(Professional, user=request.user, pk=professional_id)
    if privacy.personal_details_hidden(request.user):
        return []
    key_dates = list(visible(KeyDate, user=request.user).filter(professional=professional))
    privacy.log_personal_view(
        professional=professional,
        user=request.user,
        fields=["key_dates"] if key_dates else [],
        rows=len(key_dates),
        ip=request.META.get("REMOTE_ADDR"),
    )
    return key_dates


@router.get("/key-dates/{key_date_id}", response={200: KeyDateOut, 404: ErrorOut})
def get_key_date(request: HttpRequest, key_date_id: int) -> Any:
    if privacy.personal_details_hidden(request.user):
        raise Http404
    key_date = get_visible_or_404(
        KeyDate.objects.select_related("professional"), user=request.user, pk=key_date_id
    )
    privacy.log_personal_view(
        professional=key_date.professional,
        user=request.user,
        fields=["key_dates"],
        ip=request.META.get("REMOTE_ADDR"),
    )
    return key_date


@router.post(
    "/professionals/{professional_id}/key-dates",
    response={201: KeyDateOut, 400: ErrorOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut},
)
def add_key_date(request: HttpRequest, professional_id: int, payload: KeyDateIn) -> Any:
    """Only dates the customer chose to share: `shared_by_customer` false is refused (PIPL)."""
    professional = get_visible_or_404(Professional, user=request.user, pk=professional_id)
    return Status(
        201, services.add_key_date(actor=_actor(request), professional=professional, **payload.model_dump())
    )


@router.delete("/key-dates/{key_date_id}", response={204: None, 403: ErrorOut, 404: ErrorOut})
def delete_key_date(request: HttpRequest, key_date_id: int) -> Any:
    key_date = get_visible_or_404(KeyDate, user=request.user, pk=key_date_id)
    services.remove_key_date(actor=_actor(request), key_date=key_date)
    return Status(204, None)


# Needs


class NeedOut(Schema):
    id: int
    professional_id: int
    kind: str
    description: str
    status: str
    met: bool
    found_on: dt.date
    met_on: dt.date | None


class NeedIn(InputSchema):
    kind: str
    description: str
    found_on: dt.date | None = None
    status: str = "open"


class NeedPatch(InputSchema):
    kind: str | None = None
    description: str | None = None
    status: str | None = None
    met_on: dt.date | None = None


@router.get("/professionals/{professional_id}/needs", response={200: list[NeedOut], 404: ErrorOut})
def list_needs(request: HttpRequest, professional_id: int, met: bool | None = None) -> Any:
    professional = get_visible_or_404(Professional, user=request.user, pk=professional_id)
    qs = visible(Need, user=request.user).filter(professional=professional)
    return qs.filter(met=met) if met is not None else qs


@router.get("/needs/{need_id}", response={200: NeedOut, 404: ErrorOut})
def get_need(request: HttpRequest, need_id: int) -> Any:
    return get_visible_or_404(Need, user=request.user, pk=need_id)


@router.post(
    "/professionals/{professional_id}/needs",
    response={201: NeedOut, 400: ErrorOut, 403: ErrorOut, 404: ErrorOut},
)
def create_need(request: HttpRequest, professional_id: int, payload: NeedIn) -> Any:
    professional = get_visible_or_404(Professional, user=request.user, pk=professional_id)
    return Status(
        201, services.create_need(actor=_actor(request), professional=professional, **payload.model_dump())
    )


@router.patch("/needs/{need_id}", response={200: NeedOut, 400: ErrorOut, 403: ErrorOut, 404: ErrorOut})
def update_need(request: HttpRequest, need_id: int, payload: NeedPatch) -> Any:
    need = get_visible_or_404(Need, user=request.user, pk=need_id)
    return services.update_need(actor=_actor(request), need=need, **_changes(payload))


# Segments


class SegmentOut(Schema):
    id: int
    professional_id: int
    dimension: str
    value: str
    computed_value: str
    rule_id: int | None
    inputs: dict[str, Any]
    explanation: str
    computed_at: dt.datetime
    override_value: str
    override_reason: str
    override_by_id: int | None
    override_at: dt.datetime | None


class OverrideIn(InputSchema):
    value: str
    reason: str


@router.get("/professionals/{professional_id}/segments", response={200: list[SegmentOut], 404: ErrorOut})
def list_segments(request: HttpRequest, professional_id: int) -> Any:
    """Each dimension's value with why: the rule, the inputs it read, and any manager's override."""
    professional = get_visible_or_404(Professional, user=request.user, pk=professional_id)
    return Segment.objects.filter(professional=professional).order_by("dimension")


@router.get("/segments/{segment_id}", response={200: SegmentOut, 404: ErrorOut})
def get_segment(request: HttpRequest, segment_id: int) -> Any:
    return get_visible_or_404(Segment, user=request.user, pk=segment_id)


@router.put(
    "/professionals/{professional_id}/segments/{dimension}/override",
    response={200: SegmentOut, 400: ErrorOut, 403: ErrorOut, 404: ErrorOut},
)
def override_segment(request: HttpRequest, professional_id: int, dimension: str, payload: OverrideIn) -> Any:
    """A manager's value for one dimension, with the reason; it survives every recompute."""
    professional = get_visible_or_404(Professional, user=request.user, pk=professional_id)
    return segmentation.override_segment(
        actor=_actor(request),
        professional=professional,
        dimension=dimension,
        value=payload.value,
        reason=payload.reason,
    )


@router.delete(
    "/professionals/{professional_id}/segments/{dimension}/override",
    response={200: SegmentOut, 400: ErrorOut, 403: ErrorOut, 404: ErrorOut},
)
def clear_segment_override(
    request: HttpRequest, professional_id: int, dimension: str, reason: str = ""
) -> Any:
    professional = get_visible_or_404(Professional, user=request.user, pk=professional_id)
    return segmentation.clear_override(
        actor=_actor(request), professional=professional, dimension=dimension, reason=reason
    )


# Development plans


class StepOut(Schema):
    id: int
    plan_id: int
    title: str
    due_on: dt.date | None
    done_on: dt.date | None
    position: int


class PlanOut(Schema):
    id: int
    title: str
    description: str
    institution_id: int | None
    professional_id: int | None
    owner_id: int
    status: str
    due_on: dt.date | None
    created_at: dt.datetime
    steps: list[StepOut]

    @staticmethod
    def resolve_steps(obj: DevelopmentPlan) -> list[DevelopmentStep]:
        return list(obj.steps.all())


class PlanIn(InputSchema):
    title: str
    institution_id: int | None = None
    professional_id: int | None = None
    owner_id: int | None = None
    description: str = ""
    due_on: dt.date | None = None


class PlanPatch(InputSchema):
    title: str | None = None
    description: str | None = None
    owner_id: int | None = None
    due_on: dt.date | None = None
    status: str | None = None


class StepIn(InputSchema):
    title: str
    due_on: dt.date | None = None


class StepPatch(InputSchema):
    title: str | None = None
    due_on: dt.date | None = None
    done_on: dt.date | None = None


def _plans(request: HttpRequest) -> Any:
    return visible(DevelopmentPlan, user=request.user).prefetch_related("steps")


@router.get("/plans", response=list[PlanOut])
@paginate(CursorPagination, ordering=("id",))
def list_plans(
    request: HttpRequest,
    status: str | None = None,
    owner_id: int | None = None,
    professional_id: int | None = None,
    institution_id: int | None = None,
) -> Any:
    qs = _plans(request)
    filters = {
        "status": status,
        "owner_id": owner_id,
        "professional_id": professional_id,
        "institution_id": institution_id,
    }
    return qs.filter(**{k: v for k, v in filters.items() if v is not None})


@router.get("/plans/{plan_id}", response={200: PlanOut, 404: ErrorOut})
def get_plan(request: HttpRequest, plan_id: int) -> Any:
    return get_visible_or_404(_plans(request), user=request.user, pk=plan_id)


@router.post("/plans", response={201: PlanOut, 400: ErrorOut, 403: ErrorOut, 404: ErrorOut})
def create_plan(request: HttpRequest, payload: PlanIn) -> Any:
    data = payload.model_dump()
    plan = services.create_plan(
        actor=_actor(request),
        institution=data.pop("institution_id"),
        professional=data.pop("professional_id"),
        owner=data.pop("owner_id"),
        **data,
    )
    return Status(201, plan)


@router.patch("/plans/{plan_id}", response={200: PlanOut, 400: ErrorOut, 403: ErrorOut, 404: ErrorOut})
def update_plan(request: HttpRequest, plan_id: int, payload: PlanPatch) -> Any:
    plan = get_visible_or_404(DevelopmentPlan, user=request.user, pk=plan_id)
    return services.update_plan(
        actor=_actor(request), plan=plan, changes=_changes(payload, {"owner_id": "owner"})
    )


@router.post("/plans/{plan_id}/steps", response={201: StepOut, 400: ErrorOut, 403: ErrorOut, 404: ErrorOut})
def add_step(request: HttpRequest, plan_id: int, payload: StepIn) -> Any:
    plan = get_visible_or_404(DevelopmentPlan, user=request.user, pk=plan_id)
    return Status(201, services.add_step(actor=_actor(request), plan=plan, **payload.model_dump()))


@router.get("/plan-steps/{step_id}", response={200: StepOut, 404: ErrorOut})
def get_step(request: HttpRequest, step_id: int) -> Any:
    return get_visible_or_404(DevelopmentStep, user=request.user, pk=step_id)


@router.patch("/plan-steps/{step_id}", response={200: StepOut, 400: ErrorOut, 403: ErrorOut, 404: ErrorOut})
def update_step(request: HttpRequest, step_id: int, payload: StepPatch) -> Any:
    step = get_visible_or_404(DevelopmentStep, user=request.user, pk=step_id)
    return services.update_step(actor=_actor(request), step=step, **_changes(payload))
