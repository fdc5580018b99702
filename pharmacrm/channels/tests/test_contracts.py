"""The interfaces other apps code against: agreement_regions (§3) and the metric registry (§2)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest

from pharmacrm.channels import metrics, scoring
from pharmacrm.channels.models import Agreement
from pharmacrm.channels.selectors import agreement_regions
from pharmacrm.channels.tests.factories import AgreementFactory, PartnerFactory, TargetFactory
from pharmacrm.commercial import sales
from pharmacrm.commercial.tests.factories import ProductFactory

pytestmark = pytest.mark.django_db


def test_agreement_regions_in_force_only() -> None:
    a: Any = PartnerFactory()
    b: Any = PartnerFactory()
    c: Any = PartnerFactory()
    AgreementFactory(partner=a, regions=["11", "1201"])
    AgreementFactory(partner=a, regions=["130102"], start=dt.date(2026, 6, 1))
    AgreementFactory(partner=b, regions=["31"], status=Agreement.Status.DRAFT)
    AgreementFactory(partner=c, regions=["44"], end=dt.date(2026, 3, 31))

    on_may = agreement_regions(partner_ids=[a.pk, b.pk, c.pk], on=dt.date(2026, 5, 1))
    assert on_may == {a.pk: frozenset({"11", "1201"})}  # b is a draft, c has ended

    on_july = agreement_regions(partner_ids=[a.pk, b.pk, c.pk], on=dt.date(2026, 7, 1))
    assert on_july == {a.pk: frozenset({"11", "1201", "130102"})}

    on_march = agreement_regions(partner_ids=[a.pk, c.pk], on=dt.date(2026, 3, 31))
    assert on_march == {a.pk: frozenset({"11", "1201"}), c.pk: frozenset({"44"})}
    assert agreement_regions(partner_ids=[], on=dt.date(2026, 5, 1)) == {}
    # An agreement that has since ended still governed its own period.
    AgreementFactory(
        partner=b,
        regions=["32"],
        start=dt.date(2025, 1, 1),
        end=dt.date(2025, 12, 31),
        status=Agreement.Status.ENDED,
    )
    assert agreement_regions(partner_ids=[b.pk], on=dt.date(2025, 6, 1)) == {b.pk: frozenset({"32"})}
    assert agreement_regions(partner_ids=[b.pk], on=dt.date(2026, 6, 1)) == {}


def test_registry_registers_builtin_and_external_metrics() -> None:
    codes = {m.code for m in metrics.registered_metrics()}
    assert {"sales_vs_target", "payment_timeliness"} <= codes
    assert metrics.get_metric("payment_timeliness").manual  # type: ignore[union-attr]

    partner: Any = PartnerFactory()
    metrics.register_metric(
        "fake_coverage",
        label="覆盖",
        unit="家",
        compute=lambda *, partner, start, end: metrics.MetricValue(
            Decimal(7), f"{partner.code} {start}–{end}"
        ),
    )
    try:
        value = metrics.compute_metric(
            "fake_coverage", partner=partner, start=dt.date(2026, 1, 1), end=dt.date(2026, 3, 31)
        )
        assert value == metrics.MetricValue(Decimal(7), f"{partner.code} 2026-01-01–2026-03-31")
    finally:
        metrics.unregister_metric("fake_coverage")
    assert (
        metrics.compute_metric(
            "nope", partner=partner, start=dt.date(2026, 1, 1), end=dt.date(2026, 1, 2)
        ).value
        is None
    )


@pytest.fixture
def fake_sales() -> Any:
    calls: list[dict[str, Any]] = []

    def source(**kwargs: Any) -> dict[tuple[Any, ...], sales.SalesFigure]:
        calls.append(kwargs)
        return {(): sales.SalesFigure(quantity=Decimal(5000), amount=Decimal(850000))}

    had = sales._source
    sales.register_sales_source(source)
    yield calls
    if had is None:
        sales.unregister_sales_source()
    else:
        sales.register_sales_source(had)


def test_sales_vs_target_uses_the_quarter_target_and_agreement_products(fake_sales: Any) -> None:
    product: Any = ProductFactory()
    agreement: Any = AgreementFactory(products=[product])
    TargetFactory(agreement=agreement, year=2026, quarter=2, amount=Decimal(1000000))
    TargetFactory(agreement=agreement, year=2026, quarter=3, amount=Decimal(9))

    value = scoring.sales_vs_target(
        partner=agreement.partner, start=dt.date(2026, 4, 1), end=dt.date(2026, 6, 30)
    )

    assert value.value == Decimal("85.00")
    assert "¥850,000" in value.detail and "¥1,000,000" in value.detail and agreement.code in value.detail
    (call,) = fake_sales
    assert call["distributor_ids"] == [agreement.partner.pk]
    assert call["product_ids"] == [product.pk]
    assert (call["start"], call["end"]) == (dt.date(2026, 4, 1), dt.date(2026, 6, 30))


def test_sales_vs_target_by_volume_when_only_volume_set(fake_sales: Any) -> None:
    agreement: Any = AgreementFactory()
    TargetFactory(agreement=agreement, year=2026, quarter=1, amount=None, volume=Decimal(10000))
    value = scoring.sales_vs_target(
        partner=agreement.partner, start=dt.date(2026, 1, 1), end=dt.date(2026, 3, 31)
    )
    assert value.value == Decimal("50.00")


def test_sales_vs_target_without_source_or_target_is_none() -> None:
    agreement: Any = AgreementFactory()
    no_target = scoring.sales_vs_target(
        partner=agreement.partner, start=dt.date(2026, 1, 1), end=dt.date(2026, 3, 31)
    )
    assert no_target.value is None and "目标" in no_target.detail
    TargetFactory(agreement=agreement)
    had = sales._source
    sales.unregister_sales_source()
    try:
        value = metrics.compute_metric(
            "sales_vs_target", partner=agreement.partner, start=dt.date(2026, 1, 1), end=dt.date(2026, 3, 31)
        )
    finally:
        if had is not None:
            sales.register_sales_source(had)
    assert value.value is None and "数据源不可用" in value.detail


@pytest.mark.parametrize(
    ("value", "direction", "expected"),
    [
        (Decimal(100), "higher", Decimal(100)),
        (Decimal(120), "higher", Decimal(100)),
        (Decimal(80), "higher", Decimal("50.00")),
        (Decimal(50), "higher", Decimal(0)),
        (None, "higher", None),
    ],
)
def test_band_score_higher(value: Decimal | None, direction: str, expected: Decimal | None) -> None:
    assert (
        scoring.band_score(value=value, target=Decimal(100), floor=Decimal(60), direction=direction)
        == expected
    )


def test_band_score_lower_is_better() -> None:
    # inventory days: 30 or fewer = 100, 90 or more = 0
    assert scoring.band_score(
        value=Decimal(60), target=Decimal(30), floor=Decimal(90), direction="lower"
    ) == Decimal("50.00")
    assert scoring.band_score(
        value=Decimal(20), target=Decimal(30), floor=Decimal(90), direction="lower"
    ) == Decimal(100)
    assert scoring.weighted_total([(Decimal(100), Decimal(60)), (Decimal(50), Decimal(40))]) == Decimal(
        "80.00"
    )
    # An unmeasurable line is left out and the others' weights scale up.
    assert scoring.weighted_total([(None, Decimal(60)), (Decimal(50), Decimal(40))]) == Decimal("50.00")
    assert scoring.weighted_total([(None, Decimal(60))]) is None


def test_english_catalogue_translates_the_channel_strings() -> None:
    from django.utils import translation
    from django.utils.translation import gettext

    with translation.override("en"):
        assert gettext("渠道工作台") == "Channel workbench"
        assert gettext("各指标权重之和须为100，现为 {total}。").format(total=90) == (
            "The weights must sum to 100; they sum to 90."
        )
