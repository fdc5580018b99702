"""Commercial: products, hospital listings, prices, channel partners, flow data and targets."""

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CommercialConfig(AppConfig):
    name = "pharmacrm.commercial"
    label = "commercial"
    verbose_name = _("商务")

    def ready(self) -> None:
        from pharmacrm.commercial.models import (
            CompetitorProduct,
            KeyMessage,
            Listing,
            MarketData,
            PricePolicy,
            Product,
            Promotion,
            Sku,
            Tender,
            TenderCommitment,
            TherapeuticArea,
        )
        from pharmacrm.commercial.scoping import commercial_data_scope
        from pharmacrm.core import visibility

        visibility.register(TherapeuticArea, public=True)
        visibility.register(Product, public=True)
        visibility.register(KeyMessage, public=True)
        visibility.register(Sku, public=True)
        visibility.register(Listing, territory="institution__territory", owner="owner")
        visibility.register(CompetitorProduct, public=True)
        # Prices, tenders, promotions and market figures: company-wide roles, managers and
        # commercial staff; a rep sees none of them (RULES_CN §1: a rep holds no sales task).
        for model in (PricePolicy, Tender, TenderCommitment, Promotion, MarketData):
            visibility.register(model, custom=commercial_data_scope)

        from pharmacrm.commercial.panels import listings_panel
        from pharmacrm.commercial.timeline import listing_events
        from pharmacrm.customers import profiles, timeline

        # Listings show on the institution page and in a professional's timeline without
        # customers importing commercial.
        profiles.register_institution_panel("listings", listings_panel)
        timeline.register("listings", listing_events)
