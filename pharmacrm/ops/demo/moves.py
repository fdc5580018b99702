"""A few demo customers moved to another territory mid-way, so territory history and attribution show it.

Called by the flow demo before its files load: each move is backdated to the first day of the
middle month through `customers.services.move_institution` (as an admin would record it), so the
import attributes the earlier months to the old territory and rep and the later ones to the new.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterable

from pharmacrm.core.models import Territory, TerritoryAssignment, User
from pharmacrm.customers import services
from pharmacrm.customers.models import Institution

MOVES = 3
REASON = "演示：区域调整，自该月起划入本组另一辖区"


def move_customers(
    *, customers: Iterable[tuple[int, str]], effective: dt.date, operator: User, seed: int
) -> list[int]:
    """Move up to MOVES of the distributors' customers to another covered territory of the same team.

    `customers` are (institution id, the distributor's province): only customers in their
    distributor's own province are candidates (the few elsewhere are picked at random, per run).
    """
    rng = random.Random(f"{seed}:moves")
    covered = set(
        TerritoryAssignment.objects.filter(
            kind=TerritoryAssignment.Kind.PRIMARY, valid_to__isnull=True
        ).values_list("territory_id", flat=True)
    )
    territories = list(Territory.objects.filter(pk__in=covered).order_by("code"))
    by_team: dict[int, list[Territory]] = {}
    for territory in territories:
        by_team.setdefault(territory.org_unit_id, []).append(territory)
    pairs = set(customers)
    candidates = [
        institution
        for institution in Institution.objects.filter(
            pk__in={pk for pk, _p in pairs}, territory__in=territories
        )
        .exclude(kind=Institution.Kind.DISTRIBUTOR)
        .select_related("territory")
        .order_by("external_id")
        if (institution.pk, institution.province_id) in pairs
    ]
    rng.shuffle(candidates)
    moved: list[int] = []
    for institution in candidates:
        assert institution.territory is not None
        others = [
            t for t in by_team.get(institution.territory.org_unit_id, []) if t.pk != institution.territory_id
        ]
        if not others:
            continue
        result = services.move_institution(
            actor=operator,
            institution=institution,
            territory=rng.choice(others),
            effective=effective,
            reason=REASON,
        )
        if result.moved:
            moved.append(institution.pk)
        if len(moved) == MOVES:
            break
    return moved
