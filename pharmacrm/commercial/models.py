"""Products and their listing (进院) into hospitals; prices, channels and flow data join later."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from pharmacrm.core.audit import AuditedHistory
from pharmacrm.customers.models import Institution


class TherapeuticArea(models.Model):
    name = models.CharField(_("名称"), max_length=64, unique=True)
    code = models.CharField(_("编码"), max_length=32, unique=True)

    history = AuditedHistory()

    class Meta:
        verbose_name = _("治疗领域")
        verbose_name_plural = _("治疗领域")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Product(models.Model):
    code = models.CharField(_("产品编码"), max_length=32, unique=True)
    generic_name = models.CharField(_("通用名"), max_length=100)
    brand_name = models.CharField(_("商品名"), max_length=100, blank=True)
    therapeutic_area = models.ForeignKey(
        TherapeuticArea, models.PROTECT, related_name="products", verbose_name=_("治疗领域")
    )
    is_active = models.BooleanField(_("在售"), default=True)

    history = AuditedHistory()

    class Meta:
        verbose_name = _("产品")
        verbose_name_plural = _("产品")
        ordering = ["generic_name"]

    def __str__(self) -> str:
        return f"{self.brand_name}（{self.generic_name}）" if self.brand_name else self.generic_name

    def get_absolute_url(self) -> str:
        return reverse("commercial:product_detail", args=[self.pk])


class Sku(models.Model):
    """A sellable pack of a product (品规): strength and pack, and how many standard units it holds.

    Flow data and prices are per SKU; `standard_units` converts packs to the product's standard
    unit (e.g. tablets) so volumes of different packs add up.
    """

    product = models.ForeignKey(Product, models.PROTECT, related_name="skus", verbose_name=_("产品"))
    code = models.CharField(_("品规编码"), max_length=32, unique=True)
    strength = models.CharField(_("规格"), max_length=32)
    pack = models.CharField(_("包装"), max_length=32)
    unit = models.CharField(_("单位"), max_length=16, default="盒")
    standard_units = models.DecimalField(_("折合标准单位"), max_digits=12, decimal_places=4, default=1)
    standard_unit = models.CharField(_("标准单位"), max_length=16, default="片")
    is_active = models.BooleanField(_("在售"), default=True)

    history = AuditedHistory()

    class Meta:
        verbose_name = _("品规")
        verbose_name_plural = _("品规")
        ordering = ["product", "code"]
        constraints = [
            models.CheckConstraint(condition=Q(standard_units__gt=0), name="sku_standard_units_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.product} {self.strength}×{self.pack}"


class Listing(models.Model):
    """Getting a product onto a hospital's formulary: intro → P&T (药事会) submission → approved/rejected → first purchase.

    临采 (an urgent one-off purchase of an unlisted product) is its own stage.
    """

    class Stage(models.TextChoices):
        INTRO = "intro", _("产品介绍")
        SUBMITTED = "submitted", _("已提交药事会")
        APPROVED = "approved", _("药事会通过")
        REJECTED = "rejected", _("药事会未通过")
        URGENT_PURCHASE = "urgent_purchase", _("临采")
        FIRST_PURCHASE = "first_purchase", _("首次采购")

    institution = models.ForeignKey(
        Institution, models.CASCADE, related_name="listings", verbose_name=_("医院")
    )
    product = models.ForeignKey(Product, models.PROTECT, related_name="listings", verbose_name=_("产品"))
    stage = models.CharField(_("阶段"), max_length=24, choices=Stage.choices, default=Stage.INTRO)
    owner = models.ForeignKey("core.User", models.PROTECT, related_name="listings", verbose_name=_("负责人"))
    intro_on = models.DateField(_("介绍日期"), null=True, blank=True)
    submitted_on = models.DateField(_("提交药事会日期"), null=True, blank=True)
    decided_on = models.DateField(_("药事会结果日期"), null=True, blank=True)
    first_purchase_on = models.DateField(_("首次采购日期"), null=True, blank=True)
    urgent_purchase_on = models.DateField(_("临采日期"), null=True, blank=True)
    notes = models.TextField(_("备注"), blank=True)

    history = AuditedHistory()

    class Meta:
        verbose_name = _("进院")
        verbose_name_plural = _("进院")
        ordering = ["institution", "product"]
        constraints = [
            models.UniqueConstraint(
                fields=["institution", "product"], name="listing_one_per_product_and_hospital"
            ),
            models.CheckConstraint(
                condition=Q(submitted_on__isnull=True)
                | Q(intro_on__isnull=True)
                | Q(submitted_on__gte=models.F("intro_on")),
                name="listing_submitted_after_intro",
            ),
            models.CheckConstraint(
                condition=Q(decided_on__isnull=True)
                | Q(submitted_on__isnull=True)
                | Q(decided_on__gte=models.F("submitted_on")),
                name="listing_decided_after_submission",
            ),
            models.CheckConstraint(
                condition=Q(first_purchase_on__isnull=True)
                | Q(decided_on__isnull=True)
                | Q(first_purchase_on__gte=models.F("decided_on")),
                name="listing_first_purchase_after_decision",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.institution} · {self.product}"

    def get_absolute_url(self) -> str:
        return reverse("commercial:listing_detail", args=[self.pk])


class KeyMessage(models.Model):
    """An approved claim a rep may make about a product, versioned, valid between two dates."""

    product = models.ForeignKey(Product, models.CASCADE, related_name="key_messages", verbose_name=_("产品"))
    code = models.CharField(_("编码"), max_length=32)
    version = models.PositiveSmallIntegerField(_("版本"), default=1)
    text = models.TextField(_("内容"))
    approved = models.BooleanField(_("已审批"), default=False)
    valid_from = models.DateField(_("生效日期"))
    valid_to = models.DateField(_("失效日期"), null=True, blank=True)

    history = AuditedHistory()

    class Meta:
        verbose_name = _("关键信息")
        verbose_name_plural = _("关键信息")
        ordering = ["product", "code", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["product", "code", "version"], name="keymessage_version_unique"),
            models.CheckConstraint(
                condition=Q(valid_to__isnull=True) | Q(valid_to__gte=models.F("valid_from")),
                name="keymessage_valid_range",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.code} v{self.version}"


class CompetitorProduct(models.Model):
    """A product of another company that competes with ours in a therapeutic area (for market share)."""

    name = models.CharField(_("产品名称"), max_length=100)
    maker = models.CharField(_("生产企业"), max_length=100)
    therapeutic_area = models.ForeignKey(
        TherapeuticArea, models.PROTECT, related_name="competitor_products", verbose_name=_("治疗领域")
    )
    competes_with = models.ManyToManyField(
        Product, related_name="competitors", blank=True, verbose_name=_("竞争的我方产品")
    )
    notes = models.TextField(_("备注"), blank=True)

    history = AuditedHistory()

    class Meta:
        verbose_name = _("竞品")
        verbose_name_plural = _("竞品")
        ordering = ["therapeutic_area", "name"]
        constraints = [
            models.UniqueConstraint(fields=["name", "maker"], name="competitor_product_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.name}（{self.maker}）"


class PricePolicy(models.Model):
    """A price of a SKU of one kind, for a province (or national) and a customer kind (or any), in a period.

    Periods of the same key (kind, SKU, province, customer kind) never overlap (checked by the
    service); `price_in_force` picks the most specific policy in force on a date.
    """

    class Kind(models.TextChoices):
        LIST = "list", _("出厂价/零售指导价")
        SUPPLY = "supply", _("供货价")
        BID = "bid", _("中标价")
        ONLINE = "online", _("挂网价")

    kind = models.CharField(_("价格类型"), max_length=16, choices=Kind.choices)
    sku = models.ForeignKey(Sku, models.PROTECT, related_name="price_policies", verbose_name=_("品规"))
    province = models.ForeignKey(
        "core.Division",
        models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("省份"),
        help_text=_("留空表示全国"),
    )
    customer_kind = models.CharField(
        _("客户类型"),
        max_length=24,
        choices=Institution.Kind.choices,
        blank=True,
        help_text=_("留空表示所有客户类型"),
    )
    price = models.DecimalField(_("价格（元）"), max_digits=12, decimal_places=4)
    effective_from = models.DateField(_("生效日期"))
    effective_to = models.DateField(_("失效日期"), null=True, blank=True, help_text=_("留空表示长期有效"))
    notes = models.CharField(_("备注"), max_length=200, blank=True)
    created_by = models.ForeignKey(
        "core.User", models.PROTECT, null=True, related_name="+", verbose_name=_("创建人")
    )

    history = AuditedHistory()

    class Meta:
        verbose_name = _("价格政策")
        verbose_name_plural = _("价格政策")
        ordering = ["sku", "kind", "province", "customer_kind", "-effective_from"]
        indexes = [
            models.Index(fields=["sku", "kind", "effective_from"], name="pricepolicy_lookup"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(price__gt=0), name="pricepolicy_price_positive"),
            models.CheckConstraint(
                condition=Q(effective_to__isnull=True) | Q(effective_to__gte=models.F("effective_from")),
                name="pricepolicy_period_order",
            ),
        ]

    def __str__(self) -> str:
        where = self.province.name if self.province_id and self.province else _("全国")
        return f"{self.sku} · {self.get_kind_display()} · {where} · ¥{self.price}"

    def get_absolute_url(self) -> str:
        return reverse("commercial:price_detail", args=[self.pk])


class Tender(models.Model):
    """A provincial tender or volume-based procurement (带量采购) result for one SKU."""

    class Kind(models.TextChoices):
        VBP = "vbp", _("带量采购")
        PROVINCIAL = "provincial", _("省级招标")

    class Status(models.TextChoices):
        PENDING = "pending", _("进行中")
        WON = "won", _("中标")
        LOST = "lost", _("未中标")

    kind = models.CharField(_("类型"), max_length=16, choices=Kind.choices, default=Kind.VBP)
    name = models.CharField(_("名称/批次"), max_length=100)
    province = models.ForeignKey("core.Division", models.PROTECT, related_name="+", verbose_name=_("省份"))
    sku = models.ForeignKey(Sku, models.PROTECT, related_name="tenders", verbose_name=_("品规"))
    status = models.CharField(_("结果"), max_length=16, choices=Status.choices, default=Status.PENDING)
    winning_price = models.DecimalField(
        _("中标价（元）"), max_digits=12, decimal_places=4, null=True, blank=True
    )
    period_start = models.DateField(_("执行开始"))
    period_end = models.DateField(_("执行结束"))
    notes = models.TextField(_("备注"), blank=True)

    history = AuditedHistory()

    class Meta:
        verbose_name = _("带量采购/招标")
        verbose_name_plural = _("带量采购/招标")
        ordering = ["-period_start", "province", "name"]
        constraints = [
            models.UniqueConstraint(fields=["province", "name", "sku"], name="tender_unique_per_sku"),
            models.CheckConstraint(
                condition=Q(period_end__gte=models.F("period_start")), name="tender_period"
            ),
            models.CheckConstraint(
                condition=Q(winning_price__isnull=True) | Q(winning_price__gt=0), name="tender_price_positive"
            ),
            models.CheckConstraint(
                condition=~Q(status="won") | Q(winning_price__isnull=False), name="tender_won_has_price"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} · {self.sku}"

    def get_absolute_url(self) -> str:
        return reverse("commercial:tender_detail", args=[self.pk])


class TenderCommitment(models.Model):
    """A hospital's agreed annual volume under a tender (standard units of the tender's SKU's product)."""

    tender = models.ForeignKey(Tender, models.CASCADE, related_name="commitments", verbose_name=_("带量采购"))
    institution = models.ForeignKey(
        Institution, models.PROTECT, related_name="tender_commitments", verbose_name=_("医院")
    )
    volume = models.DecimalField(_("约定年采购量（标准单位）"), max_digits=14, decimal_places=2)

    history = AuditedHistory()

    class Meta:
        verbose_name = _("约定采购量")
        verbose_name_plural = _("约定采购量")
        ordering = ["tender", "institution"]
        constraints = [
            models.UniqueConstraint(fields=["tender", "institution"], name="tender_commitment_unique"),
            models.CheckConstraint(condition=Q(volume__gt=0), name="tender_commitment_volume_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.institution} · {self.volume}"


class Promotion(models.Model):
    """A promotion plan (促销活动): products, provinces, period, budget; uplift is measured against a baseline."""

    class Kind(models.TextChoices):
        ACADEMIC = "academic", _("学术推广")
        PATIENT_EDUCATION = "patient_education", _("患者教育")
        CHANNEL = "channel", _("渠道促销")
        DIGITAL = "digital", _("数字化推广")

    class Status(models.TextChoices):
        PLANNED = "planned", _("计划中")
        RUNNING = "running", _("进行中")
        DONE = "done", _("已结束")
        CANCELLED = "cancelled", _("已取消")

    name = models.CharField(_("名称"), max_length=100)
    kind = models.CharField(_("类型"), max_length=24, choices=Kind.choices)
    products = models.ManyToManyField(Product, related_name="promotions", verbose_name=_("产品"))
    provinces = models.ManyToManyField("core.Division", related_name="+", verbose_name=_("省份"))
    start = models.DateField(_("开始日期"))
    end = models.DateField(_("结束日期"))
    budget = models.DecimalField(_("预算（元）"), max_digits=14, decimal_places=2)
    owner = models.ForeignKey(
        "core.User", models.PROTECT, related_name="promotions", verbose_name=_("负责人")
    )
    status = models.CharField(_("状态"), max_length=16, choices=Status.choices, default=Status.PLANNED)
    notes = models.TextField(_("备注"), blank=True)

    history = AuditedHistory()

    class Meta:
        verbose_name = _("促销活动")
        verbose_name_plural = _("促销活动")
        ordering = ["-start", "name"]
        constraints = [
            models.CheckConstraint(condition=Q(end__gte=models.F("start")), name="promotion_period"),
            models.CheckConstraint(condition=Q(budget__gte=0), name="promotion_budget_not_negative"),
        ]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("commercial:promotion_detail", args=[self.pk])


class MarketData(models.Model):
    """The market's size for a therapeutic area in a province and month, as a provider reports it."""

    province = models.ForeignKey("core.Division", models.PROTECT, related_name="+", verbose_name=_("省份"))
    therapeutic_area = models.ForeignKey(
        TherapeuticArea, models.PROTECT, related_name="market_data", verbose_name=_("治疗领域")
    )
    month = models.DateField(_("月份"), help_text=_("当月第一天"))
    provider = models.CharField(_("数据来源"), max_length=64)
    market_amount = models.DecimalField(
        _("市场金额（元）"), max_digits=16, decimal_places=2, null=True, blank=True
    )
    market_volume = models.DecimalField(
        _("市场数量（标准单位）"), max_digits=16, decimal_places=2, null=True, blank=True
    )

    history = AuditedHistory()

    class Meta:
        verbose_name = _("市场数据")
        verbose_name_plural = _("市场数据")
        ordering = ["-month", "province", "therapeutic_area"]
        constraints = [
            models.UniqueConstraint(
                fields=["provider", "province", "therapeutic_area", "month"], name="marketdata_unique"
            ),
            models.CheckConstraint(
                condition=Q(market_amount__isnull=False) | Q(market_volume__isnull=False),
                name="marketdata_has_a_figure",
            ),
            models.CheckConstraint(
                condition=(Q(market_amount__isnull=True) | Q(market_amount__gte=0))
                & (Q(market_volume__isnull=True) | Q(market_volume__gte=0)),
                name="marketdata_not_negative",
            ),
            models.CheckConstraint(condition=Q(month__day=1), name="marketdata_month_first_day"),
        ]
        indexes = [models.Index(fields=["therapeutic_area", "month"], name="marketdata_area_month")]

    def __str__(self) -> str:
        return f"{self.provider} {self.month:%Y-%m} {self.therapeutic_area}"
