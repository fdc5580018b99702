"""Django admin for what an administrator configures as data: the profile fields each role needs."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.utils.translation import gettext_lazy as _
from simple_history.admin import SimpleHistoryAdmin

from pharmacrm.customers import quality
from pharmacrm.customers.models import ProfileRequirement


class ProfileRequirementForm(forms.ModelForm):
    field = forms.ChoiceField(label=_("字段"))

    class Meta:
        model = ProfileRequirement
        fields = ["role", "field", "weight", "stale_after_months"]

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.fields["field"].choices = [  # type: ignore[attr-defined]
            (name, f"{quality.field_label(name)}（{name}）") for name in quality.REQUIRABLE_FIELDS
        ]


@admin.register(ProfileRequirement)
class ProfileRequirementAdmin(SimpleHistoryAdmin):
    form = ProfileRequirementForm
    list_display = ("role", "field", "weight", "stale_after_months")
    list_filter = ("role",)
    list_editable = ("weight", "stale_after_months")
