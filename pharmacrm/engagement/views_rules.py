"""Engagement settings (system administrators): visit frequency rules, ranking weights, care templates, plan approval per org unit."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.forms import modelformset_factory
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _l

from pharmacrm.core.audit import acting_as
from pharmacrm.core.models import OrgUnit, Role
from pharmacrm.engagement.calendar_cn import OCCASION_LABELS
from pharmacrm.engagement.models import CareTemplate, FrequencyRule, NextBestActionWeight, PlanningPolicy
from pharmacrm.engagement.today import factor_label


class WeightForm(forms.ModelForm):
    class Meta:
        model = NextBestActionWeight
        fields = ["weight"]

    def clean_weight(self) -> Any:
        weight = self.cleaned_data["weight"]
        if self.instance.factor == "dismissal_decay" and weight > 1:
            raise forms.ValidationError(_("衰减系数须在 0 到 1 之间。"))
        if self.instance.factor == "dismiss_days" and (weight < 1 or weight > 90):
            raise forms.ValidationError(_("天数须在 1 到 90 之间。"))
        return weight


class CareTemplateForm(forms.ModelForm):
    occasion = forms.ChoiceField(label=_l("场合"), choices=list(OCCASION_LABELS.items()))

    class Meta:
        model = CareTemplate
        fields = ["occasion", "text"]
        widgets = {"text": forms.Textarea(attrs={"rows": 2})}


class PolicyForm(forms.ModelForm):
    org_unit = forms.ModelChoiceField(
        label=_l("组织单元"), queryset=OrgUnit.objects.filter(is_active=True).order_by("path")
    )

    class Meta:
        model = PlanningPolicy
        fields = ["org_unit", "approval_required"]


PAGES: dict[str, dict[str, Any]] = {
    "frequency": {
        "title": _l("拜访频率规则"),
        "help": _l(
            "每月拜访次数按客户分类 × 角色 × 合作阶段设定；角色与阶段留空表示适用全部。最具体的规则优先：分类+角色+阶段 > 分类+阶段 > 分类+角色 > 分类。"
        ),
        "formset": lambda: modelformset_factory(
            FrequencyRule,
            fields=["tier", "role", "engagement_stage", "visits_per_month"],
            extra=2,
            can_delete=True,
        ),
        "queryset": lambda: FrequencyRule.objects.order_by("tier", "role", "engagement_stage"),
    },
    "weights": {
        "title": _l("推荐权重"),
        "help": _l(
            "“今天还可以拜访”的排序：每条理由的分数 = 权重 × 强度（0–2）× 忽略衰减。忽略后在设定天数内不再推荐；同一理由被反复忽略时按衰减系数降低。"
        ),
        "formset": lambda: modelformset_factory(NextBestActionWeight, form=WeightForm, extra=0),
        "queryset": lambda: NextBestActionWeight.objects.order_by("factor"),
    },
    "care": {
        "title": _l("关怀模板"),
        "help": _l(
            "问候与学术价值，不涉及任何礼品或有价物品。可用占位符：{salutation}（如“张主任”）、{name}、{rep}。"
        ),
        "formset": lambda: modelformset_factory(
            CareTemplate, form=CareTemplateForm, extra=1, can_delete=True
        ),
        "queryset": lambda: CareTemplate.objects.order_by("occasion", "id"),
    },
    "approval": {
        "title": _l("计划审批"),
        "help": _l("为组织单元设定生成的拜访计划是否须经理审批；下级单元沿用最近的上级设置。"),
        "formset": lambda: modelformset_factory(PlanningPolicy, form=PolicyForm, extra=1, can_delete=True),
        "queryset": lambda: PlanningPolicy.objects.select_related("org_unit").order_by("org_unit__path"),
    },
}


@login_required
def settings_page(request: HttpRequest, page: str = "frequency") -> HttpResponse:
    if not request.user.has_role(Role.ADMIN):  # type: ignore[union-attr]
        raise PermissionDenied(_("只有系统管理员可以修改拜访规则。"))
    spec = PAGES.get(page)
    if spec is None:
        from django.http import Http404

        raise Http404(page)
    formset_class = spec["formset"]()
    formset = formset_class(request.POST or None, queryset=spec["queryset"]())
    if request.method == "POST" and formset.is_valid():
        with transaction.atomic(), acting_as(request.user):
            formset.save()
        messages.success(request, _("{title}已保存。").format(title=spec["title"]))
        return redirect(reverse("engagement:settings", args=[page]))
    title = str(spec["title"])
    return render(
        request,
        "engagement/settings.html",
        {
            "formset": formset,
            "page": page,
            "pages": [(key, str(value["title"])) for key, value in PAGES.items()],
            "help": spec["help"],
            "title": title,
            "breadcrumbs": [
                (_("拜访规则设置"), reverse("engagement:settings", args=["frequency"])),
                (title, None),
            ],
            "labels": {
                f.instance.pk: factor_label(f.instance.factor) for f in formset.forms if page == "weights"
            },
        },
    )
