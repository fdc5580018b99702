"""Forms for registrations, policy rules and subject requests (validation mirrors the services)."""

import json
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from pharmacrm.compliance.models import DataSubjectRequest, RepRegistration


class RegistrationForm(forms.Form):
    status = forms.ChoiceField(label=_("状态"), choices=RepRegistration.Status.choices)
    number = forms.CharField(label=_("备案号"), max_length=64, required=False)
    filed_on = forms.DateField(
        label=_("备案日期"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    expires_on = forms.DateField(
        label=_("有效期至"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    notes = forms.CharField(label=_("备注"), max_length=300, required=False)


class RuleForm(forms.Form):
    params = forms.CharField(
        label=_("参数（JSON）"),
        widget=forms.Textarea(attrs={"rows": 4, "class": "font-monospace"}),
        required=False,
    )
    enabled = forms.BooleanField(label=_("启用"), required=False)

    def clean_params(self) -> dict[str, Any]:
        raw = self.cleaned_data["params"].strip() or "{}"
        try:
            value = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise forms.ValidationError(
                _("参数不是有效的 JSON：%(error)s"), params={"error": exc.msg}
            ) from exc
        if not isinstance(value, dict):
            raise forms.ValidationError(_('参数应为 JSON 对象，例如 {"amount": "300"}。'))
        return value


class SubjectRequestForm(forms.Form):
    subject_name = forms.CharField(label=_("申请人姓名"), max_length=64)
    kind = forms.ChoiceField(label=_("类型"), choices=DataSubjectRequest.Kind.choices)
    professional_id = forms.IntegerField(
        label=_("医务人员编号"), required=False, help_text=_("档案页地址中的数字")
    )
    channel = forms.CharField(
        label=_("受理渠道"), max_length=64, required=False, help_text=_("例如：客服热线、邮件")
    )


class VerifyForm(forms.Form):
    note = forms.CharField(label=_("核验说明"), max_length=300)
