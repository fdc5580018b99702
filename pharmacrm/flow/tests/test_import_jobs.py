"""Flow files as background jobs: page, API and worker; progress; who may start and see a job; failures."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone, translation

from pharmacrm.core.imports import jobs
from pharmacrm.core.models import ImportJob, Role
from pharmacrm.core.testing import Personas
from pharmacrm.core.tests.factories import UserFactory
from pharmacrm.flow.importing import queue_flow_file
from pharmacrm.flow.models import FlowFile, FlowRecord, FlowTemplate, InventoryRecord
from pharmacrm.flow.tests.conftest import GOOD_ROWS, FlowWorld, csv_file
from pharmacrm.flow.tests.test_flow_api import bearer_client
from pharmacrm.flow.tests.test_import_flow import _template
from pharmacrm.flow.tests.test_import_inventory import STOCK_HEADER, STOCK_ROWS

pytestmark = pytest.mark.django_db
BAD_ROW = "2026-01-06,H001,北京协和医院,NXT100,诺欣妥,100mg*14片,十,盒,,,,纯销"


def _client(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _counts() -> tuple[int, ...]:
    return (
        FlowFile.objects.count(),
        FlowRecord.objects.count(),
        InventoryRecord.objects.count(),
        FlowTemplate.objects.count(),
        FlowFile.history.count(),
    )


def _queue(world: FlowWorld, capture: Any, *rows: str, header: str | None = None, **kwargs: Any) -> ImportJob:
    content = (csv_file(*rows, header=header) if header else csv_file(*rows)).getvalue()
    with capture(execute=True):
        job = queue_flow_file(
            actor=kwargs.pop("actor", world.user),
            upload=SimpleUploadedFile("jan.csv", content),
            distributor_code="GK01",
            **kwargs,
        )
    job.refresh_from_db()
    return job


def _api_upload(client: Client, *rows: str, header: str | None = None, **data: Any) -> Any:
    content = (csv_file(*rows, header=header) if header else csv_file(*rows)).getvalue()
    return client.post(
        "/api/v1/flow/jobs", {"distributor": "GK01", "file": SimpleUploadedFile("jan.csv", content), **data}
    )


# --- Permissions ---------------------------------------------------------------------------------------


def test_only_importers_start_and_see_a_job_and_another_users_job_is_404(
    personas: Personas, world: FlowWorld, django_capture_on_commit_callbacks: Any
) -> None:
    _template(world)
    job = _queue(world, django_capture_on_commit_callbacks, *GOOD_ROWS)
    assert job.status == ImportJob.Status.CHECKED
    other_commercial = UserFactory(username="ka2", org_unit=personas.team_n1a, roles=[Role.COMMERCIAL])
    page, status = job.get_absolute_url(), reverse("imports:job_status", args=[job.pk])
    api = f"/api/v1/flow/jobs/{job.pk}"
    expected = {
        # who: (job page, status partial, API job, upload page)
        "importer": (200, 200, 200, 200),
        "admin": (200, 200, 200, 200),  # company-wide importer: sees every flow job (not confirm)
        "other commercial": (404, 404, 404, 200),
        "district manager": (403, 404, 404, 403),  # reads flow, imports nothing
        "rep": (403, 404, 404, 403),  # no flow at all (RULES_CN §1)
        "outsider": (403, 404, 404, 403),
    }
    users = {
        "importer": world.user,
        "admin": personas.admin,
        "other commercial": other_commercial,
        "district manager": personas.district_manager,
        "rep": personas.owner,
        "outsider": personas.outsider,
    }
    for who, codes in expected.items():
        client = _client(users[who])
        got = (
            client.get(page).status_code,
            client.get(status).status_code,
            client.get(api).status_code,
            client.get(reverse("flow:upload")).status_code,
        )
        assert got == codes, who
    before, jobs_before = _counts(), ImportJob.objects.count()
    # nobody but the uploader confirms; the rest may not even reach the button
    for who in ("admin", "other commercial", "district manager", "rep"):
        client = _client(users[who])
        client.post(reverse("flow:job_confirm", args=[job.pk]))
        assert client.post(f"/api/v1/flow/jobs/{job.pk}/confirm").status_code in (403, 404), who
    job.refresh_from_db()
    assert (job.status, job.dry_run) == (ImportJob.Status.CHECKED, True)
    # starting a job: reps and managers are refused, a commercial who does not manage GK01 is told
    # the distributor is unknown; nothing is stored
    for who, code in (("rep", 403), ("district manager", 403), ("other commercial", 400)):
        response = _api_upload(bearer_client(users[who]), *GOOD_ROWS)
        assert response.status_code == code, who
        if code == 400:
            assert response.json()["error"]["message"] == "未知的经销商编码“GK01”。"
    assert _counts() == before and ImportJob.objects.count() == jobs_before


# --- Page ------------------------------------------------------------------------------------------------


def test_the_job_page_polls_a_progress_bar_while_the_job_runs(
    world: FlowWorld, django_capture_on_commit_callbacks: Any
) -> None:
    job = ImportJob.objects.create(
        kind="flow",
        original_name="jan.csv",
        created_by=world.user,
        dry_run=False,
        params={"distributor": "GK01", "period": "", "kind": "auto", "source": "ui"},
        status=ImportJob.Status.IMPORTING,
        started_at=timezone.now(),
    )
    jobs._write_progress(job.pk, rows=250000, fraction=0.4)
    html = _client(world.user).get(job.get_absolute_url()).content.decode()
    assert f'hx-get="{reverse("imports:job_status", args=[job.pk])}?running=1"' in html
    assert "progress-bar" in html and "40%" in html and "已读取 250000 行" in html
    assert 'data-testid="confirm-import"' not in html


def test_a_flow_job_reports_its_progress_batch_by_batch(
    world: FlowWorld, django_capture_on_commit_callbacks: Any, monkeypatch: Any
) -> None:
    from pharmacrm.flow import importing

    _template(world)
    seen: list[int] = []
    monkeypatch.setattr(importing, "BATCH_ROWS", 1)
    monkeypatch.setattr(jobs, "PROGRESS_EVERY_SECONDS", 0)
    monkeypatch.setattr(jobs, "_write_progress", lambda job_id, **data: seen.append(data["rows"]))
    job = _queue(world, django_capture_on_commit_callbacks, *GOOD_ROWS)
    assert job.status == ImportJob.Status.CHECKED
    assert seen[0] == 0 and seen[1:5] == [1, 2, 3, 4]


def test_a_refused_check_shows_the_rows_and_offers_no_import(
    world: FlowWorld, django_capture_on_commit_callbacks: Any
) -> None:
    _template(world)
    before = _counts()
    job = _queue(world, django_capture_on_commit_callbacks, GOOD_ROWS[0], BAD_ROW)
    assert (job.status, job.error_count, job.result["outcome"]) == (ImportJob.Status.REFUSED, 1, "refused")
    client = _client(world.user)
    html = client.get(job.get_absolute_url()).content.decode()
    assert "已拒绝：未写入任何数据。" in html and "数量必须是数字" in html and "十" in html
    assert 'data-testid="confirm-import"' not in html
    client.post(reverse("flow:job_confirm", args=[job.pk]))
    job.refresh_from_db()
    assert job.status == ImportJob.Status.REFUSED and _counts() == before


def test_an_identical_file_is_reported_unchanged_and_not_offered_again(
    world: FlowWorld, django_capture_on_commit_callbacks: Any
) -> None:
    _template(world)
    first = _queue(world, django_capture_on_commit_callbacks, *GOOD_ROWS, dry_run=False)
    assert (first.status, first.result["outcome"]) == (ImportJob.Status.DONE, "imported")
    before = _counts()
    again = _queue(world, django_capture_on_commit_callbacks, *GOOD_ROWS)
    assert (again.status, again.result["outcome"]) == (ImportJob.Status.CHECKED, "unchanged")
    html = _client(world.user).get(again.get_absolute_url()).content.decode()
    assert "完全相同" in html and 'data-testid="confirm-import"' not in html
    imported_again = _queue(world, django_capture_on_commit_callbacks, *GOOD_ROWS, dry_run=False)
    assert (imported_again.status, imported_again.result["outcome"]) == (ImportJob.Status.DONE, "unchanged")
    assert _counts() == before


def test_an_inventory_file_through_the_page_is_detected_checked_and_imported(
    world: FlowWorld, django_capture_on_commit_callbacks: Any
) -> None:
    client = _client(world.user)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("flow:upload"),
            {
                "distributor": world.distributor.pk,
                "file": SimpleUploadedFile("库存.csv", csv_file(*STOCK_ROWS, header=STOCK_HEADER).getvalue()),
                "kind": "auto",
            },
        )
    job = ImportJob.objects.get()
    assert response.url == job.get_absolute_url()
    assert (job.status, job.result["kind"], job.result["outcome"]) == (
        ImportJob.Status.CHECKED,
        "inventory",
        "checked",
    )
    html = client.get(job.get_absolute_url()).content.decode()
    assert "库存文件 4 行" in html and "库存数量 ← 库存数量" in html
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("flow:job_confirm", args=[job.pk]))
    file = FlowFile.objects.get()
    assert (file.kind, file.inventory_count) == (FlowFile.Kind.INVENTORY, 4)
    detail = client.get(file.get_absolute_url()).content.decode()
    assert "库存行数" in detail and "流向行数" not in detail
    listed = client.get(reverse("flow:file_list") + "?kind=inventory")
    assert [row.record.pk for row in listed.context["table"].page.object_list] == [file.pk]


def test_mapping_an_unknown_inventory_layout(
    world: FlowWorld, django_capture_on_commit_callbacks: Any
) -> None:
    header = "品号,药名,存量,截至"
    job = _queue(
        world,
        django_capture_on_commit_callbacks,
        "NXT100,诺欣妥,12,2026-01-31",
        header=header,
        kind="inventory",
    )
    assert job.status == ImportJob.Status.REFUSED and "库存数量" in job.report["errors"][0]["reason"]
    client = _client(world.user)
    form = client.get(reverse("flow:job_mapping", args=[job.pk]))
    assert "仓库" in form.content.decode() and "客户名称" not in form.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            reverse("flow:job_mapping", args=[job.pk]),
            {
                "map_product_code": "品号",
                "map_product_name": "药名",
                "map_quantity": "存量",
                "map_as_of": "截至",
            },
        )
    job.refresh_from_db()
    assert (job.status, job.result["outcome"]) == (ImportJob.Status.CHECKED, "checked"), job.report
    assert FlowTemplate.objects.get().kind == "inventory"


# --- API -------------------------------------------------------------------------------------------------


def test_api_queues_polls_and_confirms_a_job(
    world: FlowWorld, django_capture_on_commit_callbacks: Any
) -> None:
    _template(world)
    client = bearer_client(world.user)
    with django_capture_on_commit_callbacks(execute=True):
        queued = _api_upload(client, *GOOD_ROWS, period="2026-01")
    assert queued.status_code == 202, queued.content
    job_id = queued.json()["id"]
    body = client.get(f"/api/v1/flow/jobs/{job_id}").json()
    assert (body["status"], body["outcome"], body["kind"], body["distributor"], body["period"]) == (
        "checked",
        "checked",
        "sales",
        "GK01",
        "2026-01-01",
    )
    assert body["progress"] == {"rows": 4, "percent": 100} and not FlowRecord.objects.exists()
    with django_capture_on_commit_callbacks(execute=True):
        confirmed = client.post(f"/api/v1/flow/jobs/{job_id}/confirm")
    assert confirmed.status_code == 202
    body = client.get(f"/api/v1/flow/jobs/{job_id}").json()
    assert (body["status"], body["outcome"]) == ("done", "imported")
    assert client.get(f"/api/v1/flow/files/{body['file_id']}").json()["status"] == "imported"
    assert FlowRecord.objects.count() == 4
    assert FlowFile.objects.get().history.first().history_source == "api"
    # the generic import-job endpoint answers for the same job
    assert client.get(f"/api/v1/imports/{job_id}").json()["result"]["file_id"] == body["file_id"]


def test_api_refuses_bad_parameters_before_any_job_and_bad_rows_on_the_job(
    world: FlowWorld, django_capture_on_commit_callbacks: Any
) -> None:
    _template(world)
    client = bearer_client(world.user)
    before = _counts()
    for data, field in (
        ({"kind": "stock"}, "kind"),
        ({"period": "Jan"}, "period"),
        ({"distributor": "XX"}, "distributor"),
    ):
        response = _api_upload(client, *GOOD_ROWS, **data)
        assert response.status_code == 400, data
        assert list(response.json()["error"]["fields"]) == [field]
    assert ImportJob.objects.count() == 0
    with django_capture_on_commit_callbacks(execute=True):
        queued = _api_upload(client, GOOD_ROWS[0], BAD_ROW, dry_run="false")
    body = client.get(f"/api/v1/flow/jobs/{queued.json()['id']}").json()
    assert (body["status"], body["outcome"]) == ("refused", "refused")
    error = body["report"]["errors"][0]
    assert (error["row"], error["column"], error["value"], error["reason"]) == (
        3,
        "数量",
        "十",
        "数量必须是数字",
    )
    refused = client.post(f"/api/v1/flow/jobs/{body['id']}/confirm")
    assert refused.status_code == 400 and refused.json()["error"]["code"] == "not_confirmable"
    assert _counts() == before


def test_api_and_cli_take_the_file_kind(world: FlowWorld, tmp_path: Path, capsys: Any) -> None:
    client = bearer_client(world.user)
    response = client.post(
        "/api/v1/flow/files",
        {
            "distributor": "GK01",
            "file": SimpleUploadedFile("stock.csv", csv_file(*STOCK_ROWS, header=STOCK_HEADER).getvalue()),
            "dry_run": "false",
            "kind": "inventory",
        },
    )
    assert response.status_code == 201, response.content
    assert (response.json()["kind"], response.json()["details"]["inventory"]) == ("inventory", 4)
    path = tmp_path / "gk01-stock-2026-02.csv"
    path.write_bytes(
        csv_file(",诺欣妥,100mg*14片,B3,40,盒,2026-02-28,北京一号库", header=STOCK_HEADER).getvalue()
    )
    call_command("import", "flow", str(path), "--distributor", "GK01", "--kind", "inventory")
    assert "已导入：2026-02，库存文件 1 行" in capsys.readouterr().out
    assert FlowFile.objects.filter(kind=FlowFile.Kind.INVENTORY).count() == 2
    with pytest.raises(SystemExit):
        call_command("import", "flow", str(path), "--distributor", "GK01", "--kind", "sales", "--dry-run")
    assert "此表头已保存为“库存”模板" in capsys.readouterr().out  # the saved layout is an inventory one


# --- Failures -------------------------------------------------------------------------------------------


def test_an_exception_during_the_import_fails_the_job_and_changes_nothing(
    world: FlowWorld, django_capture_on_commit_callbacks: Any, monkeypatch: Any
) -> None:
    from pharmacrm.flow import attribution

    # first layout of this distributor: the import would also save its template
    job = _queue(
        world,
        django_capture_on_commit_callbacks,
        "2026-01-05,北京协和医院,诺欣妥,100mg*14片,3",
        header="单据日期,购货单位,商品名称,规格,数量",
    )
    assert job.status == ImportJob.Status.CHECKED
    before = _counts()

    def broken(**kwargs: Any) -> Any:
        raise RuntimeError("database went away")

    monkeypatch.setattr(attribution, "attribute_file", broken)
    client = _client(world.user)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("flow:job_confirm", args=[job.pk]))
    job.refresh_from_db()
    assert job.status == ImportJob.Status.FAILED and job.result == {}
    assert job.report["errors"][0]["reason"] == "导入时发生内部错误，未写入任何数据。"
    assert "导入时发生内部错误" in client.get(job.get_absolute_url()).content.decode()
    assert _counts() == before


def test_a_worker_killed_mid_import_leaves_the_job_failed_and_the_database_unchanged(
    world: FlowWorld,
) -> None:
    before = _counts()
    job = ImportJob.objects.create(
        kind="flow",
        original_name="jan.csv",
        created_by=world.user,
        dry_run=False,
        params={"distributor": "GK01", "period": "", "kind": "auto", "source": "ui"},
        status=ImportJob.Status.IMPORTING,
        started_at=timezone.now() - dt.timedelta(minutes=30),  # no heartbeat since
    )
    client = bearer_client(world.user)
    body = client.get(f"/api/v1/flow/jobs/{job.pk}").json()
    assert body["status"] == "failed"
    assert "后台任务在运行中中断" in body["report"]["errors"][0]["reason"]
    assert _counts() == before


# --- Query counts and language ------------------------------------------------------------------------


def test_upload_page_job_list_query_count_does_not_grow(
    world: FlowWorld, django_assert_max_num_queries: Any
) -> None:
    for i in range(10):
        ImportJob.objects.create(
            kind="flow", original_name=f"{i}.csv", created_by=world.user, params={"distributor": "GK01"}
        )
    ImportJob.objects.create(kind="institutions", original_name="x.csv", created_by=world.user)
    client = _client(world.user)
    client.get(reverse("flow:upload"))
    # session, user, roles, territory assignments (the scope), the distributors the form offers,
    # the ten jobs (one query, whatever their number)
    with django_assert_max_num_queries(6):
        response = client.get(reverse("flow:upload"))
    assert len(response.context["jobs"]) == 10


def test_job_page_query_count(
    world: FlowWorld, django_capture_on_commit_callbacks: Any, django_assert_max_num_queries: Any
) -> None:
    _template(world)
    job = _queue(world, django_capture_on_commit_callbacks, *GOOD_ROWS)
    client = _client(world.user)
    client.get(job.get_absolute_url())
    # session, user, roles, territory assignments (the scope), the job with its uploader; the
    # report, mapping and file link come from the job's JSON, nothing per row
    with django_assert_max_num_queries(5):
        response = client.get(job.get_absolute_url())
    assert response.status_code == 200


def test_new_messages_have_english_translations() -> None:
    with translation.override("en"):
        for text, english in (
            ("库存数量不能为负数", "Stock cannot be negative"),
            ("只有检查通过的文件可以导入。", "Only a file that passed its check can be imported."),
            ("后台任务在运行中中断（工作进程已退出或重启），未写入任何数据。请重新上传该文件。", None),
            ("我最近的流向文件任务", None),
        ):
            translated = translation.gettext(text)
            assert translated != text, text
            if english:
                assert translated == english
