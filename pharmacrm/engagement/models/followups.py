"""What follows a visit: commitments kept, callbacks made, care on key dates, safety signals routed, suggestions dismissed."""

from __future__ import annotations

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from pharmacrm.core.audit import AuditedHistory
from pharmacrm.customers.models import KeyDate, Professional
from pharmacrm.engagement.models.visits import Visit


class Commitment(models.Model):
    """Something promised to a customer, with a due date; closing it records how it was kept."""

    class Status(models.TextChoices):
        OPEN = "open", _("待完成")
        DONE = "done", _("已兑现")
        CANCELLED = "cancelled", _("已取消")

    visit = models.ForeignKey(Visit, models.SET_NULL, null=True, blank=True, related_name="commitments")
    professional = models.ForeignKey(
        Professional, models.PROTECT, related_name="commitments", verbose_name=_("对象")
    )
    owner = models.ForeignKey(
        "core.User", models.PROTECT, related_name="commitments", verbose_name=_("负责人")
    )
    description = models.CharField(_("承诺事项"), max_length=300)
    due_on = models.DateField(_("截止日期"))
    status = models.CharField(_("状态"), max_length=16, choices=Status.choices, default=Status.OPEN)
    closed_on = models.DateField(_("完成日期"), null=True, blank=True)
    how_kept = models.CharField(_("兑现情况"), max_length=300, blank=True)
    reminded_at = models.DateTimeField(null=True, blank=True)
    escalated_at = models.DateTimeField(null=True, blank=True)
    escalated_to = models.ForeignKey(
        "core.User",
        models.SET_NULL,
        null=True,
        blank=True,
        related_name="escalated_commitments",
        verbose_name=_("已上报给"),
    )
    created_at = models.DateTimeField(auto_now_add=True)

    history = AuditedHistory(excluded_fields=["reminded_at"])

    class Meta:
        verbose_name = _("承诺事项")
        verbose_name_plural = _("承诺事项")
        ordering = ["status", "due_on"]
        indexes = [
            models.Index(fields=["owner", "status", "due_on"]),
            models.Index(fields=["professional", "status"]),
        ]
        constraints = [
            models.CheckConstraint(
                condition=~Q(status="done") | (Q(closed_on__isnull=False) & ~Q(how_kept="")),
                name="commitment_done_says_how",
            )
        ]

    def __str__(self) -> str:
        return self.description


class Callback(models.Model):
    """A service call back to a customer (回访) after a visit, event, case or first prescription, or on schedule."""

    class Reason(models.TextChoices):
        AFTER_VISIT = "after_visit", _("拜访后回访")
        AFTER_EVENT = "after_event", _("活动后回访")
        AFTER_CASE = "after_case", _("工单回访")
        FIRST_PRESCRIPTION = "first_prescription", _("首次处方后回访")
        SCHEDULED = "scheduled", _("定期回访")

    class Status(models.TextChoices):
        DUE = "due", _("待回访")
        DONE = "done", _("已回访")
        CANCELLED = "cancelled", _("已取消")

    professional = models.ForeignKey(
        Professional, models.PROTECT, related_name="callbacks", verbose_name=_("对象")
    )
    owner = models.ForeignKey("core.User", models.PROTECT, related_name="callbacks", verbose_name=_("负责人"))
    reason = models.CharField(_("原因"), max_length=24, choices=Reason.choices)
    source = models.CharField(_("来源"), max_length=64, blank=True, help_text=_("例如 visit:123"))
    due_on = models.DateField(_("应回访日期"))
    status = models.CharField(_("状态"), max_length=16, choices=Status.choices, default=Status.DUE)
    done_at = models.DateTimeField(_("回访时间"), null=True, blank=True)
    outcome = models.TextField(_("回访结果"), blank=True)
    satisfaction = models.PositiveSmallIntegerField(
        _("满意度（1-5）"), null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(5)]
    )

    history = AuditedHistory()

    class Meta:
        verbose_name = _("回访")
        verbose_name_plural = _("回访")
        ordering = ["status", "due_on"]
        indexes = [models.Index(fields=["owner", "status", "due_on"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(satisfaction__isnull=True) | Q(satisfaction__range=(1, 5)),
                name="callback_satisfaction_1_5",
            ),
            models.CheckConstraint(
                condition=~Q(status="done") | Q(done_at__isnull=False), name="callback_done_has_time"
            ),
            # A callback scheduled by a rule from a source (visit:12, listing:7) exists once per person.
            models.UniqueConstraint(
                fields=["professional", "reason", "source"],
                condition=~Q(source=""),
                name="callback_once_per_source",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_reason_display()} {self.due_on}"


class CareReminder(models.Model):
    """A reminder to greet a customer on a key date they shared or a holiday — greetings and academic value, never goods."""

    class Status(models.TextChoices):
        OPEN = "open", _("待关怀")
        SENT = "sent", _("已问候")
        DISMISSED = "dismissed", _("已忽略")

    professional = models.ForeignKey(
        Professional, models.CASCADE, related_name="care_reminders", verbose_name=_("对象")
    )
    owner = models.ForeignKey(
        "core.User", models.PROTECT, related_name="care_reminders", verbose_name=_("负责人")
    )
    occasion = models.CharField(_("场合"), max_length=32)
    key_date = models.ForeignKey(KeyDate, models.CASCADE, null=True, blank=True, related_name="reminders")
    due_on = models.DateField(_("日期"))
    status = models.CharField(_("状态"), max_length=16, choices=Status.choices, default=Status.OPEN)
    message = models.TextField(_("问候内容"), blank=True)
    done_at = models.DateTimeField(null=True, blank=True)

    history = AuditedHistory()

    class Meta:
        verbose_name = _("人文关怀提醒")
        verbose_name_plural = _("人文关怀提醒")
        ordering = ["due_on"]
        indexes = [models.Index(fields=["owner", "status", "due_on"])]
        constraints = [
            models.UniqueConstraint(
                fields=["professional", "occasion", "due_on"], name="care_once_per_occasion"
            )
        ]

    def __str__(self) -> str:
        return f"{self.occasion} {self.due_on}"


class SafetySignal(models.Model):
    """A visit whose notes or feedback mention adverse-event words, routed to the safety/service queue at once."""

    class Status(models.TextChoices):
        NEW = "new", _("待处理")
        TRIAGED = "triaged", _("已评估")
        REPORTED = "reported", _("已上报")
        NOT_AE = "not_ae", _("非不良事件")

    visit = models.ForeignKey(Visit, models.CASCADE, related_name="safety_signals")
    terms = models.CharField(_("命中关键词"), max_length=200)
    excerpt = models.TextField(_("原文摘录"))
    status = models.CharField(_("状态"), max_length=16, choices=Status.choices, default=Status.NEW)
    created_at = models.DateTimeField(_("上报时间"), auto_now_add=True)
    handled_by = models.ForeignKey("core.User", models.PROTECT, null=True, blank=True, related_name="+")
    handled_at = models.DateTimeField(null=True, blank=True)
    note = models.TextField(_("处理说明"), blank=True)

    history = AuditedHistory()

    class Meta:
        verbose_name = _("不良事件信号")
        verbose_name_plural = _("不良事件信号")
        ordering = ["status", "-created_at"]
        indexes = [models.Index(fields=["status", "created_at"])]

    def __str__(self) -> str:
        return f"{self.visit_id}: {self.terms}"


class Dismissal(models.Model):
    """A rep set a suggestion aside, with a reason; the ranking reads these."""

    user = models.ForeignKey("core.User", models.CASCADE, related_name="dismissals")
    professional = models.ForeignKey(Professional, models.CASCADE, related_name="+")
    reason = models.CharField(_("原因"), max_length=200)
    # The main reason the suggestion was shown (a NextBestActionWeight factor); repeated dismissals
    # of the same reason weigh it down for this professional.
    factor = models.CharField(_("推荐理由"), max_length=32, blank=True)
    until = models.DateField(_("暂不推荐至"))
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("推荐忽略")
        verbose_name_plural = _("推荐忽略")
        indexes = [models.Index(fields=["user", "until"])]

    def __str__(self) -> str:
        return f"{self.user_id} {self.professional_id} {self.until}"
