"""URL map: pages, /api/v1/, /healthz, admin."""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from pharmacrm.api.api import api
from pharmacrm.core.views import healthz
from pharmacrm.engagement.views_today import today as engagement_today
from pharmacrm.web import views as web_views

handler404 = "pharmacrm.web.views.error_404"
handler403 = "pharmacrm.web.views.error_403"
handler500 = "pharmacrm.web.views.error_500"

urlpatterns = [
    path("", web_views.home, name="home"),
    path("healthz", healthz, name="healthz"),
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("account/password/", auth_views.PasswordChangeView.as_view(), name="password_change"),
    path("account/password/done/", auth_views.PasswordChangeDoneView.as_view(), name="password_change_done"),
    path("api/v1/", api.urls),
    path("customers/", include("pharmacrm.customers.urls")),
    path("commercial/", include("pharmacrm.commercial.urls")),
    path("channels/", include("pharmacrm.channels.urls")),
    path("flow/", include("pharmacrm.flow.urls")),
    path("compliance/", include("pharmacrm.compliance.urls")),
    path("imports/", include("pharmacrm.core.imports.urls")),
    path("exports/", include("pharmacrm.core.exports.urls")),
    path("visits/", include("pharmacrm.engagement.urls")),
    path("today/", engagement_today, name="today"),
    path("", include("pharmacrm.web.urls")),
    path("admin/", admin.site.urls),
]
