from django.urls import path

from pharmacrm.compliance import views

app_name = "compliance"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("registrations/", views.registrations, name="registrations"),
    path("registrations/<int:user_id>/", views.registration_edit, name="registration_edit"),
    path("policy/", views.policy, name="policy"),
    path("policy/rules/<int:rule_id>/", views.rule_edit, name="rule_edit"),
    path("policy/sets/<int:set_id>/activate/", views.activate_set, name="activate_set"),
    path("access-log/", views.AccessLogView.as_view(), name="access_log"),
    path("events/", views.EventListView.as_view(), name="events"),
    path("requests/", views.requests, name="requests"),
    path("requests/<int:pk>/", views.request_detail, name="request_detail"),
]
