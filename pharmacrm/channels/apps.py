"""Channels: distributors and retail chains as channel partners, their agreements and reviews.

Split from commercial (products, prices) because partners have their own life: agreements,
contacts, licences and a quarterly review. Flow data (the `flow` app) builds on both.
"""

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ChannelsConfig(AppConfig):
    name = "pharmacrm.channels"
    label = "channels"
    verbose_name = _("渠道")

    def ready(self) -> None:
        from pharmacrm.channels import models as m
        from pharmacrm.core import visibility

        # Commercial staff see the partners they manage and those in the territories they cover;
        # managers their subtree; company-wide roles all. Everything hanging off a partner follows it.
        visibility.register(
            m.ChannelPartner, territory="institution__territory", org_unit="org_unit", owner="manager"
        )
        for model in (m.PartnerContact, m.Licence, m.Agreement, m.ChannelReview):
            visibility.register(
                model,
                territory="partner__institution__territory",
                org_unit="partner__org_unit",
                owner="partner__manager",
            )
        visibility.register(
            m.LicenceAlert,
            territory="licence__partner__institution__territory",
            org_unit="licence__partner__org_unit",
            owner="licence__partner__manager",
        )
        # Scorecards are configuration every channel user reads; editing is role-restricted.
        visibility.register(m.Scorecard, public=True)

        from pharmacrm.channels import scoring

        scoring.register_builtin_metrics()

        from pharmacrm.channels import tasks
        from pharmacrm.core import schedule

        schedule.register(
            "channels.licence_alerts",
            at="01:40",
            job=tasks.record_licence_alerts_task,
            description="Channel partners' licences expiring within 60 days",
        )
