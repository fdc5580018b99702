"""Which territory each institution belonged to, and when: the history sales attribution reads."""

from __future__ import annotations

from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from pharmacrm.core.audit import AuditedHistory
from pharmacrm.core.models import Territory, User
from pharmacrm.customers.models.core import Institution


class InstitutionTerritoryPeriod(models.Model):
    """An institution's resolved territory from `valid_from` to `valid_to` (inclusive, like coverage).

    The resolved territory is the institution's own (`Institution.territory`), else the
    `TerritoryRule` of its city, else of its province. `valid_from` empty means since the
    beginning (the backfill, a new institution); `valid_to` empty means still in force. A gap
    between periods means no territory (a rule was removed). Written only by
    `customers.territory_history`, in the same transaction as whatever moved the institution.

    Periods of one institution never overlap. Beyond the constraints below, the database refuses
    an overlap itself: an exclusion constraint on PostgreSQL, triggers on SQLite (migration 0007).
    A later migration that rebuilds this table on SQLite (Django remakes a table to alter it) drops
    those triggers and must create them again; `test_the_database_refuses_overlapping_periods`
    fails if it does not.
    """

    institution = models.ForeignKey(
        Institution, models.CASCADE, related_name="territory_periods", verbose_name=_("机构")
    )
    territory = models.ForeignKey(
        Territory, models.PROTECT, related_name="institution_periods", verbose_name=_("辖区")
    )
    valid_from = models.DateField(_("开始日期"), null=True, blank=True, help_text=_("空 = 最初起"))
    valid_to = models.DateField(_("结束日期"), null=True, blank=True, help_text=_("空 = 至今"))
    recorded_by = models.ForeignKey(
        User, models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("记录人")
    )
    reason = models.CharField(_("原因"), max_length=200, blank=True)

    history = AuditedHistory()

    class Meta:
        verbose_name = _("辖区归属")
        verbose_name_plural = _("辖区归属")
        ordering = ["institution", F("valid_from").asc(nulls_first=True)]
        constraints = [
            models.CheckConstraint(
                condition=Q(valid_to__isnull=True)
                | Q(valid_from__isnull=True)
                | Q(valid_to__gte=F("valid_from")),
                name="institution_period_ends_after_start",
            ),
            # Also the index attribution reads periods by (institution, start) through.
            models.UniqueConstraint(
                fields=["institution", "valid_from"], name="institution_period_unique_start"
            ),
            models.UniqueConstraint(
                fields=["institution"], condition=Q(valid_to__isnull=True), name="institution_period_one_open"
            ),
            models.UniqueConstraint(
                fields=["institution"],
                condition=Q(valid_from__isnull=True),
                name="institution_period_one_first",
            ),
        ]

    def __str__(self) -> str:
        start = self.valid_from.isoformat() if self.valid_from else "…"
        end = self.valid_to.isoformat() if self.valid_to else "…"
        return f"{self.institution_id} → {self.territory_id} ({start}–{end})"
