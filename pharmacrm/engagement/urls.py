"""Engagement pages under /visits/: planning calendar, brief, care, team views, rules; visit pages join here too."""

from django.urls import URLPattern, URLResolver, path

from pharmacrm.engagement import (
    views_care,
    views_consent,
    views_planning,
    views_rules,
    views_team,
    views_today,
    views_visits,
)

app_name = "engagement"

urlpatterns: list[URLPattern | URLResolver] = []

# Planning: calendars, moving visits, generating and approving plans, ICS.
urlpatterns += [
    path("calendar/", views_planning.calendar_week, name="calendar_week"),
    path("calendar/month/", views_planning.calendar_month, name="calendar_month"),
    path("calendar/agenda/", views_planning.calendar_agenda, name="calendar_agenda"),
    path("calendar/<int:pk>/move/", views_planning.visit_move, name="visit_move"),
    path("calendar/plan.ics", views_planning.plan_ics, name="plan_ics"),
    path("plan/", views_planning.plan_one, name="plan_one"),
    path("plan/generate/", views_planning.plan_generate, name="plan_generate"),
    path("plan/<str:period>/resubmit/", views_planning.plan_resubmit, name="plan_resubmit"),
    path("plan/<int:rep_id>/<str:period>/decide/", views_planning.plan_decide, name="plan_decide"),
]

# The rep's day (the page itself is /today/, see pharmacrm/urls.py), the brief, care, the team, settings.
urlpatterns += [
    path("brief/<int:professional_id>/", views_today.brief, name="brief"),
    path("suggestions/<int:professional_id>/dismiss/", views_today.dismiss, name="dismiss"),
    path("contact/<int:professional_id>/<str:how>/", views_today.contact, name="contact"),
    path("care/", views_care.care_list, name="care"),
    path("care/<int:pk>/", views_care.care_done, name="care_done"),
    path("team/", views_team.team, name="team"),
    path("settings/", views_rules.settings_page, name="settings_home"),
    path("settings/<str:page>/", views_rules.settings_page, name="settings"),
]

# Visits: record (phone first), the visit with flags, amendments and coaching; commitments, callbacks, safety queue.
urlpatterns += [
    path("records/", views_visits.VisitListView.as_view(), name="visit_list"),
    path("record/", views_visits.visit_record, name="visit_record"),
    path("<int:pk>/", views_visits.VisitDetailView.as_view(), name="visit_detail"),
    path("<int:pk>/history/", views_visits.VisitHistoryView.as_view(), name="visit_history"),
    path("<int:pk>/edit/", views_visits.visit_edit, name="visit_edit"),
    path("<int:pk>/amend/", views_visits.visit_amend, name="visit_amend"),
    path("<int:pk>/coaching/", views_visits.visit_coaching, name="visit_coaching"),
    path("<int:pk>/cancel/", views_visits.visit_cancel, name="visit_cancel"),
    path("commitments/", views_visits.commitment_list, name="commitment_list"),
    path("commitments/<int:pk>/close/", views_visits.commitment_close, name="commitment_close"),
    path("callbacks/", views_visits.callback_list, name="callback_list"),
    path("callbacks/<int:pk>/complete/", views_visits.callback_complete, name="callback_complete"),
    path("safety/", views_visits.safety_queue, name="safety_queue"),
    path("safety/<int:pk>/triage/", views_visits.safety_triage, name="safety_triage"),
]

# The rep's own consent to record check-in location.
urlpatterns += [path("location-consent/", views_consent.location, name="location_consent")]
