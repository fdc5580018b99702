from django.urls import path

from pharmacrm.commercial import views

app_name = "commercial"

urlpatterns = [
    path("listings/", views.ListingListView.as_view(), name="listing_list"),
    path("listings/new/", views.listing_create, name="listing_create"),
    path("listings/<int:pk>/", views.ListingDetailView.as_view(), name="listing_detail"),
    path("listings/<int:pk>/history/", views.ListingHistoryView.as_view(), name="listing_history"),
    path("listings/<int:pk>/move/", views.listing_move, name="listing_move"),
]
