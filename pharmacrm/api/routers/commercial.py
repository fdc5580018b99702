"""Hospital listings (进院): the pipeline, opening a listing and moving it through its stages."""

from __future__ import annotations

import datetime as dt
from typing import Any, cast

from django.http import HttpRequest
from ninja import Router, Schema
from ninja.pagination import CursorPagination, paginate

from pharmacrm.api.schemas import ErrorOut, InputSchema
from pharmacrm.commercial import services
from pharmacrm.commercial.models import Listing
from pharmacrm.core.models import User
from pharmacrm.core.visibility import get_visible_or_404, visible


def _actor(request: HttpRequest) -> User:
    """The signed-in user (login is required before any write is reached)."""
    return cast(User, request.user)


router = Router(tags=["commercial"])


class ListingOut(Schema):
    id: int
    institution_id: int
    product_id: int
    owner_id: int
    stage: str
    intro_on: dt.date | None
    submitted_on: dt.date | None
    decided_on: dt.date | None
    urgent_purchase_on: dt.date | None
    first_purchase_on: dt.date | None
    notes: str


class ListingIn(InputSchema):
    institution_id: int
    product_id: int
    intro_on: dt.date | None = None
    owner_id: int | None = None
    notes: str = ""


class MoveIn(InputSchema):
    stage: str
    on: dt.date | None = None
    reason: str = ""


@router.get("/listings", response=list[ListingOut])
@paginate(CursorPagination, ordering=("id",))
def list_listings(
    request: HttpRequest,
    stage: str | None = None,
    product_id: int | None = None,
    institution_id: int | None = None,
) -> Any:
    qs = visible(Listing, user=request.user)
    filters = {"stage": stage, "product_id": product_id, "institution_id": institution_id}
    return qs.filter(**{k: v for k, v in filters.items() if v not in (None, "")})


@router.get("/listings/{listing_id}", response={200: ListingOut, 404: ErrorOut})
def get_listing(request: HttpRequest, listing_id: int) -> Any:
    return get_visible_or_404(Listing, user=request.user, pk=listing_id)


@router.post(
    "/listings", response={201: ListingOut, 400: ErrorOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut}
)
def open_listing(request: HttpRequest, payload: ListingIn) -> Any:
    return 201, services.open_listing(
        actor=_actor(request),
        institution=payload.institution_id,
        product=payload.product_id,
        intro_on=payload.intro_on,
        owner=payload.owner_id,
        notes=payload.notes,
    )


@router.post(
    "/listings/{listing_id}/stage", response={200: ListingOut, 400: ErrorOut, 403: ErrorOut, 404: ErrorOut}
)
def move_listing(request: HttpRequest, listing_id: int, payload: MoveIn) -> Any:
    """Move to a stage on a date (default today). Skipping ahead is refused; going back needs a reason."""
    listing = get_visible_or_404(Listing, user=request.user, pk=listing_id)
    return services.move_listing(
        actor=_actor(request),
        listing=listing,
        stage=payload.stage,
        on=payload.on,
        reason=payload.reason,
    )
