"""Visits: plan one with an objective, record it (planned or not) in one go, edit for 48 hours, then amend.

Every refusal names its rule or field and writes nothing: a visit in the future recorded as done, an
institution outside the rep's territories (404, as on the pages), overlapping visits of the same rep,
an unregistered or expired rep, a remote channel without the professional's consent, hospitality
above the cap or of a forbidden kind. Some things are written and flagged instead, with the rep
told why and compliance given a FLAGGED event: a check-in far from the institution, an in-person
visit outside the institution's reception rules, adverse-event words in the notes or feedback.

A check-in's location is precise personal information of the rep (PIPL Art. 28): it is kept only
while the rep's separate LocationConsent is live; otherwise only the check-in time is stored.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from pharmacrm.commercial.models import KeyMessage, Product
from pharmacrm.compliance.models import ComplianceEvent
from pharmacrm.compliance.policy import enforce, record_event
from pharmacrm.core.audit import acting_as
from pharmacrm.core.errors import Conflict, DomainError, NotAllowed, RuleViolation
from pharmacrm.core.models import User
from pharmacrm.core.visibility import get_visible_or_404, visible
from pharmacrm.customers import services as customer_services
from pharmacrm.customers.models import Affiliation, Institution, Need, Professional
from pharmacrm.engagement import followups, safety
from pharmacrm.engagement.hierarchy import is_manager_above
from pharmacrm.engagement.models import (
    Channel,
    Coaching,
    Hospitality,
    LocationConsent,
    ReceptionRule,
    Visit,
    VisitAmendment,
)
from pharmacrm.engagement.models.visits import EDIT_WINDOW

REMOTE_CHANNELS = frozenset({Channel.PHONE, Channel.WECHAT, Channel.EMAIL, Channel.ONLINE_MEETING})
DEFAULT_CHECK_IN_MAX_DISTANCE_M = 1000
MAX_DURATION_MINUTES = 600
WEEKDAYS = ["", "周一", "周二", "周三", "周四", "周五", "周六", "周日"]


# --- Refusals ---------------------------------------------------------------------------------------------


class VisitInFuture(DomainError):
    code = "visit_in_future"


class VisitOverlap(Conflict):
    code = "visit_overlap"


class VisitLocked(Conflict):
    code = "visit_locked"


def _refuse(field_name: str, message: str, *, cls: type[DomainError] = DomainError) -> DomainError:
    return cls(message, fields={field_name: [message]})


# --- Inputs and outcome -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NeedFound:
    """A need heard during the visit: new (kind + description) or an existing need whose status moved."""

    professional_id: int
    description: str = ""
    kind: str = Need.Kind.CLINICAL
    need_id: int | None = None
    status: str = Need.Status.OPEN


@dataclass(frozen=True)
class CommitmentMade:
    professional_id: int
    description: str
    due_on: dt.date | None


@dataclass(frozen=True)
class HospitalityGiven:
    professional_id: int
    kind: str
    amount_per_person: Decimal = Decimal("0")
    attendees: int = 1
    description: str = ""


@dataclass(frozen=True)
class CheckIn:
    at: dt.datetime
    latitude: Decimal | None = None
    longitude: Decimal | None = None


@dataclass
class VisitReport:
    """What the rep writes after a visit; the same input serves the form, the API and imports."""

    channel: str = Channel.IN_PERSON
    professional_ids: Sequence[int] = ()
    product_ids: Sequence[int] = ()
    key_message_ids: Sequence[int] = ()
    feedback: str = ""
    notes: str = ""
    next_step: str = ""
    materials_given: str = ""
    duration_minutes: int = 30
    needs: Sequence[NeedFound] = ()
    commitments: Sequence[CommitmentMade] = ()
    hospitality: Sequence[HospitalityGiven] = ()
    check_in: CheckIn | None = None
    co_visitor_id: int | None = None


@dataclass
class VisitOutcome:
    """The visit written, with what the rep must be told: warnings (nothing flagged), flags (compliance sees)."""

    visit: Visit
    warnings: list[str] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)
    amendment: VisitAmendment | None = None


# --- Facts the rules read ------------------------------------------------------------------------------------


def check_in_max_distance_m() -> int:
    return int(getattr(settings, "ENGAGEMENT_CHECK_IN_MAX_DISTANCE_M", DEFAULT_CHECK_IN_MAX_DISTANCE_M))


def distance_m(
    lat1: Decimal | float, lon1: Decimal | float, lat2: Decimal | float, lon2: Decimal | float
) -> float:
    """Great-circle distance in metres (haversine; plenty for 'is the rep at the hospital')."""
    radius = 6_371_000.0
    p1, p2 = math.radians(float(lat1)), math.radians(float(lat2))
    dp, dl = p2 - p1, math.radians(float(lon2) - float(lon1))
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * radius * math.asin(math.sqrt(a))


def has_location_consent(user: Any, *, at: dt.datetime) -> bool:
    return LocationConsent.objects.filter(
        Q(withdrawn_at__isnull=True) | Q(withdrawn_at__gt=at), user=user, given_at__lte=at
    ).exists()


def describe_reception_rules(rules: Iterable[ReceptionRule]) -> str:
    parts = []
    for rule in rules:
        days = "、".join(WEEKDAYS[d] for d in sorted(rule.day_numbers()) if 1 <= d <= 7)
        text = f"{days} {rule.start_time:%H:%M}–{rule.end_time:%H:%M}"
        if rule.place:
            text += _("（{place}）").format(place=rule.place)
        parts.append(text)
    return "；".join(parts)


def reception_mismatch(institution: Institution, starts_at: dt.datetime, duration_minutes: int) -> str | None:
    """Why a visit at this time falls outside the institution's reception rules, or None (no rules = no limit)."""
    rules = list(ReceptionRule.objects.filter(institution=institution))
    if not rules:
        return None
    local = timezone.localtime(starts_at)
    end = local + dt.timedelta(minutes=duration_minutes)
    for rule in rules:
        if (
            local.isoweekday() in rule.day_numbers()
            and end.date() == local.date()
            and rule.start_time <= local.time()
            and end.time() <= rule.end_time
        ):
            return None
    return _("{name}的接待时间为 {rules}，本次拜访为 {day} {start}–{end}（规则：医院接待制度）。").format(
        name=institution.name,
        rules=describe_reception_rules(rules),
        day=WEEKDAYS[local.isoweekday()],
        start=f"{local:%H:%M}",
        end=f"{end:%H:%M}",
    )


def _check_overlap(
    *, owner: Any, starts_at: dt.datetime, duration_minutes: int, exclude_pk: int | None
) -> None:
    ends_at = starts_at + dt.timedelta(minutes=duration_minutes)
    # Portable: candidates by start (no visit lasts longer than the maximum), then exact test here.
    candidates = Visit.objects.filter(
        owner=owner,
        status__in=[Visit.Status.PLANNED, Visit.Status.COMPLETED],
        starts_at__lt=ends_at,
        starts_at__gt=starts_at - dt.timedelta(minutes=MAX_DURATION_MINUTES),
    ).select_related("institution")
    if exclude_pk:
        candidates = candidates.exclude(pk=exclude_pk)
    for other in candidates:
        if other.ends_at > starts_at:
            local = timezone.localtime(other.starts_at)
            message = _(
                "与您 {day} {start}–{end} 在{place}的拜访时间重叠（规则：同一代表的拜访不能重叠）。"
            ).format(
                day=f"{local:%m-%d}",
                start=f"{local:%H:%M}",
                end=f"{timezone.localtime(other.ends_at):%H:%M}",
                place=other.institution.name,
            )
            raise _refuse("starts_at", message, cls=VisitOverlap)


def _check_duration(duration_minutes: Any) -> int:
    try:
        minutes = int(duration_minutes)
    except (TypeError, ValueError):
        minutes = 0
    if not 1 <= minutes <= MAX_DURATION_MINUTES:
        raise _refuse("duration_minutes", _("时长须为 1–{n} 分钟。").format(n=MAX_DURATION_MINUTES))
    return minutes


def _check_channel(channel: str) -> str:
    if channel not in Channel.values:
        raise _refuse("channel", _("拜访渠道“{value}”不在可选值中。").format(value=channel))
    return channel


def _professionals(actor: Any, institution: Institution, ids: Iterable[int]) -> list[Professional]:
    """The visited professionals: visible to the actor and working at the institution (primary or current affiliation)."""
    wanted = list(dict.fromkeys(int(i) for i in ids))
    if not wanted:
        return []
    found = {p.pk: p for p in visible(Professional, user=actor).filter(pk__in=wanted)}
    missing = [str(i) for i in wanted if i not in found]
    if missing:
        raise _refuse("professionals", _("拜访对象不存在或无权查看：{ids}").format(ids="、".join(missing)))
    affiliated = set(
        Affiliation.objects.filter(
            professional_id__in=wanted, institution=institution, valid_to__isnull=True
        ).values_list("professional_id", flat=True)
    )
    strangers = [
        p.name for p in found.values() if p.institution_id != institution.pk and p.pk not in affiliated
    ]
    if strangers:
        raise _refuse(
            "professionals",
            _("{names} 不属于{institution}，请在其所在机构记录拜访。").format(
                names="、".join(strangers), institution=institution.name
            ),
        )
    return [found[i] for i in wanted]


def _check_consent(actor: Any, channel: str, professionals: Sequence[Professional], day: dt.date) -> None:
    """Remote contact needs the professional's consent for that channel (PIPL §13–14)."""
    if channel not in REMOTE_CHANNELS:
        return
    for professional in professionals:
        try:
            enforce(
                "contact",
                actor=actor,
                subject=f"professional:{professional.pk}",
                professional_id=professional.pk,
                purpose="contact",
                channel=channel,
                on=day,
            )
        except RuleViolation as exc:
            message = _("{name}（{channel}）：{reason}").format(
                name=professional.name, channel=Channel(channel).label, reason=exc.message
            )
            raise RuleViolation(message, rule=exc.rule, fields={"channel": [message]}) from None


def _products(ids: Iterable[int]) -> list[Product]:
    wanted = list(dict.fromkeys(int(i) for i in ids))
    found = {p.pk: p for p in Product.objects.filter(pk__in=wanted, is_active=True)}
    missing = [str(i) for i in wanted if i not in found]
    if missing:
        raise _refuse("products", _("产品不存在或已停售：{ids}").format(ids="、".join(missing)))
    return [found[i] for i in wanted]


def _key_messages(ids: Iterable[int], products: Sequence[Product], day: dt.date) -> list[KeyMessage]:
    """Only approved key messages in force on the visit day, for the products discussed."""
    wanted = list(dict.fromkeys(int(i) for i in ids))
    if not wanted:
        return []
    rows = {m.pk: m for m in KeyMessage.objects.filter(pk__in=wanted).select_related("product")}
    product_ids = {p.pk for p in products}
    for pk in wanted:
        message = rows.get(pk)
        if message is None:
            raise _refuse("key_messages", _("关键信息不存在：{id}").format(id=pk))
        label = f"{message.code} v{message.version}"
        if not message.approved:
            problem = _("关键信息 {code} 未经审批，不能使用（规则：只能传递已审批的关键信息）。")
        elif message.valid_from > day or (message.valid_to is not None and message.valid_to < day):
            problem = _("关键信息 {code} 在 {day} 不在有效期内（规则：只能传递有效期内的关键信息）。")
        elif message.product_id not in product_ids:
            problem = _("关键信息 {code} 属于产品“{product}”，请先选择该产品。")
        else:
            continue
        raise _refuse("key_messages", problem.format(code=label, day=day, product=message.product))
    return [rows[i] for i in wanted]


def _co_visitor(owner: Any, co_visitor_id: int | None) -> User | None:
    if not co_visitor_id:
        return None
    manager = User.objects.select_related("org_unit").filter(pk=co_visitor_id, is_active=True).first()
    if manager is None or not is_manager_above(manager, owner):
        raise _refuse("co_visitor", _("协访人须是该代表的上级经理。"))
    return manager


def _check_text(value: str, field_name: str, label: str, limit: int | None = None) -> str:
    value = (value or "").strip()
    if limit and len(value) > limit:
        raise _refuse(field_name, _("{label}最多 {n} 个字符。").format(label=label, n=limit))
    return value


@dataclass
class _Checked:
    """A report that passed every check, ready to write."""

    channel: str
    duration_minutes: int
    professionals: list[Professional]
    products: list[Product]
    key_messages: list[KeyMessage]
    feedback: str
    notes: str
    next_step: str
    materials_given: str
    needs: list[tuple[Professional, NeedFound, str]]
    commitments: list[tuple[Professional, str, dt.date]]
    hospitality: list[tuple[Professional, HospitalityGiven]]
    co_visitor: User | None


def _check_report(
    *, actor: Any, owner: Any, institution: Institution, report: VisitReport, day: dt.date, subject: str
) -> _Checked:
    channel = _check_channel(report.channel)
    duration = _check_duration(report.duration_minutes)
    professionals = _professionals(actor, institution, report.professional_ids)
    if not professionals:
        raise _refuse("professionals", _("请选择拜访对象。"))
    by_id = {p.pk: p for p in professionals}
    _check_consent(actor, channel, professionals, day)
    products = _products(report.product_ids)
    key_messages = _key_messages(report.key_message_ids, products, day)

    def among_visited(pk: int, field_name: str, what: str) -> Professional:
        professional = by_id.get(int(pk))
        if professional is None:
            raise _refuse(field_name, _("{what}的对象须是本次拜访的对象之一。").format(what=what))
        return professional

    needs: list[tuple[Professional, NeedFound, str]] = []
    for need in report.needs:
        professional = among_visited(need.professional_id, "needs", _("需求"))
        description = (need.description or "").strip()
        if need.need_id is None:
            if not description:
                raise _refuse("needs", _("请描述{name}的需求。").format(name=professional.name))
            if need.kind not in Need.Kind.values:
                raise _refuse("needs", _("需求类型“{value}”不在可选值中。").format(value=need.kind))
        elif need.status not in Need.Status.values:
            raise _refuse("needs", _("需求状态“{value}”不在可选值中。").format(value=need.status))
        needs.append((professional, need, description))
    commitments: list[tuple[Professional, str, dt.date]] = []
    for made in report.commitments:
        professional = among_visited(made.professional_id, "commitments", _("承诺事项"))
        try:
            text = followups.check_commitment(
                description=made.description, due_on=made.due_on, not_before=day
            )
        except DomainError as exc:
            raise _refuse("commitments", exc.message) from None
        assert made.due_on is not None
        commitments.append((professional, text, made.due_on))
    hospitality: list[tuple[Professional, HospitalityGiven]] = []
    for given in report.hospitality:
        professional = among_visited(given.professional_id, "hospitality", _("招待与关怀"))
        if given.kind not in Hospitality.Kind.values:
            raise _refuse("hospitality", _("给予形式“{value}”不在可选值中。").format(value=given.kind))
        amount = Decimal(str(given.amount_per_person or 0))
        if amount < 0 or int(given.attendees or 0) < 1:
            raise _refuse("hospitality", _("人均金额不能为负，人数至少为 1。"))
        try:
            enforce("gift.record", actor=actor, subject=subject, kind=given.kind, amount_per_person=amount)
        except RuleViolation as exc:
            raise RuleViolation(exc.message, rule=exc.rule, fields={"hospitality": [exc.message]}) from None
        hospitality.append((professional, given))
    return _Checked(
        channel=channel,
        duration_minutes=duration,
        professionals=professionals,
        products=products,
        key_messages=key_messages,
        feedback=_check_text(report.feedback, "feedback", _("客户反馈")),
        notes=_check_text(report.notes, "notes", _("备注")),
        next_step=_check_text(report.next_step, "next_step", _("下一步"), 300),
        materials_given=_check_text(report.materials_given, "materials_given", _("提供的资料/样品"), 300),
        needs=needs,
        commitments=commitments,
        hospitality=hospitality,
        co_visitor=_co_visitor(owner, report.co_visitor_id),
    )


# --- Writing ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Flag:
    key: str  # in Visit.flag_reasons
    rule: str  # in the compliance event
    message: str


def _record_flags(visit: Visit, flags: Sequence[_Flag], scan: safety.Scan | None, *, actor: Any) -> None:
    """After the visit is saved: a FLAGGED compliance event per flag, and the safety signal."""
    for flag in flags:
        record_event(
            kind=ComplianceEvent.Kind.FLAGGED,
            action="visit.record",
            rule=flag.rule,
            message=flag.message,
            actor=actor,
            subject=f"visit:{visit.pk}",
        )
    if scan is not None:
        safety.raise_signal(visit=visit, scan=scan, actor=actor)


def _set_flags(visit: Visit, flags: Sequence[_Flag], outcome: VisitOutcome) -> None:
    visit.flag_reasons = {**(visit.flag_reasons or {}), **{f.key: f.message for f in flags}}
    outcome.flags.extend(f.message for f in flags)


def _scan(visit: Visit, checked_notes: str, checked_feedback: str, flags: list[_Flag]) -> safety.Scan | None:
    scan = safety.scan_visit(visit=visit, texts={_("备注"): checked_notes, _("客户反馈"): checked_feedback})
    if scan is not None:
        visit.flagged_adverse_event = True
        flags.append(_Flag("adverse_event", safety.RULE, scan.message))
    return scan


def _apply_check_in(visit: Visit, check_in: CheckIn, *, outcome: VisitOutcome, flags: list[_Flag]) -> None:
    visit.check_in_at = check_in.at
    visit.check_in_latitude = visit.check_in_longitude = visit.check_in_distance_m = None
    if check_in.latitude is None or check_in.longitude is None:
        return
    if not has_location_consent(visit.owner, at=check_in.at):
        outcome.notices.append(
            _("您尚未单独同意采集签到位置（《个人信息保护法》第二十九条），本次仅记录签到时间。")
        )
        return
    visit.check_in_latitude = Decimal(str(check_in.latitude)).quantize(Decimal("0.000001"))
    visit.check_in_longitude = Decimal(str(check_in.longitude)).quantize(Decimal("0.000001"))
    institution = visit.institution
    if institution.latitude is None or institution.longitude is None:
        outcome.notices.append(_("机构未登记经纬度，无法计算签到距离。"))
        return
    distance = round(
        distance_m(
            visit.check_in_latitude, visit.check_in_longitude, institution.latitude, institution.longitude
        )
    )
    visit.check_in_distance_m = distance
    limit = check_in_max_distance_m()
    if distance > limit:
        visit.flagged_distance = True
        message = _(
            "签到位置距{name}约 {distance} 米，超过 {limit} 米，已标记供合规复核（规则：签到距离）。"
        ).format(name=institution.name, distance=f"{distance:,}", limit=f"{limit:,}")
        flags.append(_Flag("distance", "check_in_distance", message))


def _write_report(visit: Visit, checked: _Checked, *, actor: Any, today: dt.date) -> None:
    """Fields, relations and the follow-ups of a checked report (inside the transaction)."""
    visit.channel = checked.channel
    visit.duration_minutes = checked.duration_minutes
    visit.feedback = checked.feedback
    visit.notes = checked.notes
    visit.next_step = checked.next_step
    visit.materials_given = checked.materials_given
    if checked.co_visitor is not None:
        visit.co_visitor = checked.co_visitor
    with acting_as(actor):
        visit.save()
        visit.professionals.set(checked.professionals)
        visit.products.set(checked.products)
        visit.key_messages.set(checked.key_messages)
        for professional, given in checked.hospitality:
            Hospitality.objects.create(
                visit=visit,
                professional=professional,
                kind=given.kind,
                amount_per_person=Decimal(str(given.amount_per_person or 0)),
                attendees=int(given.attendees),
                description=(given.description or "").strip()[:300],
                recorded_by=actor,
                on=timezone.localdate(visit.starts_at),
            )
    need_found_for: list[Professional] = []
    for professional, need, description in checked.needs:
        if need.need_id is None:
            customer_services.create_need(
                actor=actor,
                professional=professional,
                kind=need.kind,
                description=description,
                found_on=min(timezone.localdate(visit.starts_at), today),
            )
            need_found_for.append(professional)
        else:
            existing = get_visible_or_404(Need, user=actor, pk=need.need_id, professional=professional)
            customer_services.update_need(
                actor=actor, need=existing, status=need.status, description=description or None
            )
    for professional, text, due_on in checked.commitments:
        followups.add_commitment(
            actor=actor,
            owner=visit.owner,
            professional=professional,
            description=text,
            due_on=due_on,
            visit=visit,
        )
    followups.schedule_after_visit(visit=visit, actor=actor, need_found_for=need_found_for)


def _institution(actor: Any, institution: Institution | int) -> Institution:
    pk = institution.pk if isinstance(institution, Institution) else institution
    return get_visible_or_404(Institution, user=actor, pk=pk)


def _locked_visit(actor: Any, visit: Visit | int) -> Visit:
    pk = visit.pk if isinstance(visit, Visit) else visit
    return get_visible_or_404(
        Visit.objects.select_for_update(of=("self",)).select_related("institution", "owner__org_unit"),
        user=actor,
        pk=pk,
    )


# --- Services -------------------------------------------------------------------------------------------------


@transaction.atomic
def plan_visit(
    *,
    actor: User,
    institution: Institution | int,
    starts_at: dt.datetime,
    objective: str,
    professional_ids: Sequence[int] = (),
    channel: str = Channel.IN_PERSON,
    duration_minutes: int = 30,
    co_visitor_id: int | None = None,
) -> VisitOutcome:
    """Plan a visit with its objective. Outside the institution's reception rules it warns, it does not refuse."""
    place = _institution(actor, institution)
    objective = (objective or "").strip()
    if not objective:
        raise _refuse("objective", _("请填写拜访目的（规则：计划拜访须有明确目的）。"))
    channel = _check_channel(channel)
    duration = _check_duration(duration_minutes)
    professionals = _professionals(actor, place, professional_ids)
    co_visitor = _co_visitor(actor, co_visitor_id)
    _check_overlap(owner=actor, starts_at=starts_at, duration_minutes=duration, exclude_pk=None)
    visit = Visit(
        owner=actor,
        institution=place,
        status=Visit.Status.PLANNED,
        was_planned=True,
        channel=channel,
        objective=objective,
        starts_at=starts_at,
        duration_minutes=duration,
        co_visitor=co_visitor,
    )
    with acting_as(actor):
        visit.save()
        visit.professionals.set(professionals)
    outcome = VisitOutcome(visit=visit)
    if channel == Channel.IN_PERSON:
        mismatch = reception_mismatch(place, starts_at, duration)
        if mismatch:
            outcome.warnings.append(mismatch + _("如已与接待人确认，可继续；否则记录后会被标记供合规复核。"))
    return outcome


@transaction.atomic
def record_visit(
    *,
    actor: User,
    report: VisitReport,
    visit: Visit | int | None = None,
    institution: Institution | int | None = None,
    starts_at: dt.datetime | None = None,
    objective: str = "",
    now: dt.datetime | None = None,
) -> VisitOutcome:
    """Record a visit as done: complete a planned one (`visit`) or an unplanned one (`institution`, `starts_at`)."""
    now = now or timezone.now()
    if visit is not None:
        planned = _locked_visit(actor, visit)
        if planned.owner_id != actor.pk:
            raise NotAllowed(_("只能记录自己的拜访。"))
        if planned.status != Visit.Status.PLANNED:
            raise _refuse(
                "status",
                _("该拜访已{status}，不能再次记录；如需修改请编辑或提交更正。").format(
                    status=planned.get_status_display()
                ),
                cls=Conflict,
            )
        place = planned.institution
        starts_at = starts_at or planned.starts_at
        target = planned
    else:
        if institution is None:
            raise _refuse("institution", _("请选择拜访的机构。"))
        place = _institution(actor, institution)
        if starts_at is None:
            raise _refuse("starts_at", _("请填写拜访时间。"))
        target = Visit(owner=actor, institution=place, was_planned=False, objective=(objective or "").strip())
    if timezone.is_naive(starts_at):
        starts_at = timezone.make_aware(starts_at)
    if starts_at > now:
        raise _refuse(
            "starts_at",
            _("拜访时间 {when} 晚于当前时间，不能记录为已完成（规则：只能记录已发生的拜访）。").format(
                when=f"{timezone.localtime(starts_at):%Y-%m-%d %H:%M}"
            ),
            cls=VisitInFuture,
        )
    day = timezone.localdate(starts_at)
    subject = f"institution:{place.pk}"
    enforce("visit.record", actor=actor, on=day, subject=subject)
    checked = _check_report(
        actor=actor, owner=actor, institution=place, report=report, day=day, subject=subject
    )
    _check_overlap(
        owner=actor, starts_at=starts_at, duration_minutes=checked.duration_minutes, exclude_pk=target.pk
    )
    target.starts_at = starts_at
    target.status = Visit.Status.COMPLETED
    target.completed_at = now
    outcome = VisitOutcome(visit=target)
    flags: list[_Flag] = []
    if checked.channel == Channel.IN_PERSON:
        if report.check_in is not None:
            _apply_check_in(target, report.check_in, outcome=outcome, flags=flags)
        mismatch = reception_mismatch(place, starts_at, checked.duration_minutes)
        if mismatch:
            target.flagged_reception = True
            flags.append(_Flag("reception", "reception_rules", mismatch + _("已标记供合规复核。")))
    scan = _scan(target, checked.notes, checked.feedback, flags)
    _set_flags(target, flags, outcome)
    _write_report(target, checked, actor=actor, today=timezone.localdate(now))
    _record_flags(target, flags, scan, actor=actor)
    return outcome


@transaction.atomic
def update_visit(
    *, actor: User, visit: Visit | int, report: VisitReport, now: dt.datetime | None = None
) -> VisitOutcome:
    """Edit a completed visit's report within 48 hours of recording it; afterwards only an amendment may change it.

    New needs, commitments and hospitality in `report` are added; earlier ones stay.
    """
    now = now or timezone.now()
    row = _locked_visit(actor, visit)
    if row.owner_id != actor.pk:
        raise NotAllowed(_("只能修改自己的拜访记录。"))
    if row.status != Visit.Status.COMPLETED:
        raise _refuse("status", _("只有已完成的拜访才有拜访记录可修改。"), cls=Conflict)
    if row.locked_on(now):
        assert row.completed_at is not None
        raise _refuse(
            "status",
            _(
                "拜访记录已于 {when} 锁定（规则：完成后 {hours} 小时内可修改），如需更正请提交更正说明。"
            ).format(
                when=f"{timezone.localtime(row.completed_at + EDIT_WINDOW):%Y-%m-%d %H:%M}",
                hours=int(EDIT_WINDOW.total_seconds() // 3600),
            ),
            cls=VisitLocked,
        )
    day = timezone.localdate(row.starts_at)
    subject = f"visit:{row.pk}"
    checked = _check_report(
        actor=actor, owner=row.owner, institution=row.institution, report=report, day=day, subject=subject
    )
    _check_overlap(
        owner=row.owner, starts_at=row.starts_at, duration_minutes=checked.duration_minutes, exclude_pk=row.pk
    )
    outcome = VisitOutcome(visit=row)
    flags: list[_Flag] = []
    if checked.channel == Channel.IN_PERSON and not row.flagged_reception:
        # A changed channel or length may now fall outside the reception rules; a flag once raised stays.
        mismatch = reception_mismatch(row.institution, row.starts_at, checked.duration_minutes)
        if mismatch:
            row.flagged_reception = True
            flags.append(_Flag("reception", "reception_rules", mismatch + _("已标记供合规复核。")))
    scan = _scan(row, checked.notes, checked.feedback, flags)
    _set_flags(row, flags, outcome)
    _write_report(row, checked, actor=actor, today=timezone.localdate(now))
    _record_flags(row, flags, scan, actor=actor)
    return outcome


AMENDABLE = {
    "feedback": _("客户反馈"),
    "notes": _("备注"),
    "next_step": _("下一步"),
    "materials_given": _("提供的资料/样品"),
    "duration_minutes": _("时长（分钟）"),
    "product_ids": _("讨论产品"),
    "key_message_ids": _("传递的关键信息"),
}


def _current(visit: Visit, name: str) -> Any:
    if name == "product_ids":
        return sorted(visit.products.values_list("pk", flat=True))
    if name == "key_message_ids":
        return sorted(visit.key_messages.values_list("pk", flat=True))
    return getattr(visit, name)


@transaction.atomic
def amend_visit(
    *,
    actor: User,
    visit: Visit | int,
    reason: str,
    changes: Mapping[str, Any],
    now: dt.datetime | None = None,
) -> VisitOutcome:
    """Correct a completed visit (the only way once it is locked): the reason and before → after are kept."""
    now = now or timezone.now()
    row = _locked_visit(actor, visit)
    if row.owner_id != actor.pk and not is_manager_above(actor, row.owner):
        raise NotAllowed(_("只有拜访的代表或其上级经理可以提交更正。"))
    if row.status != Visit.Status.COMPLETED:
        raise _refuse("status", _("只有已完成的拜访可以更正。"), cls=Conflict)
    reason = (reason or "").strip()
    if not reason:
        raise _refuse("reason", _("请写明更正原因（规则：锁定后的更正须说明原因）。"))
    if len(reason) > 300:
        raise _refuse("reason", _("更正原因最多 300 个字符。"))
    unknown = sorted(set(changes) - set(AMENDABLE))
    if unknown:
        raise DomainError(
            _("不能更正的字段：{names}").format(names="、".join(unknown)),
            fields={name: [_("不允许更正的字段。")] for name in unknown},
        )
    day = timezone.localdate(row.starts_at)
    cleaned: dict[str, Any] = {}
    for name, value in changes.items():
        if name == "duration_minutes":
            cleaned[name] = _check_duration(value)
        elif name == "product_ids":
            cleaned[name] = sorted(p.pk for p in _products(value))
        elif name == "key_message_ids":
            products = _products(cleaned.get("product_ids", _current(row, "product_ids")))
            cleaned[name] = sorted(m.pk for m in _key_messages(value, products, day))
        else:
            limit = 300 if name in ("next_step", "materials_given") else None
            cleaned[name] = _check_text(value, name, str(AMENDABLE[name]), limit)
    if "product_ids" in cleaned and "key_message_ids" not in cleaned:
        # Key messages kept must still belong to a product discussed.
        _key_messages(_current(row, "key_message_ids"), _products(cleaned["product_ids"]), day)
    diff = {
        name: {"old": _current(row, name), "new": value}
        for name, value in cleaned.items()
        if _current(row, name) != value
    }
    if not diff:
        raise DomainError(_("没有需要更正的内容。"), fields={"__all__": [_("内容与原记录相同。")]})
    outcome = VisitOutcome(visit=row)
    flags: list[_Flag] = []
    scan = None
    if {"notes", "feedback"} & set(diff):
        scan = _scan(row, cleaned.get("notes", row.notes), cleaned.get("feedback", row.feedback), flags)
        _set_flags(row, flags, outcome)
    with acting_as(actor):
        for name, change in diff.items():
            if name == "product_ids":
                row.products.set(change["new"])
            elif name == "key_message_ids":
                row.key_messages.set(change["new"])
            else:
                setattr(row, name, change["new"])
        row.save()
        outcome.amendment = VisitAmendment.objects.create(
            visit=row, author=actor, reason=reason, changes=diff
        )
    _record_flags(row, flags, scan, actor=actor)
    return outcome


@transaction.atomic
def cancel_visit(*, actor: User, visit: Visit | int, reason: str) -> Visit:
    """Cancel a planned visit, with the reason."""
    row = _locked_visit(actor, visit)
    if row.owner_id != actor.pk:
        raise NotAllowed(_("只能取消自己的拜访。"))
    if row.status != Visit.Status.PLANNED:
        raise _refuse("status", _("只有计划中的拜访可以取消。"), cls=Conflict)
    reason = (reason or "").strip()
    if not reason:
        raise _refuse("cancel_reason", _("请写明取消原因。"))
    row.status = Visit.Status.CANCELLED
    row.cancel_reason = reason[:200]
    with acting_as(actor):
        row.save()
    return row


COACHING_SCORES = {
    "preparation": _("拜访准备"),
    "messaging": _("信息传递"),
    "listening": _("倾听与提问"),
    "compliance": _("合规"),
}


@transaction.atomic
def record_coaching(
    *,
    actor: User,
    visit: Visit | int,
    scores: Mapping[str, int | None],
    strengths: str = "",
    improvements: str = "",
) -> Coaching:
    """The co-visiting manager's coaching: four scores 1–5 and notes. Filling it again updates it."""
    row = _locked_visit(actor, visit)
    if row.co_visitor_id != actor.pk:
        raise NotAllowed(_("只有本次拜访的协访经理可以填写辅导记录。"))
    if row.status != Visit.Status.COMPLETED:
        raise _refuse("status", _("拜访完成后才能填写辅导记录。"), cls=Conflict)
    values: dict[str, int] = {}
    errors: dict[str, list[str]] = {}
    for name, label in COACHING_SCORES.items():
        value = scores.get(name)
        try:
            score = int(value) if value is not None else 0
        except (TypeError, ValueError):
            score = 0
        if not 1 <= score <= 5:
            errors[name] = [_("{label}须为 1–5 分。").format(label=label)]
        values[name] = score
    if errors:
        first = next(iter(errors.values()))[0]
        raise DomainError(first, fields=errors)
    with acting_as(actor):
        coaching, _created = Coaching.objects.update_or_create(
            visit=row,
            defaults={
                "coach": actor,
                **values,
                "strengths": (strengths or "").strip(),
                "improvements": (improvements or "").strip(),
            },
        )
    return coaching
