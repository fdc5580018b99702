"""API: django-ninja routers at /api/v1/, calling services and selectors only."""

from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "pharmacrm.api"
    label = "api"
    verbose_name = "API"
