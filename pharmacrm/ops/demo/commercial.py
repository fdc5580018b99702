"""Demo commercial data: SKUs of the demo products, price policies in every province, VBP tenders
with hospitals' committed volumes, promotions, competitor products and 24 months of market data.

Everything hangs off the demo products (codes DEMO-…), the market data's provider starts with
DEMO- and the competitor products carry the DEMO_MARK note, which is how --reset finds them
(`commercial_rows_to_reset`).
"""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal
from typing import Any

from django.db.models import Count, Q, QuerySet

from pharmacrm.commercial.models import (
    CompetitorProduct,
    MarketData,
    PricePolicy,
    Product,
    Promotion,
    Sku,
    Tender,
    TenderCommitment,
    TherapeuticArea,
)
from pharmacrm.core.models import Division, Role, User
from pharmacrm.customers.models import Institution
from pharmacrm.ops.demo.institutions import DEMO_PREFIX
from pharmacrm.ops.demo.portfolio import PRODUCT_PREFIX
from pharmacrm.ops.demo.writer import Writer

MARKET_PROVIDER = "DEMO-米内数据"
DEMO_MARK = "演示数据"
CENT = Decimal("0.01")

# (strength, pack, standard units) by product position: one or two SKUs per product.
PACKS = (("5mg", "7片", 7), ("10mg", "14片", 14), ("100mg", "28片", 28))
# Competitor products per demo area code (invented names, invented makers).
COMPETITORS: dict[str, tuple[tuple[str, str], ...]] = {
    "DEMO-CV": (("安脉平缓释片", "华康制药（演示）"), ("立脂清片", "东岳药业（演示）")),
    "DEMO-EN": (("康糖平片", "北辰生物（演示）"), ("优格列净片", "西湖医药（演示）")),
    "DEMO-RS": (("舒畅吸入粉雾剂", "海川制药（演示）"),),
    "DEMO-GI": (("胃宁肠溶片", "南山药业（演示）"),),
}


def _months(today: dt.date, n: int) -> list[dt.date]:
    """The n whole months before today's month, oldest first."""
    first = today.replace(day=1)
    months = []
    for _ in range(n):
        first = (first - dt.timedelta(days=1)).replace(day=1)
        months.append(first)
    return months[::-1]


def _skus(writer: Writer, products: list[Product]) -> list[Sku]:
    made = []
    for i, product in enumerate(products):
        for j in range(1 + i % 2):
            strength, pack, units = PACKS[(i + j) % len(PACKS)]
            made.append(
                Sku(
                    product=product,
                    code=f"{product.code}-{j + 1:02d}",
                    strength=strength,
                    pack=pack,
                    unit="盒",
                    standard_units=Decimal(units),
                    standard_unit="片",
                )
            )
    writer.create(Sku, made)
    return list(Sku.objects.filter(product__in=products).select_related("product").order_by("code"))


def _prices(
    writer: Writer, rng: random.Random, skus: list[Sku], provinces: list[Division], today: dt.date
) -> dict[int, Decimal]:
    """National list and supply prices; per province a bid price (中标价, cut a year ago for some
    provinces: two periods that do not overlap) and an online price (挂网价); a national pharmacy
    supply price. Returns the list price per SKU."""
    start = dt.date(today.year - 2, 1, 1)
    cut = dt.date(today.year - 1, 7, 1)
    rows: list[PricePolicy] = []
    list_prices: dict[int, Decimal] = {}
    for sku in skus:
        list_price = (Decimal(rng.randint(3, 40)) * sku.standard_units / 7 + Decimal("0.80")).quantize(CENT)
        list_prices[sku.pk] = list_price
        supply = (list_price * Decimal("0.82")).quantize(CENT)
        rows.append(PricePolicy(kind="list", sku=sku, price=list_price, effective_from=start))
        rows.append(PricePolicy(kind="supply", sku=sku, price=supply, effective_from=start))
        rows.append(
            PricePolicy(
                kind="supply",
                sku=sku,
                customer_kind=Institution.Kind.PHARMACY,
                price=(supply * Decimal("1.05")).quantize(CENT),
                effective_from=start,
            )
        )
        for province in provinces:
            bid = (list_price * Decimal(rng.randint(70, 95)) / 100).quantize(CENT)
            online = (bid * Decimal("1.02")).quantize(CENT)
            if rng.random() < 0.3:  # a provincial price cut: the old price ends the day before
                rows.append(
                    PricePolicy(
                        kind="bid",
                        sku=sku,
                        province=province,
                        price=bid,
                        effective_from=start,
                        effective_to=cut - dt.timedelta(days=1),
                    )
                )
                bid = (bid * Decimal("0.9")).quantize(CENT)
                rows.append(
                    PricePolicy(kind="bid", sku=sku, province=province, price=bid, effective_from=cut)
                )
            else:
                rows.append(
                    PricePolicy(kind="bid", sku=sku, province=province, price=bid, effective_from=start)
                )
            rows.append(
                PricePolicy(kind="online", sku=sku, province=province, price=online, effective_from=start)
            )
    writer.create(PricePolicy, rows)
    return list_prices


def _tenders(
    writer: Writer, rng: random.Random, skus: list[Sku], list_prices: dict[int, Decimal], today: dt.date
) -> int:
    """Two VBP results in the provinces with the most demo hospitals, with hospitals' committed volumes."""
    hospitals = Institution.objects.filter(
        external_id__startswith=DEMO_PREFIX, kind=Institution.Kind.HOSPITAL
    )
    top = list(
        hospitals.exclude(province_id=None)
        .values("province_id")
        .annotate(n=Count("pk"))
        .order_by("-n", "province_id")[:2]
        .values_list("province_id", flat=True)
    )
    if not top or not skus:
        return 0
    tenders = []
    start = dt.date(today.year - 1, 5, 1)
    for n, province_id in enumerate(top):
        sku = skus[(n * 3) % len(skus)]
        tenders.append(
            Tender(
                kind=Tender.Kind.VBP,
                name=f"第{8 + n}批国家组织药品集中采购（演示）",
                province_id=province_id,
                sku=sku,
                status=Tender.Status.WON,
                winning_price=(list_prices[sku.pk] * Decimal("0.45")).quantize(CENT),
                period_start=start,
                period_end=dt.date(start.year + 2, 4, 30),
            )
        )
    lost_sku = skus[-1]
    tenders.append(
        Tender(
            kind=Tender.Kind.PROVINCIAL,
            name="省级联盟集采（演示）",
            province_id=top[0],
            sku=lost_sku,
            status=Tender.Status.LOST,
            period_start=start,
            period_end=dt.date(start.year + 1, 4, 30),
        )
    )
    saved = writer.create(Tender, tenders)
    commitments = []
    for tender in saved:
        if tender.status != Tender.Status.WON:
            continue
        chosen = list(hospitals.filter(province_id=tender.province_id).order_by("pk")[:12])
        for hospital in chosen:
            # Packs a year × standard units per pack, in the range the demo flow actually sells.
            volume = Decimal(rng.randint(3, 30) * 10) * tender.sku.standard_units
            commitments.append(TenderCommitment(tender=tender, institution=hospital, volume=volume))
    writer.create(TenderCommitment, commitments)
    return len(saved)


def _promotions(
    writer: Writer, products: dict[str, Product], provinces: list[Division], today: dt.date
) -> int:
    owner = (
        User.objects.filter(username="director").first()
        or User.objects.filter(role_rows__role__in=[Role.MARKETING, Role.DIRECTOR]).first()
    )
    if owner is None or not products:
        return 0
    # Within the last year, so that the same period a year earlier is inside the 24 months of flow;
    # one province each, so that the other demo provinces are the matched-regions control.
    months = _months(today, 8)
    month_ends = [(m + dt.timedelta(days=32)).replace(day=1) - dt.timedelta(days=1) for m in months]
    plans = [
        ("心血管学术推广季（演示）", Promotion.Kind.ACADEMIC, ["DEMO-CV01", "DEMO-CV02"], provinces[:1], months[0],
         month_ends[2], Decimal("600000"), Promotion.Status.DONE),
        ("信糖悦患者教育月（演示）", Promotion.Kind.PATIENT_EDUCATION, ["DEMO-EN01", "DEMO-EN02"],
         provinces[1:2] or provinces[-1:], months[5], month_ends[5], Decimal("250000"), Promotion.Status.DONE),
        ("信畅舒渠道促销（演示）", Promotion.Kind.CHANNEL, ["DEMO-RS01"], provinces[:2],
         today + dt.timedelta(days=30), today + dt.timedelta(days=120), Decimal("400000"), Promotion.Status.PLANNED),
    ]  # fmt: skip
    made = 0
    for name, kind, codes, regions, start, end, budget, status in plans:
        chosen = [products[c] for c in codes if c in products]
        if not chosen or not regions:
            continue
        promotion = writer.create(
            Promotion,
            [
                Promotion(
                    name=name, kind=kind, start=start, end=end, budget=budget, owner=owner, status=status
                )
            ],
        )[0]
        promotion.products.set(chosen)
        promotion.provinces.set(regions)
        made += 1
    return made


def _market(writer: Writer, rng: random.Random, provinces: list[Division], today: dt.date) -> int:
    """24 months of market size by province × demo therapeutic area, seasonal and growing slowly."""
    areas = list(TherapeuticArea.objects.filter(products__code__startswith=PRODUCT_PREFIX).distinct())
    base_by_area = {area.pk: Decimal(rng.randint(80, 300)) * 1_000_000 for area in areas}
    weights = {p.code: Decimal(rng.randint(5, 40)) / 1000 for p in provinces}
    rows = []
    for i, month in enumerate(_months(today, 24)):
        season = Decimal(1) + Decimal((month.month % 12) - 6) / 100
        growth = Decimal(1) + Decimal(i) / 400
        for area in areas:
            for province in provinces:
                amount = (base_by_area[area.pk] * weights[province.code] * season * growth).quantize(CENT)
                rows.append(
                    MarketData(
                        province=province,
                        therapeutic_area=area,
                        month=month,
                        provider=MARKET_PROVIDER,
                        market_amount=amount,
                        market_volume=(amount / Decimal(rng.randint(2, 6))).quantize(CENT),
                    )
                )
    writer.create(MarketData, rows)
    return len(rows)


def _competitors(writer: Writer) -> int:
    made = 0
    for area_code, entries in COMPETITORS.items():
        ours = list(Product.objects.filter(code__startswith=area_code))
        area = ours[0].therapeutic_area if ours else None
        if area is None:
            continue
        for name, maker in entries:
            if CompetitorProduct.objects.filter(name=name, maker=maker).exists():
                continue
            competitor = writer.create(
                CompetitorProduct,
                [CompetitorProduct(name=name, maker=maker, therapeutic_area=area, notes=DEMO_MARK)],
            )[0]
            competitor.competes_with.set(ours)
            made += 1
    return made


def write_commercial(*, seed: int, writer: Writer, today: dt.date) -> dict[str, int]:
    """All of the above for the demo products (written by portfolio.write_portfolio just before)."""
    rng = random.Random(f"{seed}:commercial")
    products = list(Product.objects.filter(code__startswith=PRODUCT_PREFIX).order_by("code"))
    provinces = list(Division.objects.filter(level=Division.Level.PROVINCE).order_by("code"))
    skus = _skus(writer, products)
    list_prices = _prices(writer, rng, skus, provinces, today)
    demo_provinces = [
        p
        for p in provinces
        if Institution.objects.filter(external_id__startswith=DEMO_PREFIX, province_id=p.code).exists()
    ] or provinces
    return {
        "SKUs": len(skus),
        "price policies": writer.counts["pricepolicy"],
        "tenders": _tenders(writer, rng, skus, list_prices, today),
        "tender commitments": writer.counts["tendercommitment"],
        "promotions": _promotions(writer, {p.code: p for p in products}, demo_provinces, today),
        "competitor products": _competitors(writer),
        "market data rows": _market(writer, rng, provinces, today),
    }


def commercial_rows_to_reset() -> list[tuple[str, Any, QuerySet[Any]]]:
    """(label, model, queryset) steps removing the demo's commercial rows, for loader.reset_demo."""
    demo_skus = Q(sku__product__code__startswith=PRODUCT_PREFIX)
    return [
        (
            "tender commitments",
            TenderCommitment,
            TenderCommitment._base_manager.filter(tender__sku__product__code__startswith=PRODUCT_PREFIX),
        ),
        ("tenders", Tender, Tender._base_manager.filter(demo_skus)),
        ("price policies", PricePolicy, PricePolicy._base_manager.filter(demo_skus)),
        (
            "promotions",
            Promotion,
            # The pks now: purging deletes the promotion–product rows first, which a subquery would follow.
            Promotion._base_manager.filter(
                pk__in=list(
                    Promotion._base_manager.filter(products__code__startswith=PRODUCT_PREFIX).values_list(
                        "pk", flat=True
                    )
                )
            ),
        ),
        ("market data", MarketData, MarketData._base_manager.filter(provider__startswith="DEMO-")),
        ("competitor products", CompetitorProduct, CompetitorProduct._base_manager.filter(notes=DEMO_MARK)),
        ("commercial demo SKUs", Sku, Sku._base_manager.filter(product__code__startswith=PRODUCT_PREFIX)),
    ]
