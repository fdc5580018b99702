"""Exports of filtered lists: only visible rows, the list's filters, contact columns by role, escaped, logged."""

from __future__ import annotations

import csv
import io

import pytest
from django.test import Client
from django.urls import reverse
from openpyxl import load_workbook

from pharmacrm.compliance.models import SensitiveAccess
from pharmacrm.core.models import ExportLog, Role
from pharmacrm.core.tests.factories import UserFactory
from pharmacrm.customers.models import Professional
from pharmacrm.customers.tests.factories import InstitutionFactory, ProfessionalFactory
from pharmacrm.customers.tests.import_helpers import run

pytestmark = pytest.mark.django_db


@pytest.fixture
def customers(personas):
    own = InstitutionFactory(name="本区医院", external_id="OWN1", territory=personas.own_territory)
    col = InstitutionFactory(name="同事医院", external_id="COL1", territory=personas.colleague_territory)
    out = InstitutionFactory(name="外区医院", external_id="OUT1", territory=personas.outside_territory)
    return {
        "own_key": ProfessionalFactory(
            name="张伟", institution=own, tier="key", mobile="13800138000", external_id="P1"
        ),
        "own_general": ProfessionalFactory(name='=HYPERLINK("http://x")', institution=own, tier="general"),
        "colleague": ProfessionalFactory(name="李娜", institution=col, tier="key", mobile="13900139000"),
        "outside": ProfessionalFactory(name="王芳", institution=out, tier="key"),
    }


def download(user, kind: str, fmt: str = "csv", query: str = "") -> tuple[int, list[list[str]]]:
    client = Client()
    client.force_login(user)
    response = client.get(reverse("exports:download", args=[kind, fmt]) + (f"?{query}" if query else ""))
    if response.status_code != 200:
        return response.status_code, []
    body = b"".join(response.streaming_content) if response.streaming else response.content
    if fmt == "csv":
        return 200, list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    sheet = load_workbook(io.BytesIO(body), read_only=True).worksheets[0]
    return 200, [["" if v is None else str(v) for v in row] for row in sheet.iter_rows(values_only=True)]


def names(rows: list[list[str]]) -> set[str]:
    index = rows[0].index("姓名")
    return {r[index] for r in rows[1:]}


@pytest.mark.parametrize(
    ("persona", "expected"),
    [
        ("owner", {"张伟", '\'=HYPERLINK("http://x")'}),
        ("district_manager", {"张伟", '\'=HYPERLINK("http://x")', "李娜"}),
        ("director", {"张伟", '\'=HYPERLINK("http://x")', "李娜", "王芳"}),
        ("other_manager", {"王芳"}),
    ],
)
def test_export_holds_exactly_the_rows_the_user_may_see(persona, expected, personas, customers):
    status, rows = download(personas[persona], "professionals")
    assert status == 200
    assert names(rows) == expected


def test_export_applies_the_list_filters_and_is_logged(personas, customers):
    status, rows = download(personas.director, "professionals", query="tier=key&page=3")
    assert status == 200
    assert names(rows) == {"张伟", "李娜", "王芳"}
    log = ExportLog.objects.get()
    assert (log.user, log.kind, log.format, log.row_count, log.filters) == (
        personas.director,
        "professionals",
        "csv",
        3,
        {"tier": "key"},
    )
    assert log.includes_contacts
    access = SensitiveAccess.objects.get()
    assert (access.kind, access.rows, access.fields) == ("export", 3, "mobile,wechat_id,email")


def test_reps_export_their_own_customers_without_contact_columns(personas, customers):
    status, rows = download(personas.owner, "professionals", fmt="xlsx")
    assert status == 200
    assert "手机" not in rows[0] and "微信号" not in rows[0] and "邮箱" not in rows[0]
    assert "13800138000" not in {cell for row in rows for cell in row}
    assert not ExportLog.objects.get().includes_contacts
    assert not SensitiveAccess.objects.exists()


def test_managers_get_contacts(personas, customers):
    _status, rows = download(personas.district_manager, "professionals")
    mobile = rows[0].index("手机")
    assert "13800138000" in {r[mobile] for r in rows[1:]}


@pytest.mark.parametrize("role", [Role.SERVICE, Role.MARKETING, Role.COMPLIANCE])
def test_roles_that_may_not_export_are_refused_and_nothing_is_logged(role, personas, customers):
    user = UserFactory(username=f"u-{role}", org_unit=personas.company, roles=[role])
    assert download(user, "professionals")[0] == 403
    assert download(personas.no_role, "institutions")[0] == 403
    assert not ExportLog.objects.exists()


def test_formula_cells_are_escaped_in_xlsx(personas, customers):
    _status, rows = download(personas.director, "professionals", fmt="xlsx")
    assert '\'=HYPERLINK("http://x")' in names(rows)


def test_exported_institutions_reimport_without_changes(personas, customers):
    _status, rows = download(personas.director, "institutions", fmt="xlsx")
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    report = run("institutions", buffer.getvalue().encode("utf-8"))
    assert report.ok, list(report.lines())
    assert (report.created, report.updated, report.unchanged) == (0, 0, 3)
    assert report.warnings == []


def test_list_pages_show_the_export_menu_with_the_current_filters(personas, customers):
    client = Client()
    client.force_login(personas.director)
    html = client.get(reverse("customers:professional_list") + "?tier=key").content.decode()
    assert reverse("exports:download", args=["professionals", "xlsx"]) + "?tier=key" in html
    client.force_login(UserFactory(username="svc", roles=[Role.SERVICE]))
    assert (
        'data-testid="export-menu"' not in client.get(reverse("customers:professional_list")).content.decode()
    )


def test_api_export(personas, customers):
    client = Client()
    client.force_login(personas.owner)
    response = client.get("/api/v1/exports/professionals?format=csv&tier=key")
    assert response.status_code == 200
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))
    assert names(rows) == {"张伟"}
    assert ExportLog.objects.get().source == "api"
    assert client.get("/api/v1/exports/planets").status_code == 404
    client.force_login(UserFactory(username="mkt", roles=[Role.MARKETING]))
    assert client.get("/api/v1/exports/professionals").status_code == 403
    assert Professional.objects.count() == 4
