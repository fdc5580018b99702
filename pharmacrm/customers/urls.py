from django.urls import path

from pharmacrm.customers import merge_views, plan_views, privacy_views, rule_views, search_views, views

app_name = "customers"

urlpatterns = [
    path("institutions/", views.InstitutionListView.as_view(), name="institution_list"),
    path("institutions/<int:pk>/", views.InstitutionDetailView.as_view(), name="institution_detail"),
    path(
        "institutions/<int:pk>/history/", views.InstitutionHistoryView.as_view(), name="institution_history"
    ),
    path("professionals/", views.ProfessionalListView.as_view(), name="professional_list"),
    path("professionals/<int:pk>/", views.ProfessionalDetailView.as_view(), name="professional_detail"),
    path(
        "professionals/<int:pk>/history/",
        views.ProfessionalHistoryView.as_view(),
        name="professional_history",
    ),
    path("professionals/<int:pk>/consents/", privacy_views.consents, name="professional_consents"),
    path(
        "professionals/<int:pk>/consents/<int:consent_id>/withdraw/",
        privacy_views.withdraw_consent,
        name="professional_consent_withdraw",
    ),
    path(
        "privacy/requests/<int:pk>/fulfil/",
        privacy_views.fulfil_subject_request,
        name="subject_request_fulfil",
    ),
    path(
        "privacy/requests/<int:pk>/download/",
        privacy_views.download_subject_export,
        name="subject_request_download",
    ),
    path(
        "autocomplete/professionals",
        search_views.autocomplete_professionals,
        name="autocomplete_professionals",
    ),
    path(
        "autocomplete/institutions", search_views.autocomplete_institutions, name="autocomplete_institutions"
    ),
]

# Master data, the profile and its parts, the "to fill" list, plans and segmentation rules.
urlpatterns += [
    path("institutions/new/", views.institution_create, name="institution_create"),
    path("institutions/<int:pk>/edit/", views.institution_edit, name="institution_edit"),
    path("institutions/<int:pk>/move/", views.institution_move, name="institution_move"),
    path("institutions/<int:pk>/departments/new/", views.department_create, name="department_create"),
    path("departments/<int:pk>/edit/", views.department_edit, name="department_edit"),
    path("professionals/new/", views.professional_create, name="professional_create"),
    path("professionals/<int:pk>/edit/", views.professional_edit, name="professional_edit"),
    path("professionals/<int:pk>/confirm/", views.profile_confirm, name="profile_confirm"),
    path("professionals/<int:pk>/needs/new/", views.need_create, name="need_create"),
    path("needs/<int:pk>/status/", views.need_status, name="need_status"),
    path("professionals/<int:pk>/key-dates/new/", views.key_date_create, name="key_date_create"),
    path("key-dates/<int:pk>/delete/", views.key_date_delete, name="key_date_delete"),
    path("professionals/<int:pk>/affiliations/new/", views.affiliation_create, name="affiliation_create"),
    path("affiliations/<int:pk>/end/", views.affiliation_end, name="affiliation_end"),
    path(
        "professionals/<int:pk>/segments/<str:dimension>/override/",
        views.segment_override,
        name="segment_override",
    ),
    path("to-fill/", views.to_fill, name="to_fill"),
    path("plans/", plan_views.PlanListView.as_view(), name="plan_list"),
    path("plans/new/", plan_views.plan_create, name="plan_create"),
    path("plans/<int:pk>/", plan_views.PlanDetailView.as_view(), name="plan_detail"),
    path("plans/<int:pk>/history/", plan_views.PlanHistoryView.as_view(), name="plan_history"),
    path("plans/<int:pk>/edit/", plan_views.plan_edit, name="plan_edit"),
    path("plans/<int:pk>/steps/new/", plan_views.step_create, name="step_create"),
    path("steps/<int:pk>/toggle/", plan_views.step_toggle, name="step_toggle"),
    path("segmentation/rules/", rule_views.rule_list, name="rule_list"),
    path("segmentation/rules/new/", rule_views.rule_edit, name="rule_create"),
    path("segmentation/rules/<int:pk>/edit/", rule_views.rule_edit, name="rule_edit"),
    path("segmentation/rules/<int:pk>/toggle/", rule_views.rule_toggle, name="rule_toggle"),
    path("segmentation/recompute/", rule_views.recompute, name="recompute"),
    path("segmentation/runs/<int:pk>/", rule_views.run_progress, name="run_progress"),
]

# Likely duplicates and merging two records.
urlpatterns += [
    path("duplicates/", merge_views.duplicates, name="duplicates"),
    path(
        "duplicates/<str:kind>/<int:survivor_pk>/<int:merged_pk>/merge/",
        merge_views.merge_records,
        name="merge",
    ),
]
