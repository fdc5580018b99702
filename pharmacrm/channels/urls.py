from django.urls import path

from pharmacrm.channels import views

app_name = "channels"

urlpatterns = [
    path("", views.home, name="home"),
    path("partners/", views.PartnerListView.as_view(), name="partner_list"),
    path("partners/new/", views.partner_create, name="partner_create"),
    path("partners/<int:pk>/", views.PartnerDetailView.as_view(), name="partner_detail"),
    path("partners/<int:pk>/history/", views.PartnerHistoryView.as_view(), name="partner_history"),
    path("partners/<int:pk>/edit/", views.partner_edit, name="partner_edit"),
    path("partners/<int:partner_pk>/contacts/new/", views.contact_edit, name="contact_create"),
    path("partners/<int:partner_pk>/contacts/<int:pk>/", views.contact_edit, name="contact_edit"),
    path("partners/<int:partner_pk>/contacts/<int:pk>/delete/", views.contact_delete, name="contact_delete"),
    path("partners/<int:partner_pk>/licences/new/", views.licence_edit, name="licence_create"),
    path("partners/<int:partner_pk>/licences/<int:pk>/", views.licence_edit, name="licence_edit"),
    path("partners/<int:partner_pk>/agreements/new/", views.agreement_create, name="agreement_create"),
    path("licences/", views.LicenceListView.as_view(), name="licence_list"),
    path("alerts/<int:pk>/acknowledge/", views.alert_acknowledge, name="alert_acknowledge"),
    path("agreements/", views.AgreementListView.as_view(), name="agreement_list"),
    path("agreements/<int:pk>/", views.AgreementDetailView.as_view(), name="agreement_detail"),
    path("agreements/<int:pk>/history/", views.AgreementHistoryView.as_view(), name="agreement_history"),
    path("agreements/<int:pk>/edit/", views.agreement_edit, name="agreement_edit"),
    path("scorecards/", views.scorecard_list, name="scorecard_list"),
    path("scorecards/new/", views.scorecard_edit, name="scorecard_create"),
    path("scorecards/<int:pk>/", views.scorecard_edit, name="scorecard_detail"),
    path("reviews/", views.ReviewListView.as_view(), name="review_list"),
    path("reviews/new/", views.review_create, name="review_create"),
    path("reviews/<int:pk>/", views.ReviewDetailView.as_view(), name="review_detail"),
    path("reviews/<int:pk>/history/", views.ReviewHistoryView.as_view(), name="review_history"),
    path("reviews/<int:pk>/save/", views.review_save, name="review_save"),
    path("reviews/<int:pk>/actions/", views.review_action_add, name="review_action_add"),
    path("reviews/<int:pk>/decide/", views.review_decide, name="review_decide"),
]
