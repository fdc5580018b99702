"""Forms of the listing pages; the services decide what is allowed."""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.utils.translation import gettext_lazy as _

from pharmacrm.commercial.models import Listing, PricePolicy, Product, Promotion, Sku, Tender, TherapeuticArea
from pharmacrm.core.models import User
from pharmacrm.core.visibility import visible
from pharmacrm.customers.forms import DateInput, limit_choices, plan_owner_choices
from pharmacrm.customers.models import Institution


class ListingForm(forms.Form):
    institution = forms.ModelChoiceField(queryset=Institution.objects.none(), label=_("医院"))
    product = forms.ModelChoiceField(queryset=Product.objects.filter(is_active=True), label=_("产品"))
    intro_on = forms.DateField(required=False, widget=DateInput(), label=_("介绍日期"))
    owner = forms.ModelChoiceField(queryset=User.objects.none(), required=False, label=_("负责人"))
    notes = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}), label=_("备注"))

    def __init__(self, *args: Any, user: Any, institution: Institution | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        field = cast(forms.ModelChoiceField, self.fields["institution"])
        if institution is not None:
            field.queryset = Institution.objects.filter(pk=institution.pk)
            field.initial = institution.pk
            field.widget = forms.HiddenInput()
        else:
            field.queryset = (
                visible(Institution, user=user)
                .filter(kind__in=[Institution.Kind.HOSPITAL, Institution.Kind.CLINIC])
                .order_by("name")
            )
            field.widget.attrs["data-tom-select"] = ""
            limit_choices(field, 1000)
        self.fields["owner"].queryset = plan_owner_choices(user)  # type: ignore[attr-defined]
        self.fields["owner"].initial = user.pk


class MoveForm(forms.Form):
    stage = forms.ChoiceField(choices=Listing.Stage.choices, label=_("进入阶段"))
    on = forms.DateField(required=False, widget=DateInput(), label=_("日期"), help_text=_("默认今天"))
    reason = forms.CharField(
        required=False, max_length=300, label=_("原因"), help_text=_("退回到之前的阶段时必填")
    )


# --- Products, prices, tenders, promotions ---------------------------------------------------------


def _provinces() -> Any:
    from pharmacrm.core.models import Division

    return Division.objects.filter(level=Division.Level.PROVINCE).order_by("code")


class SkuForm(forms.Form):
    product = forms.ModelChoiceField(queryset=Product.objects.all(), label=_("产品"))
    code = forms.CharField(max_length=32, label=_("品规编码"))
    strength = forms.CharField(max_length=32, label=_("规格"))
    pack = forms.CharField(max_length=32, label=_("包装"))
    unit = forms.CharField(max_length=16, initial="盒", label=_("单位"))
    standard_units = forms.DecimalField(
        max_digits=12, decimal_places=4, label=_("折合标准单位"), help_text=_("每个包装含多少标准单位")
    )
    standard_unit = forms.CharField(max_length=16, initial="片", label=_("标准单位"))
    is_active = forms.BooleanField(required=False, initial=True, label=_("在售"))


class KeyMessageForm(forms.Form):
    code = forms.CharField(
        max_length=32, label=_("编码"), help_text=_("同一编码的新内容保存为新版本，旧版本保留")
    )
    text = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), label=_("内容"))
    valid_from = forms.DateField(widget=DateInput(), label=_("生效日期"))
    valid_to = forms.DateField(required=False, widget=DateInput(), label=_("失效日期"))
    approved = forms.BooleanField(required=False, label=_("已审批"))


class CompetitorForm(forms.Form):
    name = forms.CharField(max_length=100, label=_("产品名称"))
    maker = forms.CharField(max_length=100, label=_("生产企业"))
    therapeutic_area = forms.ModelChoiceField(queryset=TherapeuticArea.objects.all(), label=_("治疗领域"))
    competes_with = forms.ModelMultipleChoiceField(
        queryset=Product.objects.all(), required=False, label=_("竞争的我方产品")
    )
    notes = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}), label=_("备注"))


class PricePolicyForm(forms.Form):
    kind = forms.ChoiceField(choices=PricePolicy.Kind.choices, label=_("价格类型"))
    sku = forms.ModelChoiceField(queryset=Sku.objects.select_related("product"), label=_("品规"))
    province = forms.ModelChoiceField(
        queryset=_provinces(),
        required=False,
        label=_("省份"),
        help_text=_("留空表示全国"),
        to_field_name="code",
    )
    customer_kind = forms.ChoiceField(
        choices=[("", _("所有客户类型")), *Institution.Kind.choices], required=False, label=_("客户类型")
    )
    price = forms.DecimalField(max_digits=12, decimal_places=4, label=_("价格（元）"))
    effective_from = forms.DateField(widget=DateInput(), label=_("生效日期"))
    effective_to = forms.DateField(
        required=False, widget=DateInput(), label=_("失效日期"), help_text=_("留空表示长期有效")
    )
    notes = forms.CharField(required=False, max_length=200, label=_("备注"))


class PriceLookupForm(forms.Form):
    sku = forms.ModelChoiceField(queryset=Sku.objects.select_related("product"), label=_("品规"))
    on = forms.DateField(widget=DateInput(), label=_("日期"))
    kind = forms.ChoiceField(choices=PricePolicy.Kind.choices, label=_("价格类型"))
    province = forms.ModelChoiceField(
        queryset=_provinces(), required=False, label=_("省份"), to_field_name="code"
    )
    customer_kind = forms.ChoiceField(
        choices=[("", _("所有客户类型")), *Institution.Kind.choices], required=False, label=_("客户类型")
    )


class EndPriceForm(forms.Form):
    on = forms.DateField(widget=DateInput(), label=_("失效日期（最后一天）"))


class TenderForm(forms.Form):
    kind = forms.ChoiceField(choices=Tender.Kind.choices, label=_("类型"))
    name = forms.CharField(max_length=100, label=_("名称/批次"))
    province = forms.ModelChoiceField(queryset=_provinces(), label=_("省份"), to_field_name="code")
    sku = forms.ModelChoiceField(queryset=Sku.objects.select_related("product"), label=_("品规"))
    status = forms.ChoiceField(choices=Tender.Status.choices, label=_("结果"))
    winning_price = forms.DecimalField(
        max_digits=12, decimal_places=4, required=False, label=_("中标价（元）")
    )
    period_start = forms.DateField(widget=DateInput(), label=_("执行开始"))
    period_end = forms.DateField(widget=DateInput(), label=_("执行结束"))
    notes = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}), label=_("备注"))


class CommitmentForm(forms.Form):
    institution = forms.ModelChoiceField(queryset=Institution.objects.none(), label=_("医院"))
    volume = forms.DecimalField(max_digits=14, decimal_places=2, label=_("约定年采购量（标准单位）"))

    def __init__(self, *args: Any, user: Any, province_id: str, **kwargs: Any):
        super().__init__(*args, **kwargs)
        field = cast(forms.ModelChoiceField, self.fields["institution"])
        field.queryset = (
            visible(Institution, user=user)
            .filter(province_id=province_id, kind__in=[Institution.Kind.HOSPITAL, Institution.Kind.CLINIC])
            .order_by("name")
        )
        field.widget.attrs["data-tom-select"] = ""
        limit_choices(field, 1000)


class PromotionForm(forms.Form):
    name = forms.CharField(max_length=100, label=_("名称"))
    kind = forms.ChoiceField(choices=Promotion.Kind.choices, label=_("类型"))
    products = forms.ModelMultipleChoiceField(queryset=Product.objects.all(), label=_("产品"))
    provinces = forms.ModelMultipleChoiceField(queryset=_provinces(), label=_("省份"), to_field_name="code")
    start = forms.DateField(widget=DateInput(), label=_("开始日期"))
    end = forms.DateField(widget=DateInput(), label=_("结束日期"))
    budget = forms.DecimalField(max_digits=14, decimal_places=2, label=_("预算（元）"))
    status = forms.ChoiceField(choices=Promotion.Status.choices, label=_("状态"))
    notes = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}), label=_("备注"))

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        for name in ("products", "provinces"):
            self.fields[name].widget.attrs["data-tom-select"] = ""


class ProductForm(forms.Form):
    code = forms.CharField(max_length=32, label=_("产品编码"))
    generic_name = forms.CharField(max_length=100, label=_("通用名"))
    brand_name = forms.CharField(max_length=100, required=False, label=_("商品名"))
    therapeutic_area = forms.ModelChoiceField(queryset=TherapeuticArea.objects.all(), label=_("治疗领域"))
    is_active = forms.BooleanField(required=False, initial=True, label=_("在售"))
