from django.urls import path

from pharmacrm.core.exports import views

app_name = "exports"

urlpatterns = [
    path("<slug:kind>.<str:fmt>", views.export_list, name="download"),
]
