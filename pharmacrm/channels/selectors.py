"""Reads about channel partners, agreements, licences and reviews, all through the visibility scope."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import date

from pharmacrm.channels.models import Agreement


def agreement_regions(*, partner_ids: Iterable[int], on: date) -> dict[int, frozenset[str]]:
    """Division codes (province, city or county) of the agreements in force on `on`, per partner.

    In force = status active and `start <= on <= end`. A partner missing from the result has no
    agreement in force (or only agreements without regions, which services refuse), so nothing it
    sells is out of region (窜货). One query. System read (used by flow
    import and analysis), not scoped to a user: the callers scope their own rows.
    """
    ids = list(partner_ids)
    if not ids:
        return {}
    rows = Agreement.regions.through.objects.filter(
        agreement__partner_id__in=ids,
        agreement__status=Agreement.Status.ACTIVE,
        agreement__start__lte=on,
        agreement__end__gte=on,
    ).values_list("agreement__partner_id", "division_id")
    regions: dict[int, set[str]] = defaultdict(set)
    for partner_id, code in rows:
        regions[partner_id].add(code)
    return {partner_id: frozenset(codes) for partner_id, codes in regions.items()}
