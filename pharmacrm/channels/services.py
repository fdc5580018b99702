"""Writes to channel partners, their contacts, licences and agreements, scorecards and quarterly reviews.

Every write is keyword-only, runs in one transaction, re-reads its target through the actor's
visibility scope (a hidden partner is a 404, never a 403) and is audited through the models'
history. Refusals are `DomainError`s naming the field and the value.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from pharmacrm.channels import scoring
from pharmacrm.channels.metrics import compute_metric, get_metric
from pharmacrm.channels.models import (
    Agreement,
    AgreementTarget,
    ChannelPartner,
    ChannelReview,
    Direction,
    Licence,
    LicenceAlert,
    PartnerContact,
    RebateTier,
    ReviewAction,
    ReviewScore,
    Scorecard,
    ScorecardMetric,
)
from pharmacrm.commercial.models import Product
from pharmacrm.core.audit import acting_as
from pharmacrm.core.errors import Conflict, DomainError, NotAllowed
from pharmacrm.core.models import Division, OrgUnit, Role, User
from pharmacrm.core.visibility import get_visible_or_404, visible
from pharmacrm.customers import services as customer_services
from pharmacrm.customers.models import Institution

# Who may open channel pages at all; the rep (医药代表) holds no sales task (RULES_CN §1).
CHANNEL_ROLES = (
    Role.ADMIN,
    Role.DIRECTOR,
    Role.REGIONAL_MANAGER,
    Role.DISTRICT_MANAGER,
    Role.COMMERCIAL,
    Role.COMPLIANCE,
)
# Who may change partners, agreements and reviews (compliance reads).
CHANNEL_EDITORS = frozenset(
    {Role.ADMIN, Role.DIRECTOR, Role.REGIONAL_MANAGER, Role.DISTRICT_MANAGER, Role.COMMERCIAL}
)
SCORECARD_EDITORS = frozenset({Role.ADMIN, Role.DIRECTOR, Role.COMMERCIAL})
REVIEW_APPROVERS = frozenset({Role.ADMIN, Role.DIRECTOR, Role.REGIONAL_MANAGER, Role.DISTRICT_MANAGER})
# Contacts' phone and email are shown in clear to those who manage partners; others see them masked.
CONTACT_CLEAR_ROLES = frozenset(
    {Role.ADMIN, Role.DIRECTOR, Role.REGIONAL_MANAGER, Role.DISTRICT_MANAGER, Role.COMMERCIAL}
)
PARTNER_INSTITUTION_KINDS = (
    Institution.Kind.DISTRIBUTOR,
    Institution.Kind.RETAILER,
    Institution.Kind.PHARMACY,
)


def may_view_channels(user: Any) -> bool:
    return bool(getattr(user, "is_authenticated", False) and user.has_role(*CHANNEL_ROLES))


def may_edit_channels(user: Any) -> bool:
    return bool(getattr(user, "is_authenticated", False) and user.roles & CHANNEL_EDITORS)


def may_edit_scorecards(user: Any) -> bool:
    return bool(getattr(user, "is_authenticated", False) and user.roles & SCORECARD_EDITORS)


def may_approve_reviews(user: Any) -> bool:
    return bool(getattr(user, "is_authenticated", False) and user.roles & REVIEW_APPROVERS)


def org_unit_choices(user: Any) -> Any:
    """Org units a partner may be assigned to: the user's visible subtree, or (field staff) their own unit."""
    return OrgUnit.objects.filter(Q(pk__in=visible(OrgUnit, user=user).values("pk")) | Q(pk=user.org_unit_id))


def _refuse(field: str, message: str, *, cls: type[DomainError] = DomainError) -> DomainError:
    return cls(message, fields={field: [message]})


def _require(actor: Any, roles: frozenset[str], message: str) -> None:
    if not (getattr(actor, "is_authenticated", False) and actor.roles & roles):
        raise NotAllowed(message)


def _require_editor(actor: Any) -> None:
    _require(actor, CHANNEL_EDITORS, _("您的角色只能查看渠道信息，不能修改。"))


def _partner(actor: Any, partner: ChannelPartner | int, *, lock: bool = False) -> ChannelPartner:
    qs = ChannelPartner.objects.select_related("institution")
    if lock:
        qs = qs.select_for_update(of=("self",))
    return get_visible_or_404(qs, user=actor, pk=getattr(partner, "pk", partner))


def _decimal(value: Any, field: str, label: str, *, required: bool = False) -> Decimal | None:
    if value in (None, ""):
        if required:
            raise _refuse(field, _("请填写{label}。").format(label=label))
        return None
    try:
        number = value if isinstance(value, Decimal) else Decimal(str(value).strip().replace(",", ""))
    except (InvalidOperation, ValueError):
        raise _refuse(field, _("{label}必须是数字：{value}").format(label=label, value=value)) from None
    if not number.is_finite():
        raise _refuse(field, _("{label}必须是数字：{value}").format(label=label, value=value))
    return number


def _date(value: Any, field: str, label: str) -> dt.date:
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except (TypeError, ValueError):
        raise _refuse(field, _("{label}不是有效日期：{value}").format(label=label, value=value)) from None


# --- Partners ----------------------------------------------------------------------------------


PARTNER_FIELDS = ("code", "kind", "status", "org_unit", "manager")


def _apply_partner(actor: Any, partner: ChannelPartner, values: Mapping[str, Any]) -> list[str]:
    unknown = set(values) - set(PARTNER_FIELDS)
    if unknown:
        raise _refuse(sorted(unknown)[0], _("未知字段：{names}").format(names="、".join(sorted(unknown))))
    changed = []
    for name, value in values.items():
        if name == "code":
            code = str(value or "").strip().upper()
            if not code:
                raise _refuse("code", _("请填写渠道编码。"))
            if ChannelPartner.objects.filter(code=code).exclude(pk=partner.pk).exists():
                raise _refuse("code", _("渠道编码已被使用：{value}").format(value=code), cls=Conflict)
            value = code
        elif name == "kind":
            if value not in ChannelPartner.Kind.values:
                raise _refuse("kind", _("未知的渠道类型：{value}").format(value=value))
        elif name == "status":
            if value not in ChannelPartner.Status.values:
                raise _refuse("status", _("未知的状态：{value}").format(value=value))
        elif name == "org_unit":
            value = org_unit_choices(actor).filter(pk=getattr(value, "pk", value)).first()
            if value is None:
                raise _refuse(
                    "org_unit", _("负责组织不存在或不在您的范围内：{value}").format(value=values[name])
                )
        elif name == "manager":
            if value in (None, ""):
                value = None
            else:
                value = (
                    visible(User, user=actor).filter(pk=getattr(value, "pk", value), is_active=True).first()
                )
                if value is None:
                    raise _refuse(
                        "manager", _("渠道负责人不存在或不在您的范围内：{value}").format(value=values[name])
                    )
                if not value.has_role(Role.COMMERCIAL, *REVIEW_APPROVERS):
                    raise _refuse(
                        "manager", _("渠道负责人须为商务/KA经理或管理者：{value}").format(value=value)
                    )
        attname = ChannelPartner._meta.get_field(name).attname  # type: ignore[union-attr]
        before = getattr(partner, attname)
        setattr(partner, name, value)
        if getattr(partner, attname) != before:
            changed.append(name)
    return changed


@transaction.atomic
def create_partner(
    *,
    actor: User,
    code: str,
    org_unit: OrgUnit | int,
    institution: Institution | int | None = None,
    new_institution: Mapping[str, Any] | None = None,
    kind: str | None = None,
    manager: User | int | None = None,
    status: str = ChannelPartner.Status.ACTIVE,
) -> ChannelPartner:
    """Make an institution (distributor, retailer or pharmacy) a channel partner, or create it first.

    `new_institution` holds the customers service's fields (name, kind, province, city, territory…).
    """
    _require_editor(actor)
    if (institution is None) == (new_institution is None):
        raise _refuse("institution", _("请选择已有机构，或填写新机构信息（二选一）。"))
    if institution is not None:
        inst = get_visible_or_404(Institution, user=actor, pk=getattr(institution, "pk", institution))
    else:
        assert new_institution is not None
        if new_institution.get("kind") not in PARTNER_INSTITUTION_KINDS:
            raise _refuse(
                "kind",
                _("渠道伙伴的机构类型须为经销商、零售商或药店：{value}").format(
                    value=new_institution.get("kind")
                ),
            )
        inst = customer_services.create_institution(actor=actor, **new_institution)
    if inst.kind not in PARTNER_INSTITUTION_KINDS:
        raise _refuse(
            "institution",
            _("只有经销商、零售商或药店可以成为渠道伙伴：“{name}”是{kind}。").format(
                name=inst.name, kind=inst.get_kind_display()
            ),
        )
    if ChannelPartner.objects.filter(institution=inst).exists():
        raise _refuse("institution", _("“{name}”已是渠道伙伴。").format(name=inst.name), cls=Conflict)
    if kind is None:
        kind = (
            ChannelPartner.Kind.DISTRIBUTOR
            if inst.kind == Institution.Kind.DISTRIBUTOR
            else ChannelPartner.Kind.RETAIL_CHAIN
        )
    partner = ChannelPartner(institution=inst)
    _apply_partner(
        actor,
        partner,
        {"code": code, "kind": kind, "status": status, "org_unit": org_unit, "manager": manager},
    )
    with acting_as(actor):
        partner.save()
    return partner


@transaction.atomic
def update_partner(
    *, actor: User, partner: ChannelPartner | int, changes: Mapping[str, Any]
) -> ChannelPartner:
    _require_editor(actor)
    obj = _partner(actor, partner, lock=True)
    if _apply_partner(actor, obj, changes):
        with acting_as(actor):
            obj.save()
    return obj


# --- Contacts ----------------------------------------------------------------------------------


CONTACT_FIELDS = ("name", "role", "title", "phone", "email", "is_primary", "notes")


def _apply_contact(contact: PartnerContact, values: Mapping[str, Any]) -> None:
    unknown = set(values) - set(CONTACT_FIELDS)
    if unknown:
        raise _refuse(sorted(unknown)[0], _("未知字段：{names}").format(names="、".join(sorted(unknown))))
    for name, value in values.items():
        setattr(contact, name, value.strip() if isinstance(value, str) else value)
    if not contact.name:
        raise _refuse("name", _("请填写联系人姓名。"))
    if contact.role not in PartnerContact.Role.values:
        raise _refuse("role", _("未知的职责：{value}").format(value=contact.role))
    if contact.phone and not all(c.isdigit() or c in "+-() " for c in contact.phone):
        raise _refuse("phone", _("电话号码格式不正确：{value}").format(value=contact.phone))
    if contact.email and ("@" not in contact.email or " " in contact.email):
        raise _refuse("email", _("邮箱格式不正确：{value}").format(value=contact.email))


@transaction.atomic
def add_contact(*, actor: User, partner: ChannelPartner | int, **values: Any) -> PartnerContact:
    _require_editor(actor)
    obj = _partner(actor, partner)
    contact = PartnerContact(partner=obj)
    _apply_contact(contact, values)
    with acting_as(actor):
        contact.save()
    return contact


@transaction.atomic
def update_contact(
    *, actor: User, contact: PartnerContact | int, changes: Mapping[str, Any]
) -> PartnerContact:
    _require_editor(actor)
    obj = get_visible_or_404(
        PartnerContact.objects.select_for_update(of=("self",)), user=actor, pk=getattr(contact, "pk", contact)
    )
    _apply_contact(obj, changes)
    with acting_as(actor):
        obj.save()
    return obj


@transaction.atomic
def remove_contact(*, actor: User, contact: PartnerContact | int) -> None:
    _require_editor(actor)
    obj = get_visible_or_404(PartnerContact, user=actor, pk=getattr(contact, "pk", contact))
    with acting_as(actor):
        obj.delete()


def contact_details(*, contact: PartnerContact, user: Any) -> dict[str, str]:
    """Phone and email as this user may see them: clear for those who manage partners, masked otherwise.

    These are business contacts of a company, not professionals' personal data, so clear views
    are not logged; the masking follows the professionals' pattern (customers.privacy).
    """
    from pharmacrm.compliance.policy import mask

    values = {"phone": contact.phone, "email": contact.email}
    if getattr(user, "is_authenticated", False) and user.roles & CONTACT_CLEAR_ROLES:
        return values
    return {name: mask(value) for name, value in values.items()}


# --- Licences ----------------------------------------------------------------------------------


LICENCE_FIELDS = ("kind", "number", "issued_on", "expires_on", "notes")


def _apply_licence(licence: Licence, values: Mapping[str, Any]) -> None:
    unknown = set(values) - set(LICENCE_FIELDS)
    if unknown:
        raise _refuse(sorted(unknown)[0], _("未知字段：{names}").format(names="、".join(sorted(unknown))))
    for name, value in values.items():
        if name in ("issued_on", "expires_on"):
            value = _date(value, name, _("发证日期") if name == "issued_on" else _("有效期至"))
        setattr(licence, name, value.strip() if isinstance(value, str) else value)
    if licence.kind not in Licence.Kind.values:
        raise _refuse("kind", _("未知的证照类型：{value}").format(value=licence.kind))
    if not licence.number:
        raise _refuse("number", _("请填写证号。"))
    if licence.expires_on < licence.issued_on:
        raise _refuse(
            "expires_on",
            _("有效期至（{expires}）不能早于发证日期（{issued}）。").format(
                expires=licence.expires_on, issued=licence.issued_on
            ),
        )
    clash = Licence.objects.filter(
        partner_id=licence.partner_id, kind=licence.kind, number=licence.number
    ).exclude(pk=licence.pk)
    if clash.exists():
        raise _refuse("number", _("该证照已登记：{value}").format(value=licence.number), cls=Conflict)


@transaction.atomic
def add_licence(*, actor: User, partner: ChannelPartner | int, **values: Any) -> Licence:
    _require_editor(actor)
    obj = _partner(actor, partner)
    licence = Licence(partner=obj)
    _apply_licence(licence, values)
    with acting_as(actor):
        licence.save()
    return licence


@transaction.atomic
def update_licence(*, actor: User, licence: Licence | int, changes: Mapping[str, Any]) -> Licence:
    """Edit a licence; a renewal (new expiry date) leaves the old alert behind and a new one may come."""
    _require_editor(actor)
    obj = get_visible_or_404(
        Licence.objects.select_for_update(of=("self",)), user=actor, pk=getattr(licence, "pk", licence)
    )
    _apply_licence(obj, changes)
    with acting_as(actor):
        obj.save()
    return obj


def record_licence_alerts(*, on: dt.date | None = None, within_days: int = 60) -> list[LicenceAlert]:
    """Record an alert for every licence expiring within `within_days` of `on` (idempotent).

    One alert per licence and expiry date: running the task twice a day, or every day, records
    each expiry once; renewing a licence (new expiry date) makes it eligible again later.
    """
    day = on or timezone.localdate()
    horizon = day + dt.timedelta(days=within_days)
    created: list[LicenceAlert] = []
    licences = Licence.objects.filter(
        expires_on__lte=horizon, partner__status=ChannelPartner.Status.ACTIVE
    ).exclude(alerts__expires_on=F("expires_on"))
    for licence in licences:
        alert, made = LicenceAlert.objects.get_or_create(
            licence=licence,
            expires_on=licence.expires_on,
            defaults={"raised_on": day, "days_left": (licence.expires_on - day).days},
        )
        if made:
            created.append(alert)
    return created


@transaction.atomic
def acknowledge_alert(*, actor: User, alert: LicenceAlert | int) -> LicenceAlert:
    _require_editor(actor)
    obj = get_visible_or_404(
        LicenceAlert.objects.select_for_update(of=("self",)), user=actor, pk=getattr(alert, "pk", alert)
    )
    if obj.acknowledged_at is None:
        obj.acknowledged_by = actor
        obj.acknowledged_at = timezone.now()
        obj.save(update_fields=["acknowledged_by", "acknowledged_at"])
    return obj


# --- Agreements --------------------------------------------------------------------------------


def _divisions(codes: Iterable[Any]) -> list[Division]:
    wanted = [str(getattr(c, "pk", c)).strip() for c in codes if str(getattr(c, "pk", c)).strip()]
    found = {d.code: d for d in Division.objects.filter(code__in=wanted)}
    missing = [c for c in wanted if c not in found]
    if missing:
        raise _refuse("regions", _("未知的行政区划代码：{value}").format(value="、".join(missing)))
    if not found:
        raise _refuse("regions", _("请至少选择一个授权区域。"))
    return list(found.values())


def _products(ids: Iterable[Any]) -> list[Product]:
    wanted = {int(getattr(p, "pk", p)) for p in ids}
    found = list(Product.objects.filter(pk__in=wanted))
    missing = wanted - {p.pk for p in found}
    if missing:
        raise _refuse(
            "products", _("未知的产品：{value}").format(value="、".join(str(m) for m in sorted(missing)))
        )
    if not found:
        raise _refuse("products", _("请至少选择一个授权产品。"))
    return found


def check_agreement_overlap(agreement: Agreement, product_ids: Iterable[int]) -> None:
    """No two active agreements of one partner may cover the same product on the same day."""
    if agreement.status != Agreement.Status.ACTIVE:
        return
    clash = (
        Agreement.objects.filter(
            partner_id=agreement.partner_id,
            status=Agreement.Status.ACTIVE,
            start__lte=agreement.end,
            end__gte=agreement.start,
            products__in=list(product_ids),
        )
        .exclude(pk=agreement.pk)
        .prefetch_related("products")
        .distinct()
        .first()
    )
    if clash is not None:
        shared = sorted(str(p) for p in clash.products.all() if p.pk in set(product_ids))
        raise _refuse(
            "products",
            _(
                "与生效协议 {code}（{start} 至 {end}）在产品“{products}”上时间重叠；同一渠道伙伴同一产品同一时间只能有一份生效协议。"
            ).format(code=clash.code, start=clash.start, end=clash.end, products="、".join(shared)),
            cls=Conflict,
        )


def _set_targets(agreement: Agreement, targets: Iterable[Mapping[str, Any]]) -> None:
    rows = []
    seen: set[tuple[int, int]] = set()
    for i, row in enumerate(targets, start=1):
        try:
            year, quarter = int(row["year"]), int(row["quarter"])
        except (KeyError, TypeError, ValueError):
            raise _refuse(
                "targets", _("第{row}行季度目标的年度/季度无效：{value}").format(row=i, value=dict(row))
            ) from None
        if quarter not in (1, 2, 3, 4):
            raise _refuse("targets", _("第{row}行季度须为1到4：{value}").format(row=i, value=quarter))
        start, end = scoring.quarter_bounds(year, quarter)
        if end < agreement.start or start > agreement.end:
            raise _refuse(
                "targets",
                _("第{row}行：{year}Q{quarter} 不在协议期内。").format(row=i, year=year, quarter=quarter),
            )
        if (year, quarter) in seen:
            raise _refuse(
                "targets", _("第{row}行：{year}Q{quarter} 重复。").format(row=i, year=year, quarter=quarter)
            )
        seen.add((year, quarter))
        amount = _decimal(row.get("amount"), "targets", _("第{row}行金额目标").format(row=i))
        volume = _decimal(row.get("volume"), "targets", _("第{row}行数量目标").format(row=i))
        if amount is None and volume is None:
            raise _refuse("targets", _("第{row}行：金额目标和数量目标至少填一项。").format(row=i))
        if (amount is not None and amount < 0) or (volume is not None and volume < 0):
            raise _refuse("targets", _("第{row}行：目标不能为负数。").format(row=i))
        rows.append(
            AgreementTarget(agreement=agreement, year=year, quarter=quarter, amount=amount, volume=volume)
        )
    existing = {(t.year, t.quarter): t for t in agreement.targets.all()}
    for target in rows:
        old = existing.pop((target.year, target.quarter), None)
        if old is not None:
            if (old.amount, old.volume) != (target.amount, target.volume):
                old.amount, old.volume = target.amount, target.volume
                old.save()
        else:
            target.save()
    for old in existing.values():
        old.delete()


def _set_tiers(agreement: Agreement, tiers: Iterable[Mapping[str, Any]]) -> None:
    parsed: list[tuple[Decimal, Decimal]] = []
    for i, row in enumerate(tiers, start=1):
        threshold = _decimal(
            row.get("threshold"), "rebate_tiers", _("第{row}档达成率门槛").format(row=i), required=True
        )
        rate = _decimal(row.get("rate"), "rebate_tiers", _("第{row}档返利比例").format(row=i), required=True)
        assert threshold is not None and rate is not None
        if threshold < 0:
            raise _refuse(
                "rebate_tiers", _("第{row}档：达成率门槛不能为负数：{value}").format(row=i, value=threshold)
            )
        if not Decimal(0) <= rate <= Decimal(100):
            raise _refuse(
                "rebate_tiers", _("第{row}档：返利比例须在0到100之间：{value}").format(row=i, value=rate)
            )
        parsed.append((threshold, rate))
    parsed.sort()
    for (t1, r1), (t2, r2) in itertools.pairwise(parsed):
        if t1 == t2:
            raise _refuse("rebate_tiers", _("达成率门槛重复：{value}%").format(value=t1))
        if r2 < r1:
            raise _refuse(
                "rebate_tiers",
                _("返利档位须随门槛递增：门槛 {t2}% 的比例 {r2}% 低于门槛 {t1}% 的 {r1}%。").format(
                    t1=t1, r1=r1, t2=t2, r2=r2
                ),
            )
    existing = {t.threshold: t for t in agreement.rebate_tiers.all()}
    for threshold, rate in parsed:
        old = existing.pop(threshold, None)
        if old is None:
            RebateTier.objects.create(agreement=agreement, threshold=threshold, rate=rate)
        elif old.rate != rate:
            old.rate = rate
            old.save()
    for old in existing.values():
        old.delete()


AGREEMENT_FIELDS = (
    "code",
    "start",
    "end",
    "status",
    "regions",
    "products",
    "targets",
    "rebate_tiers",
    "notes",
)


def _apply_agreement(agreement: Agreement, values: Mapping[str, Any]) -> dict[str, Any]:
    """Set scalar fields and validate; returns the related rows to write after saving."""
    unknown = set(values) - set(AGREEMENT_FIELDS)
    if unknown:
        raise _refuse(sorted(unknown)[0], _("未知字段：{names}").format(names="、".join(sorted(unknown))))
    if "code" in values:
        code = str(values["code"] or "").strip()
        if not code:
            raise _refuse("code", _("请填写协议编号。"))
        if Agreement.objects.filter(code=code).exclude(pk=agreement.pk).exists():
            raise _refuse("code", _("协议编号已被使用：{value}").format(value=code), cls=Conflict)
        agreement.code = code
    if "start" in values:
        agreement.start = _date(values["start"], "start", _("开始日期"))
    if "end" in values:
        agreement.end = _date(values["end"], "end", _("结束日期"))
    if agreement.end < agreement.start:
        raise _refuse(
            "end",
            _("结束日期（{end}）不能早于开始日期（{start}）。").format(
                end=agreement.end, start=agreement.start
            ),
        )
    if "status" in values:
        if values["status"] not in Agreement.Status.values:
            raise _refuse("status", _("未知的协议状态：{value}").format(value=values["status"]))
        agreement.status = values["status"]
    if "notes" in values:
        agreement.notes = str(values["notes"] or "")
    related: dict[str, Any] = {}
    if "regions" in values:
        related["regions"] = _divisions(values["regions"])
    if "products" in values:
        related["products"] = _products(values["products"])
    for name in ("targets", "rebate_tiers"):
        if name in values:
            related[name] = list(values[name] or [])
    return related


def _save_agreement(actor: User, agreement: Agreement, related: dict[str, Any]) -> Agreement:
    if agreement.pk is None and ("regions" not in related or "products" not in related):
        raise _refuse("regions" if "regions" not in related else "products", _("请选择授权区域和授权产品。"))
    product_ids = (
        [p.pk for p in related["products"]]
        if "products" in related
        else list(agreement.products.values_list("pk", flat=True))
    )
    check_agreement_overlap(agreement, product_ids)
    with acting_as(actor):
        agreement.save()
        if "regions" in related:
            agreement.regions.set(related["regions"])
        if "products" in related:
            agreement.products.set(related["products"])
        if "targets" in related:
            _set_targets(agreement, related["targets"])
        if "rebate_tiers" in related:
            _set_tiers(agreement, related["rebate_tiers"])
    return agreement


@transaction.atomic
def create_agreement(
    *,
    actor: User,
    partner: ChannelPartner | int,
    code: str,
    start: dt.date,
    end: dt.date,
    regions: Iterable[str | Division],
    products: Iterable[int | Product],
    targets: Iterable[Mapping[str, Any]] = (),
    rebate_tiers: Iterable[Mapping[str, Any]] = (),
    status: str = Agreement.Status.DRAFT,
    notes: str = "",
) -> Agreement:
    """A new agreement. Targets are `{year, quarter, amount?, volume?}`, tiers `{threshold, rate}` (both %)."""
    _require_editor(actor)
    obj = _partner(actor, partner, lock=True)  # serialises overlap checks per partner
    agreement = Agreement(
        partner=obj,
        created_by=actor,
        start=_date(start, "start", _("开始日期")),
        end=_date(end, "end", _("结束日期")),
    )
    related = _apply_agreement(
        agreement,
        {
            "code": code,
            "status": status,
            "notes": notes,
            "regions": regions,
            "products": products,
            "targets": targets,
            "rebate_tiers": rebate_tiers,
        },
    )
    return _save_agreement(actor, agreement, related)


@transaction.atomic
def update_agreement(*, actor: User, agreement: Agreement | int, changes: Mapping[str, Any]) -> Agreement:
    """Change an agreement (any field, targets and tiers replaced as a whole); an ended one is read-only."""
    _require_editor(actor)
    obj = get_visible_or_404(Agreement, user=actor, pk=getattr(agreement, "pk", agreement))
    _partner(actor, obj.partner_id, lock=True)
    obj = Agreement.objects.get(pk=obj.pk)
    if obj.status == Agreement.Status.ENDED and set(changes) - {"notes"}:
        raise _refuse("status", _("协议 {code} 已终止，不能再修改。").format(code=obj.code), cls=Conflict)
    related = _apply_agreement(obj, changes)
    return _save_agreement(actor, obj, related)


# --- Scorecards --------------------------------------------------------------------------------


def _parse_metric_rows(rows: Iterable[Mapping[str, Any]]) -> list[ScorecardMetric]:
    lines: list[ScorecardMetric] = []
    seen: set[str] = set()
    for i, row in enumerate(rows, start=1):
        code = str(row.get("code") or "").strip()
        if not code:
            raise _refuse("metrics", _("第{row}行：请填写指标编码。").format(row=i))
        if code in seen:
            raise _refuse("metrics", _("第{row}行：指标 {code} 重复。").format(row=i, code=code))
        seen.add(code)
        label = str(row.get("label") or "").strip()
        if get_metric(code) is None and not label:
            raise _refuse(
                "metrics", _("第{row}行：{code} 不是系统指标，人工指标须填写名称。").format(row=i, code=code)
            )
        weight = _decimal(row.get("weight"), "metrics", _("第{row}行权重").format(row=i), required=True)
        target = _decimal(row.get("target"), "metrics", _("第{row}行满分值").format(row=i), required=True)
        floor = _decimal(row.get("floor"), "metrics", _("第{row}行零分值").format(row=i), required=True)
        assert weight is not None and target is not None and floor is not None
        if not Decimal(0) < weight <= Decimal(100):
            raise _refuse(
                "metrics", _("第{row}行：权重须大于0且不超过100：{value}").format(row=i, value=weight)
            )
        direction = row.get("direction") or Direction.HIGHER_BETTER
        if direction not in Direction.values:
            raise _refuse("metrics", _("第{row}行：未知的方向：{value}").format(row=i, value=direction))
        if target == floor:
            raise _refuse(
                "metrics", _("第{row}行：满分值与零分值不能相同：{value}").format(row=i, value=target)
            )
        if (direction == Direction.HIGHER_BETTER) != (target > floor):
            raise _refuse(
                "metrics",
                _(
                    "第{row}行：“越高越好”的满分值须高于零分值，“越低越好”则相反（满分 {target}，零分 {floor}）。"
                ).format(row=i, target=target, floor=floor),
            )
        lines.append(
            ScorecardMetric(
                code=code,
                label=label,
                weight=weight,
                target=target,
                floor=floor,
                direction=direction,
                position=i,
            )
        )
    total = sum((line.weight for line in lines), Decimal(0))
    if total != Decimal(100):
        raise _refuse(
            "metrics", _("各指标权重之和须为100，现为 {total}。").format(total=f"{total.normalize():f}")
        )
    return lines


@transaction.atomic
def save_scorecard(
    *,
    actor: User,
    name: str,
    metrics: Iterable[Mapping[str, Any]],
    scorecard: Scorecard | int | None = None,
    applies_to: str = Scorecard.AppliesTo.ALL,
    is_active: bool = True,
    notes: str = "",
) -> Scorecard:
    """Create or replace a scorecard and its metric lines; weights must sum to 100.

    Reviews keep a copy of the lines they were scored with, so editing a scorecard never changes
    a past review.
    """
    _require(actor, SCORECARD_EDITORS, _("只有系统管理员、销售总监或商务/KA经理可以维护评估计分卡。"))
    name = (name or "").strip()
    if not name:
        raise _refuse("name", _("请填写计分卡名称。"))
    if applies_to not in Scorecard.AppliesTo.values:
        raise _refuse("applies_to", _("未知的适用渠道：{value}").format(value=applies_to))
    lines = _parse_metric_rows(metrics)
    card = (
        Scorecard()
        if scorecard is None
        else Scorecard.objects.select_for_update().get(pk=getattr(scorecard, "pk", scorecard))
    )
    if Scorecard.objects.filter(name=name).exclude(pk=card.pk).exists():
        raise _refuse("name", _("计分卡名称已存在：{value}").format(value=name), cls=Conflict)
    if (
        is_active
        and Scorecard.objects.filter(applies_to=applies_to, is_active=True).exclude(pk=card.pk).exists()
    ):
        raise _refuse(
            "is_active",
            _("“{kind}”已有启用中的计分卡；请先停用它。").format(kind=Scorecard.AppliesTo(applies_to).label),
            cls=Conflict,
        )
    card.name, card.applies_to, card.is_active, card.notes = name, applies_to, is_active, notes
    with acting_as(actor):
        card.save()
        existing = {m.code: m for m in card.metrics.all()}
        for line in lines:
            old = existing.pop(line.code, None)
            if old is None:
                line.scorecard = card
                line.save()
            else:
                fields = ("label", "weight", "target", "floor", "direction", "position")
                if any(getattr(old, f) != getattr(line, f) for f in fields):
                    for f in fields:
                        setattr(old, f, getattr(line, f))
                    old.save()
        for old in existing.values():
            old.delete()
    return card


def scorecard_for(partner: ChannelPartner) -> Scorecard | None:
    """The active scorecard for the partner's kind, else the active one for all channels."""
    cards = {c.applies_to: c for c in Scorecard.objects.filter(is_active=True)}
    return cards.get(partner.kind) or cards.get(Scorecard.AppliesTo.ALL)


# --- Reviews -----------------------------------------------------------------------------------


def _locked_review(actor: Any, review: ChannelReview | int) -> ChannelReview:
    found = get_visible_or_404(ChannelReview, user=actor, pk=getattr(review, "pk", review))
    return ChannelReview.objects.select_for_update().select_related("partner").get(pk=found.pk)


def _recompute_total(review: ChannelReview) -> None:
    lines = list(review.scores.all())
    review.total_score = scoring.weighted_total([(line.score, line.weight) for line in lines])


@transaction.atomic
def create_review(
    *, actor: User, partner: ChannelPartner | int, year: int, quarter: int, today: dt.date | None = None
) -> ChannelReview:
    """Open the quarter's review: copy the scorecard's lines and pre-fill every automatic metric."""
    _require_editor(actor)
    obj = _partner(actor, partner, lock=True)
    try:
        year, quarter = int(year), int(quarter)
    except (TypeError, ValueError):
        raise _refuse(
            "quarter", _("年度/季度无效：{year}Q{quarter}").format(year=year, quarter=quarter)
        ) from None
    if quarter not in (1, 2, 3, 4):
        raise _refuse("quarter", _("季度须为1到4：{value}").format(value=quarter))
    start, end = scoring.quarter_bounds(year, quarter)
    if start > (today or timezone.localdate()):
        raise _refuse(
            "quarter", _("{year}Q{quarter} 尚未开始，不能评估。").format(year=year, quarter=quarter)
        )
    if ChannelReview.objects.filter(partner=obj, year=year, quarter=quarter).exists():
        raise _refuse(
            "quarter",
            _("{partner} 的 {year}Q{quarter} 评估已存在。").format(partner=obj, year=year, quarter=quarter),
            cls=Conflict,
        )
    card = scorecard_for(obj)
    if card is None:
        raise _refuse("scorecard", _("没有启用中的评估计分卡，请先配置计分卡。"))
    with acting_as(actor):
        review = ChannelReview.objects.create(
            partner=obj, scorecard=card, year=year, quarter=quarter, reviewer=actor
        )
        for line in card.metrics.all():
            metric = get_metric(line.code)
            manual = metric is None or metric.manual
            measured = None if manual else compute_metric(line.code, partner=obj, start=start, end=end)
            value = measured.value if measured else None
            ReviewScore.objects.create(
                review=review,
                code=line.code,
                label=line.label or (str(metric.label) if metric else line.code),
                unit=metric.unit if metric else "",
                manual=manual,
                weight=line.weight,
                target=line.target,
                floor=line.floor,
                direction=line.direction,
                value=value,
                detail=(measured.detail if measured else "")[:300],
                score=scoring.band_score(
                    value=value, target=line.target, floor=line.floor, direction=line.direction
                ),
                position=line.position,
            )
        _recompute_total(review)
        review.save(update_fields=["total_score"])
    return review


def _require_open(review: ChannelReview, actor: Any) -> None:
    if review.status == ChannelReview.Status.APPROVED:
        raise _refuse("status", _("评估 {review} 已审批，不能再修改。").format(review=review), cls=Conflict)
    if review.status == ChannelReview.Status.SUBMITTED:
        raise _refuse(
            "status", _("评估 {review} 已提交审批；退回后才能修改。").format(review=review), cls=Conflict
        )


@transaction.atomic
def update_review(
    *,
    actor: User,
    review: ChannelReview | int,
    values: Mapping[str, Any] | None = None,
    comments: str | None = None,
    refresh: bool = False,
    today: dt.date | None = None,
) -> ChannelReview:
    """Enter manual values (`{code: value}`), comments, or re-measure the automatic metrics (`refresh`)."""
    _require_editor(actor)
    obj = _locked_review(actor, review)
    _require_open(obj, actor)
    lines = {line.code: line for line in obj.scores.all()}
    start, end = scoring.quarter_bounds(obj.year, obj.quarter)
    with acting_as(actor):
        for code, raw in (values or {}).items():
            line = lines.get(code)
            if line is None:
                raise _refuse(code, _("该评估没有指标 {code}。").format(code=code))
            if not line.manual:
                raise _refuse(code, _("“{label}”由系统计算，不能手工录入。").format(label=line.label))
            value = _decimal(raw, code, line.label)
            if value != line.value:
                line.value = value
                line.detail = _("人工录入") if value is not None else ""
                line.score = scoring.band_score(
                    value=value, target=line.target, floor=line.floor, direction=line.direction
                )
                line.save()
        if refresh:
            for line in lines.values():
                if line.manual:
                    continue
                measured = compute_metric(line.code, partner=obj.partner, start=start, end=end)
                score = scoring.band_score(
                    value=measured.value, target=line.target, floor=line.floor, direction=line.direction
                )
                if (line.value, line.detail, line.score) != (measured.value, measured.detail[:300], score):
                    line.value, line.detail, line.score = measured.value, measured.detail[:300], score
                    line.save()
        if comments is not None:
            obj.comments = comments
        _recompute_total(obj)
        obj.save()
    return obj


@transaction.atomic
def add_review_action(
    *, actor: User, review: ChannelReview | int, what: str, owner: User | int, due_on: dt.date
) -> ReviewAction:
    _require_editor(actor)
    obj = _locked_review(actor, review)
    _require_open(obj, actor)
    what = (what or "").strip()
    if not what:
        raise _refuse("what", _("请填写改进事项。"))
    owner_user = visible(User, user=actor).filter(pk=getattr(owner, "pk", owner), is_active=True).first()
    if owner_user is None:
        raise _refuse(
            "owner", _("负责人不存在或不在您的范围内：{value}").format(value=getattr(owner, "pk", owner))
        )
    due = _date(due_on, "due_on", _("截止日期"))
    with acting_as(actor):
        return ReviewAction.objects.create(review=obj, what=what, owner=owner_user, due_on=due)


@transaction.atomic
def submit_review(*, actor: User, review: ChannelReview | int) -> ChannelReview:
    """Send a complete review for approval: every metric has a value (or is explained), comments written."""
    _require_editor(actor)
    obj = _locked_review(actor, review)
    _require_open(obj, actor)
    missing = [line.label for line in obj.scores.all() if line.manual and line.value is None]
    if missing:
        raise _refuse("values", _("请先录入人工指标：{names}。").format(names="、".join(missing)))
    if not obj.comments.strip():
        raise _refuse("comments", _("提交前请填写评语。"))
    with acting_as(actor):
        obj.status = ChannelReview.Status.SUBMITTED
        obj.submitted_at = timezone.now()
        obj.save()
    return obj


@transaction.atomic
def decide_review(
    *, actor: User, review: ChannelReview | int, approve: bool, note: str = ""
) -> ChannelReview:
    """A manager approves (locks) or returns a submitted review; nobody approves their own review."""
    _require(actor, REVIEW_APPROVERS, _("只有管理者（地区/大区经理、销售总监）可以审批渠道评估。"))
    obj = _locked_review(actor, review)
    if obj.status != ChannelReview.Status.SUBMITTED:
        raise _refuse(
            "status",
            _("只能审批已提交的评估；{review} 当前状态为“{status}”。").format(
                review=obj, status=obj.get_status_display()
            ),
            cls=Conflict,
        )
    if obj.reviewer_id == actor.pk:
        raise _refuse("approved_by", _("不能审批自己提交的评估。"), cls=NotAllowed)
    with acting_as(actor):
        if approve:
            obj.status = ChannelReview.Status.APPROVED
            obj.approved_by = actor
            obj.approved_at = timezone.now()
        else:
            obj.status = ChannelReview.Status.DRAFT
            obj.submitted_at = None
            if note.strip():
                obj.comments = f"{obj.comments}\n\n[{_('退回意见')}] {note.strip()}".strip()
        obj.save()
    return obj


def partners_without_review(*, actor: Any, year: int, quarter: int) -> Any:
    return (
        visible(ChannelPartner, user=actor)
        .filter(status=ChannelPartner.Status.ACTIVE)
        .exclude(Q(reviews__year=year, reviews__quarter=quarter))
    )
