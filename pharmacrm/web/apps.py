"""Web: layout, navigation, home pages, account pages and shared static assets."""

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class WebConfig(AppConfig):
    name = "pharmacrm.web"
    label = "web"
    verbose_name = _("界面")
