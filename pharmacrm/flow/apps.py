"""Flow data (流向): distributors' sell-through files, matched to customers and products, attributed to reps."""

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class FlowConfig(AppConfig):
    name = "pharmacrm.flow"
    label = "flow"
    verbose_name = _("流向数据")
