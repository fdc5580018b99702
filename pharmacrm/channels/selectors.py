"""Reads about channel partners, agreements, licences and reviews, all through the visibility scope."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import date, timedelta
from typing import Any

from django.db.models import F, QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from pharmacrm.channels.models import Agreement, ChannelPartner, ChannelReview, Licence, LicenceAlert
from pharmacrm.core.visibility import visible


def agreement_regions(*, partner_ids: Iterable[int], on: date) -> dict[int, frozenset[str]]:
    """Division codes (province, city or county) of the agreements in force on `on`, per partner.

    In force = signed (status active, or ended: an agreement that has since ended still governed
    the days of its period; drafts never count) and `start <= on <= end`. A partner missing from
    the result has no agreement in force (or only agreements without regions, which services
    refuse), so nothing it sells is out of region (窜货). One query. System read (used by flow
    import and analysis), not scoped to a user: the callers scope their own rows.
    """
    ids = list(partner_ids)
    if not ids:
        return {}
    rows = Agreement.regions.through.objects.filter(
        agreement__partner_id__in=ids,
        agreement__status__in=(Agreement.Status.ACTIVE, Agreement.Status.ENDED),
        agreement__start__lte=on,
        agreement__end__gte=on,
    ).values_list("agreement__partner_id", "division_id")
    regions: dict[int, set[str]] = defaultdict(set)
    for partner_id, code in rows:
        regions[partner_id].add(code)
    return {partner_id: frozenset(codes) for partner_id, codes in regions.items()}


def visible_partners(*, user: Any) -> QuerySet[ChannelPartner]:
    return visible(ChannelPartner.objects.select_related("institution", "org_unit", "manager"), user=user)


def expiring_licences(*, user: Any, within_days: int = 60, on: date | None = None) -> QuerySet[Licence]:
    """Licences of the user's active partners that expire within `within_days` (or have expired), soonest first."""
    day = on or timezone.localdate()
    return (
        visible(Licence, user=user)
        .filter(
            expires_on__lte=day + timedelta(days=within_days), partner__status=ChannelPartner.Status.ACTIVE
        )
        .select_related("partner__institution")
        .order_by("expires_on", "id")
    )


def open_licence_alerts(*, user: Any) -> QuerySet[LicenceAlert]:
    """Alerts the daily task recorded and nobody has acknowledged yet, for licences not since renewed."""
    return (
        visible(LicenceAlert, user=user)
        .filter(acknowledged_at__isnull=True, licence__expires_on=F("expires_on"))
        .select_related("licence__partner__institution")
        .order_by("expires_on", "id")
    )


def reviews_to_approve(*, user: Any) -> QuerySet[ChannelReview]:
    return (
        visible(ChannelReview, user=user)
        .filter(status=ChannelReview.Status.SUBMITTED)
        .exclude(reviewer=user)
        .select_related("partner__institution", "reviewer")
    )


def review_history(*, partner: ChannelPartner, user: Any) -> list[ChannelReview]:
    """The partner's reviews, oldest first (for the score-over-quarters chart)."""
    return list(visible(ChannelReview, user=user).filter(partner=partner).order_by("year", "quarter"))


def review_chart(reviews: list[ChannelReview]) -> dict[str, Any] | None:
    """An ECharts line option: total score per quarter (approved reviews solid, others marked)."""
    scored = [r for r in reviews if r.total_score is not None]
    if not scored:
        return None
    return {
        "grid": {"left": 40, "right": 16, "top": 24, "bottom": 32},
        "tooltip": {"trigger": "axis"},
        "xAxis": {"type": "category", "data": [r.period_label for r in scored]},
        "yAxis": {"type": "value", "min": 0, "max": 100},
        "series": [
            {
                "name": str(_("总分")),
                "type": "line",
                "data": [
                    {
                        "value": float(r.total_score or 0),
                        "symbol": "circle" if r.status == ChannelReview.Status.APPROVED else "emptyCircle",
                    }
                    for r in scored
                ],
                "label": {"show": True},
            }
        ],
    }
