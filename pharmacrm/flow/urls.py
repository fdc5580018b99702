"""Flow pages under /flow/."""

from django.urls import path

from pharmacrm.flow import views

app_name = "flow"

urlpatterns = [
    path("", views.FileListView.as_view(), name="file_list"),
    path("files/<int:pk>/", views.FileDetailView.as_view(), name="file_detail"),
    path("files/<int:pk>/history/", views.FileHistoryView.as_view(), name="file_history"),
    path("upload/", views.upload, name="upload"),
    path("upload/<str:token>/mapping/", views.mapping, name="mapping"),
    path("upload/<str:token>/import/", views.confirm, name="confirm"),
    path("unmatched/", views.unmatched, name="unmatched"),
    path("templates/", views.template_list, name="template_list"),
    path("closes/", views.closes, name="closes"),
    path("autocomplete/skus", views.autocomplete_skus, name="autocomplete_skus"),
]
