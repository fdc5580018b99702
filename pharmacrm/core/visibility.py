"""One visibility scope for every read a person triggers.

Each model that people read registers how it hangs off the organisation: through a territory
(customers, visits), an org unit (users, targets) or an owning user. `visible(Model, user=u)`
returns exactly the rows `u` may see; pages, the API, exports, search, autocomplete and
dashboard counts all start from it. A row outside the scope answers 404 (`get_visible_or_404`),
never 403, so its existence does not leak.

Who sees what:
- company-wide roles (admin, director, service, marketing, compliance): everything;
- regional / district managers: everything under their org unit's subtree;
- reps and commercial staff: the territories they cover today, and what they own;
- nobody else: nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from django.db import models
from django.db.models import Q
from django.http import Http404

from pharmacrm.core.models import COMPANY_WIDE_ROLES, MANAGER_ROLES, Role, TerritoryAssignment

M = TypeVar("M", bound=models.Model)


@dataclass(frozen=True)
class Scope:
    """What one user may see, computed once per request."""

    user_id: int | None
    company_wide: bool = False
    org_paths: tuple[str, ...] = ()
    territory_ids: frozenset[int] = field(default_factory=frozenset)

    @property
    def is_empty(self) -> bool:
        return not (self.company_wide or self.org_paths or self.territory_ids or self.user_id)


def scope_for(user: Any) -> Scope:
    """The user's scope, cached on the user object (so once per request)."""
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return Scope(user_id=None)
    cached: Scope | None = getattr(user, "_visibility_scope", None)
    if cached is not None:
        return cached
    roles = user.roles
    company_wide = bool(roles & COMPANY_WIDE_ROLES)
    org_paths: tuple[str, ...] = ()
    territory_ids: frozenset[int] = frozenset()
    if not company_wide:
        if roles & MANAGER_ROLES and user.org_unit_id:
            org_paths = (user.org_unit.path,)
        if roles & {Role.REP, Role.COMMERCIAL}:
            territory_ids = frozenset(
                TerritoryAssignment.objects.current().filter(user=user).values_list("territory_id", flat=True)
            )
    scope = Scope(
        user_id=user.pk, company_wide=company_wide, org_paths=org_paths, territory_ids=territory_ids
    )
    user._visibility_scope = scope
    return scope


def forget_scope(user: Any) -> None:
    """Drop the cached scope (after roles or assignments change within one request or test)."""
    for attr in ("_visibility_scope", "_roles_cache"):
        if hasattr(user, attr):
            delattr(user, attr)


def _join(prefix: str, rest: str) -> str:
    return f"{prefix}__{rest}" if prefix else rest


@dataclass(frozen=True)
class Rule:
    """How a model's rows map onto a scope. Paths are ORM lookups from the model ("" = itself).

    `territory` may name several paths (a plan hangs off an institution or a professional): a row
    is visible when any of them is.
    """

    territory: str | tuple[str, ...] | None = None
    org_unit: str | None = None
    owner: str | None = None
    public: bool = False
    custom: Callable[[Scope], Q | None] | None = None

    def q(self, scope: Scope) -> Q | None:
        """The filter for a non-company-wide scope; None means 'nothing'."""
        if self.public:
            return Q()
        parts: list[Q] = []
        territories = (self.territory,) if isinstance(self.territory, str) else (self.territory or ())
        for lookup in territories:
            if scope.territory_ids:
                parts.append(Q(**{_join(lookup, "pk__in"): scope.territory_ids}))
            for path in scope.org_paths:
                parts.append(Q(**{_join(lookup, "org_unit__path__startswith"): path}))
        if self.org_unit is not None:
            for path in scope.org_paths:
                parts.append(Q(**{_join(self.org_unit, "path__startswith"): path}))
        if self.owner is not None and scope.user_id:
            parts.append(Q(**{_join(self.owner, "pk"): scope.user_id}))
            for path in scope.org_paths:
                parts.append(Q(**{_join(self.owner, "org_unit__path__startswith"): path}))
        if self.custom is not None:
            extra = self.custom(scope)
            if extra is not None:
                parts.append(extra)
        if not parts:
            return None
        combined = parts[0]
        for part in parts[1:]:
            combined |= part
        return combined


_registry: dict[type[models.Model], Rule] = {}


def register(
    model: type[models.Model],
    *,
    territory: str | tuple[str, ...] | None = None,
    org_unit: str | None = None,
    owner: str | None = None,
    public: bool = False,
    custom: Callable[[Scope], Q | None] | None = None,
) -> None:
    """Declare how `model` is scoped. Called from each app's AppConfig.ready()."""
    _registry[model] = Rule(territory=territory, org_unit=org_unit, owner=owner, public=public, custom=custom)


def registered_models() -> list[type[models.Model]]:
    return list(_registry)


def visible(model_or_qs: type[M] | models.QuerySet[M], *, user: Any) -> models.QuerySet[M]:
    """The rows of `model_or_qs` that `user` may see. Unregistered models are refused loudly."""
    qs = model_or_qs if isinstance(model_or_qs, models.QuerySet) else model_or_qs._default_manager.all()
    model = qs.model
    rule = _registry.get(model)
    if rule is None:
        raise LookupError(f"{model.__name__} has no visibility rule; register it in its AppConfig.ready()")
    scope = scope_for(user)
    if scope.user_id is None:
        return qs.none()
    if scope.company_wide:
        return qs
    q = rule.q(scope)
    if q is None:
        return qs.none()
    return qs.filter(q)


def get_visible_or_404(model_or_qs: type[M] | models.QuerySet[M], *, user: Any, **lookup: Any) -> M:
    try:
        return visible(model_or_qs, user=user).get(**lookup)
    except (models.ObjectDoesNotExist, ValueError, TypeError) as exc:
        raise Http404("not found") from exc


def can_see(obj: models.Model, *, user: Any) -> bool:
    return visible(type(obj), user=user).filter(pk=obj.pk).exists()
