"""Writes to hospital listings (进院): open one, and move it through its stages with dates in order.

The pipeline: intro → submitted to the P&T committee (药事会) → approved or rejected → first
purchase. 临采 (an urgent one-off purchase of a product not yet listed) can happen before or
after a submission, or after a rejection, and the listing may still go on to the committee.
Each stage has its date; a date is never before the previous stage's and never in the future.
Moving to an earlier stage (a resubmission after a rejection, a correction) needs a reason,
kept in the history, and clears the dates of the stages after it.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from pharmacrm.commercial.models import Listing, Product
from pharmacrm.core.audit import acting_as
from pharmacrm.core.errors import Conflict, DomainError, NotAllowed
from pharmacrm.core.models import User
from pharmacrm.core.visibility import get_visible_or_404, visible
from pharmacrm.customers.models import Institution
from pharmacrm.customers.services import may_edit

Stage = Listing.Stage

# Where a listing may go next without a reason.
FORWARD: dict[str, tuple[str, ...]] = {
    Stage.INTRO: (Stage.SUBMITTED, Stage.URGENT_PURCHASE),
    Stage.SUBMITTED: (Stage.APPROVED, Stage.REJECTED, Stage.URGENT_PURCHASE),
    Stage.URGENT_PURCHASE: (Stage.SUBMITTED, Stage.APPROVED, Stage.REJECTED),
    Stage.REJECTED: (Stage.URGENT_PURCHASE,),
    Stage.APPROVED: (Stage.FIRST_PURCHASE,),
    Stage.FIRST_PURCHASE: (),
}
# The position of each stage on the main line; moving to a lower one is moving back.
RANK: dict[str, int] = {
    Stage.INTRO: 0,
    Stage.URGENT_PURCHASE: 1,
    Stage.SUBMITTED: 1,
    Stage.APPROVED: 2,
    Stage.REJECTED: 2,
    Stage.FIRST_PURCHASE: 3,
}
DATE_FIELD: dict[str, str] = {
    Stage.INTRO: "intro_on",
    Stage.SUBMITTED: "submitted_on",
    Stage.APPROVED: "decided_on",
    Stage.REJECTED: "decided_on",
    Stage.URGENT_PURCHASE: "urgent_purchase_on",
    Stage.FIRST_PURCHASE: "first_purchase_on",
}
# The dates, in the order the stages happen on the main line.
MAIN_LINE = ("intro_on", "submitted_on", "decided_on", "first_purchase_on")
LISTABLE_KINDS = (Institution.Kind.HOSPITAL, Institution.Kind.CLINIC)


def _refuse(field: str, message: str, *, cls: type[DomainError] = DomainError) -> DomainError:
    return cls(message, fields={field: [message]})


def _require_editor(actor: Any) -> None:
    if not may_edit(actor):
        raise NotAllowed(_("您的角色只能查看进院信息，不能修改。"))


def _check_day(day: dt.date, field: str, label: str) -> None:
    if day > timezone.localdate():
        raise _refuse(field, _("{label}不能晚于今天：{day}。").format(label=label, day=day))


@transaction.atomic
def open_listing(
    *,
    actor: User,
    institution: Institution | int,
    product: Product | int,
    intro_on: dt.date | None = None,
    owner: User | int | None = None,
    notes: str = "",
) -> Listing:
    """Start listing a product at a hospital (stage: intro)."""
    _require_editor(actor)
    inst = get_visible_or_404(Institution, user=actor, pk=getattr(institution, "pk", institution))
    if inst.kind not in LISTABLE_KINDS:
        raise _refuse(
            "institution",
            _("进院只适用于医院和基层医疗机构：“{name}”是{kind}。").format(
                name=inst.name, kind=inst.get_kind_display()
            ),
        )
    prod = Product.objects.filter(pk=getattr(product, "pk", product), is_active=True).first()
    if prod is None:
        raise _refuse(
            "product", _("产品不存在或已停售：{value}").format(value=getattr(product, "pk", product))
        )
    if Listing.objects.filter(institution=inst, product=prod).exists():
        raise _refuse(
            "product",
            _("“{product}”在“{institution}”的进院记录已存在。").format(product=prod, institution=inst),
            cls=Conflict,
        )
    owner_user = actor
    if owner not in (None, ""):
        found = visible(User, user=actor).filter(pk=getattr(owner, "pk", owner), is_active=True).first()
        if found is None:
            raise _refuse(
                "owner", _("负责人不存在或无权指定：{value}").format(value=getattr(owner, "pk", owner))
            )
        owner_user = found
    intro_on = intro_on or timezone.localdate()
    _check_day(intro_on, "intro_on", _("介绍日期"))
    with acting_as(actor):
        return Listing.objects.create(
            institution=inst,
            product=prod,
            owner=owner_user,
            stage=Stage.INTRO,
            intro_on=intro_on,
            notes=notes.strip(),
        )


def is_backward(current: str, target: str) -> bool:
    return RANK[target] < RANK[current]


@transaction.atomic
def move_listing(
    *, actor: User, listing: Listing, stage: str, on: dt.date | None = None, reason: str = ""
) -> Listing:
    """Move a listing to `stage` on day `on` (default today).

    Forward moves follow the pipeline; skipping a stage is refused (a hospital buys only after the
    committee approved, or as 临采). Moving back needs a reason and clears the later dates.
    """
    listing = get_visible_or_404(
        Listing.objects.select_for_update(of=("self",)).select_related("institution", "product"),
        user=actor,
        pk=listing.pk,
    )
    _require_editor(actor)
    if stage not in Stage.values:
        raise _refuse("stage", _("阶段“{value}”不在可选值中。").format(value=stage))
    current = listing.stage
    target_label = Stage(stage).label
    if stage == current:
        raise _refuse("stage", _("进院已处于“{stage}”阶段。").format(stage=target_label))
    reason = (reason or "").strip()
    day = on or timezone.localdate()
    _check_day(day, "on", _("日期"))
    backward = is_backward(current, stage)
    if backward:
        if not reason:
            raise _refuse(
                "reason",
                _("从“{current}”退回到“{target}”须说明原因。").format(
                    current=Stage(current).label, target=target_label
                ),
            )
        _clear_after(listing, stage)
    elif stage not in FORWARD[current]:
        allowed = "、".join(str(Stage(s).label) for s in FORWARD[current]) or _("无")
        raise _refuse(
            "stage",
            _("不能从“{current}”直接到“{target}”。下一步可以是：{allowed}。").format(
                current=Stage(current).label, target=target_label, allowed=allowed
            ),
        )
    if stage in (Stage.APPROVED, Stage.REJECTED) and listing.submitted_on is None:
        raise _refuse("stage", _("药事会结果须在提交药事会之后记录。"))
    field = DATE_FIELD[stage]
    _check_order(listing, field, day)
    setattr(listing, field, day)
    listing.stage = stage
    if reason:
        stamp = f"[{day}] {Stage(current).label} → {target_label}：{reason}"
        listing.notes = f"{listing.notes}\n{stamp}".strip()
        listing._change_reason = reason  # type: ignore[attr-defined]  # simple-history reads it
    with acting_as(actor):
        listing.save()
    return listing


def _clear_after(listing: Listing, stage: str) -> None:
    """Going back to `stage` forgets the dates of the stages after it on the main line."""
    keep_until = MAIN_LINE.index(DATE_FIELD[stage]) if DATE_FIELD[stage] in MAIN_LINE else 0
    for name in MAIN_LINE[keep_until + 1 :]:
        setattr(listing, name, None)
    if RANK[stage] == 0:
        listing.urgent_purchase_on = None


def _check_order(listing: Listing, field: str, day: dt.date) -> None:
    """The new date is not before any earlier stage's date."""
    labels = {
        "intro_on": _("介绍日期"),
        "submitted_on": _("提交药事会日期"),
        "decided_on": _("药事会结果日期"),
        "first_purchase_on": _("首次采购日期"),
        "urgent_purchase_on": _("临采日期"),
    }
    earlier = list(MAIN_LINE[: MAIN_LINE.index(field)]) if field in MAIN_LINE else ["intro_on"]
    for name in earlier:
        previous = getattr(listing, name)
        if previous and day < previous:
            raise _refuse(
                "on",
                _("{label}（{day}）不能早于{previous_label}（{previous}）。").format(
                    label=labels[field], day=day, previous_label=labels[name], previous=previous
                ),
            )


@transaction.atomic
def update_listing_notes(*, actor: User, listing: Listing, notes: str) -> Listing:
    listing = get_visible_or_404(Listing.objects.select_for_update(of=("self",)), user=actor, pk=listing.pk)
    _require_editor(actor)
    with acting_as(actor):
        listing.notes = (notes or "").strip()
        listing.save(update_fields=["notes"])
    return listing
