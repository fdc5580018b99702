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
        from pharmacrm.channels.models import ChannelPartner
        from pharmacrm.core import visibility

        # Commercial staff see the partners they manage and those in the territories they cover;
        # managers their subtree; company-wide roles all.
        visibility.register(
            ChannelPartner, territory="institution__territory", org_unit="org_unit", owner="manager"
        )
