from django.urls import path

from pharmacrm.commercial import pricing_views, product_views, views

app_name = "commercial"

urlpatterns = [
    path("listings/", views.ListingListView.as_view(), name="listing_list"),
    path("listings/new/", views.listing_create, name="listing_create"),
    path("listings/<int:pk>/", views.ListingDetailView.as_view(), name="listing_detail"),
    path("listings/<int:pk>/history/", views.ListingHistoryView.as_view(), name="listing_history"),
    path("listings/<int:pk>/move/", views.listing_move, name="listing_move"),
    # Products, SKUs, key messages, competitor products
    path("products/", product_views.ProductListView.as_view(), name="product_list"),
    path("products/new/", product_views.product_create, name="product_create"),
    path("products/<int:pk>/", product_views.ProductDetailView.as_view(), name="product_detail"),
    path("products/<int:pk>/edit/", product_views.product_edit, name="product_edit"),
    path("products/<int:pk>/history/", product_views.ProductHistoryView.as_view(), name="product_history"),
    path("products/<int:pk>/key-messages/new/", product_views.key_message_add, name="key_message_add"),
    path("skus/", product_views.SkuListView.as_view(), name="sku_list"),
    path("skus/new/", product_views.sku_create, name="sku_create"),
    path("skus/<int:pk>/edit/", product_views.sku_edit, name="sku_edit"),
    path("competitors/", product_views.CompetitorListView.as_view(), name="competitor_list"),
    path("competitors/new/", product_views.competitor_create, name="competitor_create"),
    path("competitors/<int:pk>/edit/", product_views.competitor_edit, name="competitor_edit"),
    # Price policies
    path("prices/", pricing_views.PriceListView.as_view(), name="price_list"),
    path("prices/new/", pricing_views.price_create, name="price_create"),
    path("prices/in-force/", pricing_views.price_lookup, name="price_lookup"),
    path("prices/<int:pk>/", pricing_views.PriceDetailView.as_view(), name="price_detail"),
    path("prices/<int:pk>/history/", pricing_views.PriceHistoryView.as_view(), name="price_history"),
    path("prices/<int:pk>/end/", pricing_views.price_end, name="price_end"),
    # Tenders (带量采购)
    path("tenders/", pricing_views.TenderListView.as_view(), name="tender_list"),
    path("tenders/new/", pricing_views.tender_create, name="tender_create"),
    path("tenders/<int:pk>/", pricing_views.TenderDetailView.as_view(), name="tender_detail"),
    path("tenders/<int:pk>/history/", pricing_views.TenderHistoryView.as_view(), name="tender_history"),
    path("tenders/<int:pk>/edit/", pricing_views.tender_edit, name="tender_edit"),
    path("tenders/<int:pk>/commitments/new/", pricing_views.commitment_add, name="commitment_add"),
    # Promotions
    path("promotions/", pricing_views.PromotionListView.as_view(), name="promotion_list"),
    path("promotions/new/", pricing_views.promotion_create, name="promotion_create"),
    path("promotions/<int:pk>/", pricing_views.PromotionDetailView.as_view(), name="promotion_detail"),
    path(
        "promotions/<int:pk>/history/", pricing_views.PromotionHistoryView.as_view(), name="promotion_history"
    ),
    path("promotions/<int:pk>/edit/", pricing_views.promotion_edit, name="promotion_edit"),
    # Market data and share
    path("market/", pricing_views.MarketListView.as_view(), name="market_list"),
    path("market/share/", pricing_views.market_share, name="market_share"),
]
