"""Territories and people, as the caller may see them."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.http import HttpRequest
from ninja import Router, Schema
from ninja.pagination import CursorPagination, paginate

from pharmacrm.api.schemas import ErrorOut
from pharmacrm.core import selectors
from pharmacrm.core.models import Territory
from pharmacrm.core.visibility import get_visible_or_404

router = Router(tags=["organisation"])


class TerritoryOut(Schema):
    id: int
    code: str
    name: str
    org_unit_id: int
    org_unit_name: str
    is_active: bool

    @staticmethod
    def resolve_org_unit_name(obj: Territory) -> str:
        return obj.org_unit.name


class AssignmentOut(Schema):
    user_id: int
    user_name: str
    kind: str
    valid_from: dt.date
    valid_to: dt.date | None

    @staticmethod
    def resolve_user_name(obj: Any) -> str:
        return str(obj.user)


class TerritoryDetailOut(TerritoryOut):
    assignments: list[AssignmentOut]

    @staticmethod
    def resolve_assignments(obj: Territory, context: dict[str, Any]) -> list[Any]:
        return list(selectors.territory_assignments(user=context["request"].user, territory=obj))


@router.get("/territories", response=list[TerritoryOut])
@paginate(CursorPagination, ordering=("id",))
def list_territories(request: HttpRequest) -> Any:
    return selectors.visible_territories(user=request.user)


@router.get("/territories/{territory_id}", response={200: TerritoryDetailOut, 404: ErrorOut})
def get_territory(request: HttpRequest, territory_id: int) -> Any:
    return get_visible_or_404(
        Territory.objects.select_related("org_unit"), user=request.user, pk=territory_id
    )
