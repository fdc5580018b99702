"""Market data import: any provider's headers, upsert by provider × province × area × month, all or nothing."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from pharmacrm.commercial.importing import month
from pharmacrm.commercial.models import MarketData
from pharmacrm.commercial.tests.factories import TherapeuticAreaFactory
from pharmacrm.core.imports.columns import CellError
from pharmacrm.core.models import Role
from pharmacrm.core.tests.factories import UserFactory
from pharmacrm.customers.tests.import_helpers import csv_bytes, run, xlsx_bytes

pytestmark = pytest.mark.django_db


def counts() -> tuple[int, int]:
    return MarketData.objects.count(), MarketData.history.count()


def test_import_then_reimport_is_idempotent_and_corrections_update():
    TherapeuticAreaFactory(name="心血管", code="cv")
    rows = [
        ["地区", "治疗类别", "年月", "来源", "销售额", "销量"],
        ["广东", "心血管", "2026年3月", "IQVIA", "12,500,000", "340000"],
        ["北京市", "CV", "202603", "IQVIA", "8300000", ""],
        ["44", "cv", "2026-04", "IQVIA", "", "350000"],
    ]
    data = xlsx_bytes(rows)
    report = run("market_data", data, actor=UserFactory(roles=[Role.MARKETING]))
    assert report.ok and report.written, report.errors
    assert (report.created, report.updated) == (3, 0)
    gd = MarketData.objects.get(province_id="44", month=dt.date(2026, 3, 1))
    assert gd.market_amount == Decimal("12500000.00") and gd.market_volume == Decimal("340000.00")
    assert MarketData.objects.get(province_id="11").market_volume is None
    again = run("market_data", data)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 3)
    rows[1][4] = "13000000"
    fixed = run("market_data", csv_bytes(rows))
    assert (fixed.created, fixed.updated, fixed.unchanged) == (0, 1, 2)
    gd.refresh_from_db()
    assert gd.market_amount == Decimal("13000000.00")


def test_bad_rows_are_reported_and_nothing_is_written():
    TherapeuticAreaFactory(name="心血管", code="cv")
    rows = [
        ["省份", "治疗领域", "月份", "数据来源", "市场金额", "市场数量"],
        ["广东", "心血管", "2026-03", "IQVIA", "100", "1"],
        ["火星", "心血管", "2026-03", "IQVIA", "100", "1"],
        ["广东", "肿瘤", "2026-03", "IQVIA", "100", "1"],
        ["广东", "心血管", "2026-13", "IQVIA", "100", "1"],
        ["广东", "心血管", "2026-04", "IQVIA", "很多", "1"],
        ["广东", "心血管", "2026-05", "IQVIA", "", ""],
        ["广东", "心血管", "2026-03", "IQVIA", "200", "2"],
    ]
    before = counts()
    report = run("market_data", csv_bytes(rows))
    assert not report.written and report.status == "refused"
    texts = [i.text() for i in report.errors]
    assert any("第 3 行" in t and "火星" in t and "未知的省份" in t for t in texts), texts
    assert any("第 4 行" in t and "肿瘤" in t and "未知的治疗领域" in t for t in texts), texts
    assert any("第 5 行" in t and "2026-13" in t and "YYYY-MM" in t for t in texts), texts
    assert any("第 6 行" in t and "很多" in t and "应为数字" in t for t in texts), texts
    assert any("第 7 行" in t and "至少填一个" in t for t in texts), texts
    assert any("第 8 行" in t and "与第 2 行是同一数据来源" in t for t in texts), texts
    assert counts() == before


def test_reps_may_not_import_market_data():
    from pharmacrm.core.imports.registry import get_kind

    kind = get_kind("market_data")
    assert not kind.may_import(UserFactory(roles=[Role.REP]))
    assert kind.may_import(UserFactory(roles=[Role.COMMERCIAL]))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-03", dt.date(2026, 3, 1)),
        ("2026/3", dt.date(2026, 3, 1)),
        ("202612", dt.date(2026, 12, 1)),
        ("2026年3月", dt.date(2026, 3, 1)),
        ("2026-03-15", dt.date(2026, 3, 1)),
    ],
)
def test_month_formats(text, expected):
    assert month(text) == expected


@pytest.mark.parametrize("text", ["2026-00", "三月", "26-03"])
def test_bad_months(text):
    with pytest.raises(CellError):
        month(text)


def test_market_data_is_offered_on_the_import_page_and_its_template_downloads():
    from django.test import Client
    from django.urls import reverse

    client = Client()
    client.force_login(UserFactory(roles=[Role.MARKETING]))
    page = client.get(reverse("imports:home"))
    assert page.status_code == 200 and "市场数据" in page.content.decode()
    template = client.get(reverse("imports:template", args=["market_data", "csv"]))
    assert template.status_code == 200 and "治疗领域" in template.content.decode("utf-8-sig")
    rep = Client()
    rep.force_login(UserFactory(roles=[Role.REP]))
    assert "市场数据" not in rep.get(reverse("imports:home")).content.decode()
