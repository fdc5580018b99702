"""Forms of the listing pages; the services decide what is allowed."""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.utils.translation import gettext_lazy as _

from pharmacrm.commercial.models import Listing, Product
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
