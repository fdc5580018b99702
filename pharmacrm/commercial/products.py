"""Writes and reads for products: SKUs (品规), key message versions (关键信息) and competitor products (竞品).

Products, SKUs, key messages and competitor products are master data every role may read
(a rep needs them on a visit); only admin, commercial and marketing staff change them.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import Max
from django.utils.translation import gettext as _

from pharmacrm.commercial.models import CompetitorProduct, KeyMessage, Product, Sku, TherapeuticArea
from pharmacrm.commercial.scoping import PRODUCT_WRITERS
from pharmacrm.core.audit import acting_as
from pharmacrm.core.errors import Conflict, DomainError, NotAllowed
from pharmacrm.core.models import User


def may_edit_products(user: Any) -> bool:
    return bool(getattr(user, "is_authenticated", False) and user.roles & PRODUCT_WRITERS)


def _require_product_writer(actor: Any) -> None:
    if not may_edit_products(actor):
        raise NotAllowed(_("您的角色只能查看产品信息，不能修改。"))


def _refuse(field: str, message: str, *, cls: type[DomainError] = DomainError) -> DomainError:
    return cls(message, fields={field: [message]})


def _product(value: Product | int) -> Product:
    found = Product.objects.filter(pk=getattr(value, "pk", value)).first()
    if found is None:
        raise _refuse("product", _("产品不存在：{value}").format(value=getattr(value, "pk", value)))
    return found


SKU_FIELDS = ("code", "strength", "pack", "unit", "standard_units", "standard_unit", "is_active")


@transaction.atomic
def save_sku(
    *, actor: User, sku: Sku | None = None, product: Product | int | None = None, **values: Any
) -> Sku:
    """Create a SKU of `product`, or change `sku`. The code is unique; standard units are > 0."""
    _require_product_writer(actor)
    unknown = set(values) - set(SKU_FIELDS)
    if unknown:
        raise DomainError(_("未知字段：{fields}").format(fields="、".join(sorted(unknown))))
    if sku is None:
        if product is None:
            raise _refuse("product", _("请选择产品。"))
        sku = Sku(product=_product(product))
    else:
        sku = Sku.objects.select_for_update(of=("self",)).get(pk=sku.pk)
        if product is not None:
            sku.product = _product(product)
    code = str(values.get("code", sku.code) or "").strip()
    if not code:
        raise _refuse("code", _("品规编码不能为空。"))
    if Sku.objects.filter(code=code).exclude(pk=sku.pk).exists():
        raise _refuse("code", _("品规编码“{code}”已被使用。").format(code=code), cls=Conflict)
    values["code"] = code
    units = values.get("standard_units", sku.standard_units)
    if units is None or Decimal(units) <= 0:
        raise _refuse("standard_units", _("折合标准单位须大于 0：{value}").format(value=units))
    for name in ("strength", "pack"):
        if name in values and not str(values[name]).strip():
            raise _refuse(name, _("{field}不能为空。").format(field=Sku._meta.get_field(name).verbose_name))  # type: ignore[union-attr]
    for name, value in values.items():
        setattr(sku, name, value.strip() if isinstance(value, str) else value)
    with acting_as(actor):
        sku.save()
    return sku


@transaction.atomic
def add_key_message_version(
    *,
    actor: User,
    product: Product | int,
    code: str,
    text: str,
    valid_from: dt.date,
    valid_to: dt.date | None = None,
    approved: bool = False,
) -> KeyMessage:
    """Add a key message, or a new version of one (same product and code): old versions are kept.

    The previous version's validity ends the day before the new one starts, so on any date one
    version of a message is in force; a new version may not start before the previous one did.
    """
    _require_product_writer(actor)
    prod = _product(product)
    code = (code or "").strip()
    text = (text or "").strip()
    if not code:
        raise _refuse("code", _("关键信息编码不能为空。"))
    if not text:
        raise _refuse("text", _("关键信息内容不能为空。"))
    if valid_to is not None and valid_to < valid_from:
        raise _refuse(
            "valid_to",
            _("失效日期（{to}）不能早于生效日期（{start}）。").format(to=valid_to, start=valid_from),
        )
    previous = (
        KeyMessage.objects.select_for_update(of=("self",))
        .filter(product=prod, code=code)
        .order_by("-version")
        .first()
    )
    version = 1
    with acting_as(actor):
        if previous is not None:
            if valid_from <= previous.valid_from:
                raise _refuse(
                    "valid_from",
                    _(
                        "新版本的生效日期（{start}）须晚于上一版本 v{version} 的生效日期（{previous}）。"
                    ).format(start=valid_from, version=previous.version, previous=previous.valid_from),
                )
            version = previous.version + 1
            if previous.valid_to is None or previous.valid_to >= valid_from:
                previous.valid_to = valid_from - dt.timedelta(days=1)
                previous._change_reason = _("新版本 v{version} 生效").format(version=version)  # type: ignore[attr-defined]
                previous.save(update_fields=["valid_to"])
        return KeyMessage.objects.create(
            product=prod,
            code=code,
            version=version,
            text=text,
            approved=approved,
            valid_from=valid_from,
            valid_to=valid_to,
        )


@transaction.atomic
def approve_key_message(*, actor: User, message: KeyMessage) -> KeyMessage:
    _require_product_writer(actor)
    message = KeyMessage.objects.select_for_update(of=("self",)).get(pk=message.pk)
    if not message.approved:
        message.approved = True
        with acting_as(actor):
            message.save(update_fields=["approved"])
    return message


def key_messages_in_force(*, product: Product, on: dt.date) -> list[KeyMessage]:
    """The approved version of each of the product's messages valid on `on`."""
    from django.db.models import Q

    return list(
        KeyMessage.objects.filter(product=product, approved=True, valid_from__lte=on)
        .filter(Q(valid_to__isnull=True) | Q(valid_to__gte=on))
        .order_by("code")
    )


@transaction.atomic
def save_competitor_product(
    *,
    actor: User,
    competitor: CompetitorProduct | None = None,
    name: str,
    maker: str,
    therapeutic_area: TherapeuticArea | int,
    competes_with: list[Product] | list[int] | None = None,
    notes: str = "",
) -> CompetitorProduct:
    _require_product_writer(actor)
    name, maker = (name or "").strip(), (maker or "").strip()
    if not name:
        raise _refuse("name", _("竞品名称不能为空。"))
    if not maker:
        raise _refuse("maker", _("生产企业不能为空。"))
    area = TherapeuticArea.objects.filter(pk=getattr(therapeutic_area, "pk", therapeutic_area)).first()
    if area is None:
        raise _refuse("therapeutic_area", _("治疗领域不存在：{value}").format(value=therapeutic_area))
    clash = CompetitorProduct.objects.filter(name=name, maker=maker)
    if competitor is not None:
        clash = clash.exclude(pk=competitor.pk)
    if clash.exists():
        raise _refuse(
            "name", _("竞品“{name}（{maker}）”已存在。").format(name=name, maker=maker), cls=Conflict
        )
    ids: list[int] = [p.pk if isinstance(p, Product) else int(p) for p in (competes_with or [])]
    products = list(Product.objects.filter(pk__in=ids))
    if len(products) != len(set(ids)):
        missing = set(ids) - {p.pk for p in products}
        raise _refuse("competes_with", _("产品不存在：{value}").format(value=sorted(missing)))
    obj = competitor or CompetitorProduct()
    obj.name, obj.maker, obj.therapeutic_area, obj.notes = name, maker, area, notes.strip()
    with acting_as(actor):
        obj.save()
        obj.competes_with.set(products)
    return obj


def product_max_version(*, product: Product, code: str) -> int:
    return KeyMessage.objects.filter(product=product, code=code).aggregate(v=Max("version"))["v"] or 0


PRODUCT_FIELDS = ("code", "generic_name", "brand_name", "therapeutic_area", "is_active")


@transaction.atomic
def save_product(
    *,
    actor: User,
    product: Product | None = None,
    code: str,
    generic_name: str,
    therapeutic_area: TherapeuticArea | int,
    brand_name: str = "",
    is_active: bool = True,
) -> Product:
    """Create or change a product (通用名 and 商品名 in one therapeutic area); the code is unique."""
    _require_product_writer(actor)
    code, generic_name, brand_name = (
        (code or "").strip(),
        (generic_name or "").strip(),
        (brand_name or "").strip(),
    )
    if not code:
        raise _refuse("code", _("产品编码不能为空。"))
    if not generic_name:
        raise _refuse("generic_name", _("通用名不能为空。"))
    area_pk = therapeutic_area.pk if isinstance(therapeutic_area, TherapeuticArea) else therapeutic_area
    area = TherapeuticArea.objects.filter(pk=area_pk).first()
    if area is None:
        raise _refuse("therapeutic_area", _("治疗领域不存在：{value}").format(value=area_pk))
    clash = Product.objects.filter(code=code)
    if product is not None:
        clash = clash.exclude(pk=product.pk)
    if clash.exists():
        raise _refuse("code", _("产品编码“{code}”已被使用。").format(code=code), cls=Conflict)
    obj = (
        Product.objects.select_for_update(of=("self",)).get(pk=product.pk)
        if product is not None
        else Product()
    )
    obj.code, obj.generic_name, obj.brand_name = code, generic_name, brand_name
    obj.therapeutic_area, obj.is_active = area, is_active
    with acting_as(actor):
        obj.save()
    return obj
