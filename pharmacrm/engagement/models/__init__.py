"""Engagement models: configuration, visits, and what follows them."""

from pharmacrm.engagement.models.followups import Callback, CareReminder, Commitment, Dismissal, SafetySignal
from pharmacrm.engagement.models.planning import PlanDecision, PlanningPolicy
from pharmacrm.engagement.models.rules import (
    AdverseEventTerm,
    CareTemplate,
    FrequencyRule,
    LocationConsent,
    NextBestActionWeight,
    ReceptionRule,
)
from pharmacrm.engagement.models.visits import Channel, Coaching, Hospitality, Visit, VisitAmendment

__all__ = [
    "AdverseEventTerm",
    "Callback",
    "CareReminder",
    "CareTemplate",
    "Channel",
    "Coaching",
    "Commitment",
    "Dismissal",
    "FrequencyRule",
    "Hospitality",
    "LocationConsent",
    "NextBestActionWeight",
    "PlanDecision",
    "PlanningPolicy",
    "ReceptionRule",
    "SafetySignal",
    "Visit",
    "VisitAmendment",
]
