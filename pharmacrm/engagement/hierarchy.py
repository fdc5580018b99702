"""Who stands above a rep in the sales organisation: co-visitors must, overdue commitments escalate to them."""

from __future__ import annotations

from typing import Any

from pharmacrm.core.models import MANAGER_ROLES, Role, User, UserRole

# A director stands above everyone; regional and district managers above their subtree.
ABOVE_ROLES = frozenset({*MANAGER_ROLES, Role.DIRECTOR})


def _ancestor_paths(path: str) -> list[str]:
    """'/HQ/N/N1/' → ['/HQ/N/N1/', '/HQ/N/', '/HQ/'], nearest first."""
    parts = [p for p in path.split("/") if p]
    return ["/" + "/".join(parts[:i]) + "/" for i in range(len(parts), 0, -1)]


def is_manager_above(manager: Any, rep: Any) -> bool:
    """The manager holds a manager role and the rep's unit lies in the manager's subtree."""
    if manager is None or rep is None or manager.pk == rep.pk or not manager.has_role(*ABOVE_ROLES):
        return False
    if manager.org_unit_id is None or rep.org_unit_id is None:
        return False
    return bool(rep.org_unit.path.startswith(manager.org_unit.path))


def managers_above(rep: Any) -> list[User]:
    """Active managers above `rep`, nearest unit first, their roles loaded (two queries)."""
    if rep.org_unit is None:
        return []
    paths = _ancestor_paths(rep.org_unit.path)
    managers = list(
        User.objects.filter(is_active=True, role_rows__role__in=ABOVE_ROLES, org_unit__path__in=paths)
        .exclude(pk=rep.pk)
        .select_related("org_unit")
        .distinct()
    )
    roles: dict[int, set[str]] = {}
    for user_id, role in UserRole.objects.filter(user__in=managers).values_list("user_id", "role"):
        roles.setdefault(user_id, set()).add(role)
    for manager in managers:
        manager._roles_cache = frozenset(roles.get(manager.pk, ()))  # as User.roles caches them
    managers.sort(key=lambda m: (-len(m.org_unit.path if m.org_unit else ""), m.username))
    return managers


def nearest_manager(rep: Any) -> User | None:
    """The first line manager: the closest unit's district or regional manager, else the director."""
    managers = managers_above(rep)
    line = [m for m in managers if m.has_role(*MANAGER_ROLES)]
    ranked = line or managers
    return ranked[0] if ranked else None
