"""Flow data (流向): distributors' sell-through files, matched to customers and products, attributed to reps."""

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class FlowConfig(AppConfig):
    name = "pharmacrm.flow"
    label = "flow"
    verbose_name = _("流向数据")

    def ready(self) -> None:
        from pharmacrm.core import visibility
        from pharmacrm.flow.models import (
            CustomerAlias,
            FlowFile,
            FlowPeriodClose,
            FlowRecord,
            FlowTemplate,
            InventoryRecord,
            ProductAlias,
        )
        from pharmacrm.flow.scoping import flow_file_scope, flow_record_scope

        # Reps see no flow data at all (RULES_CN §1: a rep holds no sales task); managers their
        # subtree; commercial staff the distributors they manage or the territories they cover.
        visibility.register(FlowRecord, custom=flow_record_scope)
        visibility.register(FlowFile, custom=flow_file_scope)
        visibility.register(InventoryRecord, custom=flow_file_scope)
        visibility.register(FlowPeriodClose, custom=flow_file_scope)
        visibility.register(FlowTemplate, custom=flow_file_scope)
        # Aliases are master-data mappings (names of institutions, not sales): staff who may
        # see flow may see them; the pages that show them are limited to flow roles.
        visibility.register(CustomerAlias, public=True)
        visibility.register(ProductAlias, public=True)

        # Attribution (C2): corrected coverage history, and institutions moved to another territory,
        # re-attribute sales in the background.
        from pharmacrm.core.services import on_coverage_change
        from pharmacrm.customers.territory_history import on_institution_move
        from pharmacrm.flow.tasks import queue_institution_reattribution, queue_reattribution

        on_coverage_change(queue_reattribution)
        on_institution_move(queue_institution_reattribution)

        # Sales figures for commercial and channels (contracts §1) and scorecard metrics (§2).
        from pharmacrm.commercial.sales import register_sales_source
        from pharmacrm.flow.sales import flow_sales_totals

        register_sales_source(flow_sales_totals)
        from pharmacrm.flow import metrics

        metrics.register()
