"""Channel partners (distributors, retail chains)."""

from __future__ import annotations

from django.db import models
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
