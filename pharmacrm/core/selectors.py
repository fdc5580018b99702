"""Reads of the organisation for a user, all through the visibility scope."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from pharmacrm.core.models import ApiToken, Territory, TerritoryAssignment, TerritoryRule, User
from pharmacrm.core.visibility import visible


def visible_users(*, user: Any) -> QuerySet[User]:
    return visible(User, user=user).select_related("org_unit").prefetch_related("role_rows")


def visible_territories(*, user: Any) -> QuerySet[Territory]:
    today = timezone.localdate()
    current = Q(assignments__valid_from__lte=today) & (
        Q(assignments__valid_to__isnull=True) | Q(assignments__valid_to__gte=today)
    )
    return (
        visible(Territory, user=user)
        .select_related("org_unit")
        .annotate(current_holders=Count("assignments", filter=current))
        .order_by("code")
    )


def territory_assignments(*, user: Any, territory: Territory) -> QuerySet[TerritoryAssignment]:
    return (
        visible(TerritoryAssignment, user=user)
        .filter(territory=territory)
        .select_related("user")
        .order_by("-valid_from")
    )


def territory_rules(*, user: Any) -> QuerySet[TerritoryRule]:
    """The area rules of the territories the user may see, with their areas, by area code."""
    return (
        TerritoryRule.objects.filter(territory__in=visible(Territory, user=user))
        .select_related("territory", "province", "city")
        .order_by("province_id", "city_id")
    )


def my_tokens(*, user: Any) -> QuerySet[ApiToken]:
    return ApiToken.objects.filter(user=user).order_by("-created_at")
