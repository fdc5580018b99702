"""Channel partners (distributors, retail chains): contacts, licences, agreements and quarterly reviews."""

from __future__ import annotations

from decimal import Decimal

from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from pharmacrm.core.audit import AuditedHistory


class ChannelPartner(models.Model):
    """A distributor or retail chain the company sells through; the institution holds its profile."""

    class Kind(models.TextChoices):
        DISTRIBUTOR = "distributor", _("经销商")
        RETAIL_CHAIN = "retail_chain", _("连锁药店")

    class Status(models.TextChoices):
        ACTIVE = "active", _("合作中")
        SUSPENDED = "suspended", _("暂停")
        TERMINATED = "terminated", _("已终止")

    institution = models.OneToOneField(
        "customers.Institution", models.PROTECT, related_name="channel_partner", verbose_name=_("机构")
    )
    code = models.CharField(_("渠道编码"), max_length=32, unique=True)
    kind = models.CharField(_("类型"), max_length=16, choices=Kind.choices, default=Kind.DISTRIBUTOR)
    status = models.CharField(_("状态"), max_length=16, choices=Status.choices, default=Status.ACTIVE)
    org_unit = models.ForeignKey(
        "core.OrgUnit", models.PROTECT, related_name="channel_partners", verbose_name=_("负责组织")
    )
    manager = models.ForeignKey(
        "core.User",
        models.PROTECT,
        related_name="managed_channel_partners",
        verbose_name=_("渠道负责人"),
        null=True,
        blank=True,
    )

    history = AuditedHistory()

    class Meta:
        verbose_name = _("渠道伙伴")
        verbose_name_plural = _("渠道伙伴")
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.code} {self.institution.name}"

    def get_absolute_url(self) -> str:
        return reverse("channels:partner_detail", args=[self.pk])


class PartnerContact(models.Model):
    """A business contact at a partner (purchasing, finance, quality…); phone and email are masked for some roles."""

    class Role(models.TextChoices):
        LEGAL_REPRESENTATIVE = "legal_representative", _("法定代表人")
        GENERAL_MANAGER = "general_manager", _("总经理")
        PURCHASING = "purchasing", _("采购")
        SALES = "sales", _("销售")
        FINANCE = "finance", _("财务")
        LOGISTICS = "logistics", _("储运")
        QUALITY = "quality", _("质量负责人")
        FLOW_DATA = "flow_data", _("流向数据")
        OTHER = "other", _("其他")

    partner = models.ForeignKey(
        ChannelPartner, models.CASCADE, related_name="contacts", verbose_name=_("渠道伙伴")
    )
    name = models.CharField(_("姓名"), max_length=64)
    role = models.CharField(_("职责"), max_length=24, choices=Role.choices, default=Role.OTHER)
    title = models.CharField(_("职务"), max_length=64, blank=True)
    phone = models.CharField(_("电话"), max_length=32, blank=True)
    email = models.EmailField(_("邮箱"), blank=True)
    is_primary = models.BooleanField(_("主要联系人"), default=False)
    notes = models.CharField(_("备注"), max_length=200, blank=True)

    history = AuditedHistory()

    class Meta:
        verbose_name = _("渠道联系人")
        verbose_name_plural = _("渠道联系人")
        ordering = ["partner", "-is_primary", "name"]

    def __str__(self) -> str:
        return f"{self.name}（{self.get_role_display()}）"


class Licence(models.Model):
    """A partner's licence or certificate (药品经营许可证, GSP…) with its validity, watched for expiry."""

    class Kind(models.TextChoices):
        DRUG_TRADING = "drug_trading", _("药品经营许可证")
        GSP = "gsp", _("GSP证书")
        BUSINESS = "business", _("营业执照")
        MEDICAL_DEVICE = "medical_device", _("医疗器械经营许可证")
        OTHER = "other", _("其他")

    partner = models.ForeignKey(
        ChannelPartner, models.CASCADE, related_name="licences", verbose_name=_("渠道伙伴")
    )
    kind = models.CharField(_("证照类型"), max_length=24, choices=Kind.choices)
    number = models.CharField(_("证号"), max_length=64)
    issued_on = models.DateField(_("发证日期"))
    expires_on = models.DateField(_("有效期至"))
    notes = models.CharField(_("备注"), max_length=200, blank=True)

    history = AuditedHistory()

    class Meta:
        verbose_name = _("证照")
        verbose_name_plural = _("证照")
        ordering = ["expires_on", "id"]
        indexes = [models.Index(fields=["expires_on"])]
        constraints = [
            models.UniqueConstraint(fields=["partner", "kind", "number"], name="licence_unique_number"),
            models.CheckConstraint(
                condition=Q(expires_on__gte=models.F("issued_on")), name="licence_expires_after_issue"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.number}"


class LicenceAlert(models.Model):
    """An expiry alert the daily task recorded for a licence (one per licence and expiry date)."""

    licence = models.ForeignKey(Licence, models.CASCADE, related_name="alerts", verbose_name=_("证照"))
    expires_on = models.DateField(_("有效期至"))
    raised_on = models.DateField(_("提醒日期"))
    days_left = models.IntegerField(_("剩余天数"))
    acknowledged_by = models.ForeignKey(
        "core.User", models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("已确认人")
    )
    acknowledged_at = models.DateTimeField(_("确认时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("证照到期提醒")
        verbose_name_plural = _("证照到期提醒")
        ordering = ["expires_on", "id"]
        constraints = [
            models.UniqueConstraint(fields=["licence", "expires_on"], name="licencealert_once_per_expiry"),
        ]

    def __str__(self) -> str:
        return f"{self.licence} → {self.expires_on}"


class Agreement(models.Model):
    """A distribution agreement: period, regions (Division codes), products, quarterly targets, rebate tiers.

    Regions define where the partner may sell; a sale elsewhere is 窜货 (see `agreement_regions`).
    """

    class Status(models.TextChoices):
        DRAFT = "draft", _("草稿")
        ACTIVE = "active", _("生效")
        ENDED = "ended", _("已终止")

    partner = models.ForeignKey(
        ChannelPartner, models.PROTECT, related_name="agreements", verbose_name=_("渠道伙伴")
    )
    code = models.CharField(_("协议编号"), max_length=32, unique=True)
    start = models.DateField(_("开始日期"))
    end = models.DateField(_("结束日期"))
    status = models.CharField(_("状态"), max_length=8, choices=Status.choices, default=Status.DRAFT)
    regions = models.ManyToManyField(
        "core.Division", related_name="channel_agreements", verbose_name=_("授权区域")
    )
    products = models.ManyToManyField(
        "commercial.Product", related_name="channel_agreements", verbose_name=_("授权产品")
    )
    notes = models.TextField(_("备注"), blank=True)
    created_by = models.ForeignKey(
        "core.User", models.PROTECT, related_name="+", verbose_name=_("创建人"), null=True, blank=True
    )
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)

    history = AuditedHistory(m2m_fields=[regions, products])

    class Meta:
        verbose_name = _("渠道协议")
        verbose_name_plural = _("渠道协议")
        ordering = ["-start", "code"]
        indexes = [models.Index(fields=["partner", "status", "start", "end"])]
        constraints = [
            models.CheckConstraint(condition=Q(end__gte=models.F("start")), name="agreement_end_after_start"),
        ]

    def __str__(self) -> str:
        return self.code

    def get_absolute_url(self) -> str:
        return reverse("channels:agreement_detail", args=[self.pk])


class AgreementTarget(models.Model):
    """The target for one quarter of an agreement: amount (CNY) and/or volume (standard units)."""

    agreement = models.ForeignKey(Agreement, models.CASCADE, related_name="targets", verbose_name=_("协议"))
    year = models.PositiveSmallIntegerField(_("年度"))
    quarter = models.PositiveSmallIntegerField(_("季度"))
    amount = models.DecimalField(_("金额目标（元）"), max_digits=16, decimal_places=2, null=True, blank=True)
    volume = models.DecimalField(
        _("数量目标（标准单位）"), max_digits=16, decimal_places=2, null=True, blank=True
    )

    history = AuditedHistory()

    class Meta:
        verbose_name = _("季度目标")
        verbose_name_plural = _("季度目标")
        ordering = ["agreement", "year", "quarter"]
        constraints = [
            models.UniqueConstraint(
                fields=["agreement", "year", "quarter"], name="agreementtarget_one_per_quarter"
            ),
            models.CheckConstraint(
                condition=Q(quarter__gte=1, quarter__lte=4), name="agreementtarget_quarter_1_4"
            ),
            models.CheckConstraint(
                condition=Q(amount__isnull=False) | Q(volume__isnull=False),
                name="agreementtarget_amount_or_volume",
            ),
            models.CheckConstraint(
                condition=(Q(amount__isnull=True) | Q(amount__gte=0))
                & (Q(volume__isnull=True) | Q(volume__gte=0)),
                name="agreementtarget_not_negative",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.year}Q{self.quarter}"


class RebateTier(models.Model):
    """One step of an agreement's rebate: reaching `threshold` (achievement % of target) earns `rate` % rebate."""

    agreement = models.ForeignKey(
        Agreement, models.CASCADE, related_name="rebate_tiers", verbose_name=_("协议")
    )
    threshold = models.DecimalField(_("达成率门槛（%）"), max_digits=6, decimal_places=2)
    rate = models.DecimalField(_("返利比例（%）"), max_digits=5, decimal_places=2)

    history = AuditedHistory()

    class Meta:
        verbose_name = _("返利档位")
        verbose_name_plural = _("返利档位")
        ordering = ["agreement", "threshold"]
        constraints = [
            models.UniqueConstraint(fields=["agreement", "threshold"], name="rebatetier_unique_threshold"),
            models.CheckConstraint(condition=Q(threshold__gte=0), name="rebatetier_threshold_not_negative"),
            models.CheckConstraint(condition=Q(rate__gte=0, rate__lte=100), name="rebatetier_rate_0_100"),
        ]

    def __str__(self) -> str:
        return f"≥{self.threshold}% → {self.rate}%"


class Scorecard(models.Model):
    """The metrics a channel review scores, with weights summing to 100; one active per partner kind."""

    class AppliesTo(models.TextChoices):
        ALL = "all", _("全部渠道")
        DISTRIBUTOR = "distributor", _("经销商")
        RETAIL_CHAIN = "retail_chain", _("连锁药店")

    name = models.CharField(_("名称"), max_length=64, unique=True)
    applies_to = models.CharField(
        _("适用渠道"), max_length=16, choices=AppliesTo.choices, default=AppliesTo.ALL
    )
    is_active = models.BooleanField(_("启用"), default=True)
    notes = models.TextField(_("说明"), blank=True)

    history = AuditedHistory()

    class Meta:
        verbose_name = _("评估计分卡")
        verbose_name_plural = _("评估计分卡")
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["applies_to"], condition=Q(is_active=True), name="scorecard_one_active_per_kind"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("channels:scorecard_detail", args=[self.pk])


class Direction(models.TextChoices):
    HIGHER_BETTER = "higher", _("越高越好")
    LOWER_BETTER = "lower", _("越低越好")


class ScorecardMetric(models.Model):
    """One line of a scorecard: a registered metric (automatic or manual), its weight and scoring band.

    The score is 100 at `target` (or better) and 0 at `floor` (or worse), linear in between.
    """

    scorecard = models.ForeignKey(Scorecard, models.CASCADE, related_name="metrics", verbose_name=_("计分卡"))
    code = models.CharField(_("指标编码"), max_length=48)
    label = models.CharField(_("指标名称"), max_length=64, blank=True)
    weight = models.DecimalField(_("权重（%）"), max_digits=5, decimal_places=2)
    target = models.DecimalField(_("满分值"), max_digits=14, decimal_places=2)
    floor = models.DecimalField(_("零分值"), max_digits=14, decimal_places=2)
    direction = models.CharField(
        _("方向"), max_length=8, choices=Direction.choices, default=Direction.HIGHER_BETTER
    )
    position = models.PositiveSmallIntegerField(_("顺序"), default=0)

    history = AuditedHistory()

    class Meta:
        verbose_name = _("计分卡指标")
        verbose_name_plural = _("计分卡指标")
        ordering = ["scorecard", "position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["scorecard", "code"], name="scorecardmetric_unique_code"),
            models.CheckConstraint(
                condition=Q(weight__gt=0, weight__lte=100), name="scorecardmetric_weight_range"
            ),
        ]

    def __str__(self) -> str:
        return self.label or self.code


class ChannelReview(models.Model):
    """A partner's quarterly review (渠道评估): metric values and scores, comments, actions, approval."""

    class Status(models.TextChoices):
        DRAFT = "draft", _("草稿")
        SUBMITTED = "submitted", _("待审批")
        APPROVED = "approved", _("已审批")

    partner = models.ForeignKey(
        ChannelPartner, models.PROTECT, related_name="reviews", verbose_name=_("渠道伙伴")
    )
    scorecard = models.ForeignKey(Scorecard, models.PROTECT, related_name="reviews", verbose_name=_("计分卡"))
    year = models.PositiveSmallIntegerField(_("年度"))
    quarter = models.PositiveSmallIntegerField(_("季度"))
    status = models.CharField(_("状态"), max_length=12, choices=Status.choices, default=Status.DRAFT)
    total_score = models.DecimalField(_("总分"), max_digits=6, decimal_places=2, null=True, blank=True)
    comments = models.TextField(_("评语"), blank=True)
    reviewer = models.ForeignKey("core.User", models.PROTECT, related_name="+", verbose_name=_("评估人"))
    submitted_at = models.DateTimeField(_("提交时间"), null=True, blank=True)
    approved_by = models.ForeignKey(
        "core.User", models.PROTECT, related_name="+", verbose_name=_("审批人"), null=True, blank=True
    )
    approved_at = models.DateTimeField(_("审批时间"), null=True, blank=True)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)

    history = AuditedHistory()

    class Meta:
        verbose_name = _("渠道评估")
        verbose_name_plural = _("渠道评估")
        ordering = ["-year", "-quarter", "partner"]
        indexes = [models.Index(fields=["status", "year", "quarter"])]
        constraints = [
            models.UniqueConstraint(
                fields=["partner", "year", "quarter"], name="channelreview_one_per_quarter"
            ),
            models.CheckConstraint(
                condition=Q(quarter__gte=1, quarter__lte=4), name="channelreview_quarter_1_4"
            ),
            models.CheckConstraint(
                condition=~Q(status="approved") | Q(approved_at__isnull=False, approved_by__isnull=False),
                name="channelreview_approved_has_approver",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.partner.code} {self.year}Q{self.quarter}"

    def get_absolute_url(self) -> str:
        return reverse("channels:review_detail", args=[self.pk])

    @property
    def period_label(self) -> str:
        return f"{self.year}Q{self.quarter}"


class ReviewScore(models.Model):
    """One metric of a review: the scorecard line as it was when the review was created, the value and score."""

    review = models.ForeignKey(ChannelReview, models.CASCADE, related_name="scores", verbose_name=_("评估"))
    code = models.CharField(_("指标编码"), max_length=48)
    label = models.CharField(_("指标名称"), max_length=64)
    unit = models.CharField(_("单位"), max_length=16, blank=True)
    manual = models.BooleanField(_("人工录入"), default=False)
    weight = models.DecimalField(_("权重（%）"), max_digits=5, decimal_places=2)
    target = models.DecimalField(_("满分值"), max_digits=14, decimal_places=2)
    floor = models.DecimalField(_("零分值"), max_digits=14, decimal_places=2)
    direction = models.CharField(_("方向"), max_length=8, choices=Direction.choices)
    value = models.DecimalField(_("数值"), max_digits=16, decimal_places=4, null=True, blank=True)
    detail = models.CharField(_("计算说明"), max_length=300, blank=True)
    score = models.DecimalField(_("得分"), max_digits=6, decimal_places=2, null=True, blank=True)
    position = models.PositiveSmallIntegerField(_("顺序"), default=0)

    history = AuditedHistory()

    class Meta:
        verbose_name = _("评估指标得分")
        verbose_name_plural = _("评估指标得分")
        ordering = ["review", "position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["review", "code"], name="reviewscore_unique_code"),
        ]

    def __str__(self) -> str:
        return f"{self.label}: {self.value}"

    @property
    def weighted(self) -> Decimal | None:
        return None if self.score is None else self.score * self.weight / Decimal(100)


class ReviewAction(models.Model):
    """A follow-up action agreed in a review: what, who, by when."""

    review = models.ForeignKey(ChannelReview, models.CASCADE, related_name="actions", verbose_name=_("评估"))
    what = models.CharField(_("改进事项"), max_length=300)
    owner = models.ForeignKey("core.User", models.PROTECT, related_name="+", verbose_name=_("负责人"))
    due_on = models.DateField(_("截止日期"))
    done = models.BooleanField(_("已完成"), default=False)

    history = AuditedHistory()

    class Meta:
        verbose_name = _("改进措施")
        verbose_name_plural = _("改进措施")
        ordering = ["review", "due_on", "id"]

    def __str__(self) -> str:
        return self.what
