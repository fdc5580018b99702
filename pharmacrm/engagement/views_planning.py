"""Planning pages: the week, month and agenda calendars, moving a visit (drag/drop or form), generating and approving plans, ICS."""

from __future__ import annotations

import datetime as dt
from typing import Any, cast

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _l
from django.views.decorators.http import require_POST

from pharmacrm.core.errors import DomainError
from pharmacrm.core.models import Role, User
from pharmacrm.core.visibility import get_visible_or_404
from pharmacrm.customers.models import Professional
from pharmacrm.engagement import calendar_cn, ics, planning
from pharmacrm.engagement.models import Visit
from pharmacrm.engagement.planning import Period

HOURS = range(8, 19)  # the week grid's rows: 08:00–18:30 in half hours


def _actor(request: HttpRequest) -> User:
    return cast(User, request.user)


def record_url(professional_id: int | None = None) -> str:
    """The record-visit page (built alongside), by name when it exists, else by its path."""
    try:
        base = reverse("engagement:visit_record")
    except NoReverseMatch:
        base = "/visits/record"
    return f"{base}?professional={professional_id}" if professional_id else base


def visit_url(visit: Visit) -> str:
    try:
        return reverse("engagement:visit_detail", args=[visit.pk])
    except NoReverseMatch:
        day = timezone.localtime(visit.starts_at).date()
        return reverse("engagement:calendar_week") + f"?day={day:%Y-%m-%d}&rep={visit.owner_id}"


def _rep(request: HttpRequest) -> User | None:
    """The rep whose calendar is shown: ?rep= (404 when not in the user's view), else the user if a rep."""
    user = _actor(request)
    rep_id = request.GET.get("rep") or request.POST.get("rep")
    if rep_id:
        return get_visible_or_404(planning.plannable_reps(user=user), user=user, pk=rep_id)
    return user if user.has_role(Role.REP) else None


def _day(value: str | None, default: dt.date) -> dt.date:
    try:
        return dt.date.fromisoformat(value) if value else default
    except ValueError:
        return default


def _safe_next(request: HttpRequest, fallback: str) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return target
    return fallback


def _calendar_context(request: HttpRequest, *, view: str, rep: User | None, title: str) -> dict[str, Any]:
    user = _actor(request)
    reps = (
        list(planning.plannable_reps(user=user)[:200]) if not user.has_role(Role.REP) or rep != user else []
    )
    return {
        "view": view,
        "rep": rep,
        "reps": reps,
        "is_own": rep is not None and rep.pk == user.pk,
        "title": title,
        "breadcrumbs": [(_("拜访日历"), reverse("engagement:calendar_week")), (title, None)],
        "rep_query": f"&rep={rep.pk}" if rep is not None and rep.pk != user.pk else "",
    }


def _visit_card(visit: Visit) -> dict[str, Any]:
    local = timezone.localtime(visit.starts_at)
    people = list(visit.professionals.all())
    return {
        "visit": visit,
        "start": local,
        "end": timezone.localtime(visit.ends_at),
        "people": people,
        "first_person": people[0] if people else None,
        "move_url": reverse("engagement:visit_move", args=[visit.pk]),
        "url": visit_url(visit),
        "record_url": record_url(people[0].pk if people else None),
        "editable": visit.status == Visit.Status.PLANNED,
    }


@login_required
def calendar_week(request: HttpRequest) -> HttpResponse:
    rep = _rep(request)
    day = _day(request.GET.get("day"), timezone.localdate())
    week = Period.week_of(day)
    ctx = _calendar_context(request, view="week", rep=rep, title=_("周视图"))
    days = [week.start + dt.timedelta(days=i) for i in range(7)]
    cards = (
        [
            _visit_card(v)
            for v in planning.calendar_visits(user=_actor(request), rep=rep, first=week.start, last=week.end)
        ]
        if rep
        else []
    )
    slots = [dt.time(h, m) for h in HOURS for m in (0, 30)]
    holidays = calendar_cn.holiday_names(days)
    columns = []
    for i, d in enumerate(days):
        day_cards = []
        for card in cards:
            if card["start"].date() != d:
                continue
            minutes = card["start"].hour * 60 + card["start"].minute
            row = max(0, (minutes - HOURS.start * 60) // 30)
            span = max(1, -(-card["visit"].duration_minutes // 30))
            day_cards.append({**card, "row": row + 2, "span": span})
        columns.append(
            {
                "day": d,
                "col": i + 2,
                "cards": day_cards,
                "holiday": holidays.get(d, ""),
                "working": calendar_cn.is_working_day(d),
                "is_today": d == timezone.localdate(),
            }
        )
    ctx.update(
        week=week,
        columns=columns,
        slots=[{"time": t, "row": i + 2} for i, t in enumerate(slots)],
        previous=week.start - dt.timedelta(days=7),
        following=week.start + dt.timedelta(days=7),
        month_code=f"{week.start:%Y-%m}",
        period=Period.month(week.start.year, week.start.month),
        decision=planning.latest_decision(rep=rep, period=Period.month(week.start.year, week.start.month))
        if rep
        else None,
        returned=any(c["visit"].approval == Visit.Approval.REJECTED for c in cards),
    )
    return render(request, "engagement/calendar_week.html", ctx)


@login_required
def calendar_month(request: HttpRequest) -> HttpResponse:
    rep = _rep(request)
    try:
        period = Period.parse(request.GET.get("month", "")) if request.GET.get("month") else None
    except DomainError:
        period = None
    today = timezone.localdate()
    period = period if period and period.kind == "month" else Period.month(today.year, today.month)
    ctx = _calendar_context(request, view="month", rep=rep, title=_("月视图"))
    first = period.start - dt.timedelta(days=period.start.weekday())
    last = period.end + dt.timedelta(days=6 - period.end.weekday())
    visits = planning.calendar_visits(user=_actor(request), rep=rep, first=first, last=last) if rep else []
    by_day: dict[dt.date, list[dict[str, Any]]] = {}
    for visit in visits:
        card = _visit_card(visit)
        by_day.setdefault(card["start"].date(), []).append(card)
    days = [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]
    holidays = calendar_cn.holiday_names(days)
    weeks = [
        [
            {
                "day": d,
                "in_month": d.month == period.start.month,
                "cards": by_day.get(d, []),
                "holiday": holidays.get(d, ""),
                "working": calendar_cn.is_working_day(d),
                "is_today": d == today,
            }
            for d in days[i : i + 7]
        ]
        for i in range(0, len(days), 7)
    ]
    previous = period.start - dt.timedelta(days=1)
    ctx.update(
        period=period,
        weeks=weeks,
        previous=f"{previous:%Y-%m}",
        following=f"{period.end + dt.timedelta(days=1):%Y-%m}",
        month_code=period.code,
        decision=planning.latest_decision(rep=rep, period=period) if rep else None,
        returned=any(v.approval == Visit.Approval.REJECTED for v in visits),
        pending=sum(1 for v in visits if v.approval == Visit.Approval.PENDING),
        provisional=calendar_cn.is_provisional(period.start.year),
    )
    return render(request, "engagement/calendar_month.html", ctx)


@login_required
def calendar_agenda(request: HttpRequest) -> HttpResponse:
    """The phone view: the coming two weeks, day by day."""
    rep = _rep(request)
    first = _day(request.GET.get("from"), timezone.localdate())
    last = first + dt.timedelta(days=13)
    ctx = _calendar_context(request, view="agenda", rep=rep, title=_("日程"))
    visits = planning.calendar_visits(user=_actor(request), rep=rep, first=first, last=last) if rep else []
    days: dict[dt.date, list[dict[str, Any]]] = {}
    for visit in visits:
        card = _visit_card(visit)
        days.setdefault(card["start"].date(), []).append(card)
    holidays = calendar_cn.holiday_names(first + dt.timedelta(days=i) for i in range(14))
    ctx.update(
        days=[
            {"day": d, "cards": cards, "holiday": holidays.get(d, "")} for d, cards in sorted(days.items())
        ],
        first=first,
        last=last,
        previous=first - dt.timedelta(days=14),
        following=last + dt.timedelta(days=1),
        month_code=f"{first:%Y-%m}",
    )
    return render(request, "engagement/calendar_agenda.html", ctx)


# --- Moving a visit ------------------------------------------------------------------------------


class MoveForm(forms.Form):
    day = forms.DateField(label=_l("日期"), widget=forms.DateInput(attrs={"type": "date"}))
    time = forms.TimeField(label=_l("开始时间"), widget=forms.TimeInput(attrs={"type": "time", "step": 1800}))
    duration_minutes = forms.IntegerField(label=_l("时长（分钟）"), min_value=1, max_value=600)


def _wants_json(request: HttpRequest) -> bool:
    return "application/json" in request.headers.get("Accept", "")


def _json_error(exc: DomainError) -> JsonResponse:
    return JsonResponse(
        {"error": {"code": exc.code, "message": exc.message, "fields": exc.fields}}, status=exc.status
    )


@login_required
def visit_move(request: HttpRequest, pk: int) -> HttpResponse:
    """GET: the form. POST: from the form (day, time, duration) or from drag/drop (starts_at, JSON answer)."""
    user = _actor(request)
    visit = get_visible_or_404(Visit.objects.select_related("institution"), user=user, pk=pk)
    back = _safe_next(
        request, reverse("engagement:calendar_week") + f"?day={timezone.localtime(visit.starts_at):%Y-%m-%d}"
    )
    if request.method == "POST" and "starts_at" in request.POST:
        try:
            naive = dt.datetime.fromisoformat(request.POST["starts_at"])
        except ValueError:
            exc = DomainError(
                _("时间“{value}”无效。").format(value=request.POST["starts_at"][:40]),
                fields={"starts_at": [_("格式应为 YYYY-MM-DDTHH:MM")]},
            )
            return _json_error(exc) if _wants_json(request) else _form_page(request, visit, None, back, exc)
        starts_at = (
            naive if timezone.is_aware(naive) else timezone.make_aware(naive, timezone.get_default_timezone())
        )
        try:
            placement = planning.move_visit(actor=user, visit=visit, starts_at=starts_at)
        except DomainError as exc:
            if _wants_json(request):
                return _json_error(exc)
            messages.error(request, exc.message)
            return redirect(back)
        if _wants_json(request):
            return JsonResponse(
                {
                    "ok": True,
                    "id": visit.pk,
                    "starts_at": timezone.localtime(placement.visit.starts_at).isoformat(),
                    "warnings": placement.warnings,
                }
            )
        _report_move(request, placement)
        return redirect(back)
    local = timezone.localtime(visit.starts_at)
    form = MoveForm(
        request.POST or None,
        initial={"day": local.date(), "time": local.time(), "duration_minutes": visit.duration_minutes},
    )
    if request.method == "POST" and form.is_valid():
        starts_at = planning.local_datetime(form.cleaned_data["day"], form.cleaned_data["time"])
        try:
            placement = planning.move_visit(
                actor=user, visit=visit, starts_at=starts_at, minutes=form.cleaned_data["duration_minutes"]
            )
        except DomainError as exc:
            return _form_page(request, visit, form, back, exc)
        _report_move(request, placement)
        return redirect(back)
    return _form_page(request, visit, form, back, None)


def _form_page(
    request: HttpRequest, visit: Visit, form: MoveForm | None, back: str, exc: DomainError | None
) -> HttpResponse:
    form = form or MoveForm(request.POST)
    if exc is not None:
        form.is_valid()
        targets = {"starts_at": "time", "duration_minutes": "duration_minutes"}
        form.add_error(None, exc.message)
        for key, errors in exc.fields.items():
            for error in errors:
                form.add_error(targets[key], error) if key in targets else None
    title = _("调整拜访时间")
    return render(
        request,
        "engagement/plan_move.html",
        {
            "form": form,
            "visit": visit,
            "back": back,
            "title": title,
            "breadcrumbs": [(_("拜访日历"), back), (title, None)],
        },
        status=400 if exc is not None else 200,
    )


def _report_move(request: HttpRequest, placement: planning.Placement) -> None:
    when = timezone.localtime(placement.visit.starts_at)
    messages.success(request, _("已调整到 {when:%m-%d %H:%M}。").format(when=when))
    for warning in placement.warnings:
        messages.warning(request, warning)


# --- Planning one visit (the "plan" one-tap action) ------------------------------------------------


@require_POST
@login_required
def plan_one(request: HttpRequest) -> HttpResponse:
    user = _actor(request)
    professional = get_visible_or_404(Professional, user=user, pk=request.POST.get("professional") or 0)
    back = _safe_next(request, reverse("engagement:calendar_agenda"))
    try:
        placement = planning.plan_next_visit(actor=user, professional=professional)
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect(back)
    when = timezone.localtime(placement.visit.starts_at)
    messages.success(
        request, _("已安排 {when:%m-%d %H:%M} 拜访{name}。").format(when=when, name=professional.name)
    )
    for warning in placement.warnings:
        messages.warning(request, warning)
    return redirect(back)


# --- Generating and approving plans ------------------------------------------------------------------


@login_required
def plan_generate(request: HttpRequest) -> HttpResponse:
    """GET previews (a dry run), POST plans. Managers pick a rep in their subtree."""
    user = _actor(request)
    rep = _rep(request)
    data = request.POST if request.method == "POST" else request.GET
    today = timezone.localdate()
    following = Period.month(today.year + (today.month == 12), today.month % 12 + 1)
    code = data.get("period") or following.code
    try:
        period = Period.parse(code)
    except DomainError as exc:
        messages.error(request, exc.message)
        period = following
    title = _("生成拜访计划")
    context: dict[str, Any] = {
        "title": title,
        "breadcrumbs": [(_("拜访日历"), reverse("engagement:calendar_week")), (title, None)],
        "rep": rep,
        "reps": list(planning.plannable_reps(user=user)[:200]),
        "period": period,
        "choices": [
            Period.month(today.year, today.month),
            following,
            Period.week_of(today + dt.timedelta(days=7)),
        ],
        "result": None,
        "error": None,
    }
    if rep is not None:
        try:
            result = planning.generate_plan(
                actor=user, rep=rep, period=period, dry_run=request.method != "POST"
            )
        except DomainError as exc:
            context["error"] = exc.message
        else:
            if request.method == "POST":
                messages.success(request, result.summary())
                if result.approval == Visit.Approval.PENDING and result.planned:
                    messages.info(request, _("本组织的拜访计划须经理审批，审批前显示为“待审批”。"))
                query = f"?month={period.start:%Y-%m}" + (f"&rep={rep.pk}" if rep.pk != user.pk else "")
                return redirect(reverse("engagement:calendar_month") + query)
            context["result"] = result
    return render(request, "engagement/plan_generate.html", context)


@require_POST
@login_required
def plan_decide(request: HttpRequest, rep_id: int, period: str) -> HttpResponse:
    user = _actor(request)
    rep = get_visible_or_404(planning.plannable_reps(user=user), user=user, pk=rep_id)
    try:
        parsed = Period.parse(period)
    except DomainError as exc:
        raise Http404(exc.message) from exc
    back = _safe_next(request, reverse("engagement:team"))
    try:
        decision = planning.decide_plan(
            actor=user,
            rep=rep,
            period=parsed,
            approve=request.POST.get("decision") == "approve",
            reason=request.POST.get("reason", ""),
        )
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect(back)
    messages.success(
        request,
        _("已{decision}{rep}{period}的 {n} 次计划拜访。").format(
            decision=decision.get_decision_display(), rep=rep, period=parsed.label, n=decision.visit_count
        ),
    )
    return redirect(back)


@require_POST
@login_required
def plan_resubmit(request: HttpRequest, period: str) -> HttpResponse:
    user = _actor(request)
    back = _safe_next(request, reverse("engagement:calendar_month") + f"?month={period}")
    try:
        count = planning.resubmit_plan(actor=user, period=Period.parse(period))
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("已重新提交 {n} 次计划拜访，等待经理审批。").format(n=count))
    return redirect(back)


# --- ICS ------------------------------------------------------------------------------------------


def ics_response(*, user: Any, rep: User, request: HttpRequest) -> HttpResponse:
    """The rep's visits from a week ago to two months ahead as text/calendar."""
    body = ics.rep_calendar(user=user, rep=rep, link=lambda v: request.build_absolute_uri(visit_url(v)))
    response = HttpResponse(body, content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="visits-{rep.username}.ics"'
    return response


@login_required
def plan_ics(request: HttpRequest) -> HttpResponse:
    rep = _rep(request)
    if rep is None:
        raise Http404("no rep")
    return ics_response(user=request.user, rep=rep, request=request)
