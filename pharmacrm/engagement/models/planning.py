"""Visit planning: which org units want their reps' plans approved, and the managers' decisions on them."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from pharmacrm.core.audit import AuditedHistory
from pharmacrm.core.models import OrgUnit


class PlanningPolicy(models.Model):
    """Whether generated visit plans need a manager's approval. The nearest org unit up the tree that has one decides."""

    org_unit = models.OneToOneField(
        OrgUnit, models.CASCADE, related_name="planning_policy", verbose_name=_("组织单元")
    )
    approval_required = models.BooleanField(_("计划须经理审批"), default=False)

    history = AuditedHistory()

    class Meta:
        verbose_name = _("拜访计划审批设置")
        verbose_name_plural = _("拜访计划审批设置")
        ordering = ["org_unit__path"]

    def __str__(self) -> str:
        return f"{self.org_unit}: {'审批' if self.approval_required else '免审批'}"


class PlanDecision(models.Model):
    """A manager approved a rep's plan for a period, or returned it with a reason."""

    class Decision(models.TextChoices):
        APPROVED = "approved", _("已批准")
        RETURNED = "returned", _("已退回")

    rep = models.ForeignKey(
        "core.User", models.PROTECT, related_name="plan_decisions", verbose_name=_("医药代表")
    )
    period_start = models.DateField(_("开始日期"))
    period_end = models.DateField(_("结束日期"))
    decision = models.CharField(_("结果"), max_length=16, choices=Decision.choices)
    reason = models.CharField(_("说明"), max_length=300, blank=True)
    visit_count = models.PositiveIntegerField(_("拜访数"), default=0)
    decided_by = models.ForeignKey("core.User", models.PROTECT, related_name="+", verbose_name=_("审批人"))
    decided_at = models.DateTimeField(_("审批时间"), auto_now_add=True)

    history = AuditedHistory()

    class Meta:
        verbose_name = _("拜访计划审批")
        verbose_name_plural = _("拜访计划审批")
        ordering = ["-decided_at", "-id"]
        indexes = [models.Index(fields=["rep", "period_start"])]
        constraints = [
            models.CheckConstraint(
                condition=~Q(decision="returned") | ~Q(reason=""), name="plandecision_returned_has_reason"
            ),
            models.CheckConstraint(
                condition=Q(period_end__gte=models.F("period_start")), name="plandecision_period_order"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.rep} {self.period_start}–{self.period_end}: {self.get_decision_display()}"
