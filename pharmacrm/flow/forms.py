"""Forms for the flow pages: upload, column mapping, period close, queue mapping."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from pharmacrm.channels.models import ChannelPartner
from pharmacrm.core.visibility import visible
from pharmacrm.flow.models import FileKind
from pharmacrm.flow.parsing import SALES, fields_for, parse_period


def _tom(field: forms.Field) -> None:
    field.widget.attrs["data-tom-select"] = ""


class MonthField(forms.CharField):
    def to_python(self, value: Any) -> Any:
        text = super().to_python(value)
        if not text:
            return None
        month = parse_period(text)
        if month is None:
            raise forms.ValidationError(_("期间格式应为 YYYY-MM，例如 2026-01。"))
        return month


class DistributorChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return f"{obj.code} {obj.institution.name}"


class UploadForm(forms.Form):
    distributor = DistributorChoiceField(label=_("经销商"), queryset=ChannelPartner.objects.none())
    kind = forms.ChoiceField(
        label=_("文件类型"),
        choices=[("auto", _("自动识别")), *FileKind.choices],
        initial="auto",
        help_text=_("自动识别：按该经销商已保存的模板，否则按表头（有库存数量、无客户列即为库存文件）"),
    )
    file = forms.FileField(label=_("文件"), help_text=_("xlsx 或 CSV（UTF-8 或 GBK）"))
    period = MonthField(label=_("期间"), required=False, help_text=_("YYYY-MM；留空则按文件中的日期"))

    def __init__(self, *args: Any, user: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        field: Any = self.fields["distributor"]
        field.queryset = visible(ChannelPartner, user=user).select_related("institution").order_by("code")
        _tom(field)


class MappingForm(forms.Form):
    """Our field → one of their headers; the header choices come from the uploaded file."""

    name = forms.CharField(label=_("模板名称"), max_length=100, required=False)
    date_format = forms.CharField(
        label=_("日期格式"), max_length=32, required=False, help_text=_("留空自动识别；例如 %d/%m/%Y")
    )
    packs_per_case = forms.DecimalField(
        label=_("每箱盒数"), required=False, min_value=1, help_text=_("文件中单位为“箱”时必填")
    )

    def __init__(
        self, *args: Any, header: list[str], initial_mapping: dict[str, str], kind: str = SALES, **kwargs: Any
    ):
        super().__init__(*args, **kwargs)
        self.kind = kind
        choices = [("", "—")] + [(h, h) for h in header if h]
        for f in fields_for(kind):
            self.fields[f"map_{f.code}"] = forms.ChoiceField(
                label=f.label, choices=choices, required=False, initial=initial_mapping.get(f.code, "")
            )

    def mapping(self) -> dict[str, str]:
        return {f.code: self.cleaned_data.get(f"map_{f.code}") or "" for f in fields_for(self.kind)}


class CloseForm(forms.Form):
    distributor = DistributorChoiceField(label=_("经销商"), queryset=ChannelPartner.objects.none())
    period = MonthField(label=_("期间"), help_text=_("YYYY-MM"))
    reason = forms.CharField(label=_("说明"), max_length=200, required=False)

    def __init__(self, *args: Any, user: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        field: Any = self.fields["distributor"]
        field.queryset = visible(ChannelPartner, user=user).select_related("institution").order_by("code")
        _tom(field)
