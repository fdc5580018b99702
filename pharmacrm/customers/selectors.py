"""Reads of customers for a user, all through the visibility scope."""

from __future__ import annotations

import re
from typing import Any

from django.db.models import F, Q, QuerySet

from pharmacrm.core.visibility import visible
from pharmacrm.customers import search
from pharmacrm.customers.models import Institution, InstitutionTerritoryPeriod, Professional

ASCII_KEY = re.compile(r"^[a-z]+$")


def visible_institutions(*, user: Any) -> QuerySet[Institution]:
    return visible(Institution, user=user).select_related("province", "city", "territory")


def visible_professionals(*, user: Any) -> QuerySet[Professional]:
    return visible(Professional, user=user).select_related("institution", "department")


def territory_periods(*, user: Any, institution: Institution) -> QuerySet[InstitutionTerritoryPeriod]:
    """The institution's territory history, newest first, for a user who may see the institution."""
    return (
        visible(InstitutionTerritoryPeriod, user=user)
        .filter(institution=institution)
        .select_related("territory", "recorded_by")
        .order_by(F("valid_from").desc(nulls_last=True), "-id")
    )


def customer_counts(*, user: Any) -> dict[str, int]:
    return {
        "institutions": visible(Institution, user=user).count(),
        "professionals": visible(Professional, user=user).count(),
    }


def _name_filter(query: str) -> Q:
    q = Q(name__contains=query)
    key = query.lower().replace(" ", "")
    if ASCII_KEY.match(key):
        # Prefix lookups use the indexes on both databases.
        q |= Q(search_pinyin__startswith=key) | Q(search_initials__startswith=key)
    return q


# One search for the global box, autocomplete and the API: customers.search.
SearchHit = search.Hit


def search_customers(*, user: Any, query: str, limit: int = 20) -> list[SearchHit]:
    """Professionals, then institutions, the user may see that match the query (Chinese, pinyin, initials,
    phone, WeChat id), best first, at most `limit` of each kind. An empty query finds nothing."""
    try:
        return search.search(user=user, query=query[: search.MAX_QUERY_LENGTH], limit=limit).hits
    except search.InvalidSearch:
        return []
