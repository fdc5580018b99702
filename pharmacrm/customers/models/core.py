"""Institutions, their departments, and the professionals the company calls on."""

from __future__ import annotations

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from pharmacrm.core.audit import AuditedHistory
from pharmacrm.core.models import Division, Territory


class Institution(models.Model):
    class Kind(models.TextChoices):
        HOSPITAL = "hospital", _("医院")
        PHARMACY = "pharmacy", _("药房")
        DISTRIBUTOR = "distributor", _("经销商")
        RETAILER = "retailer", _("零售商")
        CLINIC = "clinic", _("诊所/基层医疗机构")

    class Grade(models.TextChoices):
        G3A = "3a", _("三级甲等")
        G3B = "3b", _("三级乙等")
        G3 = "3", _("三级")
        G2A = "2a", _("二级甲等")
        G2B = "2b", _("二级乙等")
        G2 = "2", _("二级")
        G1 = "1", _("一级")
        UNGRADED = "none", _("未定级")

    class Ownership(models.TextChoices):
        PUBLIC = "public", _("公立")
        PRIVATE = "private", _("民营")

    class Status(models.TextChoices):
        ACTIVE = "active", _("正常")
        INACTIVE = "inactive", _("停用")

    class Network(models.TextChoices):
        BRANCH = "branch", _("院区/分院")
        CHAIN = "chain", _("连锁门店")
        ALLIANCE = "alliance", _("医联体成员")

    external_id = models.CharField(_("外部编码"), max_length=64, null=True, blank=True, unique=True)
    name = models.CharField(_("名称"), max_length=200)
    aliases = models.CharField(_("别名"), max_length=500, blank=True, help_text=_("多个别名用“;”分隔"))
    kind = models.CharField(_("类型"), max_length=16, choices=Kind.choices)
    grade = models.CharField(_("等级"), max_length=8, choices=Grade.choices, default=Grade.UNGRADED)
    ownership = models.CharField(
        _("所有制"), max_length=8, choices=Ownership.choices, default=Ownership.PUBLIC
    )
    beds = models.PositiveIntegerField(_("床位数"), null=True, blank=True)
    outpatient_volume = models.PositiveIntegerField(_("日均门诊量"), null=True, blank=True)
    province = models.ForeignKey(Division, models.PROTECT, related_name="+", verbose_name=_("省"))
    city = models.ForeignKey(
        Division, models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("市")
    )
    county = models.ForeignKey(
        Division, models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("区县")
    )
    address = models.CharField(_("地址"), max_length=300, blank=True)
    latitude = models.DecimalField(_("纬度"), max_digits=9, decimal_places=6, null=True, blank=True)
    longitude = models.DecimalField(_("经度"), max_digits=9, decimal_places=6, null=True, blank=True)
    parent = models.ForeignKey(
        "self", models.PROTECT, null=True, blank=True, related_name="branches", verbose_name=_("上级机构")
    )
    network = models.CharField(
        _("隶属关系"), max_length=16, choices=Network.choices, blank=True, help_text=_("与上级机构的关系")
    )
    territory = models.ForeignKey(
        Territory, models.PROTECT, null=True, blank=True, related_name="institutions", verbose_name=_("辖区")
    )
    status = models.CharField(_("状态"), max_length=16, choices=Status.choices, default=Status.ACTIVE)
    # Pinyin keys for search, kept in step by the services ("beijingxiehe", "bjxh").
    search_pinyin = models.CharField(max_length=400, blank=True, editable=False)
    search_initials = models.CharField(max_length=100, blank=True, editable=False)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    history = AuditedHistory(excluded_fields=["search_pinyin", "search_initials", "updated_at"])

    class Meta:
        verbose_name = _("机构")
        verbose_name_plural = _("机构")
        ordering = ["name", "id"]
        indexes = [
            models.Index(fields=["territory", "name"]),
            models.Index(fields=["kind", "name"]),
            models.Index(fields=["province", "city"]),
            models.Index(fields=["search_initials"]),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(latitude__isnull=True) | (Q(latitude__gte=-90) & Q(latitude__lte=90)),
                name="institution_latitude_range",
            ),
            models.CheckConstraint(
                condition=Q(grade="none") | Q(kind="hospital"),
                name="institution_only_hospitals_have_grades",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("customers:institution_detail", args=[self.pk])


class Department(models.Model):
    institution = models.ForeignKey(
        Institution, models.CASCADE, related_name="departments", verbose_name=_("机构")
    )
    name = models.CharField(_("名称"), max_length=100)
    specialty = models.CharField(_("专业方向"), max_length=200, blank=True)
    headcount = models.PositiveIntegerField(_("人数"), null=True, blank=True)

    history = AuditedHistory()

    class Meta:
        verbose_name = _("科室")
        verbose_name_plural = _("科室")
        ordering = ["institution", "name"]
        constraints = [models.UniqueConstraint(fields=["institution", "name"], name="department_unique_name")]

    def __str__(self) -> str:
        return f"{self.institution.name} · {self.name}"


class Professional(models.Model):
    class Gender(models.TextChoices):
        MALE = "male", _("男")
        FEMALE = "female", _("女")
        UNKNOWN = "unknown", _("未知")

    class Role(models.TextChoices):
        PRESIDENT = "president", _("院长")
        VICE_PRESIDENT = "vice_president", _("分管副院长")
        PHARMACY_DIRECTOR = "pharmacy_director", _("药剂科主任")
        MEDICAL_AFFAIRS_DIRECTOR = "medical_affairs_director", _("医务科主任")
        DEPARTMENT_HEAD = "department_head", _("科室主任")
        PHYSICIAN = "physician", _("临床医生")
        HEAD_NURSE = "head_nurse", _("护士长")
        PROCUREMENT = "procurement", _("采购")

    class Title(models.TextChoices):
        CHIEF = "chief", _("主任医师")
        ASSOCIATE_CHIEF = "associate_chief", _("副主任医师")
        ATTENDING = "attending", _("主治医师")
        RESIDENT = "resident", _("住院医师")
        PHARMACIST_CHIEF = "pharmacist_chief", _("主任药师")
        PHARMACIST = "pharmacist", _("药师")
        NURSE_CHIEF = "nurse_chief", _("主任护师")
        NURSE = "nurse", _("护师")
        OTHER = "other", _("其他")

    class Tier(models.TextChoices):
        KEY = "key", _("重要客户")
        POTENTIAL = "potential", _("潜在客户")
        GENERAL = "general", _("一般客户")

    class Potential(models.TextChoices):
        HIGH = "high", _("高")
        MEDIUM = "medium", _("中")
        INITIAL = "initial", _("初接触")

    class Stage(models.TextChoices):
        NEW = "new", _("新开发")
        STABLE = "stable", _("稳定合作")
        GROWTH = "growth", _("潜力提升")
        REACTIVATION = "reactivation", _("需激活")

    class Status(models.TextChoices):
        ACTIVE = "active", _("在职")
        LEFT = "left", _("已离职")

    class Channel(models.TextChoices):
        IN_PERSON = "in_person", _("面对面")
        PHONE = "phone", _("电话")
        WECHAT = "wechat", _("微信")
        EMAIL = "email", _("邮件")
        ONLINE_MEETING = "online_meeting", _("线上会议")

    class Attitude(models.TextChoices):
        UNAWARE = "unaware", _("不了解")
        AWARE = "aware", _("了解")
        TRIAL = "trial", _("试用")
        ADOPTER = "adopter", _("常规使用")
        ADVOCATE = "advocate", _("积极推荐")
        RESISTANT = "resistant", _("有顾虑")

    external_id = models.CharField(_("外部编码"), max_length=64, null=True, blank=True, unique=True)
    name = models.CharField(_("姓名"), max_length=64)
    gender = models.CharField(_("性别"), max_length=8, choices=Gender.choices, default=Gender.UNKNOWN)
    title = models.CharField(_("职称"), max_length=24, choices=Title.choices, blank=True)
    role = models.CharField(_("角色"), max_length=32, choices=Role.choices)
    institution = models.ForeignKey(
        Institution, models.PROTECT, related_name="professionals", verbose_name=_("主要执业机构")
    )
    department = models.ForeignKey(
        Department,
        models.PROTECT,
        null=True,
        blank=True,
        related_name="professionals",
        verbose_name=_("科室"),
    )
    # Contact details are personal information (PIPL): masked for roles that need the person but
    # not the contact, and every view of them is logged (compliance app).
    mobile = models.CharField(_("手机"), max_length=32, blank=True)
    wechat_id = models.CharField(_("微信号"), max_length=64, blank=True)
    email = models.EmailField(_("邮箱"), blank=True)
    preferred_channel = models.CharField(
        _("偏好沟通方式"), max_length=16, choices=Channel.choices, blank=True
    )
    preferred_time = models.CharField(
        _("方便沟通时间"), max_length=100, blank=True, help_text=_("例如：周二下午门诊后")
    )
    interests = models.TextField(_("兴趣爱好"), blank=True)
    current_concerns = models.TextField(_("近期关注点"), blank=True)
    academic_posts = models.TextField(_("学术任职"), blank=True, help_text=_("学会/协会任职"))
    publications = models.TextField(_("代表论文/著作"), blank=True)
    # Qualitative only: RULES_CN §2 forbids per-doctor prescription counts anywhere.
    prescribing_habits = models.TextField(
        _("处方习惯"), blank=True, help_text=_("治疗偏好与用药理念，只记录定性描述，不记录处方数量")
    )
    therapeutic_areas = models.CharField(
        _("关注治疗领域"), max_length=300, blank=True, help_text=_("多个用“;”分隔")
    )
    product_attitude = models.CharField(
        _("对我司产品的态度"), max_length=16, choices=Attitude.choices, default=Attitude.UNAWARE
    )
    personal_notes = models.TextField(
        _("个人备注"), blank=True, help_text=_("敏感个人信息，按保留规则定期清理")
    )
    # Profile quality, recomputed by services.recompute_profile_quality.
    completeness = models.PositiveSmallIntegerField(_("档案完整度"), default=0)
    # How many required fields were filled but not confirmed within their window; with
    # completeness it orders a rep's "to fill" list. Recomputed with completeness.
    stale_count = models.PositiveSmallIntegerField(_("过期字段数"), default=0)
    # {"field": "YYYY-MM-DD"}: when each profile field was last confirmed with the customer.
    confirmed_fields = models.JSONField(_("字段确认日期"), default=dict, blank=True)
    tier = models.CharField(_("客户分类"), max_length=16, choices=Tier.choices, default=Tier.GENERAL)
    prescribing_potential = models.CharField(
        _("处方潜力"), max_length=16, choices=Potential.choices, default=Potential.INITIAL
    )
    engagement_stage = models.CharField(
        _("合作阶段"), max_length=16, choices=Stage.choices, default=Stage.NEW
    )
    influence_decision = models.PositiveSmallIntegerField(
        _("科室决策影响力"), default=1, validators=[MinValueValidator(1), MaxValueValidator(5)]
    )
    influence_prescribing = models.PositiveSmallIntegerField(
        _("处方影响力"), default=1, validators=[MinValueValidator(1), MaxValueValidator(5)]
    )
    influence_academic = models.PositiveSmallIntegerField(
        _("学术影响力"), default=1, validators=[MinValueValidator(1), MaxValueValidator(5)]
    )
    status = models.CharField(_("状态"), max_length=16, choices=Status.choices, default=Status.ACTIVE)
    search_pinyin = models.CharField(max_length=200, blank=True, editable=False)
    search_initials = models.CharField(max_length=32, blank=True, editable=False)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    history = AuditedHistory(
        excluded_fields=["search_pinyin", "search_initials", "updated_at", "completeness", "stale_count"]
    )

    class Meta:
        verbose_name = _("医务人员")
        verbose_name_plural = _("医务人员")
        ordering = ["name", "id"]
        indexes = [
            models.Index(fields=["institution", "name"]),
            models.Index(fields=["search_pinyin"]),
            models.Index(fields=["search_initials"]),
            models.Index(fields=["tier", "role"]),
            models.Index(fields=["completeness", "stale_count"]),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(completeness__lte=100), name="professional_completeness_percent"
            ),
            models.CheckConstraint(
                condition=Q(influence_decision__gte=1, influence_decision__lte=5)
                & Q(influence_prescribing__gte=1, influence_prescribing__lte=5)
                & Q(influence_academic__gte=1, influence_academic__lte=5),
                name="professional_influence_1_to_5",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("customers:professional_detail", args=[self.pk])
