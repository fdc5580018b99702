from django.urls import path

from pharmacrm.core.imports import views

app_name = "imports"

urlpatterns = [
    path("", views.import_home, name="home"),
    path("<int:pk>/", views.job_detail, name="job_detail"),
    path("<int:pk>/status/", views.job_status, name="job_status"),
    path("<int:pk>/confirm/", views.job_confirm, name="job_confirm"),
    path("templates/<slug:kind>.<str:fmt>", views.template_download, name="template"),
]
