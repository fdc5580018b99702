"""Visit pages: record a visit in under a minute on a phone, the visit with its flags, amendments and coaching; commitments, callbacks, the safety queue.

Each page parses, calls one service and renders. A refusal comes back beside the field it names;
while the rep fills the record form, every change is checked by running the service in a
transaction that is rolled back (nothing is written, no compliance event is raised).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from typing import Any, cast

import django_filters
import django_tables2 as tables
from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse, reverse_lazy
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _l
from django.views.decorators.http import require_POST

from pharmacrm.compliance import policy
from pharmacrm.core.errors import DomainError, NotAllowed
from pharmacrm.core.models import User
from pharmacrm.core.views import ObjectDetailView, ObjectHistoryView, ObjectListView, role_required
from pharmacrm.core.visibility import get_visible_or_404, visible
from pharmacrm.customers.models import Institution, Need, Professional
from pharmacrm.engagement import followups, safety, visits
from pharmacrm.engagement.forms_visits import (
    CHANNEL_ICONS,
    AmendForm,
    CloseCommitmentForm,
    CoachingForm,
    CommitmentForm,
    CommitmentRows,
    CompleteCallbackForm,
    HospitalityRows,
    NeedRows,
    TriageForm,
    VisitForm,
    professionals_at,
    style,
)
from pharmacrm.engagement.hierarchy import ABOVE_ROLES, is_manager_above
from pharmacrm.engagement.models import Callback, Channel, Coaching, Commitment, SafetySignal, Visit
from pharmacrm.engagement.visits import CommitmentMade, HospitalityGiven, NeedFound, VisitOutcome

VISITS = (_l("拜访记录"), reverse_lazy("engagement:visit_list"))
TABLE_ATTRS = {"class": "table table-sm table-hover align-middle"}
# Where a refusal is shown on the record form; anything else goes to the top.
ERROR_SLOTS = (
    "starts_at",
    "channel",
    "duration_minutes",
    "professionals",
    "products",
    "key_messages",
    "feedback",
    "notes",
    "needs",
    "commitments",
    "hospitality",
    "co_visitor",
    "next_step",
    "materials_given",
)


def _actor(request: HttpRequest) -> User:
    return cast(User, request.user)


def _tell(request: HttpRequest, outcome: VisitOutcome) -> None:
    """What the rep must know after a save: flags (compliance sees them), warnings, notices."""
    for text in outcome.flags:
        messages.warning(request, text)
    for text in outcome.warnings:
        messages.warning(request, text)
    for text in outcome.notices:
        messages.info(request, text)


def _autocomplete(name: str) -> str:
    try:
        return reverse(f"customers:autocomplete_{name}")
    except NoReverseMatch:
        return ""


# --- Record -------------------------------------------------------------------------------------------------


class _DryRun(Exception):
    pass


def _local_input(value: dt.datetime) -> str:
    return f"{timezone.localtime(value):%Y-%m-%dT%H:%M}"


def _default_start(now: dt.datetime, duration: int = 30) -> dt.datetime:
    """Right after a visit: it started about `duration` minutes ago, on a five-minute mark."""
    start = timezone.localtime(now) - dt.timedelta(minutes=duration)
    return start.replace(minute=start.minute - start.minute % 5, second=0, microsecond=0)


def _rows(formset: Any) -> list[Any]:
    return [f for f in formset.forms if f.is_valid() and f.cleaned_data and not f.is_blank()]


def _slot_errors(
    form: VisitForm, formsets: dict[str, Any], extra: DomainError | None
) -> tuple[dict[str, list[str]], list[str]]:
    """Errors by slot on the page, and the rest for the top."""
    slots: dict[str, list[str]] = {name: [] for name in ERROR_SLOTS}
    top: list[str] = []
    for name, errors in form.errors.items():
        slots.get(name, top).extend(str(e) for e in errors)
    for slot, formset in formsets.items():
        for row in formset.forms:
            for errors in row.errors.values():
                slots[slot].extend(str(e) for e in errors)
        slots[slot].extend(str(e) for e in formset.non_form_errors())
    if extra is not None:
        placed = False
        for name, messages_ in extra.fields.items():
            key = name.split(".")[0]
            if key in slots:
                slots[key].extend(messages_)
                placed = True
        shown = {message for messages_ in slots.values() for message in messages_}
        if not placed or extra.message not in shown:
            top.append(extra.message)
    return slots, list(dict.fromkeys(top))


def _record_page(
    request: HttpRequest,
    *,
    institution: Institution,
    planned: Visit | None = None,
    editing: Visit | None = None,
    preselect: list[int] | None = None,
) -> HttpResponse:
    user = _actor(request)
    now = timezone.now()
    subject = editing or planned
    day = timezone.localdate(subject.starts_at) if subject else timezone.localdate()
    people = professionals_at(institution, user=user)
    choices = [(p.pk, p.name) for p in people]
    data = request.POST if request.method == "POST" else None
    if editing is not None:
        initial: dict[str, Any] = {
            "starts_at": _local_input(editing.starts_at),
            "channel": editing.channel,
            "duration_minutes": editing.duration_minutes,
            "professionals": [p.pk for p in editing.professionals.all()],
            "products": [p.pk for p in editing.products.all()],
            "key_messages": [m.pk for m in editing.key_messages.all()],
            "feedback": editing.feedback,
            "notes": editing.notes,
            "next_step": editing.next_step,
            "materials_given": editing.materials_given,
            "co_visitor": editing.co_visitor_id,
        }
    elif planned is not None:
        initial = {
            "starts_at": _local_input(planned.starts_at),
            "channel": planned.channel,
            "duration_minutes": planned.duration_minutes,
            "professionals": [p.pk for p in planned.professionals.all()] or preselect or [],
            "co_visitor": planned.co_visitor_id,
        }
    else:
        initial = {"starts_at": _local_input(_default_start(now)), "professionals": preselect or []}
    form = VisitForm(data, initial=initial, professionals=people, rep=user, day=day)
    formsets = {
        "needs": NeedRows(data, prefix="needs", form_kwargs={"people": choices}),
        "commitments": CommitmentRows(data, prefix="commitments", form_kwargs={"people": choices}),
        "hospitality": HospitalityRows(data, prefix="hospitality", form_kwargs={"people": choices}),
    }
    for formset in formsets.values():
        for row in [*formset.forms, formset.empty_form]:
            style(row)
    style(form)
    validating = request.method == "POST" and request.POST.get("_validate") == "1"
    refusal: DomainError | None = None
    if request.method == "POST":
        valid = form.is_valid() and all(fs.is_valid() for fs in formsets.values())
        if valid:
            first = (form.cleaned_data.get("professionals") or [None])[0]
            report = form.report(
                needs=[
                    NeedFound(
                        professional_id=row.person(first),
                        kind=row.cleaned_data.get("kind") or Need.Kind.CLINICAL,
                        description=row.cleaned_data["description"],
                    )
                    for row in _rows(formsets["needs"])
                ],
                commitments=[
                    CommitmentMade(
                        professional_id=row.person(first),
                        description=row.cleaned_data["description"],
                        due_on=row.cleaned_data.get("due_on"),
                    )
                    for row in _rows(formsets["commitments"])
                ],
                hospitality=[
                    HospitalityGiven(
                        professional_id=row.person(first),
                        kind=row.cleaned_data["kind"],
                        amount_per_person=row.cleaned_data.get("amount_per_person") or Decimal("0"),
                        attendees=row.cleaned_data.get("attendees") or 1,
                        description=row.cleaned_data.get("description") or "",
                    )
                    for row in _rows(formsets["hospitality"])
                ],
            )
            starts_at = form.cleaned_data["starts_at"]

            def save() -> VisitOutcome:
                if editing is not None:
                    return visits.update_visit(actor=user, visit=editing, report=report)
                if planned is not None:
                    return visits.record_visit(actor=user, visit=planned, starts_at=starts_at, report=report)
                return visits.record_visit(
                    actor=user, institution=institution, starts_at=starts_at, report=report
                )

            try:
                if validating:
                    with transaction.atomic():
                        save()
                        raise _DryRun
                outcome = save()
                _tell(request, outcome)
                messages.success(request, _("拜访记录已保存。") if editing else _("拜访已记录。"))
                return redirect(outcome.visit.get_absolute_url())
            except _DryRun:
                pass
            except NotAllowed as exc:
                raise PermissionDenied(exc.message) from exc
            except DomainError as exc:
                refusal = exc
            finally:
                if validating:
                    # Checking is not attempting: refusals seen while typing are not compliance events.
                    policy.discard_pending_events()
    slots, top = _slot_errors(form, formsets, refusal) if request.method == "POST" else ({}, [])
    if validating:
        # While the rep is still filling the form, only speak about what they touched.
        for name in ("professionals", "starts_at"):
            if not request.POST.get(name) and name in slots:
                slots[name] = []
    registration = policy.check("visit.record", actor=user, on=day)
    context = {
        "title": _("编辑拜访记录") if editing else (_("完成计划拜访") if planned else _("记录拜访")),
        "form": form,
        "formsets": formsets,
        "institution": institution,
        "planned": planned,
        "editing": editing,
        "slots": slots,
        "top_errors": top,
        "validating": validating,
        "channel_icons": {str(k): v for k, v in CHANNEL_ICONS.items()},
        "remote_channels": sorted(visits.REMOTE_CHANNELS),
        "location_consent": visits.has_location_consent(user, at=now),
        "registration_refusal": None if registration.allowed else registration.message,
        "breadcrumbs": [VISITS, (_("记录拜访"), None)],
    }
    template = "engagement/visit_record.html"
    if validating:
        return render(request, f"{template}#errors", context)
    return render(request, template, context)


@login_required
def visit_record(request: HttpRequest) -> HttpResponse:
    """?visit= completes a planned visit; ?professional= or ?institution= records one (today's plan with them is used)."""
    user = _actor(request)
    source = request.POST if request.method == "POST" else request.GET
    if source.get("visit"):
        planned = get_visible_or_404(
            Visit.objects.select_related("institution"), user=user, pk=source["visit"], owner=user
        )
        if planned.status != Visit.Status.PLANNED:
            return redirect(planned.get_absolute_url())
        return _record_page(request, institution=planned.institution, planned=planned)
    if source.get("professional"):
        professional = get_visible_or_404(Professional, user=user, pk=source["professional"])
        today = timezone.localdate()
        planned_today = (
            Visit.objects.filter(
                owner=user,
                status=Visit.Status.PLANNED,
                professionals=professional,
                starts_at__date=today,
            )
            .select_related("institution")
            .order_by("starts_at")
            .first()
        )
        if planned_today is not None:
            return _record_page(request, institution=planned_today.institution, planned=planned_today)
        institution = get_visible_or_404(Institution, user=user, pk=professional.institution_id)
        return _record_page(request, institution=institution, preselect=[professional.pk])
    if source.get("institution"):
        institution = get_visible_or_404(Institution, user=user, pk=source["institution"])
        return _record_page(request, institution=institution)
    return _pick_institution(request)


def _pick_institution(request: HttpRequest) -> HttpResponse:
    """Step one when the rep came without a customer: today's plan, recent places, or search."""
    user = _actor(request)
    today = timezone.localdate()
    planned = list(
        Visit.objects.filter(owner=user, status=Visit.Status.PLANNED, starts_at__date=today)
        .select_related("institution")
        .order_by("starts_at")[:8]
    )
    recent_ids = list(
        Visit.objects.filter(owner=user, status=Visit.Status.COMPLETED)
        .order_by("-starts_at")
        .values_list("institution_id", flat=True)[:40]
    )
    order = list(dict.fromkeys(recent_ids))[:6]
    by_id = {i.pk: i for i in visible(Institution, user=user).filter(pk__in=order)}
    recent = [by_id[i] for i in order if i in by_id]
    url = _autocomplete("institutions")
    options = [] if url else list(visible(Institution, user=user).order_by("name")[:300])
    return render(
        request,
        "engagement/visit_pick.html",
        {
            "title": _("记录拜访"),
            "planned": planned,
            "recent": recent,
            "autocomplete_url": url,
            "options": options,
            "breadcrumbs": [VISITS, (_("记录拜访"), None)],
        },
    )


@login_required
def visit_edit(request: HttpRequest, pk: int) -> HttpResponse:
    user = _actor(request)
    visit = get_visible_or_404(Visit.objects.select_related("institution"), user=user, pk=pk)
    if visit.owner_id != user.pk:
        raise PermissionDenied(_("只能修改自己的拜访记录。"))
    if visit.status != Visit.Status.COMPLETED:
        return redirect(reverse("engagement:visit_record") + f"?visit={visit.pk}")
    if visit.locked_on(timezone.now()):
        messages.info(request, _("拜访记录已锁定（完成后 48 小时内可修改），请提交更正。"))
        return redirect("engagement:visit_amend", pk=visit.pk)
    return _record_page(request, institution=visit.institution, editing=visit)


# --- The visit ----------------------------------------------------------------------------------------------


class VisitDetailView(ObjectDetailView):
    model = Visit
    template_name = "engagement/visit_page.html"
    body_template = "engagement/visit_detail.html"
    history_url_name = "engagement:visit_history"
    list_crumb = VISITS

    def base_queryset(self) -> QuerySet[Any]:
        return Visit.objects.select_related("institution", "owner__org_unit", "co_visitor").prefetch_related(
            "professionals", "products", "key_messages__product"
        )

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        ctx = super().get_context_data(**kwargs)
        visit: Visit = self.object
        user = _actor(self.request)
        now = timezone.now()
        locked = visit.locked_on(now)
        is_owner = visit.owner_id == user.pk
        ctx.update(
            visit=visit,
            locked=locked,
            lock_at=visit.completed_at + visits.EDIT_WINDOW if visit.completed_at else None,
            can_edit=is_owner and visit.status == Visit.Status.COMPLETED and not locked,
            can_complete=is_owner and visit.status == Visit.Status.PLANNED,
            can_amend=visit.status == Visit.Status.COMPLETED
            and (is_owner or is_manager_above(user, visit.owner)),
            can_coach=visit.status == Visit.Status.COMPLETED and visit.co_visitor_id == user.pk,
            flags=[
                (label, visit.flag_reasons.get(key, ""))
                for key, label, on in (
                    ("distance", _("签到距离异常"), visit.flagged_distance),
                    ("reception", _("不符合接待制度"), visit.flagged_reception),
                    ("adverse_event", _("疑似不良事件"), visit.flagged_adverse_event),
                )
                if on
            ],
            commitments=list(visit.commitments.select_related("professional").order_by("due_on")),
            hospitality=list(visit.hospitality.select_related("professional")),
            amendments=list(visit.amendments.select_related("author").order_by("created_at")),
            signals=list(visit.safety_signals.order_by("created_at")),
            coaching=Coaching.objects.filter(visit=visit).select_related("coach").first(),
            amend_labels=visits.AMENDABLE,
            channel_icon=CHANNEL_ICONS.get(Channel(visit.channel), "chat"),
        )
        return ctx


class VisitHistoryView(ObjectHistoryView, VisitDetailView):
    active_tab = "history"
    body_template = "core/history_tab.html"


def _form_page(
    request: HttpRequest,
    *,
    visit: Visit,
    form: forms.Form,
    title: str,
    save: Callable[[], Any],
    success: str,
    template: str,
) -> HttpResponse:
    if request.method == "POST" and form.is_valid():
        try:
            result = save()
        except NotAllowed as exc:
            raise PermissionDenied(exc.message) from exc
        except DomainError as exc:
            for name, errors in exc.fields.items():
                for error in errors:
                    form.add_error(name if name in form.fields else None, error)
            if exc.message not in [str(e) for e in form.non_field_errors()] and not any(
                exc.message in errors for errors in exc.fields.values()
            ):
                form.add_error(None, exc.message)
        else:
            if isinstance(result, VisitOutcome):
                _tell(request, result)
            messages.success(request, success)
            return redirect(visit.get_absolute_url())
    return render(
        request,
        template,
        {
            "title": title,
            "form": form,
            "visit": visit,
            "breadcrumbs": [VISITS, (str(visit), visit.get_absolute_url()), (title, None)],
        },
    )


@login_required
def visit_amend(request: HttpRequest, pk: int) -> HttpResponse:
    user = _actor(request)
    visit = get_visible_or_404(
        Visit.objects.select_related("institution", "owner__org_unit").prefetch_related(
            "products", "key_messages"
        ),
        user=user,
        pk=pk,
    )
    if visit.owner_id != user.pk and not is_manager_above(user, visit.owner):
        raise PermissionDenied(_("只有拜访的代表或其上级经理可以提交更正。"))
    form = AmendForm(request.POST or None, visit=visit)
    return _form_page(
        request,
        visit=visit,
        form=form,
        title=_("提交更正"),
        save=lambda: visits.amend_visit(
            actor=user, visit=visit, reason=form.cleaned_data["reason"], changes=form.changes()
        ),
        success=_("更正已记录。"),
        template="engagement/visit_amend.html",
    )


@login_required
def visit_coaching(request: HttpRequest, pk: int) -> HttpResponse:
    user = _actor(request)
    visit = get_visible_or_404(Visit.objects.select_related("institution", "owner"), user=user, pk=pk)
    if visit.co_visitor_id != user.pk:
        raise PermissionDenied(_("只有本次拜访的协访经理可以填写辅导记录。"))
    existing = Coaching.objects.filter(visit=visit).first()
    initial = (
        {name: getattr(existing, name) for name in (*CoachingForm.SCORES, "strengths", "improvements")}
        if existing
        else None
    )
    form = CoachingForm(request.POST or None, initial=initial)
    return _form_page(
        request,
        visit=visit,
        form=form,
        title=_("协访辅导"),
        save=lambda: visits.record_coaching(
            actor=user,
            visit=visit,
            scores={name: form.cleaned_data[name] for name in CoachingForm.SCORES},
            strengths=form.cleaned_data["strengths"],
            improvements=form.cleaned_data["improvements"],
        ),
        success=_("辅导记录已保存。"),
        template="engagement/visit_coaching.html",
    )


@login_required
@require_POST
def visit_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    user = _actor(request)
    visit = get_visible_or_404(Visit, user=user, pk=pk)
    try:
        visits.cancel_visit(actor=user, visit=visit, reason=request.POST.get("reason", ""))
    except NotAllowed as exc:
        raise PermissionDenied(exc.message) from exc
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("拜访已取消。"))
    return redirect(visit.get_absolute_url())


# --- The list -----------------------------------------------------------------------------------------------


class VisitTable(tables.Table):
    starts_at = tables.DateTimeColumn(verbose_name=_l("时间"), linkify=True, format="Y-m-d H:i")
    institution = tables.Column(verbose_name=_l("机构"), order_by=("institution__name",))
    owner = tables.Column(verbose_name=_l("医药代表"), order_by=("owner__display_name",))
    flags = tables.Column(verbose_name=_l("标记"), empty_values=(), orderable=False)

    class Meta:
        model = Visit
        fields = ("starts_at", "institution", "owner", "channel", "status", "flags")
        attrs = TABLE_ATTRS

    def render_flags(self, record: Visit) -> str:
        badges = [
            label
            for label, on in (
                (_("距离"), record.flagged_distance),
                (_("接待制度"), record.flagged_reception),
                (_("不良事件"), record.flagged_adverse_event),
            )
            if on
        ]
        if not badges:
            return ""
        return format_html(
            "".join('<span class="badge text-bg-warning me-1">{}</span>' for _b in badges), *badges
        )


class VisitFilter(django_filters.FilterSet):
    since = django_filters.DateFilter(field_name="starts_at", lookup_expr="date__gte", label=_l("开始日期"))
    until = django_filters.DateFilter(field_name="starts_at", lookup_expr="date__lte", label=_l("结束日期"))
    flagged = django_filters.BooleanFilter(method="filter_flagged", label=_l("有标记"))

    class Meta:
        model = Visit
        fields = ["status", "channel"]

    def filter_flagged(self, queryset: QuerySet[Visit], name: str, value: bool | None) -> QuerySet[Visit]:
        if value is None:
            return queryset
        any_flag = Q(flagged_distance=True) | Q(flagged_reception=True) | Q(flagged_adverse_event=True)
        return queryset.filter(any_flag) if value else queryset.exclude(any_flag)


class VisitListView(ObjectListView):
    model = Visit
    table_class = VisitTable
    filterset_class = VisitFilter
    title = _l("拜访记录")
    create_url_name = "engagement:visit_record"

    def base_queryset(self) -> QuerySet[Any]:
        return Visit.objects.select_related("institution", "owner").order_by("-starts_at", "-id")


# --- Commitments ----------------------------------------------------------------------------------------------


def _commitment_rows(user: User) -> dict[str, Any]:
    today = timezone.localdate()
    base = visible(Commitment, user=user).select_related("professional__institution", "owner")
    mine = list(base.filter(owner=user, status=Commitment.Status.OPEN).order_by("due_on", "id"))
    escalated = (
        list(base.filter(escalated_to=user, status=Commitment.Status.OPEN).order_by("due_on", "id"))
        if user.has_role(*ABOVE_ROLES)
        else []
    )
    closed = list(
        base.filter(owner=user, closed_on__gte=today - dt.timedelta(days=30))
        .exclude(status=Commitment.Status.OPEN)
        .order_by("-closed_on", "-id")[:20]
    )
    return {"mine": mine, "escalated": escalated, "closed": closed, "today": today}


@login_required
def commitment_list(request: HttpRequest) -> HttpResponse:
    user = _actor(request)
    form = CommitmentForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            followups.create_commitment(
                actor=user,
                professional=form.cleaned_data["professional"],
                description=form.cleaned_data["description"],
                due_on=form.cleaned_data["due_on"],
            )
        except DomainError as exc:
            for name, errors in exc.fields.items():
                for error in errors:
                    form.add_error(name if name in form.fields else None, error)
        else:
            messages.success(request, _("承诺事项已添加。"))
            return redirect("engagement:commitment_list")
    return render(
        request,
        "engagement/visit_commitments.html",
        {
            "title": _("我的承诺事项"),
            "form": form,
            "close_form": CloseCommitmentForm(),
            "autocomplete_url": _autocomplete("professionals"),
            **_commitment_rows(user),
        },
    )


def _row_response(
    request: HttpRequest, template: str, context: dict[str, Any], fallback: str
) -> HttpResponse:
    if getattr(request, "htmx", False):
        return render(request, template, context)
    for error in context.get("errors", []):
        messages.error(request, error)
    return redirect(fallback)


@login_required
@require_POST
def commitment_close(request: HttpRequest, pk: int) -> HttpResponse:
    user = _actor(request)
    commitment = get_visible_or_404(Commitment, user=user, pk=pk)
    errors: list[str] = []
    action = request.POST.get("action", "close")
    try:
        if action == "cancel":
            followups.cancel_commitment(
                actor=user, commitment=commitment, reason=request.POST.get("how_kept", "")
            )
        else:
            followups.close_commitment(
                actor=user, commitment=commitment, how_kept=request.POST.get("how_kept", "")
            )
    except NotAllowed as exc:
        raise PermissionDenied(exc.message) from exc
    except DomainError as exc:
        errors.append(exc.message)
    row = Commitment.objects.select_related("professional__institution", "owner").get(pk=commitment.pk)
    return _row_response(
        request,
        "engagement/visit_commitments.html#row",
        {"c": row, "errors": errors, "today": timezone.localdate(), "close_form": CloseCommitmentForm()},
        reverse("engagement:commitment_list"),
    )


# --- Callbacks ---------------------------------------------------------------------------------------------------


@login_required
def callback_list(request: HttpRequest) -> HttpResponse:
    user = _actor(request)
    today = timezone.localdate()
    base = visible(Callback, user=user).select_related("professional__institution", "owner")
    return render(
        request,
        "engagement/visit_callbacks.html",
        {
            "title": _("回访"),
            "due": list(base.filter(owner=user, status=Callback.Status.DUE).order_by("due_on", "id")),
            "done": list(
                base.filter(
                    owner=user, status=Callback.Status.DONE, done_at__date__gte=today - dt.timedelta(days=30)
                ).order_by("-done_at")[:20]
            ),
            "today": today,
            "form": CompleteCallbackForm(),
        },
    )


@login_required
@require_POST
def callback_complete(request: HttpRequest, pk: int) -> HttpResponse:
    user = _actor(request)
    callback = get_visible_or_404(Callback, user=user, pk=pk)
    errors: list[str] = []
    try:
        if request.POST.get("action") == "cancel":
            followups.cancel_callback(actor=user, callback=callback, reason=request.POST.get("outcome", ""))
        else:
            satisfaction = request.POST.get("satisfaction")
            followups.complete_callback(
                actor=user,
                callback=callback,
                outcome=request.POST.get("outcome", ""),
                satisfaction=int(satisfaction) if satisfaction and satisfaction.isdigit() else None,
            )
    except NotAllowed as exc:
        raise PermissionDenied(exc.message) from exc
    except DomainError as exc:
        errors.append(exc.message)
    row = Callback.objects.select_related("professional__institution", "owner").get(pk=callback.pk)
    return _row_response(
        request,
        "engagement/visit_callbacks.html#row",
        {"cb": row, "errors": errors, "today": timezone.localdate(), "form": CompleteCallbackForm()},
        reverse("engagement:callback_list"),
    )


# --- The safety queue -----------------------------------------------------------------------------------------------


@role_required(*safety.TRIAGE_ROLES)
def safety_queue(request: HttpRequest) -> HttpResponse:
    user = _actor(request)
    status = request.GET.get("status", "open")
    signals = visible(SafetySignal, user=user).select_related(
        "visit__institution", "visit__owner", "handled_by"
    )
    if status == "open":
        signals = signals.filter(status__in=[SafetySignal.Status.NEW, SafetySignal.Status.TRIAGED])
    elif status in SafetySignal.Status.values:
        signals = signals.filter(status=status)
    return render(
        request,
        "engagement/visit_safety.html",
        {
            "title": _("不良事件信号"),
            "signals": list(signals.order_by("status", "-created_at")[:200]),
            "status": status,
            "statuses": [("open", _("未结案")), *SafetySignal.Status.choices, ("all", _("全部"))],
            "form": TriageForm(),
        },
    )


@role_required(*safety.TRIAGE_ROLES)
@require_POST
def safety_triage(request: HttpRequest, pk: int) -> HttpResponse:
    user = _actor(request)
    signal = get_visible_or_404(SafetySignal, user=user, pk=pk)
    errors: list[str] = []
    try:
        safety.triage_signal(
            actor=user,
            signal=signal,
            status=request.POST.get("status", ""),
            note=request.POST.get("note", ""),
        )
    except DomainError as exc:
        errors.append(exc.message)
    row = SafetySignal.objects.select_related("visit__institution", "visit__owner", "handled_by").get(
        pk=signal.pk
    )
    return _row_response(
        request,
        "engagement/visit_safety.html#row",
        {"s": row, "errors": errors, "form": TriageForm()},
        reverse("engagement:safety_queue"),
    )
