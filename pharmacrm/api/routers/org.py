"""Territories and people, as the caller may see them."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from ninja import Router, Schema, Status
from ninja.pagination import CursorPagination, paginate

from pharmacrm.api.schemas import ErrorOut, InputSchema
from pharmacrm.core import selectors, services
from pharmacrm.core.errors import DomainError, NotAllowed
from pharmacrm.core.models import Role, Territory, TerritoryAssignment, TerritoryRule, User
from pharmacrm.core.visibility import get_visible_or_404
from pharmacrm.customers import territory_history

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
    id: int
    territory_id: int
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


# --- Coverage writes (admins): the territory page's forms, as API calls ---------------------------------
# Both queue re-attribution of the affected sales after commit (core.services.on_coverage_change).


def _admin(request: HttpRequest) -> User:
    user = request.user
    if not isinstance(user, User) or not user.has_role(Role.ADMIN):
        raise NotAllowed(_("只有系统管理员可以执行此操作。"))
    return user


class AssignmentIn(InputSchema):
    user_id: int
    kind: TerritoryAssignment.Kind = TerritoryAssignment.Kind.PRIMARY
    valid_from: dt.date


class AssignmentDatesIn(InputSchema):
    valid_from: dt.date
    valid_to: dt.date | None = None


@router.post(
    "/territories/{territory_id}/assignments",
    response={201: AssignmentOut, 400: ErrorOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut},
)
def assign_territory(request: HttpRequest, territory_id: int, payload: AssignmentIn) -> Any:
    """Give the territory to a rep from `valid_from`; a primary holder before them ends the day before."""
    actor = _admin(request)
    territory = get_visible_or_404(Territory, user=actor, pk=territory_id)
    user = User.objects.filter(pk=payload.user_id).first()
    if user is None:
        raise DomainError(
            _("人员不存在：{id}").format(id=payload.user_id), fields={"user_id": [_("人员不存在。")]}
        )
    return Status(
        201,
        services.assign_territory(
            actor=actor, territory=territory, user=user, valid_from=payload.valid_from, kind=payload.kind
        ),
    )


@router.patch(
    "/assignments/{assignment_id}",
    response={200: AssignmentOut, 400: ErrorOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut},
)
def correct_assignment(request: HttpRequest, assignment_id: int, payload: AssignmentDatesIn) -> Any:
    """Correct the dates of a recorded coverage period; an overlapping primary period is refused (409)."""
    actor = _admin(request)
    assignment = get_visible_or_404(
        TerritoryAssignment.objects.select_related("user"), user=actor, pk=assignment_id
    )
    return services.correct_assignment(
        actor=actor, assignment=assignment, valid_from=payload.valid_from, valid_to=payload.valid_to
    )


# --- Territory rules: which areas a territory takes (institutions without a territory of their own) ------


class TerritoryRuleOut(Schema):
    id: int
    territory_id: int
    province_code: str
    province_name: str
    city_code: str | None
    city_name: str | None

    @staticmethod
    def resolve_province_code(obj: TerritoryRule) -> str:
        return obj.province_id

    @staticmethod
    def resolve_province_name(obj: TerritoryRule) -> str:
        return obj.province.name

    @staticmethod
    def resolve_city_code(obj: TerritoryRule) -> str | None:
        return obj.city_id

    @staticmethod
    def resolve_city_name(obj: TerritoryRule) -> str | None:
        return obj.city.name if obj.city is not None else None


class TerritoryRuleIn(InputSchema):
    province: str  # province code, e.g. "11"
    city: str | None = None  # city code of that province, e.g. "1101"; None: the whole province
    effective: dt.date | None = None  # None: today; earlier dates are for admins, with a reason
    reason: str = ""


@router.get("/territories/{territory_id}/rules", response={200: list[TerritoryRuleOut], 404: ErrorOut})
def list_territory_rules(request: HttpRequest, territory_id: int) -> Any:
    """The areas this territory takes, to whoever may see the territory."""
    territory = get_visible_or_404(Territory, user=request.user, pk=territory_id)
    return list(selectors.territory_rules(user=request.user).filter(territory=territory))


@router.post(
    "/territories/{territory_id}/rules",
    response={201: TerritoryRuleOut, 400: ErrorOut, 403: ErrorOut, 404: ErrorOut, 422: ErrorOut},
)
def set_territory_rule(request: HttpRequest, territory_id: int, payload: TerritoryRuleIn) -> Any:
    """Give an area to the territory (an existing rule for the area changes hands); its institutions move."""
    actor = _admin(request)
    territory = get_visible_or_404(Territory, user=actor, pk=territory_id)
    change = territory_history.set_territory_rule(
        actor=actor,
        territory=territory,
        province=payload.province,
        city=payload.city,
        effective=payload.effective,
        reason=payload.reason,
    )
    return Status(201, change.rule)


@router.delete(
    "/territory-rules/{rule_id}",
    response={204: None, 400: ErrorOut, 403: ErrorOut, 404: ErrorOut, 422: ErrorOut},
)
def remove_territory_rule(
    request: HttpRequest, rule_id: int, effective: dt.date | None = None, reason: str = ""
) -> Any:
    """Remove a rule (`?effective=&reason=` to backdate); the area's institutions follow the province's rule."""
    actor = _admin(request)
    rule = get_object_or_404(selectors.territory_rules(user=actor), pk=rule_id)
    territory_history.remove_territory_rule(actor=actor, rule=rule, effective=effective, reason=reason)
    return Status(204, None)
