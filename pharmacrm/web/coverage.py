"""Coverage pages: give a territory to a rep, correct recorded coverage, and set area rules (admins only).

The territory page shows the coverage history to whoever may see the territory (managers their
subtree, reps their own); the forms on it post here. Both writes are `core.services` calls, which
queue re-attribution of the affected sales after commit; refusals (an overlapping primary holder,
an end before the start) come back as form errors and change nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from django import forms
from django.contrib import messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _l

from pharmacrm.core import selectors as core_selectors
from pharmacrm.core import services as core_services
from pharmacrm.core.models import Division, Role, Territory, TerritoryAssignment, TerritoryRule, User
from pharmacrm.core.views import actor, role_required
from pharmacrm.core.visibility import get_visible_or_404
from pharmacrm.customers import territory_history
from pharmacrm.customers.forms import DateInput, TerritoryChangeForm
from pharmacrm.customers.service_forms import form_page

T = TypeVar("T")


def coverage_holders() -> QuerySet[User]:
    """Who may hold a territory: active reps and commercial staff (assign_territory refuses others)."""
    return (
        User.objects.filter(is_active=True, role_rows__role__in=[Role.REP, Role.COMMERCIAL])
        .distinct()
        .order_by("display_name", "username")
    )


class AssignForm(forms.Form):
    user = forms.ModelChoiceField(queryset=User.objects.none(), label=_l("人员"))
    kind = forms.ChoiceField(
        choices=TerritoryAssignment.Kind.choices, initial=TerritoryAssignment.Kind.PRIMARY, label=_l("类型")
    )
    valid_from = forms.DateField(
        label=_l("开始日期"),
        widget=DateInput(),
        help_text=_l("主负责：原主负责人的负责期到前一天结束。"),
    )

    def __init__(self, *args: Any, **kwargs: Any):
        kwargs.setdefault("prefix", "assign")
        super().__init__(*args, **kwargs)
        field = self.fields["user"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = coverage_holders()
        field.widget.attrs["data-tom-select"] = ""


class CorrectForm(forms.Form):
    valid_from = forms.DateField(label=_l("开始日期"), widget=DateInput())
    valid_to = forms.DateField(
        label=_l("结束日期"), widget=DateInput(), required=False, help_text=_l("留空为至今")
    )

    def __init__(self, *args: Any, assignment: TerritoryAssignment, **kwargs: Any):
        kwargs.setdefault("prefix", f"a{assignment.pk}")
        kwargs.setdefault("initial", {"valid_from": assignment.valid_from, "valid_to": assignment.valid_to})
        super().__init__(*args, **kwargs)


def _territory_form(
    request: HttpRequest,
    *,
    territory: Territory,
    form: forms.BaseForm,
    save: Callable[[dict[str, Any]], T],
    message: Callable[[T], str],
    title: str,
    submit_label: str,
    action: str,
) -> HttpResponse:
    """A coverage write's form page: on success `message`, the re-attribution notice, back to the territory."""

    def done(result: T) -> str:
        messages.success(request, message(result))
        messages.info(request, _("受影响日期以来的销售已排队在后台重新归属到负责人。"))
        return territory.get_absolute_url()

    return form_page(
        request,
        form=form,
        save=save,
        success_url=done,
        title=title,
        breadcrumbs=[
            (_("辖区"), reverse("web:territory_list")),
            (str(territory), territory.get_absolute_url()),
        ],
        cancel_url=territory.get_absolute_url(),
        extra={"submit_label": submit_label, "form_action": action},
    )


@role_required(Role.ADMIN)
def territory_assign(request: HttpRequest, pk: int) -> HttpResponse:
    """Give the territory to a rep from a date (the form sits on the territory page)."""
    territory = get_visible_or_404(Territory, user=request.user, pk=pk)
    return _territory_form(
        request,
        territory=territory,
        form=AssignForm(request.POST or None),
        save=lambda data: core_services.assign_territory(
            actor=actor(request),
            territory=territory,
            user=data["user"],
            valid_from=data["valid_from"],
            kind=data["kind"],
        ),
        message=lambda assignment: _("已指定 {user} 为 {territory} 的{kind}，自 {day} 起。").format(
            user=assignment.user,
            territory=territory,
            kind=assignment.get_kind_display(),
            day=assignment.valid_from.isoformat(),
        ),
        title=_("指定负责人：{territory}").format(territory=territory),
        submit_label=_("指定"),
        action=reverse("web:territory_assign", args=[territory.pk]),
    )


@role_required(Role.ADMIN)
def assignment_correct(request: HttpRequest, pk: int) -> HttpResponse:
    """Correct the dates of one recorded coverage period."""
    assignment = get_visible_or_404(
        TerritoryAssignment.objects.select_related("territory", "user"), user=request.user, pk=pk
    )
    territory = assignment.territory
    return _territory_form(
        request,
        territory=territory,
        form=CorrectForm(request.POST or None, assignment=assignment),
        save=lambda data: core_services.correct_assignment(
            actor=actor(request),
            assignment=assignment,
            valid_from=data["valid_from"],
            valid_to=data["valid_to"],
        ),
        message=lambda row: _("已更正 {user} 负责 {territory} 的日期：{start} 至 {end}。").format(
            user=row.user,
            territory=territory,
            start=row.valid_from.isoformat(),
            end=row.valid_to.isoformat() if row.valid_to else _("至今"),
        ),
        title=_("更正负责日期：{user} · {territory}").format(user=assignment.user, territory=territory),
        submit_label=_("更正"),
        action=reverse("web:assignment_correct", args=[assignment.pk]),
    )


# --- Territory rules: an area (a province, or one city of it) belongs to a territory --------------------
# A rule places the area's institutions that have no territory of their own; changing it moves them
# (customers.territory_history records the moves and queues re-attribution of their sales).


class DivisionChoiceField(forms.ModelChoiceField):
    """A province or city, shown with its code (the code is what the CLI and the API take)."""

    def label_from_instance(self, obj: Any) -> str:
        return f"{obj.code} {obj.name}"


class RuleForm(TerritoryChangeForm):
    field_order = ["province", "city", "effective", "reason"]
    province = DivisionChoiceField(queryset=Division.objects.none(), label=_l("省"), to_field_name="code")
    city = DivisionChoiceField(
        queryset=Division.objects.none(),
        required=False,
        label=_l("市"),
        to_field_name="code",
        help_text=_l("留空：整个省。同一地区已有规则时改归本辖区。"),
    )

    def __init__(self, *args: Any, **kwargs: Any):
        kwargs.setdefault("prefix", "rule")
        super().__init__(*args, **kwargs)
        for name, level in (("province", Division.Level.PROVINCE), ("city", Division.Level.CITY)):
            field = self.fields[name]
            assert isinstance(field, forms.ModelChoiceField)
            field.queryset = Division.objects.filter(level=level).order_by("code")
            field.widget.attrs["data-tom-select"] = ""


class RuleRemoveForm(TerritoryChangeForm):
    def __init__(self, *args: Any, rule: TerritoryRule, **kwargs: Any):
        kwargs.setdefault("prefix", f"r{rule.pk}")
        super().__init__(*args, **kwargs)


def area_label(rule: TerritoryRule) -> str:
    return f"{rule.province.name} · {rule.city.name}" if rule.city is not None else rule.province.name


@role_required(Role.ADMIN)
def territory_rule_add(request: HttpRequest, pk: int) -> HttpResponse:
    """Give an area to the territory (the form sits on the territory page)."""
    territory = get_visible_or_404(Territory, user=request.user, pk=pk)

    def message(change: territory_history.RuleChange) -> str:
        area = area_label(change.rule)
        if change.previous is not None:
            return _("{area} 已从 {old} 改归 {territory}。").format(
                area=area, old=change.previous, territory=territory
            )
        return _("{area} 已归 {territory}。").format(area=area, territory=territory)

    return _territory_form(
        request,
        territory=territory,
        form=RuleForm(request.POST or None),
        save=lambda data: territory_history.set_territory_rule(
            actor=actor(request),
            territory=territory,
            province=data["province"],
            city=data["city"],
            effective=data["effective"],
            reason=data["reason"],
        ),
        message=message,
        title=_("添加辖区规则：{territory}").format(territory=territory),
        submit_label=_("添加"),
        action=reverse("web:territory_rule_add", args=[territory.pk]),
    )


@role_required(Role.ADMIN)
def territory_rule_remove(request: HttpRequest, pk: int) -> HttpResponse:
    """Remove a rule: its area's institutions without a territory follow the province's rule, or none."""
    rule = get_object_or_404(core_selectors.territory_rules(user=request.user), pk=pk)
    territory = rule.territory
    return _territory_form(
        request,
        territory=territory,
        # Both fields are optional: an empty POST is a removal from today, so bind on the method.
        form=RuleRemoveForm(request.POST if request.method == "POST" else None, rule=rule),
        save=lambda data: territory_history.remove_territory_rule(
            actor=actor(request), rule=rule, effective=data["effective"], reason=data["reason"]
        ),
        message=lambda _result: _("已删除辖区规则：{area} 不再归 {territory}。").format(
            area=area_label(rule), territory=territory
        ),
        title=_("删除辖区规则：{area} · {territory}").format(area=area_label(rule), territory=territory),
        submit_label=_("删除"),
        action=reverse("web:territory_rule_remove", args=[rule.pk]),
    )
