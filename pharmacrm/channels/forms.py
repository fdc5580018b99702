"""Forms of the channel pages; they parse input, the services decide what is allowed."""

from __future__ import annotations

import re
from typing import Any, cast

from django import forms
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from pharmacrm.channels.models import Agreement, ChannelPartner, Direction, Licence, PartnerContact, Scorecard
from pharmacrm.channels.services import CHANNEL_EDITORS, PARTNER_INSTITUTION_KINDS, org_unit_choices
from pharmacrm.commercial.models import Product
from pharmacrm.core.models import Division, OrgUnit, Role, User
from pharmacrm.core.visibility import visible
from pharmacrm.customers.forms import DateInput, limit_choices
from pharmacrm.customers.models import Institution


def _tom(field: forms.Field) -> None:
    field.widget.attrs["data-tom-select"] = ""


def _partner_managers(user: Any) -> Any:
    return (
        visible(User, user=user)
        .filter(
            is_active=True,
            role_rows__role__in=[Role.COMMERCIAL, Role.DISTRICT_MANAGER, Role.REGIONAL_MANAGER],
        )
        .distinct()
        .order_by("display_name", "username")
    )


class PartnerForm(forms.Form):
    institution = forms.ModelChoiceField(
        queryset=Institution.objects.none(),
        required=False,
        label=_("已有机构"),
        help_text=_("经销商、零售商或药店；没有则在下面填写新机构"),
    )
    new_name = forms.CharField(required=False, max_length=200, label=_("新机构名称"))
    new_kind = forms.ChoiceField(
        required=False,
        choices=[("", "—"), *[(k.value, k.label) for k in PARTNER_INSTITUTION_KINDS]],
        label=_("新机构类型"),
    )
    new_province = forms.ModelChoiceField(
        queryset=Division.objects.filter(level=Division.Level.PROVINCE).order_by("code"),
        required=False,
        to_field_name="code",
        label=_("新机构省份"),
    )
    code = forms.CharField(
        max_length=32, label=_("渠道编码"), help_text=_("流向导入时 --distributor 使用的编码")
    )
    kind = forms.ChoiceField(choices=ChannelPartner.Kind.choices, label=_("渠道类型"))
    status = forms.ChoiceField(choices=ChannelPartner.Status.choices, label=_("状态"))
    org_unit = forms.ModelChoiceField(queryset=OrgUnit.objects.none(), label=_("负责组织"))
    manager = forms.ModelChoiceField(queryset=User.objects.none(), required=False, label=_("渠道负责人"))

    def __init__(self, *args: Any, user: Any, editing: bool = False, **kwargs: Any):
        super().__init__(*args, **kwargs)
        if editing:
            for name in ("institution", "new_name", "new_kind", "new_province"):
                del self.fields[name]
        else:
            field = cast(forms.ModelChoiceField, self.fields["institution"])
            field.queryset = (
                visible(Institution, user=user)
                .filter(kind__in=PARTNER_INSTITUTION_KINDS, channel_partner__isnull=True)
                .order_by("name")
            )
            _tom(field)
            limit_choices(field, 1000)
        cast(forms.ModelChoiceField, self.fields["org_unit"]).queryset = org_unit_choices(user).order_by(
            "path"
        )
        cast(forms.ModelChoiceField, self.fields["manager"]).queryset = _partner_managers(user)
        if user.org_unit_id and not self.is_bound:
            self.fields["org_unit"].initial = user.org_unit_id

    def service_kwargs(self) -> dict[str, Any]:
        data = dict(self.cleaned_data)
        out = {k: data[k] for k in ("code", "kind", "status", "org_unit", "manager")}
        if "institution" in data:
            if data["institution"] is not None:
                out["institution"] = data["institution"]
            elif data.get("new_name"):
                out["new_institution"] = {
                    "name": data["new_name"],
                    "kind": data.get("new_kind") or "",
                    "province": data.get("new_province"),
                }
        return out


class ContactForm(forms.ModelForm):
    class Meta:
        model = PartnerContact
        fields = ["name", "role", "title", "phone", "email", "is_primary", "notes"]


class LicenceForm(forms.ModelForm):
    class Meta:
        model = Licence
        fields = ["kind", "number", "issued_on", "expires_on", "notes"]
        widgets = {"issued_on": DateInput(), "expires_on": DateInput()}


_QUARTER = re.compile(r"^\s*(\d{4})\s*[Qq季]?\s*([1-4])\s*$")


def parse_targets(text: str) -> list[dict[str, Any]]:
    """Lines "2026Q1, 金额, 数量" (either number may be empty) → target rows; errors name the line."""
    rows: list[dict[str, Any]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        parts = [p.strip() for p in re.split(r"[,，\t]", line)]
        match = _QUARTER.match(parts[0])
        if match is None:
            raise forms.ValidationError(
                gettext("第{row}行季度格式应为 2026Q1：{value}").format(row=number, value=parts[0])
            )
        rows.append(
            {
                "year": int(match.group(1)),
                "quarter": int(match.group(2)),
                "amount": parts[1] if len(parts) > 1 and parts[1] else None,
                "volume": parts[2] if len(parts) > 2 and parts[2] else None,
            }
        )
    return rows


def parse_tiers(text: str) -> list[dict[str, Any]]:
    """Lines "门槛%, 比例%" (e.g. "100, 2") → tier rows."""
    rows: list[dict[str, Any]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        parts = [p.strip().rstrip("%") for p in re.split(r"[,，\t→:：]+", line) if p.strip()]
        if len(parts) != 2:
            raise forms.ValidationError(
                gettext("第{row}行应为“门槛%, 返利%”：{value}").format(row=number, value=line.strip())
            )
        rows.append({"threshold": parts[0], "rate": parts[1]})
    return rows


def format_targets(agreement: Agreement) -> str:
    return "\n".join(
        f"{t.year}Q{t.quarter}, {'' if t.amount is None else t.amount}, {'' if t.volume is None else t.volume}"
        for t in agreement.targets.all()
    )


def format_tiers(agreement: Agreement) -> str:
    return "\n".join(f"{t.threshold}, {t.rate}" for t in agreement.rebate_tiers.all())


class AgreementForm(forms.Form):
    code = forms.CharField(max_length=32, label=_("协议编号"))
    start = forms.DateField(widget=DateInput(), label=_("开始日期"))
    end = forms.DateField(widget=DateInput(), label=_("结束日期"))
    status = forms.ChoiceField(choices=Agreement.Status.choices, label=_("状态"))
    regions = forms.ModelMultipleChoiceField(
        queryset=Division.objects.exclude(level=Division.Level.COUNTY).order_by("code"),
        to_field_name="code",
        label=_("授权区域"),
        help_text=_("省或市；在区域外的销售记为窜货"),
    )
    products = forms.ModelMultipleChoiceField(
        queryset=Product.objects.filter(is_active=True), label=_("授权产品")
    )
    targets = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 4, "placeholder": "2026Q1, 1200000, 50000"}),
        label=_("季度目标"),
        help_text=_("每行一个季度：季度, 金额（元）, 数量（标准单位）；金额或数量可留空其一"),
    )
    rebate_tiers = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "placeholder": "90, 1\n100, 2"}),
        label=_("返利档位"),
        help_text=_("每行一档：达成率门槛%, 返利比例%"),
    )
    notes = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}), label=_("备注"))

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        _tom(self.fields["regions"])
        _tom(self.fields["products"])

    def clean_targets(self) -> list[dict[str, Any]]:
        return parse_targets(self.cleaned_data.get("targets") or "")

    def clean_rebate_tiers(self) -> list[dict[str, Any]]:
        return parse_tiers(self.cleaned_data.get("rebate_tiers") or "")


def parse_metrics(text: str) -> list[dict[str, Any]]:
    """Lines "编码, 权重, 满分值, 零分值[, higher|lower][, 名称]" → scorecard metric rows."""
    rows: list[dict[str, Any]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        parts = [p.strip() for p in re.split(r"[,，\t]", line)]
        if len(parts) < 4:
            raise forms.ValidationError(
                gettext("第{row}行至少需要 编码, 权重, 满分值, 零分值：{value}").format(
                    row=number, value=line.strip()
                )
            )
        rows.append(
            {
                "code": parts[0],
                "weight": parts[1],
                "target": parts[2],
                "floor": parts[3],
                "direction": (parts[4] if len(parts) > 4 and parts[4] else Direction.HIGHER_BETTER),
                "label": parts[5] if len(parts) > 5 else "",
            }
        )
    return rows


class ScorecardForm(forms.Form):
    name = forms.CharField(max_length=64, label=_("名称"))
    applies_to = forms.ChoiceField(choices=Scorecard.AppliesTo.choices, label=_("适用渠道"))
    is_active = forms.BooleanField(required=False, initial=True, label=_("启用"))
    metrics = forms.CharField(
        widget=forms.Textarea(
            attrs={
                "rows": 7,
                "placeholder": "sales_vs_target, 40, 100, 60\ninventory_days, 20, 30, 90, lower",
            }
        ),
        label=_("指标"),
        help_text=_(
            "每行一个指标：编码, 权重%, 满分值, 零分值[, higher 越高越好 / lower 越低越好][, 名称]；权重之和须为100"
        ),
    )
    notes = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}), label=_("说明"))

    def clean_metrics(self) -> list[dict[str, Any]]:
        return parse_metrics(self.cleaned_data.get("metrics") or "")


class ReviewCreateForm(forms.Form):
    partner = forms.ModelChoiceField(queryset=ChannelPartner.objects.none(), label=_("渠道伙伴"))
    year = forms.IntegerField(min_value=2000, max_value=2100, label=_("年度"))
    quarter = forms.ChoiceField(choices=[(q, f"Q{q}") for q in range(1, 5)], label=_("季度"))

    def __init__(self, *args: Any, user: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        field = cast(forms.ModelChoiceField, self.fields["partner"])
        field.queryset = visible(ChannelPartner, user=user).select_related("institution").order_by("code")
        _tom(field)


class ReviewActionForm(forms.Form):
    what = forms.CharField(max_length=300, label=_("改进事项"))
    owner = forms.ModelChoiceField(queryset=User.objects.none(), label=_("负责人"))
    due_on = forms.DateField(widget=DateInput(), label=_("截止日期"))

    def __init__(self, *args: Any, user: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        cast(forms.ModelChoiceField, self.fields["owner"]).queryset = (
            visible(User, user=user).filter(is_active=True, role_rows__role__in=CHANNEL_EDITORS).distinct()
        )
        self.fields["owner"].initial = user.pk
