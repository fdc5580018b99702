"""Price policies (价格政策): writes with non-overlapping periods, and the price in force on a date.

Precedence of `price_in_force` (most specific wins; documented in docs/commercial.md):

1. the province's policy for the customer kind,
2. the province's policy for any customer kind,
3. the national policy for the customer kind,
4. the national policy for any customer kind.

A province always beats a customer kind: a provincial bid price (中标价) binds every hospital of
the province, whereas a customer-kind price is a national channel rule. Within one key the
periods never overlap (the service refuses it), so at most one policy per level is in force.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import transaction
from django.db.models import Case, IntegerField, Q, QuerySet, Value, When
from django.utils.translation import gettext as _

from pharmacrm.commercial.models import PricePolicy, Sku
from pharmacrm.commercial.scoping import PRICE_WRITERS
from pharmacrm.core.audit import acting_as
from pharmacrm.core.errors import Conflict, DomainError, NotAllowed
from pharmacrm.core.models import Division, User
from pharmacrm.core.visibility import get_visible_or_404, visible
from pharmacrm.customers.models import Institution


def may_edit_prices(user: Any) -> bool:
    return bool(getattr(user, "is_authenticated", False) and user.roles & PRICE_WRITERS)


def _refuse(field: str, message: str, *, cls: type[DomainError] = DomainError) -> DomainError:
    return cls(message, fields={field: [message]})


def _province(value: Division | str | None) -> Division | None:
    if value in (None, ""):
        return None
    code = getattr(value, "code", value)
    found = Division.objects.filter(code=code, level=Division.Level.PROVINCE).first()
    if found is None:
        raise _refuse("province", _("不是省级行政区代码：{value}").format(value=code))
    return found


def _period_text(start: dt.date, end: dt.date | None) -> str:
    return f"{start} ~ {end or _('长期')}"


@transaction.atomic
def save_price_policy(
    *,
    actor: User,
    policy: PricePolicy | None = None,
    kind: str,
    sku: Sku | int,
    price: Decimal | str | int,
    effective_from: dt.date,
    effective_to: dt.date | None = None,
    province: Division | str | None = None,
    customer_kind: str = "",
    notes: str = "",
) -> PricePolicy:
    """Create (or change) a price policy. Refuses a price ≤ 0, an inverted period and an overlap.

    An overlap is another policy of the same kind, SKU, province and customer kind whose period
    shares a day with this one: end the old one first (set its 失效日期).
    """
    if not may_edit_prices(actor):
        raise NotAllowed(_("您的角色不能维护价格政策。"))
    if kind not in PricePolicy.Kind.values:
        raise _refuse("kind", _("价格类型“{value}”不在可选值中。").format(value=kind))
    sku_obj = Sku.objects.filter(pk=getattr(sku, "pk", sku)).select_related("product").first()
    if sku_obj is None:
        raise _refuse("sku", _("品规不存在：{value}").format(value=getattr(sku, "pk", sku)))
    try:
        amount = Decimal(str(price))
    except InvalidOperation:
        raise _refuse("price", _("价格不是数字：{value}").format(value=price)) from None
    if not amount.is_finite() or amount <= 0:
        raise _refuse("price", _("价格须大于 0：{value}").format(value=price))
    if amount.as_tuple().exponent < -4:  # type: ignore[operator]
        raise _refuse("price", _("价格最多 4 位小数：{value}").format(value=price))
    if effective_to is not None and effective_to < effective_from:
        raise _refuse(
            "effective_to",
            _("失效日期（{to}）不能早于生效日期（{start}）。").format(to=effective_to, start=effective_from),
        )
    customer_kind = customer_kind or ""
    if customer_kind and customer_kind not in Institution.Kind.values:
        raise _refuse("customer_kind", _("客户类型“{value}”不在可选值中。").format(value=customer_kind))
    prov = _province(province)
    if policy is not None:
        policy = get_visible_or_404(
            PricePolicy.objects.select_for_update(of=("self",)), user=actor, pk=policy.pk
        )
    clash_qs = PricePolicy.objects.select_for_update(of=("self",)).filter(
        kind=kind, sku=sku_obj, province=prov, customer_kind=customer_kind
    )
    clash_qs = clash_qs.filter(Q(effective_to__isnull=True) | Q(effective_to__gte=effective_from))
    if effective_to is not None:
        clash_qs = clash_qs.filter(effective_from__lte=effective_to)
    if policy is not None:
        clash_qs = clash_qs.exclude(pk=policy.pk)
    clash = clash_qs.order_by("effective_from").first()
    if clash is not None:
        raise _refuse(
            "effective_from",
            _(
                "与已有价格政策的有效期重叠：{kind}，{sku}，{where}，{customer}，¥{price}，{period}。"
                "请先为原政策设置失效日期。"
            ).format(
                kind=clash.get_kind_display(),
                sku=sku_obj,
                where=prov.name if prov else _("全国"),
                customer=clash.get_customer_kind_display() if clash.customer_kind else _("所有客户类型"),
                price=clash.price,
                period=_period_text(clash.effective_from, clash.effective_to),
            ),
            cls=Conflict,
        )
    obj = policy or PricePolicy(created_by=actor)
    obj.kind, obj.sku, obj.province, obj.customer_kind = kind, sku_obj, prov, customer_kind
    obj.price, obj.effective_from, obj.effective_to = amount, effective_from, effective_to
    obj.notes = (notes or "").strip()
    with acting_as(actor):
        obj.save()
    return obj


@transaction.atomic
def end_price_policy(*, actor: User, policy: PricePolicy, on: dt.date) -> PricePolicy:
    """Close a policy's period on `on` (its last day), e.g. before a new price starts."""
    if not may_edit_prices(actor):
        raise NotAllowed(_("您的角色不能维护价格政策。"))
    policy = get_visible_or_404(PricePolicy.objects.select_for_update(of=("self",)), user=actor, pk=policy.pk)
    if on < policy.effective_from:
        raise _refuse(
            "on",
            _("失效日期（{to}）不能早于生效日期（{start}）。").format(to=on, start=policy.effective_from),
        )
    policy.effective_to = on
    with acting_as(actor):
        policy.save(update_fields=["effective_to"])
    return policy


def price_in_force(
    *,
    sku: Sku | int,
    on: dt.date,
    province: Division | str | None = None,
    kind: str = PricePolicy.Kind.LIST,
    customer_kind: str | None = None,
) -> PricePolicy | None:
    """The policy of `kind` for `sku` in force on `on`, most specific first (see module doc). ONE query."""
    sku_id = sku.pk if isinstance(sku, Sku) else int(sku)
    province_code = getattr(province, "code", province) or None
    q = Q(province__isnull=True)
    if province_code:
        q |= Q(province_id=province_code)
    kinds = Q(customer_kind="")
    if customer_kind:
        kinds |= Q(customer_kind=customer_kind)
    return (
        PricePolicy.objects.filter(sku_id=sku_id, kind=kind, effective_from__lte=on)
        .filter(Q(effective_to__isnull=True) | Q(effective_to__gte=on))
        .filter(q)
        .filter(kinds)
        .annotate(
            specificity=Case(
                When(province__isnull=False, then=Value(2)), default=Value(0), output_field=IntegerField()
            )
            + Case(When(customer_kind="", then=Value(0)), default=Value(1), output_field=IntegerField())
        )
        .select_related("sku", "province")
        .order_by("-specificity", "-effective_from")
        .first()
    )


def visible_price_policies(*, user: Any) -> QuerySet[PricePolicy]:
    return visible(PricePolicy, user=user).select_related("sku__product", "province", "created_by")
