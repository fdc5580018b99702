"""Visibility rules for flow data: who may read which distributor's flow (see FlowConfig.ready)."""

from __future__ import annotations

from django.db.models import Q

from pharmacrm.core.models import Role, UserRole
from pharmacrm.core.visibility import Scope


def _is_commercial(scope: Scope) -> bool:
    # The scope does not carry roles; reps and commercial staff both cover territories, and only
    # the latter may read flow. One small query per visible() call.
    if not scope.user_id:
        return False
    return UserRole.objects.filter(user_id=scope.user_id, role=Role.COMMERCIAL).exists()


def _combine(parts: list[Q]) -> Q | None:
    if not parts:
        return None
    combined = parts[0]
    for part in parts[1:]:
        combined |= part
    return combined


def flow_record_scope(scope: Scope) -> Q | None:
    """FlowRecord: managers by territory or distributor org unit; commercial by distributor or territory."""
    parts: list[Q] = []
    for path in scope.org_paths:
        parts.append(Q(territory__org_unit__path__startswith=path))
        parts.append(Q(distributor__org_unit__path__startswith=path))
    if _is_commercial(scope):
        parts.append(Q(distributor__manager_id=scope.user_id))
        if scope.territory_ids:
            parts.append(Q(territory_id__in=scope.territory_ids))
            parts.append(Q(distributor__institution__territory_id__in=scope.territory_ids))
    return _combine(parts)


def flow_file_scope(scope: Scope) -> Q | None:
    """Anything hanging off a distributor (files, inventory, closes, templates)."""
    parts: list[Q] = []
    for path in scope.org_paths:
        parts.append(Q(distributor__org_unit__path__startswith=path))
    if _is_commercial(scope):
        parts.append(Q(distributor__manager_id=scope.user_id))
        if scope.territory_ids:
            parts.append(Q(distributor__institution__territory_id__in=scope.territory_ids))
    return _combine(parts)
