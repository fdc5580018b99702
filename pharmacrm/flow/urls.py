"""Flow pages under /flow/."""

from django.urls import path

from pharmacrm.flow import views

app_name = "flow"

urlpatterns = [
    path("", views.FileListView.as_view(), name="file_list"),
    path("files/<int:pk>/", views.FileDetailView.as_view(), name="file_detail"),
    path("files/<int:pk>/history/", views.FileHistoryView.as_view(), name="file_history"),
    path("upload/", views.upload, name="upload"),
    path("jobs/<int:pk>/", views.job_detail, name="job_detail"),
    path("jobs/<int:pk>/mapping/", views.job_mapping, name="job_mapping"),
    path("jobs/<int:pk>/import/", views.job_confirm, name="job_confirm"),
    path("unmatched/", views.unmatched, name="unmatched"),
    path("templates/", views.template_list, name="template_list"),
    path("closes/", views.closes, name="closes"),
    path("autocomplete/skus", views.autocomplete_skus, name="autocomplete_skus"),
]
