"""Flow pages: upload → mapping → check → import, file list/detail, the queue, templates, closes; reps are kept out."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from pharmacrm.core.models import ImportJob, Role
from pharmacrm.core.tests.factories import UserFactory
from pharmacrm.flow.models import CustomerAlias, FlowFile, FlowPeriodClose, FlowRecord, FlowTemplate
from pharmacrm.flow.tests.conftest import GOOD_ROWS, FlowWorld, csv_file
from pharmacrm.flow.tests.factories import FlowFileFactory, FlowRecordFactory

pytestmark = pytest.mark.django_db
EAST = "北京协和医院（东院）"


def _client(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _post_upload(client: Client, world: FlowWorld, content: bytes, capture: Any, **data: Any) -> Any:
    """Upload through the page; the queued check runs at commit (ImmediateBackend); follow to the job."""
    with capture(execute=True):
        response = client.post(
            reverse("flow:upload"),
            {
                "distributor": world.distributor.pk,
                "file": SimpleUploadedFile("jan.csv", content),
                "period": "",
                "kind": "auto",
                **data,
            },
        )
    assert response.status_code == 302, response.content.decode()
    return client.get(response.url)


def test_first_upload_maps_columns_then_checks_then_imports_in_the_background(
    world: FlowWorld, django_capture_on_commit_callbacks: Any
) -> None:
    client = _client(world.user)
    content = csv_file(
        "2026-01-05,北京协和医院,诺欣妥,100mg*14片,3,1",
        f"2026-01-06,{EAST},诺欣妥,100mg*14片,2,1",
        header="日子,终端,货品,包装,件数,箱数",
    ).getvalue()
    page = _post_upload(client, world, content, django_capture_on_commit_callbacks)
    job = ImportJob.objects.get()
    assert (job.kind, job.status, job.params["distributor"]) == ("flow", ImportJob.Status.REFUSED, "GK01")
    html = page.content.decode()
    assert "无法自动识别" in html and 'data-testid="set-mapping"' in html
    assert 'data-testid="confirm-import"' not in html and not FlowRecord.objects.exists()
    form = client.get(reverse("flow:job_mapping", args=[job.pk]))
    assert "终端" in form.content.decode() and "销售流向" in form.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        mapped = client.post(
            reverse("flow:job_mapping", args=[job.pk]),
            {
                "map_sale_date": "日子",
                "map_customer_name": "终端",
                "map_product_name": "货品",
                "map_spec": "包装",
                "map_quantity": "件数",
                "name": "国控格式",
            },
        )
    assert mapped.status_code == 302 and mapped.url == job.get_absolute_url()
    job.refresh_from_db()
    assert (job.status, job.result["outcome"]) == (ImportJob.Status.CHECKED, "checked")
    assert FlowTemplate.objects.get().name == "国控格式"
    checked = client.get(job.get_absolute_url()).content.decode()
    assert "检查通过（试运行，未写入）" in checked and 'data-testid="confirm-import"' in checked
    with django_capture_on_commit_callbacks(execute=True):
        done = client.post(reverse("flow:job_confirm", args=[job.pk]))
    assert done.status_code == 302 and done.url == job.get_absolute_url()
    file = FlowFile.objects.get()
    job.refresh_from_db()
    assert (job.status, job.dry_run, job.result["file_id"], job.file.name) == (
        ImportJob.Status.DONE,
        False,
        file.pk,
        "",  # the upload is deleted once imported
    )
    assert FlowRecord.objects.count() == 2
    result = client.get(job.get_absolute_url()).content.decode()
    assert "已导入：2026-01" in result and f'href="{file.get_absolute_url()}"' in result
    page = client.get(file.get_absolute_url())
    assert page.status_code == 200 and "2026-01" in page.content.decode()
    assert file.history.first().history_source == "ui"


def test_mapping_refuses_a_missing_field(world: FlowWorld, django_capture_on_commit_callbacks: Any) -> None:
    client = _client(world.user)
    _post_upload(
        client,
        world,
        csv_file("2026-01-05,x,3", header="日子,谁,多少").getvalue(),
        django_capture_on_commit_callbacks,
    )
    job = ImportJob.objects.get()
    refused = client.post(reverse("flow:job_mapping", args=[job.pk]), {"map_sale_date": "日子"})
    assert "必须指定" in refused.content.decode()
    assert not FlowTemplate.objects.exists()
    job.refresh_from_db()
    assert job.status == ImportJob.Status.REFUSED  # not checked again


def test_queue_maps_several_groups_at_once(world: FlowWorld, django_capture_on_commit_callbacks: Any) -> None:
    from pharmacrm.flow.tests.test_import_flow import _template

    _template(world)
    client = _client(world.user)
    _post_upload(
        client,
        world,
        csv_file(
            f"2026-01-05,,{EAST},,诺欣妥,100mg*14片,1,盒,,,,纯销",
            "2026-01-06,,北大一院,,诺欣妥,100mg*14片,1,盒,,,,纯销",
        ).getvalue(),
        django_capture_on_commit_callbacks,
    )
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("flow:job_confirm", args=[ImportJob.objects.get().pk]))
    page = client.get(reverse("flow:unmatched"))
    rows = page.context["rows"]
    assert {r["group"].name for r in rows} == {EAST, "北大一院"}
    keys = {r["group"].name: r["key"] for r in rows}
    done = client.post(
        reverse("flow:unmatched") + "?kind=customer",
        {
            "group": [keys[EAST], keys["北大一院"]],
            f"target_{keys[EAST]}": world.union.pk,
            f"target_{keys['北大一院']}": world.peking.pk,
        },
    )
    assert done.status_code == 302
    assert CustomerAlias.objects.count() == 2
    assert not FlowRecord.objects.filter(institution__isnull=True).exists()


def test_close_page_closes_and_upload_is_then_refused(
    world: FlowWorld, django_capture_on_commit_callbacks: Any
) -> None:
    client = _client(world.user)
    response = client.post(
        reverse("flow:closes"), {"distributor": world.distributor.pk, "period": "2026-01", "reason": "已对账"}
    )
    assert response.status_code == 302
    assert FlowPeriodClose.objects.get().period == dt.date(2026, 1, 1)
    # the period comes from the file's dates: the check finds it closed
    refused = _post_upload(client, world, csv_file(*GOOD_ROWS).getvalue(), django_capture_on_commit_callbacks)
    assert "关账" in refused.content.decode() and not FlowFile.objects.exists()
    # named on the form: refused before any job is created
    jobs_before = ImportJob.objects.count()
    named = client.post(
        reverse("flow:upload"),
        {
            "distributor": world.distributor.pk,
            "file": SimpleUploadedFile("jan.csv", csv_file(*GOOD_ROWS).getvalue()),
            "period": "2026-01",
            "kind": "auto",
        },
    )
    assert named.status_code == 200 and "关账" in named.content.decode()
    assert ImportJob.objects.count() == jobs_before


def test_reps_get_403_on_every_flow_page(world: FlowWorld) -> None:
    rep = _client(UserFactory(username="rep4", roles=[Role.REP]))
    for name in ("flow:file_list", "flow:upload", "flow:unmatched", "flow:template_list", "flow:closes"):
        assert rep.get(reverse(name)).status_code == 403, name


def test_managers_read_but_cannot_upload(world: FlowWorld) -> None:
    manager = _client(UserFactory(username="rm9", roles=[Role.REGIONAL_MANAGER]))
    assert manager.get(reverse("flow:file_list")).status_code == 200
    assert manager.get(reverse("flow:upload")).status_code == 403


def test_file_list_query_count_does_not_grow(world: FlowWorld, django_assert_max_num_queries: Any) -> None:
    for month in range(1, 13):
        FlowFileFactory(distributor=world.distributor, period=dt.date(2025, month, 1))
    client = _client(world.user)
    client.get(reverse("flow:file_list"))
    # session, user, roles, nav, visibility (commercial role + assignments), count, page
    with django_assert_max_num_queries(14):
        response = client.get(reverse("flow:file_list"))
    assert response.status_code == 200 and len(response.context["table"].page.object_list) == 12


def test_unmatched_page_query_count_does_not_grow(
    world: FlowWorld, django_assert_max_num_queries: Any
) -> None:
    file = FlowFileFactory(distributor=world.distributor)
    for i in range(20):
        FlowRecordFactory(file=file, institution=None, customer_name=f"某医院{i}")
    client = _client(world.user)
    client.get(reverse("flow:unmatched"))
    with django_assert_max_num_queries(14):
        response = client.get(reverse("flow:unmatched"))
    assert len(response.context["rows"]) == 20
