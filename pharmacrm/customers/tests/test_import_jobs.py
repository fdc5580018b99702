"""The 导入 page and the imports API: upload, dry run, confirm, progress, and who may do it."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from pharmacrm.core.audit import Source
from pharmacrm.core.models import ImportJob, Role
from pharmacrm.core.tests.factories import UserFactory
from pharmacrm.customers.models import Institution
from pharmacrm.customers.tests.import_helpers import institutions_csv, snapshot

pytestmark = pytest.mark.django_db

GOOD = institutions_csv(["H1", "北京协和医院", "医院", "三级甲等", "北京市", "北京市", "东城区"])
BAD = institutions_csv(
    ["H1", "北京协和医院", "医院", "三级甲等", "北京市", "北京市", ""],
    ["H2", "火星医院", "医院", "", "火星", "", ""],
)


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def upload(client: Client, data: bytes, *, partial: bool = False, name: str = "机构.csv"):
    payload = {"kind": "institutions", "file": SimpleUploadedFile(name, data, content_type="text/csv")}
    if partial:
        payload["partial"] = "on"
    return client.post(reverse("imports:home"), payload)


def test_upload_checks_then_confirm_imports(personas, django_capture_on_commit_callbacks):
    client = client_for(personas.admin)
    with django_capture_on_commit_callbacks(execute=True):
        response = upload(client, GOOD)
    job = ImportJob.objects.get()
    assert response.url == job.get_absolute_url()
    assert (job.status, job.dry_run, job.created_count) == (ImportJob.Status.CHECKED, True, 1)
    assert Institution.objects.count() == 0
    page = client.get(job.get_absolute_url())
    assert "试运行：共 1 行，将新建 1" in page.content.decode()
    assert 'data-testid="confirm-import"' in page.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("imports:job_confirm", args=[job.pk]))
    job.refresh_from_db()
    assert (job.status, job.dry_run, job.created_count) == (ImportJob.Status.DONE, False, 1)
    record = Institution.objects.get().history.get()
    assert (record.history_source, record.history_user) == (Source.IMPORT, personas.admin)


def test_a_refused_dry_run_shows_every_bad_row_and_cannot_be_confirmed(
    personas, django_capture_on_commit_callbacks
):
    client = client_for(personas.admin)
    with django_capture_on_commit_callbacks(execute=True):
        upload(client, BAD)
    job = ImportJob.objects.get()
    assert job.status == ImportJob.Status.REFUSED
    html = client.get(job.get_absolute_url()).content.decode()
    assert "火星" in html and "未知的省份" in html
    assert 'data-testid="confirm-import"' not in html
    before = snapshot()
    client.post(reverse("imports:job_confirm", args=[job.pk]))
    job.refresh_from_db()
    assert job.status == ImportJob.Status.REFUSED
    assert snapshot() == before


def test_partial_dry_run_can_be_confirmed_and_writes_the_good_rows(
    personas, django_capture_on_commit_callbacks
):
    client = client_for(personas.admin)
    with django_capture_on_commit_callbacks(execute=True):
        upload(client, BAD, partial=True)
    job = ImportJob.objects.get()
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("imports:job_confirm", args=[job.pk]))
    job.refresh_from_db()
    assert job.status == ImportJob.Status.PARTIAL
    assert list(Institution.objects.values_list("external_id", flat=True)) == ["H1"]


def test_status_block_polls_while_running_and_reloads_when_done(personas):
    job = ImportJob.objects.create(kind="institutions", original_name="a.csv", created_by=personas.admin)
    client = client_for(personas.admin)
    block = client.get(reverse("imports:job_status", args=[job.pk]))
    assert 'hx-trigger="every 1s"' in block.content.decode() and "progress-bar" in block.content.decode()
    job.status = ImportJob.Status.CHECKED
    job.save()
    done = client.get(reverse("imports:job_status", args=[job.pk]) + "?running=1")
    assert (done.status_code, done["HX-Refresh"]) == (204, "true")


def test_template_downloads(personas):
    client = client_for(personas.admin)
    response = client.get(reverse("imports:template", args=["professionals", "csv"]))
    assert response.status_code == 200
    assert response.content.decode("utf-8-sig").startswith("外部编码,姓名,性别")
    assert client.get(reverse("imports:template", args=["nothing", "csv"])).status_code == 404


@pytest.mark.parametrize("persona", ["owner", "district_manager", "director", "no_role"])
def test_roles_without_master_data_rights_cannot_import(persona, personas):
    client = client_for(personas[persona])
    assert client.get(reverse("imports:home")).status_code == 403
    assert upload(client, GOOD).status_code == 403
    response = client.post(
        "/api/v1/imports", {"kind": "institutions", "file": SimpleUploadedFile("a.csv", GOOD)}
    )
    assert response.status_code == 403
    assert ImportJob.objects.count() == 0


def test_commercial_may_import_and_only_owner_and_company_wide_see_a_job(
    personas, django_capture_on_commit_callbacks
):
    commercial = UserFactory(username="ka", org_unit=personas.team_n1a, roles=[Role.COMMERCIAL])
    other = UserFactory(username="ka2", org_unit=personas.team_n1a, roles=[Role.COMMERCIAL])
    with django_capture_on_commit_callbacks(execute=True):
        upload(client_for(commercial), GOOD)
    job = ImportJob.objects.get()
    assert client_for(commercial).get(job.get_absolute_url()).status_code == 200
    assert client_for(personas.admin).get(job.get_absolute_url()).status_code == 200
    assert client_for(other).get(job.get_absolute_url()).status_code == 404
    assert client_for(personas.district_manager).get(f"/api/v1/imports/{job.pk}").status_code == 404
    # Only the uploader confirms, even an admin who can see the job may not.
    response = client_for(personas.admin).post(f"/api/v1/imports/{job.pk}/confirm")
    assert response.status_code == 403


def test_api_upload_poll_and_confirm(personas, django_capture_on_commit_callbacks):
    client = client_for(personas.admin)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/api/v1/imports",
            {"kind": "institutions", "file": SimpleUploadedFile("a.csv", BAD), "dry_run": "true"},
        )
    assert response.status_code == 202
    job_id = response.json()["id"]
    body = client.get(f"/api/v1/imports/{job_id}").json()
    assert (body["status"], body["error_count"]) == ("refused", 1)
    error = body["report"]["errors"][0]
    assert (error["row"], error["column"], error["value"]) == (3, "省", "火星")
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/api/v1/imports", {"kind": "institutions", "file": SimpleUploadedFile("a.csv", GOOD)}
        )
    job_id = response.json()["id"]
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(f"/api/v1/imports/{job_id}/confirm").status_code == 202
    assert client.get(f"/api/v1/imports/{job_id}").json()["created"] == 1
    assert Institution.objects.count() == 1


def test_api_refuses_an_empty_upload_and_an_unknown_kind(personas):
    client = client_for(personas.admin)
    empty = client.post("/api/v1/imports", {"kind": "institutions", "file": SimpleUploadedFile("a.csv", b"")})
    assert (empty.status_code, empty.json()["error"]["message"]) == (400, "文件是空的。")
    unknown = client.post("/api/v1/imports", {"kind": "planets", "file": SimpleUploadedFile("a.csv", GOOD)})
    assert unknown.status_code == 400 and unknown.json()["error"]["fields"] == {"kind": ["不在可选值中。"]}
    assert ImportJob.objects.count() == 0


def test_uploaded_files_are_deleted_once_imported_or_left_unconfirmed(
    personas, django_capture_on_commit_callbacks
):
    import datetime as dt

    from django.core.files.storage import default_storage
    from django.utils import timezone

    from pharmacrm.core.imports.jobs import purge_stale_uploads

    client = client_for(personas.admin)
    with django_capture_on_commit_callbacks(execute=True):
        upload(client, GOOD)
        upload(client, GOOD)
    imported, left = ImportJob.objects.order_by("pk")
    stored = imported.file.name
    assert default_storage.exists(stored)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("imports:job_confirm", args=[imported.pk]))
    imported.refresh_from_db()
    assert (imported.status, imported.file.name) == (ImportJob.Status.DONE, "")
    assert not default_storage.exists(stored)
    assert purge_stale_uploads() == 0
    ImportJob.objects.filter(pk=left.pk).update(created_at=timezone.now() - dt.timedelta(days=8))
    assert purge_stale_uploads() == 1
    left.refresh_from_db()
    assert not left.file and not left.can_confirm


# --- The job machinery itself: parameters, re-check, a worker that dies ---------------------------


def test_a_column_kind_refuses_parameters_and_creates_no_job(personas):
    from pharmacrm.core.errors import DomainError
    from pharmacrm.core.imports.jobs import start_import

    with pytest.raises(DomainError, match="不接受参数：distributor"):
        start_import(
            actor=personas.admin,
            kind="institutions",
            upload=SimpleUploadedFile("a.csv", GOOD),
            params={"distributor": "X"},
        )
    assert ImportJob.objects.count() == 0


def test_a_refused_check_can_be_checked_again_once_master_data_is_fixed(
    personas, django_capture_on_commit_callbacks
):
    from pharmacrm.core.errors import DomainError, NotAllowed
    from pharmacrm.core.imports.jobs import recheck_import

    client = client_for(personas.admin)
    with django_capture_on_commit_callbacks(execute=True):
        upload(client, BAD)
    job = ImportJob.objects.get()
    assert job.status == ImportJob.Status.REFUSED
    with pytest.raises(NotAllowed):
        recheck_import(actor=personas.director, job_id=job.pk)
    with django_capture_on_commit_callbacks(execute=True):
        recheck_import(actor=personas.admin, job_id=job.pk)
    job.refresh_from_db()
    assert (job.status, job.error_count) == (ImportJob.Status.REFUSED, 1)  # same file, same answer
    with django_capture_on_commit_callbacks(execute=True):
        upload(client, GOOD)
    done = ImportJob.objects.latest("pk")
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("imports:job_confirm", args=[done.pk]))
    with pytest.raises(DomainError, match="不能重新检查"):
        recheck_import(actor=personas.admin, job_id=done.pk)


def _running_job(user, *, minutes_ago: int) -> ImportJob:
    import datetime as dt

    from django.utils import timezone

    return ImportJob.objects.create(
        kind="institutions",
        original_name="a.csv",
        created_by=user,
        dry_run=False,
        status=ImportJob.Status.IMPORTING,
        started_at=timezone.now() - dt.timedelta(minutes=minutes_ago),
    )


def test_a_job_whose_worker_died_is_failed_with_a_clear_message_when_polled(personas):
    import os
    import time

    from pharmacrm.core.imports.jobs import _write_progress, fail_abandoned_jobs, progress_path

    dead = _running_job(personas.admin, minutes_ago=10)  # no heartbeat file at all
    stale = _running_job(personas.admin, minutes_ago=10)
    _write_progress(stale.pk, rows=5000, fraction=0.1)
    old = time.time() - 600
    os.utime(progress_path(stale.pk), (old, old))
    alive = _running_job(personas.admin, minutes_ago=10)
    _write_progress(alive.pk, rows=5000, fraction=0.1)  # its worker beat just now
    young = _running_job(personas.admin, minutes_ago=0)  # started a moment ago, first beat pending
    before = snapshot()
    client = client_for(personas.admin)
    response = client.get(reverse("imports:job_status", args=[dead.pk]) + "?running=1")
    assert (response.status_code, response["HX-Refresh"]) == (204, "true")
    dead.refresh_from_db()
    assert dead.status == ImportJob.Status.FAILED and dead.finished_at is not None
    assert "后台任务在运行中中断" in dead.report["errors"][0]["reason"]
    assert "后台任务在运行中中断" in client.get(dead.get_absolute_url()).content.decode()
    assert fail_abandoned_jobs() == 1  # the stale one; the live and the young one keep running
    statuses = dict(ImportJob.objects.values_list("pk", "status"))
    assert statuses[stale.pk] == ImportJob.Status.FAILED
    assert statuses[alive.pk] == statuses[young.pk] == ImportJob.Status.IMPORTING
    assert not progress_path(stale.pk).exists()
    assert snapshot() == before
    progress_path(alive.pk).unlink()


def test_the_heartbeat_rewrites_the_progress_file_while_the_job_runs_and_removes_it_after(
    personas, monkeypatch
):
    import time

    from pharmacrm.core.imports import jobs

    monkeypatch.setattr(jobs, "HEARTBEAT_SECONDS", 0.05)
    with jobs._Heartbeat(4242) as beat:
        path = jobs.progress_path(4242)
        first = path.stat().st_mtime_ns
        beat.progress(10, 0.5)
        time.sleep(0.3)
        assert path.stat().st_mtime_ns > first
        assert jobs.job_progress(ImportJob(pk=4242, status=ImportJob.Status.IMPORTING)) == {
            "rows": 10,
            "percent": 50,
        }
    assert not path.exists()


def test_an_exception_inside_the_import_fails_the_job_and_writes_nothing(
    personas, django_capture_on_commit_callbacks, monkeypatch
):
    from pharmacrm.core.imports.registry import get_kind

    client = client_for(personas.admin)
    with django_capture_on_commit_callbacks(execute=True):
        upload(client, GOOD)
    job = ImportJob.objects.get()
    before = snapshot()

    def boom(self):
        raise RuntimeError("disk full")

    monkeypatch.setattr(get_kind("institutions"), "finish", boom)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("imports:job_confirm", args=[job.pk]))
    job.refresh_from_db()
    assert job.status == ImportJob.Status.FAILED
    assert job.report["errors"][0]["reason"] == "导入时发生内部错误，未写入任何数据。"
    assert snapshot() == before
