"""Listing changes at a professional's institution, as a source of the customers timeline."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.utils.translation import gettext as _

from pharmacrm.commercial.models import Listing
from pharmacrm.core.visibility import visible
from pharmacrm.customers.models import Professional
from pharmacrm.customers.timeline import Event


def listing_events(professional: Professional, user: Any, limit: int) -> Iterable[Event]:
    """A line per listing opened and per stage change at the professional's primary institution."""
    listings = {
        listing.pk: listing
        for listing in visible(Listing, user=user)
        .filter(institution_id=professional.institution_id)
        .select_related("product")[:limit]
    }
    if not listings:
        return
    history: Any = Listing.history
    records = list(
        history.filter(id__in=list(listings))
        .select_related("history_user")
        .order_by("id", "history_date", "history_id")[: limit * 4]
    )
    previous_stage: dict[int, str] = {}
    for record in records:
        listing = listings[record.id]
        before = previous_stage.get(record.id)
        previous_stage[record.id] = record.stage
        if record.history_type == "+":
            title = _("开始进院：{product}").format(product=listing.product)
        elif before is not None and before != record.stage:
            title = _("进院阶段：{product} → {stage}").format(
                product=listing.product, stage=Listing.Stage(record.stage).label
            )
        else:
            continue
        yield Event(
            record.history_date,
            "listing",
            title,
            detail=record.history_change_reason or "",
            actor=str(record.history_user) if record.history_user else "",
            url=listing.get_absolute_url(),
            icon="capsule",
        )
