"""How often each professional should be visited: the most specific FrequencyRule wins.

Specificity, highest first: tier + role + stage, tier + stage, tier + role, tier alone. A stage
rule beats a role rule because the stage says what the relationship needs now (a customer to win
back needs more visits whatever the role). With no rule for the tier, the rate is 0 (not planned).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from pharmacrm.engagement.models import FrequencyRule

ZERO = Decimal("0")
# Average days in a month, to turn a monthly rate into an interval between visits.
DAYS_PER_MONTH = Decimal("30.4")


@dataclass(frozen=True)
class Rate:
    visits_per_month: Decimal
    rule_id: int | None
    rule_label: str

    @property
    def interval_days(self) -> int | None:
        """Expected days between visits (None when the customer is not to be visited)."""
        if self.visits_per_month <= 0:
            return None
        return max(1, round(DAYS_PER_MONTH / self.visits_per_month))


class FrequencyTable:
    """The rules, loaded once (one query), answering for any number of professionals."""

    def __init__(self, rules: Iterable[FrequencyRule]):
        self._rules: dict[tuple[str, str, str], FrequencyRule] = {
            (r.tier, r.role, r.engagement_stage): r for r in rules
        }

    @classmethod
    def load(cls) -> FrequencyTable:
        return cls(FrequencyRule.objects.all())

    def rate(self, *, tier: str, role: str, stage: str) -> Rate:
        for key in ((tier, role, stage), (tier, "", stage), (tier, role, ""), (tier, "", "")):
            rule = self._rules.get(key)
            if rule is not None:
                return Rate(rule.visits_per_month, rule.pk, str(rule))
        return Rate(ZERO, None, "")

    def rate_for(self, professional: Any) -> Rate:
        return self.rate(tier=professional.tier, role=professional.role, stage=professional.engagement_stage)


def expected_visits_per_month(professional: Any, *, table: FrequencyTable | None = None) -> Decimal:
    """The visits per month the rules expect for `professional` (pass `table` when asking for many)."""
    return (table or FrequencyTable.load()).rate_for(professional).visits_per_month


def visits_in_slot(rate: Decimal, *, index: int, phase: float) -> int:
    """How many of a fractional rate's visits fall in the `index`-th period.

    Over consecutive periods the counts add up to the rate (1.5 a month gives 1, 2, 1, 2 …; 0.5
    gives a visit every other month). `phase` in [0, 1) staggers customers so that not everyone
    with 0.5 a month lands in the same month.
    """
    r = float(rate)
    if r <= 0:
        return 0
    return math.floor(r * (index + 1) + phase) - math.floor(r * index + phase)


def phase_of(key: int) -> float:
    """A stable value in [0, 1) spreading ids evenly (golden-ratio sequence)."""
    return (key * 0.6180339887498949) % 1.0
