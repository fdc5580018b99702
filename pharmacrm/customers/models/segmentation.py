"""Configurable segmentation rules and each professional's stored, explained result per dimension."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from pharmacrm.core.audit import AuditedHistory
from pharmacrm.customers.models.core import Professional


class Dimension(models.TextChoices):
    TIER = "tier", _("客户分类")
    PRESCRIBING_POTENTIAL = "prescribing_potential", _("处方潜力")
    ENGAGEMENT_STAGE = "engagement_stage", _("合作阶段")


class SegmentationRule(models.Model):
    """“Department head at a grade-3 hospital with high potential → key.”

    `conditions` is a list of {"field": …, "op": …, "value": …} over the professional and their
    institution (see customers.segmentation for the fields and operators); all must hold. Rules
    of a dimension are tried by ascending priority; the first that matches decides.
    """

    name = models.CharField(_("名称"), max_length=100)
    dimension = models.CharField(_("维度"), max_length=32, choices=Dimension.choices, default=Dimension.TIER)
    priority = models.PositiveIntegerField(_("优先级"), default=100, help_text=_("数字越小越先匹配"))
    conditions = models.JSONField(_("条件"), default=list)
    result = models.CharField(_("结果"), max_length=32)
    is_active = models.BooleanField(_("启用"), default=True)

    history = AuditedHistory()

    class Meta:
        verbose_name = _("分类规则")
        verbose_name_plural = _("分类规则")
        ordering = ["dimension", "priority", "id"]

    def __str__(self) -> str:
        return self.name


class Segment(models.Model):
    """A professional's value on one dimension, with why: the rule and the inputs it saw, or a manual override."""

    professional = models.ForeignKey(Professional, models.CASCADE, related_name="segments")
    dimension = models.CharField(_("维度"), max_length=32, choices=Dimension.choices)
    computed_value = models.CharField(_("规则结果"), max_length=32)
    rule = models.ForeignKey(SegmentationRule, models.SET_NULL, null=True, blank=True, related_name="+")
    inputs = models.JSONField(_("输入"), default=dict)
    explanation = models.CharField(_("说明"), max_length=500, blank=True)
    computed_at = models.DateTimeField(_("计算时间"))
    override_value = models.CharField(_("人工调整结果"), max_length=32, blank=True)
    override_reason = models.CharField(_("调整原因"), max_length=300, blank=True)
    override_by = models.ForeignKey("core.User", models.PROTECT, null=True, blank=True, related_name="+")
    override_at = models.DateTimeField(_("调整时间"), null=True, blank=True)

    history = AuditedHistory()

    class Meta:
        verbose_name = _("客户分类结果")
        verbose_name_plural = _("客户分类结果")
        constraints = [
            models.UniqueConstraint(fields=["professional", "dimension"], name="segment_one_per_dimension"),
            models.CheckConstraint(
                condition=Q(override_value="") | ~Q(override_reason=""), name="segment_override_needs_reason"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.professional} {self.dimension}={self.value}"

    @property
    def value(self) -> str:
        return self.override_value or self.computed_value


class SegmentationRun(models.Model):
    """One recompute of every professional's segments, run in the background; the page polls its progress."""

    class Status(models.TextChoices):
        QUEUED = "queued", _("排队中")
        RUNNING = "running", _("计算中")
        DONE = "done", _("已完成")
        FAILED = "failed", _("失败")

    status = models.CharField(_("状态"), max_length=16, choices=Status.choices, default=Status.QUEUED)
    total = models.PositiveIntegerField(_("总数"), default=0)
    processed = models.PositiveIntegerField(_("已处理"), default=0)
    changed = models.PositiveIntegerField(_("分类有变化"), default=0)
    started_by = models.ForeignKey(
        "core.User", models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("发起人")
    )
    created_at = models.DateTimeField(_("发起时间"), auto_now_add=True)
    started_at = models.DateTimeField(_("开始时间"), null=True, blank=True)
    finished_at = models.DateTimeField(_("结束时间"), null=True, blank=True)
    error = models.CharField(_("错误"), max_length=500, blank=True)

    class Meta:
        verbose_name = _("重新分类任务")
        verbose_name_plural = _("重新分类任务")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"#{self.pk} {self.get_status_display()} {self.processed}/{self.total}"

    @property
    def percent(self) -> int:
        if self.status == self.Status.DONE:
            return 100
        return int(self.processed * 100 / self.total) if self.total else 0

    @property
    def is_finished(self) -> bool:
        return self.status in (self.Status.DONE, self.Status.FAILED)
