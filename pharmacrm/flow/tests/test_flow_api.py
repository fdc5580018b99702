"""Flow API: upload (dry run, import, refusal), file status, records (cursor), unmatched groups, mapping."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from pharmacrm.core.models import Role
from pharmacrm.core.services import create_api_token
from pharmacrm.core.tests.factories import UserFactory
from pharmacrm.flow.models import CustomerAlias, FlowFile, FlowRecord
from pharmacrm.flow.tests.conftest import GOOD_ROWS, FlowWorld, csv_file
from pharmacrm.flow.tests.test_import_flow import _template

pytestmark = pytest.mark.django_db


def bearer_client(user: Any) -> Client:
    # domain apps may not import api/ (import-linter): a local twin of api.tests.support
    _token, raw = create_api_token(actor=user, name="tests", days=30)
    return Client(headers={"Authorization": f"Bearer {raw}"})


def assert_error(response: Any, status: int, code: str) -> None:
    assert response.status_code == status, response.content
    assert set(response.json()["error"]) == {"code", "message", "fields"}
    assert response.json()["error"]["code"] == code


EAST = "北京协和医院（东院）"


def _upload(client: Any, *rows: str, **data: Any) -> Any:
    body = {"distributor": "GK01", "file": SimpleUploadedFile("jan.csv", csv_file(*rows).getvalue()), **data}
    return client.post("/api/v1/flow/files", body)


def test_dry_run_import_status_and_records(world: FlowWorld) -> None:
    _template(world)
    client = bearer_client(world.user)
    checked = _upload(client, *GOOD_ROWS)
    assert checked.status_code == 200, checked.content
    assert checked.json()["outcome"] == "checked" and not FlowRecord.objects.exists()
    imported = _upload(client, *GOOD_ROWS, dry_run="false", period="2026-01")
    assert imported.status_code == 201, imported.content
    file_id = imported.json()["file_id"]
    status = client.get(f"/api/v1/flow/files/{file_id}").json()
    assert (status["status"], status["row_count"], status["distributor_code"]) == ("imported", 4, "GK01")
    assert status["report"]["details"]["records"] == 4
    page = client.get("/api/v1/flow/records", {"file_id": file_id}).json()
    assert len(page["results"]) == 4
    assert "professional" not in " ".join(page["results"][0])  # institution level only
    again = _upload(client, *GOOD_ROWS, dry_run="false")
    assert again.status_code == 200 and again.json()["outcome"] == "unchanged"


def test_refusal_is_422_with_the_row_report_and_writes_nothing(world: FlowWorld) -> None:
    _template(world)
    response = _upload(bearer_client(world.user), GOOD_ROWS[0], GOOD_ROWS[0], dry_run="false")
    assert response.status_code == 422
    body = response.json()
    assert body["error"]["code"] == "refused" and "第 3 行" in body["error"]["message"]
    assert body["result"]["report"]["errors"][0]["row"] == 3
    assert not FlowFile.objects.exists() and not FlowRecord.objects.exists()


def test_unmatched_groups_and_mapping(world: FlowWorld) -> None:
    _template(world)
    client = bearer_client(world.user)
    _upload(client, f"2026-01-05,,{EAST},,诺欣妥,100mg*14片,1,盒,,,,纯销", dry_run="false")
    groups = client.get("/api/v1/flow/unmatched", {"kind": "customer"}).json()
    assert groups[0]["name"] == EAST and groups[0]["rows"] == 1
    assert groups[0]["candidates"][0]["id"] == world.union.pk
    mapped = client.post(
        "/api/v1/flow/aliases",
        {
            "kind": "customer",
            "mappings": [{"distributor_id": world.distributor.pk, "name": EAST, "target_id": world.union.pk}],
        },
        content_type="application/json",
    )
    assert mapped.status_code == 200, mapped.content
    assert mapped.json()["rows"] == 1
    assert CustomerAlias.objects.get().institution == world.union
    bad = client.post(
        "/api/v1/flow/aliases",
        {"kind": "customer", "mappings": [], "extra": 1},
        content_type="application/json",
    )
    assert bad.status_code in (400, 422)


def test_reps_get_403_on_lists_and_uploads(world: FlowWorld) -> None:
    _template(world)
    rep = bearer_client(UserFactory(username="rep3", roles=[Role.REP]))
    assert_error(rep.get("/api/v1/flow/records"), 403, "forbidden")
    assert_error(rep.get("/api/v1/flow/unmatched"), 403, "forbidden")
    assert_error(_upload(rep, *GOOD_ROWS, dry_run="false"), 403, "forbidden")
    assert not FlowFile.objects.exists()


def test_records_list_query_count_does_not_grow(world: FlowWorld, django_assert_max_num_queries: Any) -> None:
    from pharmacrm.flow.tests.factories import FlowFileFactory, FlowRecordFactory

    file = FlowFileFactory(distributor=world.distributor)
    for _ in range(30):
        FlowRecordFactory(file=file)
    client = bearer_client(world.user)
    client.get("/api/v1/flow/records")  # warm the token lookup paths
    # token + user + roles, flow-role check, visibility (commercial role, assignments), page
    with django_assert_max_num_queries(10):
        response = client.get("/api/v1/flow/records")
    assert len(response.json()["results"]) == 30
