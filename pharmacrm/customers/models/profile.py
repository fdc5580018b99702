"""The parts of a professional's profile that are lists: affiliations, key dates, needs; and what a complete profile needs."""

from __future__ import annotations

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from pharmacrm.core.audit import AuditedHistory
from pharmacrm.customers.models.core import Department, Institution, Professional


class Affiliation(models.Model):
    """Where a professional works or worked; one primary at a time (mirrored on Professional.institution)."""

    professional = models.ForeignKey(Professional, models.CASCADE, related_name="affiliations")
    institution = models.ForeignKey(
        Institution, models.PROTECT, related_name="affiliations", verbose_name=_("机构")
    )
    department = models.ForeignKey(
        Department, models.PROTECT, null=True, blank=True, related_name="affiliations", verbose_name=_("科室")
    )
    position = models.CharField(_("职务"), max_length=100, blank=True)
    is_primary = models.BooleanField(_("主要执业点"), default=False)
    valid_from = models.DateField(_("开始日期"), null=True, blank=True)
    valid_to = models.DateField(_("结束日期"), null=True, blank=True)

    history = AuditedHistory()

    class Meta:
        verbose_name = _("执业关系")
        verbose_name_plural = _("执业关系")
        ordering = ["-is_primary", "-valid_from"]
        constraints = [
            models.UniqueConstraint(
                fields=["professional"],
                condition=Q(is_primary=True, valid_to__isnull=True),
                name="affiliation_one_current_primary",
            ),
            models.CheckConstraint(
                condition=Q(valid_to__isnull=True)
                | Q(valid_from__isnull=True)
                | Q(valid_to__gte=models.F("valid_from")),
                name="affiliation_ends_after_start",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.professional} @ {self.institution}"


class KeyDate(models.Model):
    """A date the customer chose to share (birthday, work anniversary…); drives care reminders.

    The year is optional: many customers share the day, not their age.
    """

    class Kind(models.TextChoices):
        BIRTHDAY = "birthday", _("生日")
        WORK_ANNIVERSARY = "work_anniversary", _("从业纪念日")
        PROMOTION = "promotion", _("晋升")
        OTHER = "other", _("其他")

    professional = models.ForeignKey(Professional, models.CASCADE, related_name="key_dates")
    kind = models.CharField(_("类型"), max_length=24, choices=Kind.choices)
    label = models.CharField(_("说明"), max_length=100, blank=True)
    month = models.PositiveSmallIntegerField(
        _("月"), validators=[MinValueValidator(1), MaxValueValidator(12)]
    )
    day = models.PositiveSmallIntegerField(_("日"), validators=[MinValueValidator(1), MaxValueValidator(31)])
    year = models.PositiveSmallIntegerField(_("年"), null=True, blank=True)
    shared_by_customer = models.BooleanField(
        _("客户本人同意分享"), default=False, help_text=_("只记录客户本人愿意分享的日期")
    )

    history = AuditedHistory()

    class Meta:
        verbose_name = _("重要纪念日")
        verbose_name_plural = _("重要纪念日")
        ordering = ["month", "day"]
        indexes = [models.Index(fields=["month", "day"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(month__gte=1, month__lte=12) & Q(day__gte=1, day__lte=31),
                name="keydate_valid_day",
            ),
            models.CheckConstraint(condition=Q(shared_by_customer=True), name="keydate_shared_by_customer"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.month}-{self.day}"


class Need(models.Model):
    """A need found with the customer; `met = False` is an unmet need (未被满足的需求)."""

    class Kind(models.TextChoices):
        ACADEMIC = "academic", _("学术需求")
        CLINICAL = "clinical", _("临床需求")
        CAREER = "career", _("职业发展需求")
        MANAGEMENT = "management", _("科室管理需求")
        PERSONAL = "personal", _("个人偏好")

    class Status(models.TextChoices):
        OPEN = "open", _("待满足")
        IN_PROGRESS = "in_progress", _("跟进中")
        MET = "met", _("已满足")
        DROPPED = "dropped", _("已放弃")

    professional = models.ForeignKey(Professional, models.CASCADE, related_name="needs")
    kind = models.CharField(_("类型"), max_length=16, choices=Kind.choices)
    description = models.TextField(_("描述"))
    status = models.CharField(_("状态"), max_length=16, choices=Status.choices, default=Status.OPEN)
    met = models.BooleanField(_("已满足"), default=False)
    found_on = models.DateField(_("发现日期"))
    met_on = models.DateField(_("满足日期"), null=True, blank=True)
    created_by = models.ForeignKey("core.User", models.PROTECT, null=True, blank=True, related_name="+")

    history = AuditedHistory()

    class Meta:
        verbose_name = _("需求")
        verbose_name_plural = _("需求")
        ordering = ["met", "-found_on"]
        indexes = [models.Index(fields=["professional", "met"])]
        constraints = [
            models.CheckConstraint(
                condition=(Q(met=True) & Q(status="met")) | (Q(met=False) & ~Q(status="met")),
                name="need_met_matches_status",
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.description[:30]}"


class ProfileRequirement(models.Model):
    """A profile field that counts towards completeness for a professional role, and when it goes stale."""

    role = models.CharField(_("客户角色"), max_length=32, choices=Professional.Role.choices)
    field = models.CharField(_("字段"), max_length=64)
    weight = models.PositiveSmallIntegerField(_("权重"), default=1)
    stale_after_months = models.PositiveSmallIntegerField(_("多少个月未确认即过期"), default=12)

    history = AuditedHistory()

    class Meta:
        verbose_name = _("档案字段要求")
        verbose_name_plural = _("档案字段要求")
        ordering = ["role", "field"]
        constraints = [
            models.UniqueConstraint(fields=["role", "field"], name="profilerequirement_unique"),
            models.CheckConstraint(condition=Q(weight__gte=1), name="profilerequirement_weight_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.get_role_display()}: {self.field}"
