"""Customer development plans: goals with steps, owner and dates, for an institution or a professional."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from pharmacrm.core.audit import AuditedHistory
from pharmacrm.customers.models.core import Institution, Professional


class DevelopmentPlan(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", _("草稿")
        ACTIVE = "active", _("进行中")
        DONE = "done", _("已完成")
        CANCELLED = "cancelled", _("已取消")

    title = models.CharField(_("目标"), max_length=200)
    description = models.TextField(_("说明"), blank=True)
    institution = models.ForeignKey(
        Institution, models.CASCADE, null=True, blank=True, related_name="plans", verbose_name=_("机构")
    )
    professional = models.ForeignKey(
        Professional, models.CASCADE, null=True, blank=True, related_name="plans", verbose_name=_("医务人员")
    )
    owner = models.ForeignKey(
        "core.User", models.PROTECT, related_name="development_plans", verbose_name=_("负责人")
    )
    status = models.CharField(_("状态"), max_length=16, choices=Status.choices, default=Status.ACTIVE)
    due_on = models.DateField(_("截止日期"), null=True, blank=True)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)

    history = AuditedHistory()

    class Meta:
        verbose_name = _("客户开发计划")
        verbose_name_plural = _("客户开发计划")
        ordering = ["due_on", "id"]
        indexes = [models.Index(fields=["owner", "status"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(institution__isnull=False) | Q(professional__isnull=False),
                name="plan_has_a_subject",
            )
        ]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("customers:plan_detail", args=[self.pk])

    @property
    def subject(self) -> Institution | Professional:
        return self.professional if self.professional_id else self.institution  # type: ignore[return-value]


class DevelopmentStep(models.Model):
    plan = models.ForeignKey(DevelopmentPlan, models.CASCADE, related_name="steps")
    title = models.CharField(_("步骤"), max_length=200)
    due_on = models.DateField(_("截止日期"), null=True, blank=True)
    done_on = models.DateField(_("完成日期"), null=True, blank=True)
    position = models.PositiveSmallIntegerField(default=0)

    history = AuditedHistory()

    class Meta:
        verbose_name = _("计划步骤")
        verbose_name_plural = _("计划步骤")
        ordering = ["plan", "position", "id"]

    def __str__(self) -> str:
        return self.title
