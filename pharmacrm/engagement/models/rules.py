"""What the company configures for engagement: visit frequency, hospital reception rules, adverse-event words, care templates, ranking weights."""

from __future__ import annotations

from decimal import Decimal

from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from pharmacrm.core.audit import AuditedHistory
from pharmacrm.customers.models import Institution, Professional


class FrequencyRule(models.Model):
    """Visits per month for a tier, optionally narrowed by the professional's role and engagement stage.

    The most specific matching rule wins (role and stage set beat blanks).
    """

    tier = models.CharField(_("客户分类"), max_length=16, choices=Professional.Tier.choices)
    role = models.CharField(_("客户角色"), max_length=32, choices=Professional.Role.choices, blank=True)
    engagement_stage = models.CharField(
        _("合作阶段"), max_length=16, choices=Professional.Stage.choices, blank=True
    )
    visits_per_month = models.DecimalField(
        _("每月拜访次数"), max_digits=4, decimal_places=1, validators=[MinValueValidator(Decimal("0"))]
    )

    history = AuditedHistory()

    class Meta:
        verbose_name = _("拜访频率规则")
        verbose_name_plural = _("拜访频率规则")
        ordering = ["tier", "role", "engagement_stage"]
        constraints = [
            models.UniqueConstraint(fields=["tier", "role", "engagement_stage"], name="frequencyrule_unique"),
            models.CheckConstraint(condition=Q(visits_per_month__gte=0), name="frequencyrule_non_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.get_tier_display()} {self.role or '*'} {self.engagement_stage or '*'}: {self.visits_per_month}"


class ReceptionRule(models.Model):
    """When, where and with whom an institution receives reps (接待制度, e.g. Fujian's 三定两有)."""

    institution = models.ForeignKey(
        Institution, models.CASCADE, related_name="reception_rules", verbose_name=_("机构")
    )
    weekdays = models.CharField(
        _("接待日"), max_length=20, help_text=_("ISO 星期，逗号分隔：1=周一 … 7=周日")
    )
    start_time = models.TimeField(_("开始时间"))
    end_time = models.TimeField(_("结束时间"))
    place = models.CharField(_("接待地点"), max_length=200, blank=True)
    contact = models.CharField(_("接待人"), max_length=100, blank=True)
    appointment_required = models.BooleanField(_("须预约"), default=True)
    restricted_areas = models.CharField(
        _("禁止进入区域"), max_length=300, blank=True, help_text=_("例如：门诊、病房、药房、信息科")
    )

    history = AuditedHistory()

    class Meta:
        verbose_name = _("接待制度")
        verbose_name_plural = _("接待制度")
        ordering = ["institution"]
        constraints = [
            models.CheckConstraint(
                condition=Q(end_time__gt=models.F("start_time")), name="reception_ends_after_start"
            )
        ]

    def __str__(self) -> str:
        return f"{self.institution}: {self.weekdays} {self.start_time:%H:%M}-{self.end_time:%H:%M}"

    def day_numbers(self) -> set[int]:
        return {int(d) for d in self.weekdays.split(",") if d.strip().isdigit()}


class AdverseEventTerm(models.Model):
    """A word that, found in a visit's notes or feedback, routes it to the safety queue."""

    term = models.CharField(_("关键词"), max_length=32, unique=True)
    is_active = models.BooleanField(_("启用"), default=True)

    history = AuditedHistory()

    class Meta:
        verbose_name = _("不良事件关键词")
        verbose_name_plural = _("不良事件关键词")
        ordering = ["term"]

    def __str__(self) -> str:
        return self.term


class CareTemplate(models.Model):
    """A suggested non-material greeting for an occasion (birthday, 医师节 …)."""

    occasion = models.CharField(_("场合"), max_length=32)
    text = models.TextField(_("内容"))

    history = AuditedHistory()

    class Meta:
        verbose_name = _("关怀模板")
        verbose_name_plural = _("关怀模板")
        ordering = ["occasion", "id"]

    def __str__(self) -> str:
        return self.occasion


class NextBestActionWeight(models.Model):
    """How much each reason counts in the rep's ranked 'whom to see today' list."""

    factor = models.CharField(_("因素"), max_length=32, unique=True)
    weight = models.DecimalField(
        _("权重"), max_digits=5, decimal_places=2, validators=[MinValueValidator(Decimal("0"))]
    )

    history = AuditedHistory()

    class Meta:
        verbose_name = _("推荐权重")
        verbose_name_plural = _("推荐权重")
        ordering = ["factor"]
        constraints = [models.CheckConstraint(condition=Q(weight__gte=0), name="nba_weight_non_negative")]

    def __str__(self) -> str:
        return f"{self.factor}={self.weight}"


class LocationConsent(models.Model):
    """A rep's separate consent to capture precise check-in location (PIPL Art. 28–29: sensitive personal information)."""

    user = models.ForeignKey("core.User", models.CASCADE, related_name="location_consents")
    given_at = models.DateTimeField(_("同意时间"))
    withdrawn_at = models.DateTimeField(_("撤回时间"), null=True, blank=True)

    history = AuditedHistory()

    class Meta:
        verbose_name = _("位置信息同意")
        verbose_name_plural = _("位置信息同意")
        ordering = ["-given_at"]

    def __str__(self) -> str:
        return f"{self.user_id} {self.given_at:%Y-%m-%d}"


__all__ = [
    "AdverseEventTerm",
    "CareTemplate",
    "FrequencyRule",
    "LocationConsent",
    "NextBestActionWeight",
    "ReceptionRule",
]
