"""Customers: institutions, departments, professionals and their profiles."""

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CustomersConfig(AppConfig):
    name = "pharmacrm.customers"
    label = "customers"
    verbose_name = _("客户")

    def ready(self) -> None:
        from pharmacrm.core import visibility
        from pharmacrm.customers import models as m

        through_professional = "professional__institution__territory"
        visibility.register(m.Institution, territory="territory")
        visibility.register(m.Department, territory="institution__territory")
        visibility.register(m.Professional, territory="institution__territory")
        # Who may see an institution today sees its whole territory history (visibility follows the
        # current territory; only attribution reads the history).
        visibility.register(m.InstitutionTerritoryPeriod, territory="institution__territory")
        visibility.register(m.Affiliation, territory=(through_professional, "institution__territory"))
        visibility.register(m.KeyDate, territory=through_professional)
        visibility.register(m.Need, territory=through_professional)
        visibility.register(m.Segment, territory=through_professional)
        visibility.register(
            m.DevelopmentPlan, territory=("institution__territory", through_professional), owner="owner"
        )
        visibility.register(
            m.DevelopmentStep, territory=("plan__institution__territory", "plan__" + through_professional)
        )
        visibility.register(m.SegmentationRule, public=True)
        visibility.register(m.ProfileRequirement, public=True)
        visibility.register(m.SegmentationRun, owner="started_by")

        from pharmacrm.core import schedule
        from pharmacrm.customers import tasks

        schedule.register(
            "customers.retention",
            at="01:30",
            job=tasks.apply_retention,
            description="PIPL retention rules: clear personal data past its period",
        )
        schedule.register(
            "customers.profile_quality",
            at="02:00",
            job=tasks.refresh_profile_quality,
            description="Profile completeness and staleness (staleness moves with the calendar)",
        )
