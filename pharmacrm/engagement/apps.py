"""Engagement: visits, frequency rules, commitments, callbacks, care reminders and the rep's day."""

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class EngagementConfig(AppConfig):
    name = "pharmacrm.engagement"
    label = "engagement"
    verbose_name = _("客户维护")

    def ready(self) -> None:
        from pharmacrm.core import visibility
        from pharmacrm.engagement import models as m

        via_professional = "professional__institution__territory"
        for config in (m.FrequencyRule, m.AdverseEventTerm, m.CareTemplate, m.NextBestActionWeight):
            visibility.register(config, public=True)
        visibility.register(m.ReceptionRule, territory="institution__territory")
        visibility.register(m.Visit, territory="institution__territory", owner="owner")
        visibility.register(m.VisitAmendment, territory="visit__institution__territory", owner="visit__owner")
        visibility.register(m.Coaching, territory="visit__institution__territory", owner="visit__owner")
        visibility.register(m.Hospitality, territory=via_professional, owner="recorded_by")
        visibility.register(m.Commitment, territory=via_professional, owner="owner")
        visibility.register(m.Callback, territory=via_professional, owner="owner")
        visibility.register(m.CareReminder, territory=via_professional, owner="owner")
        visibility.register(m.SafetySignal, territory="visit__institution__territory", owner="visit__owner")
        visibility.register(m.Dismissal, owner="user")
        visibility.register(m.LocationConsent, owner="user")
        visibility.register(m.PlanningPolicy, public=True)
        visibility.register(m.PlanDecision, owner="rep")

        from pharmacrm.engagement import care

        care.register_timeline()

        from pharmacrm.engagement import visit_timeline

        visit_timeline.register()

        from pharmacrm.core import schedule
        from pharmacrm.engagement import tasks

        schedule.register(
            "engagement.commitments",
            at="01:10",
            job=tasks.remind_commitments,
            description="Commitment reminders before due, escalation to the manager when overdue",
        )
        schedule.register(
            "engagement.callbacks",
            at="01:15",
            job=tasks.schedule_callbacks,
            description="Callbacks owed after first purchases",
        )
        schedule.register(
            "engagement.care",
            at="01:20",
            job=tasks.generate_care_reminders_task,
            description="Care reminders for shared key dates and Chinese holidays in the coming week",
        )
