"""Channels API: partners, contacts, licences, agreements, scorecards and quarterly reviews.

Channel data is for commercial staff, managers, director, admin and compliance (read). For any
other role (the 医药代表 holds no sales task, RULES_CN §1) a list answers 403 and an object 404.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, cast

from django.http import Http404, HttpRequest
from django.utils.translation import gettext as _
from ninja import Router, Schema, Status
from ninja.pagination import CursorPagination, paginate

from pharmacrm.api.schemas import ErrorOut, InputSchema
from pharmacrm.channels import selectors, services
from pharmacrm.channels.models import (
    Agreement,
    ChannelPartner,
    ChannelReview,
    Licence,
    LicenceAlert,
    PartnerContact,
)
from pharmacrm.core.errors import NotAllowed
from pharmacrm.core.models import User
from pharmacrm.core.visibility import get_visible_or_404, visible

router = Router(tags=["channels"])


def _actor(request: HttpRequest) -> User:
    return cast(User, request.user)


def _channels_or_403(request: HttpRequest) -> None:
    if not services.may_view_channels(request.user):
        raise NotAllowed(_("您的角色不能查看渠道数据。"))


def _object(request: HttpRequest, model: Any, pk: int, qs: Any = None) -> Any:
    if not services.may_view_channels(request.user):
        raise Http404
    return get_visible_or_404(qs if qs is not None else model, user=request.user, pk=pk)


# --- Partners -------------------------------------------------------------------------------------


class PartnerOut(Schema):
    id: int
    code: str
    name: str
    institution_id: int
    kind: str
    status: str
    org_unit_id: int
    manager_id: int | None
    province_id: str | None

    @staticmethod
    def resolve_name(obj: ChannelPartner) -> str:
        return obj.institution.name

    @staticmethod
    def resolve_province_id(obj: ChannelPartner) -> str | None:
        return obj.institution.province_id


class NewInstitutionIn(InputSchema):
    name: str
    kind: str
    province: str
    city: str | None = None
    territory: int | None = None


class PartnerIn(InputSchema):
    code: str
    org_unit_id: int
    institution_id: int | None = None
    new_institution: NewInstitutionIn | None = None
    kind: str | None = None
    manager_id: int | None = None
    status: str = ChannelPartner.Status.ACTIVE


class PartnerPatch(InputSchema):
    code: str | None = None
    kind: str | None = None
    status: str | None = None
    org_unit_id: int | None = None
    manager_id: int | None = None


def _partners(request: HttpRequest) -> Any:
    return visible(ChannelPartner.objects.select_related("institution"), user=request.user)


@router.get("/channels/partners", response={200: list[PartnerOut], 403: ErrorOut})
@paginate(CursorPagination, ordering=("id",))
def list_partners(request: HttpRequest, kind: str | None = None, status: str | None = None) -> Any:
    _channels_or_403(request)
    filters = {"kind": kind, "status": status}
    return _partners(request).filter(**{k: v for k, v in filters.items() if v not in (None, "")})


@router.get("/channels/partners/{partner_id}", response={200: PartnerOut, 404: ErrorOut})
def get_partner(request: HttpRequest, partner_id: int) -> Any:
    return _object(request, ChannelPartner, partner_id, _partners(request))


@router.post(
    "/channels/partners",
    response={201: PartnerOut, 400: ErrorOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut},
)
def create_partner(request: HttpRequest, payload: PartnerIn) -> Any:
    """From an existing institution (`institution_id`) or a new one (`new_institution`)."""
    new = payload.new_institution.dict(exclude_none=True) if payload.new_institution else None
    return Status(
        201,
        services.create_partner(
            actor=_actor(request),
            code=payload.code,
            org_unit=payload.org_unit_id,
            institution=payload.institution_id,
            new_institution=new,
            kind=payload.kind,
            manager=payload.manager_id,
            status=payload.status,
        ),
    )


@router.patch(
    "/channels/partners/{partner_id}",
    response={200: PartnerOut, 400: ErrorOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut},
)
def update_partner(request: HttpRequest, partner_id: int, payload: PartnerPatch) -> Any:
    partner = _object(request, ChannelPartner, partner_id)
    changes = payload.dict(exclude_unset=True)
    for name in ("org_unit", "manager"):
        if f"{name}_id" in changes:
            changes[name] = changes.pop(f"{name}_id")
    return services.update_partner(actor=_actor(request), partner=partner, changes=changes)


# --- Contacts -------------------------------------------------------------------------------------


class ContactOut(Schema):
    id: int
    partner_id: int
    name: str
    role: str
    title: str
    phone: str
    email: str
    is_primary: bool


class ContactIn(InputSchema):
    name: str
    role: str = PartnerContact.Role.OTHER
    title: str = ""
    phone: str = ""
    email: str = ""
    is_primary: bool = False
    notes: str = ""


def _contact_out(contact: PartnerContact, user: Any) -> dict[str, Any]:
    shown = services.contact_details(contact=contact, user=user)
    return {
        "id": contact.pk,
        "partner_id": contact.partner_id,
        "name": contact.name,
        "role": contact.role,
        "title": contact.title,
        "is_primary": contact.is_primary,
        **shown,
    }


@router.get("/channels/partners/{partner_id}/contacts", response={200: list[ContactOut], 404: ErrorOut})
def list_contacts(request: HttpRequest, partner_id: int) -> Any:
    """Phone and email are masked for roles that do not manage partners (e.g. compliance)."""
    partner = _object(request, ChannelPartner, partner_id)
    return [_contact_out(c, request.user) for c in partner.contacts.all()]


@router.post(
    "/channels/partners/{partner_id}/contacts",
    response={201: ContactOut, 400: ErrorOut, 403: ErrorOut, 404: ErrorOut},
)
def add_contact(request: HttpRequest, partner_id: int, payload: ContactIn) -> Any:
    partner = _object(request, ChannelPartner, partner_id)
    contact = services.add_contact(actor=_actor(request), partner=partner, **payload.dict())
    return Status(201, _contact_out(contact, request.user))


class ContactPatch(InputSchema):
    name: str | None = None
    role: str | None = None
    title: str | None = None
    phone: str | None = None
    email: str | None = None
    is_primary: bool | None = None
    notes: str | None = None


@router.patch(
    "/channels/contacts/{contact_id}", response={200: ContactOut, 400: ErrorOut, 403: ErrorOut, 404: ErrorOut}
)
def update_contact(request: HttpRequest, contact_id: int, payload: ContactPatch) -> Any:
    contact = _object(request, PartnerContact, contact_id)
    contact = services.update_contact(
        actor=_actor(request), contact=contact, changes=payload.dict(exclude_unset=True)
    )
    return _contact_out(contact, request.user)


@router.delete("/channels/contacts/{contact_id}", response={204: None, 403: ErrorOut, 404: ErrorOut})
def delete_contact(request: HttpRequest, contact_id: int) -> Any:
    contact = _object(request, PartnerContact, contact_id)
    services.remove_contact(actor=_actor(request), contact=contact)
    return Status(204, None)


# --- Licences -------------------------------------------------------------------------------------


class LicenceOut(Schema):
    id: int
    partner_id: int
    kind: str
    number: str
    issued_on: dt.date
    expires_on: dt.date
    notes: str


class LicenceIn(InputSchema):
    kind: str
    number: str
    issued_on: dt.date
    expires_on: dt.date
    notes: str = ""


@router.get("/channels/licences", response={200: list[LicenceOut], 403: ErrorOut})
@paginate(CursorPagination, ordering=("id",))
def list_licences(
    request: HttpRequest, partner_id: int | None = None, expiring_within_days: int | None = None
) -> Any:
    """`expiring_within_days=N`: licences of active partners expiring within N days (or already expired)."""
    _channels_or_403(request)
    if expiring_within_days is not None:
        qs = selectors.expiring_licences(user=request.user, within_days=expiring_within_days)
    else:
        qs = visible(Licence, user=request.user)
    return qs.filter(partner_id=partner_id) if partner_id else qs


@router.post(
    "/channels/partners/{partner_id}/licences",
    response={201: LicenceOut, 400: ErrorOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut},
)
def add_licence(request: HttpRequest, partner_id: int, payload: LicenceIn) -> Any:
    partner = _object(request, ChannelPartner, partner_id)
    return Status(201, services.add_licence(actor=_actor(request), partner=partner, **payload.dict()))


class LicencePatch(InputSchema):
    kind: str | None = None
    number: str | None = None
    issued_on: dt.date | None = None
    expires_on: dt.date | None = None
    notes: str | None = None


class AlertOut(Schema):
    id: int
    licence_id: int
    partner_id: int
    expires_on: dt.date
    raised_on: dt.date
    days_left: int
    acknowledged_at: dt.datetime | None

    @staticmethod
    def resolve_partner_id(obj: LicenceAlert) -> int:
        return obj.licence.partner_id


@router.patch(
    "/channels/licences/{licence_id}",
    response={200: LicenceOut, 400: ErrorOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut},
)
def update_licence(request: HttpRequest, licence_id: int, payload: LicencePatch) -> Any:
    """Correct or renew a licence (a new expiry date closes its open alert)."""
    licence = _object(request, Licence, licence_id)
    return services.update_licence(
        actor=_actor(request), licence=licence, changes=payload.dict(exclude_unset=True)
    )


@router.get("/channels/licence-alerts", response={200: list[AlertOut], 403: ErrorOut})
@paginate(CursorPagination, ordering=("id",))
def list_licence_alerts(request: HttpRequest) -> Any:
    """Open expiry alerts recorded by the daily task (not acknowledged, licence not since renewed)."""
    _channels_or_403(request)
    return selectors.open_licence_alerts(user=request.user)


@router.post(
    "/channels/licence-alerts/{alert_id}/acknowledge", response={200: AlertOut, 403: ErrorOut, 404: ErrorOut}
)
def acknowledge_alert(request: HttpRequest, alert_id: int) -> Any:
    alert = _object(request, LicenceAlert, alert_id)
    return services.acknowledge_alert(actor=_actor(request), alert=alert)


# --- Agreements -----------------------------------------------------------------------------------


class TargetIO(Schema):
    year: int
    quarter: int
    amount: Decimal | None = None
    volume: Decimal | None = None


class TierIO(Schema):
    threshold: Decimal
    rate: Decimal


class AgreementOut(Schema):
    id: int
    partner_id: int
    code: str
    start: dt.date
    end: dt.date
    status: str
    regions: list[str]
    products: list[int]
    targets: list[TargetIO]
    rebate_tiers: list[TierIO]
    notes: str

    @staticmethod
    def resolve_regions(obj: Agreement) -> list[str]:
        return [d.code for d in obj.regions.all()]

    @staticmethod
    def resolve_products(obj: Agreement) -> list[int]:
        return [p.pk for p in obj.products.all()]

    @staticmethod
    def resolve_targets(obj: Agreement) -> list[Any]:
        return list(obj.targets.all())

    @staticmethod
    def resolve_rebate_tiers(obj: Agreement) -> list[Any]:
        return list(obj.rebate_tiers.all())


class AgreementIn(InputSchema):
    partner_id: int
    code: str
    start: dt.date
    end: dt.date
    regions: list[str]
    products: list[int]
    targets: list[TargetIO] = []
    rebate_tiers: list[TierIO] = []
    status: str = Agreement.Status.DRAFT
    notes: str = ""


class AgreementPatch(InputSchema):
    code: str | None = None
    start: dt.date | None = None
    end: dt.date | None = None
    regions: list[str] | None = None
    products: list[int] | None = None
    targets: list[TargetIO] | None = None
    rebate_tiers: list[TierIO] | None = None
    status: str | None = None
    notes: str | None = None


def _agreements(request: HttpRequest) -> Any:
    return visible(
        Agreement.objects.prefetch_related("regions", "products", "targets", "rebate_tiers"),
        user=request.user,
    )


@router.get("/channels/agreements", response={200: list[AgreementOut], 403: ErrorOut})
@paginate(CursorPagination, ordering=("id",))
def list_agreements(request: HttpRequest, partner_id: int | None = None, status: str | None = None) -> Any:
    _channels_or_403(request)
    filters = {"partner_id": partner_id, "status": status}
    return _agreements(request).filter(**{k: v for k, v in filters.items() if v not in (None, "")})


@router.get("/channels/agreements/{agreement_id}", response={200: AgreementOut, 404: ErrorOut})
def get_agreement(request: HttpRequest, agreement_id: int) -> Any:
    return _object(request, Agreement, agreement_id, _agreements(request))


@router.post(
    "/channels/agreements",
    response={201: AgreementOut, 400: ErrorOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut},
)
def create_agreement(request: HttpRequest, payload: AgreementIn) -> Any:
    """Targets per quarter (amount CNY and/or volume in standard units); tiers: achievement % → rebate %."""
    data = payload.dict()
    partner = _object(request, ChannelPartner, data.pop("partner_id"))
    agreement = services.create_agreement(actor=_actor(request), partner=partner, **data)
    return Status(201, _agreements(request).get(pk=agreement.pk))


@router.patch(
    "/channels/agreements/{agreement_id}",
    response={200: AgreementOut, 400: ErrorOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut},
)
def update_agreement(request: HttpRequest, agreement_id: int, payload: AgreementPatch) -> Any:
    agreement = _object(request, Agreement, agreement_id)
    services.update_agreement(
        actor=_actor(request), agreement=agreement, changes=payload.dict(exclude_unset=True)
    )
    return _agreements(request).get(pk=agreement.pk)


# --- Reviews --------------------------------------------------------------------------------------


class ScoreOut(Schema):
    code: str
    label: str
    unit: str
    manual: bool
    weight: Decimal
    target: Decimal
    floor: Decimal
    direction: str
    value: Decimal | None
    detail: str
    score: Decimal | None


class ActionOut(Schema):
    id: int
    what: str
    owner_id: int
    due_on: dt.date
    done: bool


class ReviewOut(Schema):
    id: int
    partner_id: int
    scorecard_id: int
    year: int
    quarter: int
    status: str
    total_score: Decimal | None
    comments: str
    reviewer_id: int
    submitted_at: dt.datetime | None
    approved_by_id: int | None
    approved_at: dt.datetime | None
    scores: list[ScoreOut]
    actions: list[ActionOut]

    @staticmethod
    def resolve_scores(obj: ChannelReview) -> list[Any]:
        return list(obj.scores.all())

    @staticmethod
    def resolve_actions(obj: ChannelReview) -> list[Any]:
        return list(obj.actions.all())


class ReviewIn(InputSchema):
    partner_id: int
    year: int
    quarter: int


class ReviewPatch(InputSchema):
    values: dict[str, Decimal | None] = {}
    comments: str | None = None
    refresh: bool = False


class ActionIn(InputSchema):
    what: str
    owner_id: int
    due_on: dt.date


class DecisionIn(InputSchema):
    approve: bool
    note: str = ""


def _reviews(request: HttpRequest) -> Any:
    return visible(ChannelReview.objects.prefetch_related("scores", "actions"), user=request.user)


@router.get("/channels/reviews", response={200: list[ReviewOut], 403: ErrorOut})
@paginate(CursorPagination, ordering=("id",))
def list_reviews(
    request: HttpRequest,
    partner_id: int | None = None,
    status: str | None = None,
    year: int | None = None,
    quarter: int | None = None,
) -> Any:
    _channels_or_403(request)
    filters = {"partner_id": partner_id, "status": status, "year": year, "quarter": quarter}
    return _reviews(request).filter(**{k: v for k, v in filters.items() if v not in (None, "")})


@router.get("/channels/reviews/{review_id}", response={200: ReviewOut, 404: ErrorOut})
def get_review(request: HttpRequest, review_id: int) -> Any:
    return _object(request, ChannelReview, review_id, _reviews(request))


@router.post(
    "/channels/reviews", response={201: ReviewOut, 400: ErrorOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut}
)
def create_review(request: HttpRequest, payload: ReviewIn) -> Any:
    """Open a partner's quarterly review; automatic metrics are measured at once."""
    partner = _object(request, ChannelPartner, payload.partner_id)
    review = services.create_review(
        actor=_actor(request), partner=partner, year=payload.year, quarter=payload.quarter
    )
    return Status(201, _reviews(request).get(pk=review.pk))


@router.patch(
    "/channels/reviews/{review_id}",
    response={200: ReviewOut, 400: ErrorOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut},
)
def update_review(request: HttpRequest, review_id: int, payload: ReviewPatch) -> Any:
    """Manual metric values by code, comments; `refresh` re-measures the automatic metrics."""
    review = _object(request, ChannelReview, review_id)
    services.update_review(
        actor=_actor(request),
        review=review,
        values=payload.values,
        comments=payload.comments,
        refresh=payload.refresh,
    )
    return _reviews(request).get(pk=review.pk)


@router.post(
    "/channels/reviews/{review_id}/actions",
    response={201: ActionOut, 400: ErrorOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut},
)
def add_review_action(request: HttpRequest, review_id: int, payload: ActionIn) -> Any:
    review = _object(request, ChannelReview, review_id)
    return Status(
        201,
        services.add_review_action(
            actor=_actor(request),
            review=review,
            what=payload.what,
            owner=payload.owner_id,
            due_on=payload.due_on,
        ),
    )


@router.post(
    "/channels/reviews/{review_id}/submit",
    response={200: ReviewOut, 400: ErrorOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut},
)
def submit_review(request: HttpRequest, review_id: int) -> Any:
    review = _object(request, ChannelReview, review_id)
    services.submit_review(actor=_actor(request), review=review)
    return _reviews(request).get(pk=review.pk)


@router.post(
    "/channels/reviews/{review_id}/decision",
    response={200: ReviewOut, 400: ErrorOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut},
)
def decide_review(request: HttpRequest, review_id: int, payload: DecisionIn) -> Any:
    """A manager approves (the review is then locked) or returns it with a note."""
    review = _object(request, ChannelReview, review_id)
    services.decide_review(actor=_actor(request), review=review, approve=payload.approve, note=payload.note)
    return _reviews(request).get(pk=review.pk)
