"""Compliance: the policy engine and the records it needs (registrations, consents, access log, requests)."""

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ComplianceConfig(AppConfig):
    name = "pharmacrm.compliance"
    label = "compliance"
    verbose_name = _("合规")

    def ready(self) -> None:
        from pharmacrm.compliance import models as m
        from pharmacrm.core import visibility

        visibility.register(m.PolicySet, public=True)
        visibility.register(m.PolicyRule, public=True)
        visibility.register(m.RetentionRule, public=True)
        visibility.register(m.RepRegistration, owner="user")
        visibility.register(m.Consent, territory="professional__institution__territory")
        visibility.register(m.SensitiveAccess, owner="user")
        visibility.register(m.ComplianceEvent, owner="actor")
        # Subject requests are handled by company-wide roles (compliance, service) only.
        visibility.register(m.DataSubjectRequest, custom=lambda scope: None)
