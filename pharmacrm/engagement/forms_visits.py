"""Forms of the visit pages: the one-minute record form with its need, commitment and hospitality rows; amendment, coaching, follow-ups, triage.

The forms only parse; the services decide (and their refusals come back onto these forms).
"""

from __future__ import annotations

import datetime as dt
from collections import OrderedDict
from decimal import Decimal
from typing import Any

from django import forms
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from pharmacrm.commercial.models import KeyMessage, Product
from pharmacrm.core.visibility import visible
from pharmacrm.customers.models import Affiliation, Institution, Need, Professional
from pharmacrm.engagement.hierarchy import managers_above
from pharmacrm.engagement.models import Callback, Channel, Hospitality, SafetySignal, Visit
from pharmacrm.engagement.visits import (
    CheckIn,
    CommitmentMade,
    HospitalityGiven,
    NeedFound,
    VisitReport,
)

DURATIONS = [(m, f"{m}") for m in (15, 20, 30, 45, 60, 90)]
CHANNEL_ICONS = {
    Channel.IN_PERSON: "person-walking",
    Channel.PHONE: "telephone",
    Channel.WECHAT: "wechat",
    Channel.EMAIL: "envelope",
    Channel.ONLINE_MEETING: "camera-video",
}


def professionals_at(institution: Institution, *, user: Any) -> list[Professional]:
    """Active professionals working at the institution (primary or current affiliation) the user may see."""
    affiliated = Affiliation.objects.filter(institution=institution, valid_to__isnull=True).values(
        "professional_id"
    )
    people = list(
        visible(Professional, user=user)
        .filter(Q(institution=institution) | Q(pk__in=affiliated), status=Professional.Status.ACTIVE)
        .select_related("department")
        .order_by("name", "id")
    )
    # Key customers first: they are the ones seen most often.
    rank = {tier: i for i, tier in enumerate(Professional.Tier.values)}
    return sorted(people, key=lambda p: rank.get(p.tier, 9))


def key_message_groups(day: dt.date) -> list[tuple[str, int, list[tuple[int, str]]]]:
    """Approved key messages in force on `day`, by product: (product, product id, [(id, label)])."""
    rows = (
        KeyMessage.objects.filter(approved=True, valid_from__lte=day, product__is_active=True)
        .filter(Q(valid_to__isnull=True) | Q(valid_to__gte=day))
        .select_related("product")
        .order_by("product__generic_name", "code", "-version")
    )
    groups: OrderedDict[int, tuple[str, int, list[tuple[int, str]]]] = OrderedDict()
    for message in rows:
        text = message.text if len(message.text) <= 40 else message.text[:40] + "…"
        group = groups.setdefault(message.product_id, (str(message.product), message.product_id, []))
        group[2].append((message.pk, f"{message.code} · {text}"))
    return list(groups.values())


def key_message_choices(day: dt.date) -> list[tuple[str, list[tuple[int, str]]]]:
    """The same, as grouped choices (Tom Select shows the groups)."""
    return [(label, options) for label, _product, options in key_message_groups(day)]


class VisitForm(forms.Form):
    """What a rep fills in after a visit; everything but who, channel and when is optional."""

    starts_at = forms.DateTimeField(
        label=_("拜访时间"),
        widget=forms.DateTimeInput(
            attrs={"type": "datetime-local", "class": "form-control"}, format="%Y-%m-%dT%H:%M"
        ),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S"],
    )
    channel = forms.ChoiceField(label=_("拜访渠道"), choices=Channel.choices, initial=Channel.IN_PERSON)
    duration_minutes = forms.TypedChoiceField(
        label=_("时长（分钟）"), choices=DURATIONS, coerce=int, initial=30
    )
    professionals = forms.TypedMultipleChoiceField(label=_("拜访对象"), coerce=int)
    products = forms.TypedMultipleChoiceField(label=_("讨论产品"), coerce=int, required=False)
    key_messages = forms.TypedMultipleChoiceField(label=_("传递的关键信息"), coerce=int, required=False)
    feedback = forms.CharField(
        label=_("客户反馈"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2, "class": "form-control", "placeholder": _("客户怎么说")}),
    )
    notes = forms.CharField(
        label=_("备注"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2, "class": "form-control"}),
    )
    next_step = forms.CharField(
        label=_("下一步"),
        required=False,
        max_length=300,
        widget=forms.TextInput(attrs={"class": "form-control"}),
    )
    materials_given = forms.CharField(
        label=_("提供的资料/样品"),
        required=False,
        max_length=300,
        widget=forms.TextInput(attrs={"class": "form-control"}),
    )
    co_visitor = forms.TypedChoiceField(label=_("协访经理"), coerce=int, required=False, empty_value=None)
    check_in = forms.BooleanField(label=_("签到"), required=False)
    latitude = forms.DecimalField(required=False, max_digits=9, decimal_places=6, widget=forms.HiddenInput)
    longitude = forms.DecimalField(required=False, max_digits=9, decimal_places=6, widget=forms.HiddenInput)

    def __init__(
        self,
        *args: Any,
        professionals: list[Professional],
        rep: Any,
        day: dt.date,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        people = self.fields["professionals"]
        assert isinstance(people, forms.TypedMultipleChoiceField)
        people.choices = [
            (p.pk, f"{p.name}（{p.department.name}）" if p.department else p.name) for p in professionals
        ]
        products = self.fields["products"]
        assert isinstance(products, forms.TypedMultipleChoiceField)
        products.choices = [
            (p.pk, str(p)) for p in Product.objects.filter(is_active=True).order_by("generic_name")
        ]
        messages = self.fields["key_messages"]
        assert isinstance(messages, forms.TypedMultipleChoiceField)
        self.key_message_groups = key_message_groups(day)
        messages.choices = [(label, options) for label, _product, options in self.key_message_groups]
        duration = self.fields["duration_minutes"]
        assert isinstance(duration, forms.TypedChoiceField)
        current = self.initial.get("duration_minutes")
        if current and current not in dict(DURATIONS):
            # A visit recorded elsewhere (API, import) may last any number of minutes.
            duration.choices = sorted([*DURATIONS, (current, str(current))])
        co = self.fields["co_visitor"]
        assert isinstance(co, forms.TypedChoiceField)
        co.choices = [("", _("无（独自拜访）"))] + [
            (m.pk, f"{m}（{m.org_unit}）") for m in managers_above(rep)
        ]

    def report(
        self,
        *,
        needs: list[NeedFound],
        commitments: list[CommitmentMade],
        hospitality: list[HospitalityGiven],
    ) -> VisitReport:
        data = self.cleaned_data
        check_in = None
        if data.get("check_in"):
            check_in = CheckIn(
                at=timezone.now(), latitude=data.get("latitude"), longitude=data.get("longitude")
            )
        return VisitReport(
            channel=data["channel"],
            professional_ids=data["professionals"],
            product_ids=data.get("products") or [],
            key_message_ids=data.get("key_messages") or [],
            feedback=data.get("feedback", ""),
            notes=data.get("notes", ""),
            next_step=data.get("next_step", ""),
            materials_given=data.get("materials_given", ""),
            duration_minutes=data["duration_minutes"],
            needs=needs,
            commitments=commitments,
            hospitality=hospitality,
            check_in=check_in,
            co_visitor_id=data.get("co_visitor"),
        )


class _RowForm(forms.Form):
    """A row of a repeated part; its person defaults to the first one visited."""

    professional = forms.TypedChoiceField(label=_("对象"), coerce=int, required=False, empty_value=None)

    def __init__(self, *args: Any, people: list[tuple[int, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["professional"]
        assert isinstance(field, forms.TypedChoiceField)
        field.choices = [("", _("（第一位拜访对象）")), *people]
        field.widget.attrs["class"] = "form-select form-select-sm"

    def person(self, default: int | None) -> int:
        chosen = self.cleaned_data.get("professional") or default
        return int(chosen or 0)


class NeedRowForm(_RowForm):
    kind = forms.ChoiceField(
        label=_("类型"), choices=Need.Kind.choices, initial=Need.Kind.CLINICAL, required=False
    )
    description = forms.CharField(
        label=_("需求"), required=False, widget=forms.TextInput(attrs={"placeholder": _("客户提到的需求")})
    )

    def is_blank(self) -> bool:
        return not (self.cleaned_data.get("description") or "").strip()


class CommitmentRowForm(_RowForm):
    description = forms.CharField(
        label=_("承诺事项"), required=False, widget=forms.TextInput(attrs={"placeholder": _("答应客户的事")})
    )
    due_on = forms.DateField(
        label=_("截止日期"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )

    def is_blank(self) -> bool:
        return not (self.cleaned_data.get("description") or "").strip() and not self.cleaned_data.get(
            "due_on"
        )


class HospitalityRowForm(_RowForm):
    kind = forms.ChoiceField(label=_("形式"), choices=[("", "—"), *Hospitality.Kind.choices], required=False)
    amount_per_person = forms.DecimalField(
        label=_("人均金额（元）"), required=False, min_value=Decimal("0"), max_digits=10, decimal_places=2
    )
    attendees = forms.IntegerField(label=_("人数"), required=False, min_value=1, initial=1)
    description = forms.CharField(label=_("说明"), required=False, max_length=300)

    def is_blank(self) -> bool:
        return not self.cleaned_data.get("kind")


def row_formset(form_class: type[forms.Form]) -> type[forms.BaseFormSet[Any]]:
    return forms.formset_factory(form_class, extra=1, max_num=20, absolute_max=20)


NeedRows = row_formset(NeedRowForm)
CommitmentRows = row_formset(CommitmentRowForm)
HospitalityRows = row_formset(HospitalityRowForm)


def style(form: forms.Form) -> forms.Form:
    """Bootstrap classes on plain inputs (the template renders some widgets by hand)."""
    for field in form.fields.values():
        widget = field.widget
        if isinstance(widget, (forms.TextInput, forms.NumberInput, forms.DateInput, forms.Textarea)):
            widget.attrs.setdefault(
                "class", "form-control form-control-sm" if isinstance(form, _RowForm) else "form-control"
            )
        elif isinstance(widget, forms.Select) and not isinstance(widget, forms.SelectMultiple):
            widget.attrs.setdefault(
                "class", "form-select form-select-sm" if isinstance(form, _RowForm) else "form-select"
            )
    return form


class AmendForm(forms.Form):
    reason = forms.CharField(
        label=_("更正原因"), max_length=300, widget=forms.TextInput(attrs={"class": "form-control"})
    )
    feedback = forms.CharField(
        label=_("客户反馈"), required=False, widget=forms.Textarea(attrs={"rows": 3, "class": "form-control"})
    )
    notes = forms.CharField(
        label=_("备注"), required=False, widget=forms.Textarea(attrs={"rows": 3, "class": "form-control"})
    )
    next_step = forms.CharField(
        label=_("下一步"),
        required=False,
        max_length=300,
        widget=forms.TextInput(attrs={"class": "form-control"}),
    )
    materials_given = forms.CharField(
        label=_("提供的资料/样品"),
        required=False,
        max_length=300,
        widget=forms.TextInput(attrs={"class": "form-control"}),
    )
    duration_minutes = forms.IntegerField(
        label=_("时长（分钟）"),
        min_value=1,
        max_value=600,
        widget=forms.NumberInput(attrs={"class": "form-control"}),
    )
    products = forms.TypedMultipleChoiceField(label=_("讨论产品"), coerce=int, required=False)
    key_messages = forms.TypedMultipleChoiceField(label=_("传递的关键信息"), coerce=int, required=False)

    def __init__(self, data: Any = None, *, visit: Visit) -> None:
        day = timezone.localdate(visit.starts_at)
        initial = {
            "feedback": visit.feedback,
            "notes": visit.notes,
            "next_step": visit.next_step,
            "materials_given": visit.materials_given,
            "duration_minutes": visit.duration_minutes,
            "products": [p.pk for p in visit.products.all()],
            "key_messages": [m.pk for m in visit.key_messages.all()],
        }
        super().__init__(data, initial=initial)
        products = self.fields["products"]
        assert isinstance(products, forms.TypedMultipleChoiceField)
        products.choices = [
            (p.pk, str(p)) for p in Product.objects.filter(is_active=True).order_by("generic_name")
        ]
        products.widget.attrs.update({"data-tom-select": "", "class": "form-select"})
        messages = self.fields["key_messages"]
        assert isinstance(messages, forms.TypedMultipleChoiceField)
        messages.choices = key_message_choices(day)
        messages.widget.attrs.update({"data-tom-select": "", "class": "form-select"})

    def changes(self) -> dict[str, Any]:
        """The fields the user changed, under the service's names."""
        names = {"products": "product_ids", "key_messages": "key_message_ids"}
        result: dict[str, Any] = {}
        for name in self.changed_data:
            if name == "reason":
                continue
            result[names.get(name, name)] = self.cleaned_data[name]
        return result


SCORE_CHOICES = [(i, str(i)) for i in range(1, 6)]


class CoachingForm(forms.Form):
    preparation = forms.TypedChoiceField(
        label=_("拜访准备"), choices=SCORE_CHOICES, coerce=int, widget=forms.RadioSelect
    )
    messaging = forms.TypedChoiceField(
        label=_("信息传递"), choices=SCORE_CHOICES, coerce=int, widget=forms.RadioSelect
    )
    listening = forms.TypedChoiceField(
        label=_("倾听与提问"), choices=SCORE_CHOICES, coerce=int, widget=forms.RadioSelect
    )
    compliance = forms.TypedChoiceField(
        label=_("合规"), choices=SCORE_CHOICES, coerce=int, widget=forms.RadioSelect
    )
    strengths = forms.CharField(
        label=_("做得好的"), required=False, widget=forms.Textarea(attrs={"rows": 2, "class": "form-control"})
    )
    improvements = forms.CharField(
        label=_("待改进"), required=False, widget=forms.Textarea(attrs={"rows": 2, "class": "form-control"})
    )

    SCORES = ("preparation", "messaging", "listening", "compliance")


class CloseCommitmentForm(forms.Form):
    how_kept = forms.CharField(
        label=_("兑现情况"),
        max_length=300,
        widget=forms.TextInput(
            attrs={"class": "form-control form-control-sm", "placeholder": _("如何兑现的")}
        ),
    )


class CommitmentForm(forms.Form):
    professional = forms.IntegerField(label=_("对象"))
    description = forms.CharField(
        label=_("承诺事项"), max_length=300, widget=forms.TextInput(attrs={"class": "form-control"})
    )
    due_on = forms.DateField(
        label=_("截止日期"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date", "class": "form-control"}),
    )


class CompleteCallbackForm(forms.Form):
    outcome = forms.CharField(
        label=_("回访结果"), widget=forms.Textarea(attrs={"rows": 2, "class": "form-control form-control-sm"})
    )
    satisfaction = forms.TypedChoiceField(
        label=_("满意度"), choices=SCORE_CHOICES, coerce=int, widget=forms.RadioSelect
    )


class CallbackFilterForm(forms.Form):
    status = forms.ChoiceField(choices=Callback.Status.choices, required=False)


class TriageForm(forms.Form):
    status = forms.ChoiceField(
        label=_("处理状态"),
        choices=[c for c in SafetySignal.Status.choices if c[0] != SafetySignal.Status.NEW],
        widget=forms.Select(attrs={"class": "form-select form-select-sm"}),
    )
    note = forms.CharField(
        label=_("处理说明"),
        required=False,
        widget=forms.TextInput(attrs={"class": "form-control form-control-sm"}),
    )
