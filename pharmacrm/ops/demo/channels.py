"""The channels demo: the demo's distributors as channel partners, with contacts, licences,
agreements over their province, a scorecard, and (once flow data is in) four quarters of reviews.

`write_channels` runs in `loader.write_work` BEFORE the flow demo, so the flow demo finds the
partners (and their agreements' regions flag 窜货 as the files are imported). `write_reviews`
must run AFTER the flow data is loaded: it calibrates the quarterly targets on the sales the
flow data holds (a real company sets next year's target from this year's sales; the demo has no
history before the flow data, so it sets them afterwards) and then opens, fills, submits and
approves a review per partner and quarter. Without flow data the automatic metrics are simply
None (the reviews still open; their detail lines say why).

Everything goes through the channels services (validated and audited, acting as the demo admin).
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.apps import apps
from django.db.models import Q, QuerySet

from pharmacrm.channels import scoring, services
from pharmacrm.channels.metrics import get_metric
from pharmacrm.channels.models import (
    Agreement,
    AgreementTarget,
    ChannelPartner,
    ChannelReview,
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
from pharmacrm.core.models import Role, TerritoryAssignment, User
from pharmacrm.customers.models import Institution
from pharmacrm.ops.demo.institutions import DEMO_PREFIX
from pharmacrm.ops.demo.portfolio import PRODUCT_PREFIX
from pharmacrm.ops.demo.writer import history_model

PARTNER_PREFIX = "DEMO-CP"
AGREEMENT_PREFIX = "DEMO-AG"
SCORECARD_NAME = "渠道季度评估（演示）"
PARTNERS_AT = {"tiny": 6, "small": 12}  # at most; the demo's distributor institutions may be fewer
DEFAULT_PARTNERS = 12
REVIEW_QUARTERS = 4

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高"
GIVEN = ("建国", "丽娟", "海涛", "晓燕", "志刚", "雪梅", "国庆", "春燕", "文杰", "秀英", "永强", "桂芳")
CONTACT_ROLES = (
    (PartnerContact.Role.PURCHASING, "采购经理"),
    (PartnerContact.Role.FINANCE, "财务主管"),
    (PartnerContact.Role.FLOW_DATA, "数据专员"),
    (PartnerContact.Role.QUALITY, "质量负责人"),
)
# (code, weight, target, floor, direction): the flow metrics count only when the flow app registered them.
SCORECARD_LINES = (
    ("sales_vs_target", 30, 100, 60, "higher"),
    ("flow_timeliness", 15, 5, 20, "lower"),
    ("coverage", 15, 25, 5, "higher"),
    ("inventory_days", 10, 30, 90, "lower"),
    ("out_of_region_share", 10, 0, 10, "lower"),
    ("payment_timeliness", 10, 100, 80, "higher"),
    ("cooperation", 10, 90, 50, "higher"),
)
COMMENTS = (
    "整体表现良好，流向数据及时，覆盖稳定。",
    "达成率偏低，需加强二级终端开发。",
    "库存偏高，建议控制进货节奏。",
    "回款略有延迟，已与财务沟通。",
    "配合度高，本季度新增多家终端。",
)
ACTIONS = (
    "补齐缺失月份流向",
    "梳理窜货终端并整改",
    "制定下季度终端开发计划",
    "核对应收账款并催收",
    "调整安全库存",
)


def _admin() -> User:
    return User.objects.get(username="admin", role_rows__role=Role.ADMIN)


def _holder(institution: Institution) -> User | None:
    """The commercial user covering the distributor's territory today."""
    if institution.territory_id is None:
        return None
    assignment = (
        TerritoryAssignment.objects.current()
        .filter(
            territory_id=institution.territory_id, user__is_active=True, user__role_rows__role=Role.COMMERCIAL
        )
        .select_related("user")
        .first()
    )
    return assignment.user if assignment else None


def _phone(rng: random.Random) -> str:
    return f"1{rng.choice('3589')}{rng.randint(0, 9)}{rng.randint(10_000_000, 99_999_999)}"


def write_channels(
    *, seed: int, scale_name: str, today: dt.date, progress: Callable[[str], None]
) -> dict[str, int]:
    """Partners, contacts, licences (a few expiring soon), two years of agreements, the scorecard."""
    rng = random.Random(f"{seed}:channels")
    admin = _admin()
    wanted = PARTNERS_AT.get(scale_name, DEFAULT_PARTNERS)
    distributors = list(
        Institution.objects.filter(external_id__startswith=DEMO_PREFIX, kind=Institution.Kind.DISTRIBUTOR)
        .filter(channel_partner__isnull=True)
        .select_related("territory__org_unit")
        .order_by("external_id")
    )
    # Spread over provinces: the first distributor of each province, then the seconds.
    by_province: dict[str, list[Institution]] = {}
    for inst in distributors:
        by_province.setdefault(inst.province_id or "", []).append(inst)
    ordered = [insts[rank] for rank in range(3) for insts in by_province.values() if len(insts) > rank]
    chosen = ordered[:wanted]
    products = list(Product.objects.filter(code__startswith=PRODUCT_PREFIX).order_by("code"))
    if not chosen or not products:
        progress("channels: skipped (no demo distributors or products)")
        return {"channel partners": 0}
    company = admin.org_unit
    alerts_due = 0
    for n, inst in enumerate(chosen, start=1):
        holder = _holder(inst)
        unit = inst.territory.org_unit if inst.territory is not None else company
        assert unit is not None, "the demo organisation is written first"
        partner = services.create_partner(
            actor=admin,
            code=f"{PARTNER_PREFIX}{n:02d}",
            institution=inst,
            org_unit=unit,
            manager=holder,
        )
        for i, (role, title) in enumerate(rng.sample(CONTACT_ROLES, 3)):
            services.add_contact(
                actor=admin,
                partner=partner,
                name=rng.choice(SURNAMES) + rng.choice(GIVEN),
                role=role,
                title=title,
                phone=_phone(rng),
                email=f"contact{n}{i}@example.cn",
                is_primary=i == 0,
            )
        for kind, years in (
            (Licence.Kind.DRUG_TRADING, 5),
            (Licence.Kind.GSP, 5),
            (Licence.Kind.BUSINESS, 20),
        ):
            expires = today + dt.timedelta(days=rng.randint(120, 1500))
            if kind == Licence.Kind.GSP and n % 4 == 1:
                expires = today + dt.timedelta(days=rng.randint(10, 55))  # due for renewal: alerts show
                alerts_due += 1
            services.add_licence(
                actor=admin,
                partner=partner,
                kind=kind,
                number=f"{inst.province_id or '00'}{kind[:2].upper()}{rng.randint(1_000_000, 9_999_999)}",
                issued_on=expires.replace(year=expires.year - years),
                expires_on=expires,
            )
        portfolio = [p.pk for p in rng.sample(products, k=min(len(products), rng.randint(3, 5)))]
        # All active for now: write_reviews sets the targets from the flow data, then ends the past years'.
        for year in (today.year - 2, today.year - 1, today.year):
            services.create_agreement(
                actor=admin,
                partner=partner,
                code=f"{AGREEMENT_PREFIX}{n:02d}-{year}",
                start=dt.date(year, 1, 1),
                end=dt.date(year, 12, 31),
                regions=[inst.province_id] if inst.province_id else [],
                products=portfolio,
                # Nominal until write_reviews sets them from the flow data.
                targets=[{"year": year, "quarter": q, "amount": "1000000"} for q in range(1, 5)],
                rebate_tiers=[
                    {"threshold": "90", "rate": "1"},
                    {"threshold": "100", "rate": "2"},
                    {"threshold": "110", "rate": "3"},
                ],
                status=Agreement.Status.ACTIVE,
            )
    _write_scorecard(admin)
    alerts = services.record_licence_alerts(on=today, within_days=60)
    progress(f"channels: {len(chosen)} partners, {alerts_due} licences due for renewal")
    return {
        "channel partners": len(chosen),
        "partner contacts": PartnerContact.objects.filter(partner__code__startswith=PARTNER_PREFIX).count(),
        "partner licences": Licence.objects.filter(partner__code__startswith=PARTNER_PREFIX).count(),
        "licence alerts": len(alerts),
        "channel agreements": Agreement.objects.filter(code__startswith=AGREEMENT_PREFIX).count(),
    }


def _write_scorecard(admin: User) -> Scorecard:
    lines: list[dict[str, Any]] = []
    spare = 0
    for code, weight, target, floor, direction in SCORECARD_LINES:
        if get_metric(code) is None:
            spare += weight  # the flow app is not installed: its weight goes to sales vs target
            continue
        lines.append(
            {"code": code, "weight": weight, "target": target, "floor": floor, "direction": direction}
        )
    lines[0]["weight"] += spare
    existing = Scorecard.objects.filter(name=SCORECARD_NAME).first()
    if existing is None:
        Scorecard.objects.filter(applies_to=Scorecard.AppliesTo.ALL, is_active=True).update(is_active=False)
    return services.save_scorecard(
        actor=admin,
        scorecard=existing,
        name=SCORECARD_NAME,
        metrics=lines,
        notes="演示数据：季度评估，销售达成、流向及时性、终端覆盖、库存、窜货、回款、配合度。",
    )


def _calibrate_targets(rng: random.Random, partner: ChannelPartner, admin: User, today: dt.date) -> None:
    """Set each quarter's amount target from that quarter's sales (×0.8–1.25), via the service (audited);
    agreements whose year is over are then ended."""
    from pharmacrm.commercial import sales

    for agreement in partner.agreements.filter(code__startswith=AGREEMENT_PREFIX).prefetch_related(
        "products"
    ):
        product_ids = [p.pk for p in agreement.products.all()]
        figures = sales.sales_totals(
            user=admin,
            start=agreement.start,
            end=agreement.end,
            distributor_ids=[partner.pk],
            product_ids=product_ids,
            group_by=("month",),
        )
        by_quarter: dict[int, Decimal] = {}
        for (month,), figure in figures.items():
            q = (month.month - 1) // 3 + 1
            by_quarter[q] = by_quarter.get(q, Decimal(0)) + figure.amount
        targets = []
        for q in range(1, 5):
            actual = by_quarter.get(q)
            if not actual or actual <= 0:
                continue
            factor = Decimal(str(rng.uniform(0.8, 1.25)))
            amount = (actual * factor).quantize(Decimal(1000), ROUND_HALF_UP)
            targets.append({"year": agreement.start.year, "quarter": q, "amount": amount})
        changes: dict[str, Any] = {"targets": targets} if targets else {}
        if agreement.end < today and agreement.status == Agreement.Status.ACTIVE:
            changes["status"] = Agreement.Status.ENDED
        if changes:
            services.update_agreement(actor=admin, agreement=agreement, changes=changes)


def write_reviews(
    *,
    seed: int,
    today: dt.date,
    progress: Callable[[str], None] = lambda _m: None,
    quarters: int = REVIEW_QUARTERS,
) -> dict[str, int]:
    """The last `quarters` complete quarters of reviews for every demo partner. Call AFTER the flow data.

    The oldest quarters are approved by a manager, the last one is left submitted (waiting on the
    approver's workbench); manual metrics get plausible values, each review a comment and an action.
    Idempotent: a partner's existing review for a quarter is left alone.
    """
    from pharmacrm.commercial import sales

    rng = random.Random(f"{seed}:channel-reviews")
    admin = _admin()
    director = User.objects.filter(username="director").first() or admin
    partners = list(
        ChannelPartner.objects.filter(code__startswith=PARTNER_PREFIX)
        .select_related("institution", "manager")
        .order_by("code")
    )
    if not partners:
        return {"channel reviews": 0}
    if sales.has_sales_source():
        for partner in partners:
            _calibrate_targets(rng, partner, admin, today)
    periods = scoring.previous_quarters(today, quarters)
    made = 0
    for partner in partners:
        reviewer = partner.manager or admin
        approver = director if director.pk != reviewer.pk else admin
        for index, (year, quarter) in enumerate(periods):
            if ChannelReview.objects.filter(partner=partner, year=year, quarter=quarter).exists():
                continue
            review = services.create_review(
                actor=reviewer, partner=partner, year=year, quarter=quarter, today=today
            )
            values = {}
            for line in review.scores.filter(manual=True):
                values[line.code] = (
                    Decimal(rng.randint(80, 100)) if line.unit == "%" else Decimal(rng.randint(55, 98))
                )
            services.update_review(
                actor=reviewer, review=review, values=values, comments=rng.choice(COMMENTS)
            )
            _start, end = scoring.quarter_bounds(year, quarter)
            services.add_review_action(
                actor=reviewer,
                review=review,
                what=rng.choice(ACTIONS),
                owner=reviewer,
                due_on=end + dt.timedelta(days=rng.randint(20, 60)),
            )
            services.submit_review(actor=reviewer, review=review)
            if index < len(periods) - 1:
                services.decide_review(actor=approver, review=review, approve=True)
            made += 1
    progress(f"channel reviews: {made} over {len(periods)} quarters")
    return {
        "channel reviews": ChannelReview.objects.filter(partner__code__startswith=PARTNER_PREFIX).count(),
        "channel reviews awaiting approval": ChannelReview.objects.filter(
            partner__code__startswith=PARTNER_PREFIX, status=ChannelReview.Status.SUBMITTED
        ).count(),
    }


def channel_rows_to_reset() -> list[tuple[str, Any, QuerySet[Any]]]:
    """(label, model, queryset) steps removing the channels demo, for loader.reset_demo (before institutions)."""
    partners = ChannelPartner._base_manager.filter(code__startswith=PARTNER_PREFIX)
    reviews = ChannelReview._base_manager.filter(partner__in=partners)
    agreements = Agreement._base_manager.filter(
        Q(partner__in=partners) | Q(code__startswith=AGREEMENT_PREFIX)
    )
    cards = Scorecard._base_manager.filter(name=SCORECARD_NAME)
    # History rows of children deleted along the way (targets replaced when calibrated, contacts
    # removed…) are no longer reachable from a current row; remove them by their parent first,
    # while the parents still exist (their history_user keys would otherwise dangle).
    orphans = [
        (ReviewAction, "review", reviews),
        (ReviewScore, "review", reviews),
        (ScorecardMetric, "scorecard", cards),
        (AgreementTarget, "agreement", agreements),
        (RebateTier, "agreement", agreements),
        (Licence, "partner", partners),
        (PartnerContact, "partner", partners),
    ]
    history_steps = []
    for model, parent, parents in orphans:
        history = history_model(model)
        assert history is not None
        history_steps.append(
            (
                f"{model._meta.verbose_name_plural} history",
                history,
                history._base_manager.filter(**{f"{parent}_id__in": parents.values("pk")}),
            )
        )
    return [
        *history_steps,
        ("review actions", ReviewAction, ReviewAction._base_manager.filter(review__in=reviews)),
        ("review scores", ReviewScore, ReviewScore._base_manager.filter(review__in=reviews)),
        ("channel reviews", ChannelReview, reviews),
        ("scorecard metrics", ScorecardMetric, ScorecardMetric._base_manager.filter(scorecard__in=cards)),
        ("scorecards", Scorecard, cards),
        # The audit of regions/products (simple-history m2m tables) hangs off the agreements' history
        # with DO_NOTHING keys, which the loader's generic purge does not follow.
        *(
            (
                f"agreement {name} history",
                model,
                model._base_manager.filter(history__id__in=agreements.values("pk")),
            )
            for name, model in (
                (n, apps.get_model("channels", f"HistoricalAgreement_{n}")) for n in ("regions", "products")
            )
        ),
        (
            "agreement targets",
            AgreementTarget,
            AgreementTarget._base_manager.filter(agreement__in=agreements),
        ),
        ("rebate tiers", RebateTier, RebateTier._base_manager.filter(agreement__in=agreements)),
        ("channel agreements", Agreement, agreements),
        ("licence alerts", LicenceAlert, LicenceAlert._base_manager.filter(licence__partner__in=partners)),
        ("partner licences", Licence, Licence._base_manager.filter(partner__in=partners)),
        ("partner contacts", PartnerContact, PartnerContact._base_manager.filter(partner__in=partners)),
        ("channel partners", ChannelPartner, partners),
    ]
