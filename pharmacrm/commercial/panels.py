"""The listings panel of the institution page (registered with customers.profiles)."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _

from pharmacrm.commercial.models import Listing
from pharmacrm.commercial.services import LISTABLE_KINDS
from pharmacrm.core.visibility import visible
from pharmacrm.customers.models import Institution
from pharmacrm.customers.profiles import Panel
from pharmacrm.customers.services import may_edit


def listings_panel(institution: Institution, user: Any) -> Panel | None:
    if institution.kind not in LISTABLE_KINDS:
        return None
    listings = list(
        visible(Listing, user=user)
        .filter(institution=institution)
        .select_related("product", "owner")
        .order_by("product__generic_name")
    )
    return Panel(
        title=_("进院"),
        template="commercial/_institution_listings.html",
        context={"listings": listings, "institution": institution, "can_edit": may_edit(user)},
    )
