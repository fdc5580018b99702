"""Visits: planned with an objective, recorded with what was discussed, checked in, coached, locked after 48 hours."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from pharmacrm.commercial.models import KeyMessage, Product
from pharmacrm.core.audit import AuditedHistory
from pharmacrm.customers.models import Institution, Professional

# A completed visit may be edited for this long; afterwards only by amendment.
EDIT_WINDOW = dt.timedelta(hours=48)


class Channel(models.TextChoices):
    IN_PERSON = "in_person", _("面对面")
    PHONE = "phone", _("电话")
    WECHAT = "wechat", _("微信")
    EMAIL = "email", _("邮件")
    ONLINE_MEETING = "online_meeting", _("线上会议")


class Visit(models.Model):
    class Status(models.TextChoices):
        PLANNED = "planned", _("已计划")
        COMPLETED = "completed", _("已完成")
        CANCELLED = "cancelled", _("已取消")

    class Approval(models.TextChoices):
        NOT_REQUIRED = "not_required", _("无需审批")
        PENDING = "pending", _("待审批")
        APPROVED = "approved", _("已批准")
        REJECTED = "rejected", _("已退回")

    owner = models.ForeignKey("core.User", models.PROTECT, related_name="visits", verbose_name=_("医药代表"))
    institution = models.ForeignKey(
        Institution, models.PROTECT, related_name="visits", verbose_name=_("机构")
    )
    professionals = models.ManyToManyField(
        Professional, related_name="visits", verbose_name=_("拜访对象"), blank=True
    )
    status = models.CharField(_("状态"), max_length=16, choices=Status.choices, default=Status.PLANNED)
    was_planned = models.BooleanField(_("计划内"), default=True)
    channel = models.CharField(
        _("拜访渠道"), max_length=16, choices=Channel.choices, default=Channel.IN_PERSON
    )
    objective = models.TextField(_("拜访目的"), blank=True)
    starts_at = models.DateTimeField(_("开始时间"))
    duration_minutes = models.PositiveSmallIntegerField(
        _("时长（分钟）"), default=30, validators=[MinValueValidator(1), MaxValueValidator(600)]
    )
    approval = models.CharField(
        _("审批"), max_length=16, choices=Approval.choices, default=Approval.NOT_REQUIRED
    )
    # The report, written after the visit.
    products = models.ManyToManyField(Product, related_name="visits", verbose_name=_("讨论产品"), blank=True)
    key_messages = models.ManyToManyField(
        KeyMessage, related_name="visits", verbose_name=_("传递的关键信息"), blank=True
    )
    feedback = models.TextField(_("客户反馈"), blank=True)
    notes = models.TextField(_("备注"), blank=True)
    next_step = models.CharField(_("下一步"), max_length=300, blank=True)
    materials_given = models.CharField(_("提供的资料/样品"), max_length=300, blank=True)
    completed_at = models.DateTimeField(_("记录时间"), null=True, blank=True)
    cancel_reason = models.CharField(_("取消原因"), max_length=200, blank=True)
    # Check-in: where and when the visit really happened (location only with the rep's consent).
    check_in_at = models.DateTimeField(_("签到时间"), null=True, blank=True)
    check_in_latitude = models.DecimalField(
        _("签到纬度"), max_digits=9, decimal_places=6, null=True, blank=True
    )
    check_in_longitude = models.DecimalField(
        _("签到经度"), max_digits=9, decimal_places=6, null=True, blank=True
    )
    check_in_distance_m = models.PositiveIntegerField(_("距机构（米）"), null=True, blank=True)
    # Flags compliance sees; the visit is written, the rep is told.
    flagged_distance = models.BooleanField(_("签到距离异常"), default=False)
    flagged_reception = models.BooleanField(_("不符合接待制度"), default=False)
    flagged_adverse_event = models.BooleanField(_("疑似不良事件"), default=False)
    # Why each flag was raised, in the words the rep was told: {"distance": "…", "reception": "…"}.
    flag_reasons = models.JSONField(_("标记原因"), default=dict, blank=True)
    co_visitor = models.ForeignKey(
        "core.User",
        models.PROTECT,
        null=True,
        blank=True,
        related_name="co_visits",
        verbose_name=_("协访经理"),
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    history = AuditedHistory(
        m2m_fields=[professionals, products, key_messages], excluded_fields=["updated_at"]
    )

    class Meta:
        verbose_name = _("拜访")
        verbose_name_plural = _("拜访")
        ordering = ["-starts_at", "-id"]
        indexes = [
            models.Index(fields=["owner", "starts_at"]),
            models.Index(fields=["institution", "starts_at"]),
            models.Index(fields=["status", "starts_at"]),
        ]
        constraints = [
            models.CheckConstraint(
                condition=~Q(status="completed") | Q(completed_at__isnull=False),
                name="visit_completed_has_time",
            ),
            models.CheckConstraint(
                condition=Q(check_in_latitude__isnull=True) | Q(check_in_at__isnull=False),
                name="visit_location_only_with_check_in",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.institution} {timezone.localtime(self.starts_at):%Y-%m-%d %H:%M}"

    def get_absolute_url(self) -> str:
        return reverse("engagement:visit_detail", args=[self.pk])

    @property
    def ends_at(self) -> dt.datetime:
        return self.starts_at + dt.timedelta(minutes=self.duration_minutes)

    def locked_on(self, now: dt.datetime) -> bool:
        return self.completed_at is not None and now > self.completed_at + EDIT_WINDOW


class VisitAmendment(models.Model):
    """A correction to a locked visit: what changed and why, by whom."""

    visit = models.ForeignKey(Visit, models.CASCADE, related_name="amendments")
    author = models.ForeignKey("core.User", models.PROTECT, related_name="+")
    reason = models.CharField(_("更正原因"), max_length=300)
    changes = models.JSONField(_("更正内容"))
    created_at = models.DateTimeField(_("时间"), auto_now_add=True)

    history = AuditedHistory()

    class Meta:
        verbose_name = _("拜访更正")
        verbose_name_plural = _("拜访更正")
        ordering = ["visit", "created_at"]
        constraints = [models.CheckConstraint(condition=~Q(reason=""), name="amendment_has_reason")]

    def __str__(self) -> str:
        return f"{self.visit_id}: {self.reason}"


class Coaching(models.Model):
    """The manager's coaching notes after a co-visit."""

    visit = models.OneToOneField(Visit, models.CASCADE, related_name="coaching")
    coach = models.ForeignKey("core.User", models.PROTECT, related_name="+", verbose_name=_("教练"))
    preparation = models.PositiveSmallIntegerField(
        _("拜访准备"), validators=[MinValueValidator(1), MaxValueValidator(5)]
    )
    messaging = models.PositiveSmallIntegerField(
        _("信息传递"), validators=[MinValueValidator(1), MaxValueValidator(5)]
    )
    listening = models.PositiveSmallIntegerField(
        _("倾听与提问"), validators=[MinValueValidator(1), MaxValueValidator(5)]
    )
    compliance = models.PositiveSmallIntegerField(
        _("合规"), validators=[MinValueValidator(1), MaxValueValidator(5)]
    )
    strengths = models.TextField(_("做得好的"), blank=True)
    improvements = models.TextField(_("待改进"), blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    history = AuditedHistory()

    class Meta:
        verbose_name = _("协访辅导")
        verbose_name_plural = _("协访辅导")
        constraints = [
            models.CheckConstraint(
                condition=Q(preparation__range=(1, 5))
                & Q(messaging__range=(1, 5))
                & Q(listening__range=(1, 5))
                & Q(compliance__range=(1, 5)),
                name="coaching_scores_1_to_5",
            )
        ]

    def __str__(self) -> str:
        return f"{self.visit_id} coaching"


class Hospitality(models.Model):
    """Anything of value given with a visit: a working meal, academic material, a greeting. Checked against the policy."""

    class Kind(models.TextChoices):
        MEAL = "meal", _("工作餐")
        ACADEMIC_MATERIAL = "academic_material", _("学术资料")
        GREETING = "greeting", _("问候/祝福")
        CASH = "cash", _("现金")
        CARD = "card", _("购物卡/礼品卡")
        GIFT = "gift", _("个人礼品")
        ENTERTAINMENT = "entertainment", _("娱乐活动")

    visit = models.ForeignKey(Visit, models.CASCADE, null=True, blank=True, related_name="hospitality")
    professional = models.ForeignKey(
        Professional, models.PROTECT, related_name="hospitality", verbose_name=_("医务人员")
    )
    kind = models.CharField(_("形式"), max_length=24, choices=Kind.choices)
    amount_per_person = models.DecimalField(
        _("人均金额（元）"),
        max_digits=10,
        decimal_places=2,
        default=Decimal("0"),
        validators=[MinValueValidator(Decimal("0"))],
    )
    attendees = models.PositiveSmallIntegerField(_("人数"), default=1)
    description = models.CharField(_("说明"), max_length=300, blank=True)
    recorded_by = models.ForeignKey("core.User", models.PROTECT, related_name="+")
    on = models.DateField(_("日期"))

    history = AuditedHistory()

    class Meta:
        verbose_name = _("招待与关怀记录")
        verbose_name_plural = _("招待与关怀记录")
        ordering = ["-on"]
        constraints = [
            models.CheckConstraint(
                condition=Q(amount_per_person__gte=0), name="hospitality_amount_non_negative"
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.amount_per_person}"
