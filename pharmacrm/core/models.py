"""Organisation, people and roles, territories with their coverage history, API tokens, geography."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import ClassVar

from django.contrib.auth.models import AbstractUser, UserManager
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from pharmacrm.core.audit import AuditedHistory


class Role(models.TextChoices):
    """What a person does; a user may hold several. Visibility and navigation follow from these."""

    ADMIN = "admin", _("系统管理员")
    DIRECTOR = "director", _("销售总监")
    REGIONAL_MANAGER = "regional_manager", _("大区经理")
    DISTRICT_MANAGER = "district_manager", _("地区经理")
    REP = "rep", _("医药代表")
    COMMERCIAL = "commercial", _("商务/KA经理")
    SERVICE = "service", _("客服")
    MARKETING = "marketing", _("市场")
    COMPLIANCE = "compliance", _("合规")


# Roles whose holders see every customer and territory in the company (least-access masking of
# personal fields is a separate concern, handled per field).
COMPANY_WIDE_ROLES = frozenset({Role.ADMIN, Role.DIRECTOR, Role.SERVICE, Role.MARKETING, Role.COMPLIANCE})
MANAGER_ROLES = frozenset({Role.REGIONAL_MANAGER, Role.DISTRICT_MANAGER})
FIELD_ROLES = frozenset({Role.REP, Role.COMMERCIAL})


class Division(models.Model):
    """A Chinese administrative division: province (2-digit code), city (4) or county (6)."""

    class Level(models.TextChoices):
        PROVINCE = "province", _("省")
        CITY = "city", _("市")
        COUNTY = "county", _("区县")

    code = models.CharField(_("代码"), max_length=6, primary_key=True)
    name = models.CharField(_("名称"), max_length=64)
    level = models.CharField(_("级别"), max_length=8, choices=Level.choices)
    parent = models.ForeignKey("self", models.PROTECT, null=True, blank=True, related_name="children")

    class Meta:
        verbose_name = _("行政区划")
        verbose_name_plural = _("行政区划")
        ordering = ["code"]
        indexes = [models.Index(fields=["level", "name"])]

    def __str__(self) -> str:
        return self.name


class OrgUnit(models.Model):
    """A node of the sales organisation: company → region (大区) → district (地区) → team."""

    class Kind(models.TextChoices):
        COMPANY = "company", _("公司")
        REGION = "region", _("大区")
        DISTRICT = "district", _("地区")
        TEAM = "team", _("团队")

    name = models.CharField(_("名称"), max_length=100)
    code = models.CharField(_("编码"), max_length=32, unique=True)
    kind = models.CharField(_("层级"), max_length=16, choices=Kind.choices)
    parent = models.ForeignKey(
        "self", models.PROTECT, null=True, blank=True, related_name="children", verbose_name=_("上级")
    )
    # Materialised path ("/1/4/17/"): a subtree is one indexed prefix query on both databases.
    path = models.CharField(max_length=255, editable=False, db_index=True)
    is_active = models.BooleanField(_("有效"), default=True)

    history = AuditedHistory()

    class Meta:
        verbose_name = _("组织单元")
        verbose_name_plural = _("组织单元")
        ordering = ["path"]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind="company", parent__isnull=True)
                | (~Q(kind="company") & Q(parent__isnull=False)),
                name="orgunit_only_company_is_root",
            )
        ]

    def __str__(self) -> str:
        return self.name

    def save(self, *args: object, **kwargs: object) -> None:
        # The path is derived from the codes up the tree; moving or recoding a unit goes through
        # core.services.move_org_unit, which rewrites the subtree.
        self.path = (self.parent.path if self.parent_id and self.parent else "/") + f"{self.code}/"
        super().save(*args, **kwargs)  # type: ignore[arg-type]

    @property
    def depth(self) -> int:
        return self.path.count("/") - 2


class User(AbstractUser):
    """A person who logs in. Roles are rows of `UserRole`; the org unit places them in the tree."""

    display_name = models.CharField(_("姓名"), max_length=64, blank=True)
    org_unit = models.ForeignKey(
        OrgUnit, models.PROTECT, null=True, blank=True, related_name="members", verbose_name=_("所属组织")
    )
    phone = models.CharField(_("手机"), max_length=32, blank=True)
    language = models.CharField(
        _("界面语言"), max_length=8, choices=[("zh-hans", "简体中文"), ("en", "English")], default="zh-hans"
    )
    employee_no = models.CharField(_("工号"), max_length=32, blank=True)

    objects: ClassVar[UserManager[User]] = UserManager()  # type: ignore[assignment]
    history = AuditedHistory(excluded_fields=["password", "last_login"])

    class Meta:
        verbose_name = _("用户")
        verbose_name_plural = _("用户")
        ordering = ["username"]

    def __str__(self) -> str:
        return self.display_name or self.username

    def get_absolute_url(self) -> str:
        return reverse("web:user_detail", args=[self.pk])

    @property
    def roles(self) -> frozenset[str]:
        """The user's role codes, loaded once per request object."""
        cached = getattr(self, "_roles_cache", None)
        if cached is None:
            cached = frozenset(self.role_rows.values_list("role", flat=True)) if self.pk else frozenset()
            if self.is_superuser:
                cached = cached | {Role.ADMIN}
            self._roles_cache = cached
        return cached

    def has_role(self, *roles: str) -> bool:
        return bool(self.roles.intersection(roles))

    def role_labels(self) -> list[str]:
        return [str(Role(r).label) for r in sorted(self.roles)]


class UserRole(models.Model):
    user = models.ForeignKey(User, models.CASCADE, related_name="role_rows")
    role = models.CharField(_("角色"), max_length=32, choices=Role.choices)

    history = AuditedHistory()

    class Meta:
        verbose_name = _("用户角色")
        verbose_name_plural = _("用户角色")
        constraints = [models.UniqueConstraint(fields=["user", "role"], name="userrole_unique")]

    def __str__(self) -> str:
        return f"{self.user} · {self.get_role_display()}"


class Territory(models.Model):
    """A set of institutions one or more field people cover, owned by a team.

    Institutions join a territory by explicit assignment (Institution.territory) or by the
    province/city rules below, applied by the customers app.
    """

    name = models.CharField(_("名称"), max_length=100)
    code = models.CharField(_("编码"), max_length=32, unique=True)
    org_unit = models.ForeignKey(
        OrgUnit, models.PROTECT, related_name="territories", verbose_name=_("所属团队")
    )
    is_active = models.BooleanField(_("有效"), default=True)

    history = AuditedHistory()

    class Meta:
        verbose_name = _("辖区")
        verbose_name_plural = _("辖区")
        ordering = ["code"]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("web:territory_detail", args=[self.pk])


class TerritoryRule(models.Model):
    """Institutions in this province (and optionally city) belong to the territory."""

    territory = models.ForeignKey(Territory, models.CASCADE, related_name="rules")
    province = models.ForeignKey(Division, models.PROTECT, related_name="+", verbose_name=_("省"))
    city = models.ForeignKey(
        Division, models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("市")
    )

    history = AuditedHistory()

    class Meta:
        verbose_name = _("辖区规则")
        verbose_name_plural = _("辖区规则")
        constraints = [
            models.UniqueConstraint(fields=["province", "city"], name="territoryrule_one_owner_per_area")
        ]

    def __str__(self) -> str:
        return f"{self.territory}: {self.province}{self.city or ''}"


class AssignmentQuerySet(models.QuerySet["TerritoryAssignment"]):
    def on(self, day: dt.date) -> AssignmentQuerySet:
        """Assignments in force on `day` (valid_to is inclusive)."""
        return self.filter(Q(valid_to__isnull=True) | Q(valid_to__gte=day), valid_from__lte=day)

    def current(self) -> AssignmentQuerySet:
        return self.on(timezone.localdate())


class TerritoryAssignment(models.Model):
    """Who covered which territory, from when to when. Sales attribution reads this history."""

    class Kind(models.TextChoices):
        PRIMARY = "primary", _("主负责")
        SHARED = "shared", _("协同")

    territory = models.ForeignKey(
        Territory, models.PROTECT, related_name="assignments", verbose_name=_("辖区")
    )
    user = models.ForeignKey(User, models.PROTECT, related_name="assignments", verbose_name=_("人员"))
    kind = models.CharField(_("类型"), max_length=16, choices=Kind.choices, default=Kind.PRIMARY)
    valid_from = models.DateField(_("开始日期"))
    valid_to = models.DateField(_("结束日期"), null=True, blank=True)

    objects = AssignmentQuerySet.as_manager()
    history = AuditedHistory()

    class Meta:
        verbose_name = _("辖区分配")
        verbose_name_plural = _("辖区分配")
        ordering = ["territory", "-valid_from"]
        indexes = [
            models.Index(fields=["user", "valid_from"]),
            models.Index(fields=["territory", "valid_from"]),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(valid_to__isnull=True) | Q(valid_to__gte=models.F("valid_from")),
                name="assignment_ends_after_start",
            )
        ]

    def __str__(self) -> str:
        return f"{self.user} → {self.territory} ({self.valid_from}–{self.valid_to or '…'})"


class ApiToken(models.Model):
    """A personal API token. Only a SHA-256 of the secret is stored; the secret is shown once."""

    user = models.ForeignKey(User, models.CASCADE, related_name="api_tokens")
    name = models.CharField(_("名称"), max_length=64)
    prefix = models.CharField(max_length=12, unique=True)
    key_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    expires_at = models.DateTimeField(_("过期时间"), null=True, blank=True)
    last_used_at = models.DateTimeField(_("最近使用"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("撤销时间"), null=True, blank=True)

    history = AuditedHistory(excluded_fields=["last_used_at"])

    class Meta:
        verbose_name = _("API 令牌")
        verbose_name_plural = _("API 令牌")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        now = timezone.now()
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)


class WorkerHeartbeat(models.Model):
    """Written by each running `pharmacrm worker` so /healthz can tell whether work gets done."""

    worker_id = models.CharField(max_length=64, primary_key=True)
    backend = models.CharField(max_length=16)
    started_at = models.DateTimeField()
    last_seen_at = models.DateTimeField()

    class Meta:
        verbose_name = _("后台进程心跳")
        verbose_name_plural = _("后台进程心跳")

    def __str__(self) -> str:
        return self.worker_id


class ScheduledRun(models.Model):
    """One daily job claimed for one day (Asia/Shanghai) by one worker: the unique (job, day) pair
    is what lets several `pharmacrm worker` processes schedule without running a job twice."""

    class Status(models.TextChoices):
        QUEUED = "queued", _("已排队")
        DONE = "done", _("已完成")
        FAILED = "failed", _("失败")

    job = models.CharField(_("任务"), max_length=100)
    day = models.DateField(_("日期"))
    claimed_at = models.DateTimeField(_("认领时间"))
    worker_id = models.CharField(_("后台进程"), max_length=64, blank=True)
    status = models.CharField(_("状态"), max_length=8, choices=Status.choices, default=Status.QUEUED)
    task_id = models.CharField(_("后台任务编号"), max_length=64, blank=True)
    error = models.TextField(_("错误"), blank=True)

    class Meta:
        verbose_name = _("定时任务运行")
        verbose_name_plural = _("定时任务运行")
        constraints = [models.UniqueConstraint(fields=["job", "day"], name="core_scheduledrun_once_a_day")]
        indexes = [models.Index(fields=["job", "-day"], name="core_schedrun_job_day")]

    def __str__(self) -> str:
        return f"{self.job} {self.day}"


def _import_upload_path(instance: ImportJob, filename: str) -> str:
    # The stored name never comes from the user (the original name is kept in a field).
    suffix = filename.rsplit(".", 1)[-1].lower()[:8] if "." in filename else "bin"
    return f"imports/{timezone.now():%Y/%m}/{uuid.uuid4().hex}.{suffix}"


class ImportJob(models.Model):
    """One uploaded file to import: a dry run first, then, once confirmed, the import itself.

    Generic over kinds (customers master data now, flow and market data later): `kind` names an
    entry of core.imports.registry. The report is the engine's Report as JSON.
    """

    class Status(models.TextChoices):
        QUEUED = "queued", _("排队中")
        CHECKING = "checking", _("校验中")
        CHECKED = "checked", _("校验通过，待确认")
        REFUSED = "refused", _("有错误，未导入")
        IMPORTING = "importing", _("导入中")
        DONE = "done", _("已导入")
        PARTIAL = "partial", _("已部分导入")
        FAILED = "failed", _("失败")

    kind = models.CharField(_("类型"), max_length=32)
    file = models.FileField(_("文件"), upload_to=_import_upload_path, max_length=200)
    original_name = models.CharField(_("文件名"), max_length=255)
    size = models.PositiveBigIntegerField(_("大小（字节）"), default=0)
    dry_run = models.BooleanField(_("仅试运行"), default=True)
    partial = models.BooleanField(_("允许部分导入"), default=False)
    status = models.CharField(_("状态"), max_length=16, choices=Status.choices, default=Status.QUEUED)
    rows = models.PositiveIntegerField(_("行数"), default=0)
    created_count = models.PositiveIntegerField(_("新建"), default=0)
    updated_count = models.PositiveIntegerField(_("更新"), default=0)
    unchanged_count = models.PositiveIntegerField(_("不变"), default=0)
    error_count = models.PositiveIntegerField(_("错误"), default=0)
    report = models.JSONField(_("报告"), default=dict, blank=True)
    # What a kind needs besides the file (flow: distributor, period, file kind), checked by the
    # kind's clean_params when the job is created; and what it produced besides the row report
    # (flow: the outcome and the FlowFile written).
    params = models.JSONField(_("参数"), default=dict, blank=True)
    result = models.JSONField(_("结果"), default=dict, blank=True)
    created_by = models.ForeignKey(
        User, models.PROTECT, null=True, blank=True, related_name="import_jobs", verbose_name=_("发起人")
    )
    created_at = models.DateTimeField(_("上传时间"), auto_now_add=True)
    started_at = models.DateTimeField(_("开始时间"), null=True, blank=True)
    finished_at = models.DateTimeField(_("结束时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("导入任务")
        verbose_name_plural = _("导入任务")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["created_by", "created_at"])]

    def __str__(self) -> str:
        return f"#{self.pk} {self.kind} {self.original_name}"

    def get_absolute_url(self) -> str:
        """The job's page: the generic one, or the page of a kind that has its own (flow)."""
        from pharmacrm.core.errors import DomainError
        from pharmacrm.core.imports.registry import get_kind

        try:
            name = get_kind(self.kind).job_url_name
        except DomainError:
            name = "imports:job_detail"
        return reverse(name, args=[self.pk])

    @property
    def is_running(self) -> bool:
        return self.status in {self.Status.QUEUED, self.Status.CHECKING, self.Status.IMPORTING}

    @property
    def can_recheck(self) -> bool:
        """A dry run whose file is kept may be checked again (after its mapping or master data was fixed)."""
        return bool(self.file) and self.dry_run and not self.is_running

    @property
    def can_confirm(self) -> bool:
        """A checked dry run may be imported; so may a refused one in partial mode."""
        return (
            bool(self.file)
            and self.dry_run
            and (self.status == self.Status.CHECKED or (self.status == self.Status.REFUSED and self.partial))
        )


class ExportLog(models.Model):
    """Every export of a list: who, when, what, with which filter, how many rows (RULES_CN §5, PIPL).

    Exports that carry contact details in the clear are also written to the compliance app's
    sensitive-access log; this one covers every export, personal data or not.
    """

    user = models.ForeignKey(User, models.PROTECT, related_name="exports", verbose_name=_("导出人"))
    kind = models.CharField(_("内容"), max_length=32)
    format = models.CharField(_("格式"), max_length=8)
    filters = models.JSONField(_("筛选条件"), default=dict, blank=True)
    columns = models.JSONField(_("列"), default=list, blank=True)
    row_count = models.PositiveIntegerField(_("行数"), default=0)
    includes_contacts = models.BooleanField(_("含联系方式"), default=False)
    source = models.CharField(_("来源"), max_length=16, default="ui")
    ip = models.GenericIPAddressField(_("IP"), null=True, blank=True)
    at = models.DateTimeField(_("时间"), default=timezone.now)

    class Meta:
        verbose_name = _("导出记录")
        verbose_name_plural = _("导出记录")
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["user", "at"]), models.Index(fields=["at"])]

    def __str__(self) -> str:
        return f"{self.user_id} {self.kind} {self.row_count} @ {self.at:%Y-%m-%d %H:%M}"
