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
