"""Compliance records: policy sets and their rules, rep registrations, consents, sensitive-data access, subject requests."""

from __future__ import annotations

import datetime as dt

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from pharmacrm.core.audit import AuditedHistory


class PolicySet(models.Model):
    """The rules in force for one jurisdiction. Exactly one set is active at a time."""

    code = models.CharField(_("编码"), max_length=32, unique=True)
    name = models.CharField(_("名称"), max_length=100)
    jurisdiction = models.CharField(_("适用法域"), max_length=64)
    description = models.TextField(_("说明"), blank=True)
    is_active = models.BooleanField(_("当前生效"), default=False)

    history = AuditedHistory()

    class Meta:
        verbose_name = _("合规政策集")
        verbose_name_plural = _("合规政策集")
        ordering = ["code"]
        constraints = [
            models.UniqueConstraint(
                fields=["is_active"], condition=Q(is_active=True), name="policyset_one_active"
            )
        ]

    def __str__(self) -> str:
        return self.name


class PolicyRule(models.Model):
    """One named rule switched on in a set, with its parameters (see compliance.rules for the catalogue)."""

    policy_set = models.ForeignKey(PolicySet, models.CASCADE, related_name="rules")
    code = models.CharField(_("规则"), max_length=64)
    params = models.JSONField(_("参数"), default=dict, blank=True)
    enabled = models.BooleanField(_("启用"), default=True)

    history = AuditedHistory()

    class Meta:
        verbose_name = _("合规规则")
        verbose_name_plural = _("合规规则")
        ordering = ["policy_set", "code"]
        constraints = [models.UniqueConstraint(fields=["policy_set", "code"], name="policyrule_once_per_set")]

    def __str__(self) -> str:
        return self.code


class RepRegistration(models.Model):
    """A 医药代表's filing on the national platform (《医药代表备案管理办法（试行）》)."""

    class Status(models.TextChoices):
        FILED = "filed", _("已备案")
        PENDING = "pending", _("备案中")
        EXPIRED = "expired", _("已过期")
        REVOKED = "revoked", _("已注销")

    user = models.ForeignKey(
        "core.User", models.PROTECT, related_name="rep_registrations", verbose_name=_("医药代表")
    )
    number = models.CharField(_("备案号"), max_length=64, blank=True)
    status = models.CharField(_("状态"), max_length=16, choices=Status.choices, default=Status.PENDING)
    filed_on = models.DateField(_("备案日期"), null=True, blank=True)
    expires_on = models.DateField(_("有效期至"), null=True, blank=True)
    notes = models.CharField(_("备注"), max_length=300, blank=True)

    history = AuditedHistory()

    class Meta:
        verbose_name = _("医药代表备案")
        verbose_name_plural = _("医药代表备案")
        ordering = ["user", "-filed_on"]
        indexes = [models.Index(fields=["user", "status"]), models.Index(fields=["expires_on"])]
        constraints = [
            models.CheckConstraint(
                condition=~Q(status="filed") | (Q(filed_on__isnull=False) & ~Q(number="")),
                name="reg_filed_has_number_and_date",
            ),
            models.CheckConstraint(
                condition=Q(expires_on__isnull=True)
                | Q(filed_on__isnull=True)
                | Q(expires_on__gt=models.F("filed_on")),
                name="reg_expires_after_filing",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} · {self.get_status_display()}"

    def is_valid_on(self, day: dt.date) -> bool:
        return (
            self.status == self.Status.FILED
            and self.filed_on is not None
            and self.filed_on <= day
            and (self.expires_on is None or self.expires_on >= day)
        )


class Purpose(models.TextChoices):
    """What a professional's personal information is processed for (PIPL Art. 6, 13)."""

    CONTACT = "contact", _("学术沟通与拜访")
    MATERIALS = "materials", _("学术资料推送")
    EVENTS = "events", _("学术活动邀请")
    SURVEYS = "surveys", _("满意度调查")
    PROFILE = "profile", _("建立客户档案")


class ContactChannel(models.TextChoices):
    IN_PERSON = "in_person", _("面对面")
    PHONE = "phone", _("电话")
    WECHAT = "wechat", _("微信")
    EMAIL = "email", _("邮件")
    ONLINE_MEETING = "online_meeting", _("线上会议")
    ANY = "any", _("全部渠道")


class Consent(models.Model):
    """A professional's consent for one purpose over one channel: given with date, scope and source; withdrawn at once."""

    class Source(models.TextChoices):
        PAPER = "paper", _("纸质签署")
        ELECTRONIC = "electronic", _("电子签署")
        VERBAL = "verbal", _("口头同意（有记录）")
        WECHAT = "wechat", _("微信确认")
        EVENT_SIGNUP = "event_signup", _("活动报名")

    professional = models.ForeignKey(
        "customers.Professional", models.CASCADE, related_name="consents", verbose_name=_("医务人员")
    )
    purpose = models.CharField(_("目的"), max_length=16, choices=Purpose.choices)
    channel = models.CharField(_("渠道"), max_length=16, choices=ContactChannel.choices)
    source = models.CharField(_("来源"), max_length=16, choices=Source.choices)
    scope = models.CharField(_("范围说明"), max_length=300, blank=True)
    evidence = models.CharField(_("凭证编号/位置"), max_length=200, blank=True)
    given_on = models.DateField(_("同意日期"))
    withdrawn_at = models.DateTimeField(_("撤回时间"), null=True, blank=True)
    recorded_by = models.ForeignKey("core.User", models.PROTECT, related_name="+", verbose_name=_("记录人"))

    history = AuditedHistory()

    class Meta:
        verbose_name = _("个人信息同意")
        verbose_name_plural = _("个人信息同意")
        ordering = ["professional", "purpose", "channel", "-given_on"]
        indexes = [models.Index(fields=["professional", "purpose", "channel"])]
        constraints = [
            models.UniqueConstraint(
                fields=["professional", "purpose", "channel"],
                condition=Q(withdrawn_at__isnull=True),
                name="consent_one_live_per_purpose_channel",
            )
        ]

    def __str__(self) -> str:
        return f"{self.professional_id} {self.purpose}/{self.channel}"

    @property
    def is_live(self) -> bool:
        return self.withdrawn_at is None


class SensitiveAccess(models.Model):
    """Every view or export of a sensitive field (phone, WeChat, personal notes, key dates) — PIPL least access."""

    class Kind(models.TextChoices):
        VIEW = "view", _("查看")
        EXPORT = "export", _("导出")
        API = "api", _("接口读取")

    user = models.ForeignKey("core.User", models.PROTECT, related_name="+", verbose_name=_("访问人"))
    kind = models.CharField(_("方式"), max_length=8, choices=Kind.choices)
    model = models.CharField(_("对象类型"), max_length=64)
    object_id = models.CharField(_("对象"), max_length=64, blank=True)
    fields = models.CharField(_("字段"), max_length=300)
    rows = models.PositiveIntegerField(_("行数"), default=1)
    at = models.DateTimeField(_("时间"), default=timezone.now, db_index=True)
    ip = models.GenericIPAddressField(null=True, blank=True)

    class Meta:
        verbose_name = _("敏感信息访问记录")
        verbose_name_plural = _("敏感信息访问记录")
        ordering = ["-at"]
        indexes = [models.Index(fields=["user", "at"]), models.Index(fields=["model", "object_id"])]

    def __str__(self) -> str:
        return f"{self.user_id} {self.kind} {self.model}:{self.object_id}"


class DataSubjectRequest(models.Model):
    """A professional's request to see, copy, correct or erase their data (PIPL Art. 44–47)."""

    class Kind(models.TextChoices):
        ACCESS = "access", _("查阅")
        EXPORT = "export", _("复制/导出")
        CORRECTION = "correction", _("更正")
        ERASURE = "erasure", _("删除")

    class Status(models.TextChoices):
        RECEIVED = "received", _("已受理")
        VERIFIED = "verified", _("身份已核验")
        COMPLETED = "completed", _("已完成")
        REFUSED = "refused", _("已拒绝")

    professional = models.ForeignKey(
        "customers.Professional",
        models.SET_NULL,
        null=True,
        blank=True,
        related_name="subject_requests",
        verbose_name=_("医务人员"),
    )
    subject_name = models.CharField(_("申请人姓名"), max_length=64)
    kind = models.CharField(_("类型"), max_length=16, choices=Kind.choices)
    status = models.CharField(_("状态"), max_length=16, choices=Status.choices, default=Status.RECEIVED)
    channel = models.CharField(_("受理渠道"), max_length=64, blank=True)
    received_on = models.DateField(_("受理日期"))
    due_on = models.DateField(_("答复期限"))
    verified_by = models.ForeignKey("core.User", models.PROTECT, null=True, blank=True, related_name="+")
    verification_note = models.CharField(_("核验说明"), max_length=300, blank=True)
    completed_at = models.DateTimeField(_("完成时间"), null=True, blank=True)
    outcome = models.TextField(_("处理结果"), blank=True)
    export_file = models.FileField(_("导出文件"), upload_to="dsr/", blank=True)
    created_by = models.ForeignKey("core.User", models.PROTECT, related_name="+", verbose_name=_("受理人"))

    history = AuditedHistory()

    class Meta:
        verbose_name = _("个人信息权利请求")
        verbose_name_plural = _("个人信息权利请求")
        ordering = ["status", "due_on"]
        constraints = [
            models.CheckConstraint(
                condition=Q(due_on__gte=models.F("received_on")), name="dsr_due_after_received"
            )
        ]

    def __str__(self) -> str:
        return f"{self.subject_name} · {self.get_kind_display()}"


class RetentionRule(models.Model):
    """Delete or clear a kind of personal data N months after the last interaction; run as a scheduled task."""

    class Target(models.TextChoices):
        PERSONAL_NOTES = "personal_notes", _("个人备注")
        CONTACT_DETAILS = "contact_details", _("联系方式（离职人员）")
        ACCESS_LOG = "access_log", _("敏感信息访问记录")

    target = models.CharField(_("数据"), max_length=32, choices=Target.choices, unique=True)
    months = models.PositiveSmallIntegerField(_("保留月数"))
    enabled = models.BooleanField(_("启用"), default=True)

    history = AuditedHistory()

    class Meta:
        verbose_name = _("保留规则")
        verbose_name_plural = _("保留规则")
        ordering = ["target"]
        constraints = [models.CheckConstraint(condition=Q(months__gte=1), name="retention_at_least_a_month")]

    def __str__(self) -> str:
        return f"{self.get_target_display()} {self.months}"


class ComplianceEvent(models.Model):
    """A refusal or a flag the compliance officer should see (refused gift, visit outside reception rules…)."""

    class Kind(models.TextChoices):
        REFUSED = "refused", _("已拒绝")
        FLAGGED = "flagged", _("已标记")

    kind = models.CharField(_("类型"), max_length=8, choices=Kind.choices)
    action = models.CharField(_("操作"), max_length=32)
    rule = models.CharField(_("规则"), max_length=64)
    message = models.CharField(_("说明"), max_length=500)
    actor = models.ForeignKey(
        "core.User", models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("人员")
    )
    subject = models.CharField(_("对象"), max_length=100, blank=True)
    at = models.DateTimeField(_("时间"), default=timezone.now, db_index=True)

    class Meta:
        verbose_name = _("合规事件")
        verbose_name_plural = _("合规事件")
        ordering = ["-at"]
        indexes = [models.Index(fields=["rule", "at"]), models.Index(fields=["actor", "at"])]

    def __str__(self) -> str:
        return f"{self.rule} {self.at:%Y-%m-%d}"
