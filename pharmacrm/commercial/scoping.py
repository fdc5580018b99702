"""Who may read prices, tenders, promotions and market figures (see CommercialConfig.ready)."""

from __future__ import annotations

from django.db.models import Q

from pharmacrm.core.models import Role, UserRole
from pharmacrm.core.visibility import Scope

# Roles that may open the price, tender, promotion and market pages at all. Company-wide roles
# outside this set (service, compliance) pass the visibility rule but are refused by the pages.
COMMERCIAL_DATA_ROLES = frozenset(
    {Role.ADMIN, Role.DIRECTOR, Role.REGIONAL_MANAGER, Role.DISTRICT_MANAGER, Role.COMMERCIAL, Role.MARKETING}
)
PRICE_WRITERS = frozenset({Role.ADMIN, Role.COMMERCIAL})
PROMOTION_WRITERS = frozenset({Role.ADMIN, Role.MARKETING})
PRODUCT_WRITERS = frozenset({Role.ADMIN, Role.COMMERCIAL, Role.MARKETING})


def commercial_data_scope(scope: Scope) -> Q | None:
    """These are company-level figures, not hanging off a territory: all or nothing per role.

    Managers (they have an org subtree) and commercial staff see all of them; a rep, whose scope
    is only the territories covered, sees none. The scope carries no roles, hence one query.
    """
    if scope.org_paths:
        return Q()
    if scope.user_id and UserRole.objects.filter(user_id=scope.user_id, role=Role.COMMERCIAL).exists():
        return Q()
    return None
