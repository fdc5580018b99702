"""Flow data (流向): distributors' monthly files, their rows matched to institutions and SKUs, and learned aliases."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from pharmacrm.core.audit import AuditedHistory


class MatchMethod(models.TextChoices):
    """How a row's customer or product was matched to master data."""

    CODE = "code", _("编码")
    ALIAS = "alias", _("别名")
    FUZZY = "fuzzy", _("模糊匹配")
    MANUAL = "manual", _("人工")


class FileKind(models.TextChoices):
    """What a distributor's file holds: its sales (流向) or its stock (库存)."""

    SALES = "sales", _("销售流向")
    INVENTORY = "inventory", _("库存")


class FlowTemplate(models.Model):
    """One distributor's file layout: which of their headers holds which of our fields.

    Saved the first time a user maps a file and recognised on the next file by its header
    signature (a hash of the normalised header row). A layout is a sales or an inventory layout.
    """

    distributor = models.ForeignKey(
        "channels.ChannelPartner", models.PROTECT, related_name="flow_templates", verbose_name=_("经销商")
    )
    name = models.CharField(_("名称"), max_length=100)
    kind = models.CharField(_("文件类型"), max_length=16, choices=FileKind.choices, default=FileKind.SALES)
    # our field code → their header text, e.g. {"sale_date": "销售日期", "quantity": "数量"}
    column_mapping = models.JSONField(_("列映射"), default=dict)
    headers = models.JSONField(_("表头"), default=list)
    header_signature = models.CharField(_("表头签名"), max_length=64, db_index=True)
    date_format = models.CharField(_("日期格式"), max_length=32, blank=True, help_text=_("留空则自动识别"))
    # unit text → packs per that unit, e.g. {"箱": "20"}; 盒 is 1 and 片 uses the SKU's standard units
    unit_conversions = models.JSONField(_("单位换算"), default=dict, blank=True)
    created_by = models.ForeignKey(
        "core.User", models.PROTECT, related_name="+", verbose_name=_("创建人"), null=True, blank=True
    )
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)

    history = AuditedHistory()

    class Meta:
        verbose_name = _("流向模板")
        verbose_name_plural = _("流向模板")
        ordering = ["distributor", "name"]
        constraints = [
            models.UniqueConstraint(fields=["distributor", "name"], name="flow_template_unique_name"),
            models.UniqueConstraint(
                fields=["distributor", "header_signature"], name="flow_template_unique_signature"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class FlowFile(models.Model):
    """One uploaded monthly flow file of one distributor; at most one imported file per month and kind."""

    Kind = FileKind

    class Status(models.TextChoices):
        CHECKED = "checked", _("已检查")
        IMPORTED = "imported", _("已导入")
        REPLACED = "replaced", _("已被替换")
        REFUSED = "refused", _("已拒绝")

    distributor = models.ForeignKey(
        "channels.ChannelPartner", models.PROTECT, related_name="flow_files", verbose_name=_("经销商")
    )
    period = models.DateField(_("期间"), help_text=_("月份的第一天"))
    kind = models.CharField(_("类型"), max_length=16, choices=Kind.choices, default=Kind.SALES)
    original_name = models.CharField(_("文件名"), max_length=255)
    sha256 = models.CharField(_("SHA-256"), max_length=64, db_index=True)
    template = models.ForeignKey(
        FlowTemplate, models.SET_NULL, related_name="files", verbose_name=_("模板"), null=True, blank=True
    )
    # null: loaded by an operator at the shell (`pharmacrm import flow` without --user)
    uploaded_by = models.ForeignKey(
        "core.User", models.PROTECT, related_name="+", verbose_name=_("上传人"), null=True, blank=True
    )
    uploaded_at = models.DateTimeField(_("上传时间"), auto_now_add=True)
    received_on = models.DateField(_("收到日期"))
    status = models.CharField(_("状态"), max_length=16, choices=Status.choices, default=Status.CHECKED)
    row_count = models.PositiveIntegerField(_("行数"), default=0)
    inventory_count = models.PositiveIntegerField(_("库存行数"), default=0)
    unmatched_customer_count = models.PositiveIntegerField(_("未匹配客户行数"), default=0)
    unmatched_product_count = models.PositiveIntegerField(_("未匹配产品行数"), default=0)
    replaced_by = models.ForeignKey(
        "self", models.SET_NULL, related_name="+", verbose_name=_("替换为"), null=True, blank=True
    )
    report = models.JSONField(_("报告"), default=dict, blank=True)

    history = AuditedHistory()

    class Meta:
        verbose_name = _("流向文件")
        verbose_name_plural = _("流向文件")
        ordering = ["-period", "distributor", "-uploaded_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["distributor", "period", "kind"],
                condition=Q(status="imported"),
                name="flow_file_one_imported_per_month",
            ),
            models.CheckConstraint(condition=Q(period__day=1), name="flow_file_period_first_day"),
        ]
        indexes = [
            models.Index(fields=["distributor", "period"], name="flow_file_dist_period"),
            models.Index(fields=["-period", "distributor"], name="flow_file_list"),
        ]

    def __str__(self) -> str:
        return f"{self.original_name} ({self.period:%Y-%m})"

    def get_absolute_url(self) -> str:
        from django.urls import reverse

        return reverse("flow:file_detail", args=[self.pk])


class FlowPeriodClose(models.Model):
    """A closed month for one distributor: new files for it are refused."""

    distributor = models.ForeignKey(
        "channels.ChannelPartner", models.PROTECT, related_name="flow_closes", verbose_name=_("经销商")
    )
    period = models.DateField(_("期间"))
    closed_by = models.ForeignKey("core.User", models.PROTECT, related_name="+", verbose_name=_("关账人"))
    closed_at = models.DateTimeField(_("关账时间"), auto_now_add=True)
    reason = models.CharField(_("说明"), max_length=200, blank=True)

    history = AuditedHistory()

    class Meta:
        verbose_name = _("流向关账")
        verbose_name_plural = _("流向关账")
        ordering = ["-period", "distributor"]
        constraints = [
            models.UniqueConstraint(fields=["distributor", "period"], name="flow_close_unique"),
            models.CheckConstraint(condition=Q(period__day=1), name="flow_close_period_first_day"),
        ]

    def __str__(self) -> str:
        return f"{self.distributor_id} {self.period:%Y-%m}"


class FlowRecord(models.Model):
    """One row of a distributor's flow file, at institution level (never per professional: 统方 rule).

    No per-row audit history: a month is millions of rows written in bulk; the FlowFile that
    brought them is audited instead, and a record never changes except by matching/attribution.
    """

    class Kind(models.TextChoices):
        SALE = "sale", _("纯销")
        TRANSFER = "transfer", _("调拨")
        RETURN = "return", _("退货")

    file = models.ForeignKey(FlowFile, models.CASCADE, related_name="records", verbose_name=_("文件"))
    distributor = models.ForeignKey(
        "channels.ChannelPartner", models.PROTECT, related_name="flow_records", verbose_name=_("经销商")
    )
    period = models.DateField(_("期间"))
    row_no = models.PositiveIntegerField(_("行号"))
    row_key = models.CharField(_("行标识"), max_length=32)
    sale_date = models.DateField(_("销售日期"))
    kind = models.CharField(_("类型"), max_length=16, choices=Kind.choices, default=Kind.SALE)

    customer_code = models.CharField(_("客户编码"), max_length=64, blank=True)
    customer_name = models.CharField(_("客户名称"), max_length=200, blank=True)
    upstream_name = models.CharField(_("上游"), max_length=200, blank=True)
    institution = models.ForeignKey(
        "customers.Institution",
        models.PROTECT,
        related_name="flow_records",
        verbose_name=_("机构"),
        null=True,
        blank=True,
    )
    customer_match = models.CharField(
        _("客户匹配方式"), max_length=8, choices=MatchMethod.choices, blank=True
    )
    customer_confidence = models.DecimalField(
        _("客户匹配置信度"), max_digits=5, decimal_places=2, null=True, blank=True
    )

    product_code = models.CharField(_("产品编码"), max_length=64, blank=True)
    product_name = models.CharField(_("产品名称"), max_length=200, blank=True)
    product_spec = models.CharField(_("规格"), max_length=100, blank=True)
    sku = models.ForeignKey(
        "commercial.Sku",
        models.PROTECT,
        related_name="flow_records",
        verbose_name=_("品规"),
        null=True,
        blank=True,
    )
    product_match = models.CharField(_("产品匹配方式"), max_length=8, choices=MatchMethod.choices, blank=True)
    product_confidence = models.DecimalField(
        _("产品匹配置信度"), max_digits=5, decimal_places=2, null=True, blank=True
    )

    unit = models.CharField(_("单位"), max_length=16, blank=True)
    quantity = models.DecimalField(_("数量（盒）"), max_digits=14, decimal_places=4)
    standard_quantity = models.DecimalField(
        _("折合标准单位"), max_digits=18, decimal_places=4, null=True, blank=True
    )
    unit_price = models.DecimalField(_("单价"), max_digits=14, decimal_places=4, null=True, blank=True)
    amount = models.DecimalField(_("金额"), max_digits=16, decimal_places=2, null=True, blank=True)
    batch_no = models.CharField(_("批号"), max_length=64, blank=True)

    territory = models.ForeignKey(
        "core.Territory", models.SET_NULL, related_name="+", verbose_name=_("辖区"), null=True, blank=True
    )
    rep = models.ForeignKey(
        "core.User", models.SET_NULL, related_name="+", verbose_name=_("代表"), null=True, blank=True
    )
    out_of_region = models.BooleanField(_("窜货"), default=False)
    extra_hop = models.BooleanField(_("多票"), default=False)

    class Meta:
        verbose_name = _("流向记录")
        verbose_name_plural = _("流向记录")
        ordering = ["period", "distributor", "row_no"]
        constraints = [
            models.UniqueConstraint(fields=["distributor", "period", "row_key"], name="flow_record_row_key"),
            models.CheckConstraint(
                condition=Q(quantity__gte=0) | Q(kind="return"), name="flow_record_negative_only_returns"
            ),
        ]
        indexes = [
            models.Index(fields=["distributor", "period"], name="flow_rec_dist_period"),
            models.Index(fields=["institution", "sale_date"], name="flow_rec_inst_date"),
            models.Index(fields=["sku", "sale_date"], name="flow_rec_sku_date"),
            models.Index(fields=["territory", "sale_date"], name="flow_rec_terr_date"),
            models.Index(fields=["file", "row_no"], name="flow_rec_file_row"),
            # 两票制 detection looks up transfers to a distributor's institution by SKU and date
            models.Index(fields=["kind", "institution", "sku", "sale_date"], name="flow_rec_kind_inst_sku"),
            models.Index(
                fields=["customer_name"],
                condition=Q(institution__isnull=True),
                name="flow_rec_unmatched_cust",
            ),
            models.Index(
                fields=["product_name"], condition=Q(sku__isnull=True), name="flow_rec_unmatched_prod"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.customer_name} {self.product_name} {self.quantity}"


class InventoryRecord(models.Model):
    """A distributor's stock of one SKU on a date: 库存 rows of a sales file, or a row of an inventory file."""

    file = models.ForeignKey(FlowFile, models.CASCADE, related_name="inventory", verbose_name=_("文件"))
    distributor = models.ForeignKey(
        "channels.ChannelPartner", models.PROTECT, related_name="inventory_records", verbose_name=_("经销商")
    )
    period = models.DateField(_("期间"))
    row_no = models.PositiveIntegerField(_("行号"))
    row_key = models.CharField(_("行标识"), max_length=32)
    as_of = models.DateField(_("库存日期"))
    product_code = models.CharField(_("产品编码"), max_length=64, blank=True)
    product_name = models.CharField(_("产品名称"), max_length=200, blank=True)
    product_spec = models.CharField(_("规格"), max_length=100, blank=True)
    sku = models.ForeignKey(
        "commercial.Sku",
        models.PROTECT,
        related_name="inventory_records",
        verbose_name=_("品规"),
        null=True,
        blank=True,
    )
    quantity = models.DecimalField(_("数量（盒）"), max_digits=14, decimal_places=4)
    # blank once in packs; a tablet count (片, 粒 …) of a product not matched yet keeps its unit
    # until the SKU is mapped in the unmatched queue, which converts it
    unit = models.CharField(_("单位"), max_length=16, blank=True)
    batch_no = models.CharField(_("批号"), max_length=64, blank=True)
    warehouse = models.CharField(_("仓库"), max_length=100, blank=True)

    class Meta:
        verbose_name = _("库存记录")
        verbose_name_plural = _("库存记录")
        ordering = ["period", "distributor", "row_no"]
        constraints = [
            models.UniqueConstraint(fields=["distributor", "period", "row_key"], name="inventory_row_key"),
        ]
        indexes = [
            models.Index(fields=["distributor", "period"], name="inventory_dist_period"),
            models.Index(fields=["sku", "as_of"], name="inventory_sku_date"),
        ]

    def __str__(self) -> str:
        return f"{self.product_name} {self.quantity}"


class AliasSource(models.TextChoices):
    MANUAL = "manual", _("人工")
    LEARNED = "learned", _("自动学习")


class AliasKind(models.TextChoices):
    NAME = "name", _("名称")
    CODE = "code", _("编码")


class CustomerAlias(models.Model):
    """A distributor's name (or code) for an institution, normalised; without distributor it holds for all."""

    distributor = models.ForeignKey(
        "channels.ChannelPartner",
        models.CASCADE,
        related_name="customer_aliases",
        verbose_name=_("经销商"),
        null=True,
        blank=True,
    )
    kind = models.CharField(_("类型"), max_length=8, choices=AliasKind.choices, default=AliasKind.NAME)
    text = models.CharField(_("规范化文本"), max_length=200)
    raw_text = models.CharField(_("原文"), max_length=200, blank=True)
    institution = models.ForeignKey(
        "customers.Institution", models.CASCADE, related_name="flow_aliases", verbose_name=_("机构")
    )
    source = models.CharField(
        _("来源"), max_length=8, choices=AliasSource.choices, default=AliasSource.MANUAL
    )
    created_by = models.ForeignKey(
        "core.User", models.SET_NULL, related_name="+", verbose_name=_("创建人"), null=True, blank=True
    )
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)

    history = AuditedHistory()

    class Meta:
        verbose_name = _("客户别名")
        verbose_name_plural = _("客户别名")
        ordering = ["text"]
        constraints = [
            models.UniqueConstraint(fields=["distributor", "kind", "text"], name="customer_alias_unique"),
            models.UniqueConstraint(
                fields=["kind", "text"],
                condition=Q(distributor__isnull=True),
                name="customer_alias_unique_global",
            ),
        ]

    def __str__(self) -> str:
        return self.raw_text or self.text


class ProductAlias(models.Model):
    """A distributor's product name+spec (or code) for a SKU, normalised; without distributor it holds for all."""

    distributor = models.ForeignKey(
        "channels.ChannelPartner",
        models.CASCADE,
        related_name="product_aliases",
        verbose_name=_("经销商"),
        null=True,
        blank=True,
    )
    kind = models.CharField(_("类型"), max_length=8, choices=AliasKind.choices, default=AliasKind.NAME)
    text = models.CharField(_("规范化文本"), max_length=300)
    raw_text = models.CharField(_("原文"), max_length=300, blank=True)
    sku = models.ForeignKey(
        "commercial.Sku", models.CASCADE, related_name="flow_aliases", verbose_name=_("品规")
    )
    source = models.CharField(
        _("来源"), max_length=8, choices=AliasSource.choices, default=AliasSource.MANUAL
    )
    created_by = models.ForeignKey(
        "core.User", models.SET_NULL, related_name="+", verbose_name=_("创建人"), null=True, blank=True
    )
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)

    history = AuditedHistory()

    class Meta:
        verbose_name = _("产品别名")
        verbose_name_plural = _("产品别名")
        ordering = ["text"]
        constraints = [
            models.UniqueConstraint(fields=["distributor", "kind", "text"], name="product_alias_unique"),
            models.UniqueConstraint(
                fields=["kind", "text"],
                condition=Q(distributor__isnull=True),
                name="product_alias_unique_global",
            ),
        ]

    def __str__(self) -> str:
        return self.raw_text or self.text
