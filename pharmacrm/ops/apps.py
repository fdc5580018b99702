"""Ops: the demo data generator and the benchmarks runner (top layer: may use every app)."""

from django.apps import AppConfig


class OpsConfig(AppConfig):
    name = "pharmacrm.ops"
    label = "ops"
    verbose_name = "Ops"
