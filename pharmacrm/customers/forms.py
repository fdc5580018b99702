"""Forms of the customer pages. They parse input; the services decide what is allowed and say why not."""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from pharmacrm.core.models import Division, Role, Territory, User
from pharmacrm.core.visibility import visible
from pharmacrm.customers import segmentation
from pharmacrm.customers.models import (
    Department,
    DevelopmentPlan,
    Dimension,
    Institution,
    KeyDate,
    Need,
    Professional,
    SegmentationRule,
)
from pharmacrm.customers.services import EDITOR_ROLES


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, attrs: dict[str, Any] | None = None):
        super().__init__(attrs=attrs, format="%Y-%m-%d")


class _LimitedIterator(forms.models.ModelChoiceIterator):
    """Render at most `field.limit` options; validation still looks the value up in the whole queryset."""

    def __iter__(self) -> Any:
        if self.field.empty_label is not None:
            yield ("", self.field.empty_label)
        for obj in self.queryset[: getattr(self.field, "limit", 500)]:
            yield self.choice(obj)


def limit_choices(field: forms.Field, limit: int = 500) -> None:
    field.limit = limit  # type: ignore[attr-defined]
    field.iterator = _LimitedIterator  # type: ignore[attr-defined]


def _choice_value(form: forms.BaseForm, name: str, initial: Any) -> Any:
    """The value a dependent field should follow: what was posted, else the initial one."""
    if form.is_bound:
        return form.data.get(form.add_prefix(name)) or None
    return initial


# --- Institutions and departments -------------------------------------------------------------------


class InstitutionForm(forms.ModelForm):
    """City and county choices follow the chosen province and city; the inline validation re-renders them."""

    class Meta:
        model = Institution
        fields = [
            "name",
            "aliases",
            "kind",
            "grade",
            "ownership",
            "province",
            "city",
            "county",
            "address",
            "territory",
            "parent",
            "network",
            "beds",
            "outpatient_volume",
            "latitude",
            "longitude",
            "status",
            "external_id",
        ]

    def __init__(self, *args: Any, user: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        inst = self.instance
        province = _choice_value(self, "province", inst.province_id if inst.pk else None)
        city = _choice_value(self, "city", inst.city_id if inst.pk else None)
        self.fields["province"].queryset = Division.objects.filter(level=Division.Level.PROVINCE)  # type: ignore[attr-defined]
        self.fields["city"].queryset = Division.objects.filter(level=Division.Level.CITY, parent_id=province)  # type: ignore[attr-defined]
        self.fields["county"].queryset = Division.objects.filter(level=Division.Level.COUNTY, parent_id=city)  # type: ignore[attr-defined]
        self.fields["territory"].queryset = visible(Territory, user=user).filter(is_active=True)  # type: ignore[attr-defined]
        # Parents are chains and medical alliances, nearly always in the same province.
        parents = (
            visible(Institution, user=user).filter(province_id=province)
            if province
            else Institution.objects.none()
        )
        if inst.pk:
            parents = parents.exclude(pk=inst.pk) | Institution.objects.filter(pk=inst.parent_id)
        self.fields["parent"].queryset = parents.order_by("name")  # type: ignore[attr-defined]
        limit_choices(self.fields["parent"])
        for name in ("province", "city", "county", "territory", "parent"):
            self.fields[name].widget.attrs["data-tom-select"] = ""
        self.fields["external_id"].required = False

    def _post_clean(self) -> None:
        # The service validates the model and says why in Chinese; ModelForm's own check would speak first.
        pass


class TerritoryChangeForm(forms.Form):
    """The effective date and reason of a territory change (a move, a territory rule): backdating is for admins."""

    effective = forms.DateField(
        required=False,
        label=_("生效日期"),
        widget=DateInput(),
        help_text=_("留空为今天。早于今天为追溯调整：须填写原因，该日期以来的销售将重新归属。"),
    )
    reason = forms.CharField(required=False, max_length=200, label=_("原因"))


class InstitutionMoveForm(TerritoryChangeForm):
    """Move an institution to another territory; admins may backdate the move (with a reason)."""

    field_order = ["territory", "effective", "reason"]
    territory = forms.ModelChoiceField(
        queryset=Territory.objects.none(),
        required=False,
        label=_("新辖区"),
        help_text=_("留空：按机构所在地区的辖区规则归属"),
    )

    def __init__(self, *args: Any, user: Any, institution: Institution, **kwargs: Any):
        kwargs.setdefault("initial", {"territory": institution.territory_id})
        super().__init__(*args, **kwargs)
        field = cast(forms.ModelChoiceField, self.fields["territory"])
        field.queryset = visible(Territory, user=user).filter(is_active=True)
        field.widget.attrs["data-tom-select"] = ""
        if not user.has_role(Role.ADMIN):
            # Only an admin may backdate a move; everyone else's takes effect today.
            del self.fields["effective"]


class DepartmentForm(forms.ModelForm):
    class Meta:
        model = Department
        fields = ["name", "specialty", "headcount"]

    def _post_clean(self) -> None:
        pass


# --- Professionals ---------------------------------------------------------------------------------

PROFESSIONAL_FORM_FIELDS = [
    "name",
    "gender",
    "role",
    "title",
    "institution",
    "department",
    "mobile",
    "wechat_id",
    "email",
    "preferred_channel",
    "preferred_time",
    "interests",
    "current_concerns",
    "academic_posts",
    "publications",
    "therapeutic_areas",
    "prescribing_habits",
    "product_attitude",
    "prescribing_potential",
    "engagement_stage",
    "influence_decision",
    "influence_prescribing",
    "influence_academic",
    "personal_notes",
    "status",
    "external_id",
]

# How the edit page groups the fields, phone first: who they are, how to reach them, what matters to them.
PROFESSIONAL_SECTIONS = [
    (
        _("基本信息"),
        ["name", "gender", "role", "title", "institution", "department", "status", "external_id"],
    ),
    (_("联系方式与沟通偏好"), ["mobile", "wechat_id", "email", "preferred_channel", "preferred_time"]),
    (
        _("专业与学术"),
        ["therapeutic_areas", "academic_posts", "publications", "interests", "current_concerns"],
    ),
    (
        _("处方习惯与合作"),
        [
            "prescribing_habits",
            "product_attitude",
            "prescribing_potential",
            "engagement_stage",
            "influence_decision",
            "influence_prescribing",
            "influence_academic",
        ],
    ),
    (_("个人备注"), ["personal_notes"]),
]


class ProfessionalForm(forms.ModelForm):
    class Meta:
        model = Professional
        fields = PROFESSIONAL_FORM_FIELDS
        widgets = {
            name: forms.Textarea(attrs={"rows": 2})
            for name in (
                "interests",
                "current_concerns",
                "academic_posts",
                "publications",
                "prescribing_habits",
                "personal_notes",
            )
        }

    def __init__(self, *args: Any, user: Any, institution: Institution | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        inst = self.instance
        if inst.pk:
            # A move to another institution is a new primary affiliation (执业关系), with its date.
            del self.fields["institution"]
            institution_id = inst.institution_id
        elif institution is not None:
            self.fields["institution"].queryset = Institution.objects.filter(pk=institution.pk)  # type: ignore[attr-defined]
            self.fields["institution"].initial = institution.pk
            self.fields["institution"].widget = forms.HiddenInput()
            institution_id = institution.pk
        else:
            self.fields["institution"].queryset = visible(Institution, user=user).order_by("name")  # type: ignore[attr-defined]
            self.fields["institution"].widget.attrs["data-tom-select"] = ""
            limit_choices(self.fields["institution"], 1000)
            institution_id = _choice_value(self, "institution", None)
        # Any department is accepted here; the service refuses one of another institution, naming both.
        self.fields["department"].queryset = Department.objects.filter(  # type: ignore[attr-defined]
            Q(institution_id=institution_id)
            | Q(pk=_choice_value(self, "department", inst.department_id) or 0)
        ).select_related("institution")
        self.fields["department"].label_from_instance = lambda d: d.name  # type: ignore[attr-defined]
        self.fields["external_id"].required = False
        driven = segmentation.rule_driven_dimensions()
        for name in ("prescribing_potential", "engagement_stage"):
            if name in driven:
                self.fields[name].disabled = True
                self.fields[name].help_text = _("由分类规则计算；如需调整，请经理在“分类依据”中人工调整。")
        self.fields["prescribing_habits"].help_text = _(
            "只记录定性描述（治疗偏好、用药理念），不记录处方数量或占比。"
        )

    def _post_clean(self) -> None:
        pass

    def sections(self) -> list[tuple[Any, list[forms.BoundField]]]:
        return [
            (title, [self[name] for name in names if name in self.fields])
            for title, names in PROFESSIONAL_SECTIONS
        ]

    def changes(self) -> dict[str, Any]:
        """The submitted values that differ from the instance (for update_professional)."""
        return {name: self.cleaned_data[name] for name in self.changed_data if not self.fields[name].disabled}


# --- Profile lists -----------------------------------------------------------------------------------


class NeedForm(forms.ModelForm):
    class Meta:
        model = Need
        fields = ["kind", "description", "found_on", "status"]
        widgets = {"found_on": DateInput(), "description": forms.Textarea(attrs={"rows": 3})}

    def _post_clean(self) -> None:
        pass


class NeedStatusForm(forms.Form):
    status = forms.ChoiceField(choices=Need.Status.choices, label=_("状态"))


class KeyDateForm(forms.ModelForm):
    class Meta:
        model = KeyDate
        fields = ["kind", "label", "month", "day", "year", "shared_by_customer"]

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        # Not required here: the service refuses an unshared date with the PIPL reason.
        self.fields["shared_by_customer"].required = False

    def _post_clean(self) -> None:
        pass


class AffiliationForm(forms.Form):
    institution = forms.ModelChoiceField(queryset=Institution.objects.none(), label=_("机构"))
    department = forms.ModelChoiceField(queryset=Department.objects.none(), required=False, label=_("科室"))
    position = forms.CharField(max_length=100, required=False, label=_("职务"))
    is_primary = forms.BooleanField(required=False, label=_("设为主要执业点（将结束当前主要执业点）"))
    valid_from = forms.DateField(required=False, widget=DateInput(), label=_("开始日期"))

    def __init__(self, *args: Any, user: Any, professional: Professional, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.fields["institution"].queryset = visible(Institution, user=user).order_by("name")  # type: ignore[attr-defined]
        self.fields["institution"].widget.attrs["data-tom-select"] = ""
        self.fields["institution"].initial = professional.institution_id
        limit_choices(self.fields["institution"], 1000)
        chosen = _choice_value(self, "institution", professional.institution_id)
        self.fields["department"].queryset = Department.objects.filter(  # type: ignore[attr-defined]
            Q(institution_id=chosen) | Q(pk=_choice_value(self, "department", None) or 0)
        )


class OverrideForm(forms.Form):
    value = forms.ChoiceField(label=_("调整为"))
    reason = forms.CharField(
        max_length=300, required=False, label=_("调整原因"), widget=forms.Textarea(attrs={"rows": 2})
    )

    def __init__(self, *args: Any, dimension: str, **kwargs: Any):
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["value"]).choices = segmentation.DIMENSION_CHOICES[
            dimension
        ].choices
        self.prefix = f"ov-{dimension}"


# --- Plans -------------------------------------------------------------------------------------------


def plan_owner_choices(user: Any) -> Any:
    return (
        visible(User, user=user)
        .filter(is_active=True, role_rows__role__in=EDITOR_ROLES)
        .distinct()
        .order_by("display_name", "username")
    )


class PlanForm(forms.ModelForm):
    class Meta:
        model = DevelopmentPlan
        fields = ["title", "description", "owner", "due_on", "status"]
        widgets = {"due_on": DateInput(), "description": forms.Textarea(attrs={"rows": 3})}

    def __init__(self, *args: Any, user: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.fields["owner"].queryset = plan_owner_choices(user)  # type: ignore[attr-defined]
        self.fields["owner"].required = False
        if not self.instance.pk:
            self.fields["owner"].initial = user.pk

    def _post_clean(self) -> None:
        pass


class StepForm(forms.Form):
    title = forms.CharField(max_length=200, label=_("步骤"))
    due_on = forms.DateField(required=False, widget=DateInput(), label=_("截止日期"))


# --- Segmentation rules --------------------------------------------------------------------------


class RuleForm(forms.ModelForm):
    result = forms.ChoiceField(label=_("结果"))

    class Meta:
        model = SegmentationRule
        fields = ["name", "dimension", "priority", "result", "is_active"]

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["result"]).choices = [
            (str(Dimension(dim).label), [(v, label) for v, label in choices.choices])
            for dim, choices in segmentation.DIMENSION_CHOICES.items()
        ]

    def _post_clean(self) -> None:
        pass


class ConditionForm(forms.Form):
    field = forms.ChoiceField(
        label=_("字段"),
        required=False,
        choices=[
            ("", "—"),
            *[(name, f"{spec.label}（{name}）") for name, spec in segmentation.FIELDS.items()],
        ],
    )
    op = forms.ChoiceField(
        label=_("运算"),
        required=False,
        choices=[(k, f"{v}（{k}）") for k, v in segmentation.OPERATORS.items()],
    )
    value = forms.CharField(
        label=_("值"),
        required=False,
        max_length=500,
        help_text=_("可填代码或中文名称；“属于”可填多个，用逗号分隔"),
    )

    def as_condition(self) -> dict[str, Any] | None:
        data = self.cleaned_data
        if not data or not data.get("field"):
            return None
        value: Any = data.get("value", "")
        if data.get("op") == "in":
            value = [v for v in segmentation._LIST_SEPARATORS.split(value) if v.strip()]
        return {"field": data["field"], "op": data.get("op", ""), "value": value}


ConditionFormSet = forms.formset_factory(ConditionForm, extra=2, max_num=12, can_delete=True)


def conditions_initial(rule: SegmentationRule | None) -> list[dict[str, Any]]:
    rows = []
    for cond in (rule.conditions if rule else None) or []:
        value = cond.get("value")
        rows.append(
            {
                "field": cond.get("field"),
                "op": cond.get("op"),
                "value": "，".join(map(str, value)) if isinstance(value, list) else value,
            }
        )
    return rows
