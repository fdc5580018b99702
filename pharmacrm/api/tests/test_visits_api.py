"""The visits API: the same services as the pages, the same refusals in the one error shape, visible rows only."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone

from pharmacrm.api.tests.support import assert_error, bearer_client
from pharmacrm.compliance.models import RepRegistration
from pharmacrm.core.models import Role
from pharmacrm.core.tests.factories import UserFactory
from pharmacrm.engagement import visits
from pharmacrm.engagement.models import Callback, Commitment, SafetySignal, Visit, VisitAmendment
from pharmacrm.engagement.tests.factories import CallbackFactory, CommitmentFactory
from pharmacrm.engagement.tests.visit_world import World, at, build_world, snapshot

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(personas: Any) -> World:
    return build_world(personas)


def body(world: World, **overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "institution_id": world.hospital.pk,
        "starts_at": at(world.yesterday, 10).isoformat(),
        "professional_ids": [world.doctor.pk],
        "product_ids": [world.product.pk],
        "key_message_ids": [world.message.pk],
        "feedback": "认可疗效",
        "duration_minutes": 20,
    }
    data.update(overrides)
    return data


def post(client: Any, url: str, data: dict[str, Any]) -> Any:
    return client.post(url, data, content_type="application/json")


def test_record_a_visit(world: World):
    api = bearer_client(world.rep)
    due = (timezone.localdate() + dt.timedelta(days=5)).isoformat()
    response = post(
        api,
        "/api/v1/visits",
        body(
            world,
            feedback="患者反映服药后头晕",
            commitments=[{"professional_id": world.doctor.pk, "description": "送说明书", "due_on": due}],
            needs=[{"professional_id": world.doctor.pk, "description": "想了解联合用药", "kind": "clinical"}],
        ),
    )
    assert response.status_code == 201, response.content
    data = response.json()
    assert data["visit"]["status"] == "completed" and data["visit"]["professional_ids"] == [world.doctor.pk]
    assert data["visit"]["flagged_adverse_event"] and "头晕" in data["flags"][0]
    assert Commitment.objects.get().due_on.isoformat() == due
    assert SafetySignal.objects.count() == 1


def test_plan_then_complete(world: World):
    api = bearer_client(world.rep)
    planned = post(api, "/api/v1/visits", body(world, status="planned", objective="介绍指南"))
    assert planned.status_code == 201
    visit_id = planned.json()["visit"]["id"]
    done = post(api, f"/api/v1/visits/{visit_id}/complete", {"professional_ids": [world.doctor.pk]})
    assert done.status_code == 200, done.content
    assert done.json()["visit"]["status"] == "completed"
    again = post(api, f"/api/v1/visits/{visit_id}/complete", {"professional_ids": [world.doctor.pk]})
    assert_error(again, 409, "conflict")


@pytest.mark.parametrize(
    ("overrides", "status", "code", "words"),
    [
        ({"starts_at": "2099-01-01T10:00:00+08:00"}, 400, "visit_in_future", "只能记录已发生的拜访"),
        ({"channel": "wechat"}, 422, "rule_violation", "联系须有个人信息处理依据"),
        (
            {"hospitality": [{"professional_id": 0, "kind": "meal", "amount_per_person": "450"}]},
            422,
            "rule_violation",
            "工作餐人均上限",
        ),
        ({"commitments": [{"professional_id": 0, "description": "送资料"}]}, 400, "invalid", "截止日期"),
        ({"key_message_ids": [-1]}, 400, "invalid", "关键信息"),
        ({"professional_ids": []}, 400, "invalid", "拜访对象"),
    ],
)
def test_refusals_in_the_error_shape_change_nothing(world: World, overrides, status, code, words):
    for row in ("hospitality", "commitments"):
        for item in overrides.get(row, []):
            item["professional_id"] = world.doctor.pk
    if overrides.get("key_message_ids") == [-1]:
        overrides["key_message_ids"] = [world.draft_message.pk]
    before = snapshot()
    response = post(bearer_client(world.rep), "/api/v1/visits", body(world, **overrides))
    error = assert_error(response, status, code)
    assert words in error["message"] or any(words in m for ms in error["fields"].values() for m in ms)
    assert snapshot() == before


def test_unregistered_rep_and_outside_territory(world: World):
    before = snapshot()
    outside = post(
        bearer_client(world.rep), "/api/v1/visits", body(world, institution_id=world.outside_hospital.pk)
    )
    assert_error(outside, 404, "not_found")
    RepRegistration.objects.filter(user=world.rep).delete()
    error = assert_error(post(bearer_client(world.rep), "/api/v1/visits", body(world)), 422, "rule_violation")
    assert "医药代表须备案" in error["message"]
    assert snapshot() == before


def test_overlap_refused(world: World):
    api = bearer_client(world.rep)
    assert post(api, "/api/v1/visits", body(world)).status_code == 201
    error = assert_error(post(api, "/api/v1/visits", body(world)), 409, "visit_overlap")
    assert "不能重叠" in error["message"]


def test_edit_window_and_amendments(world: World):
    recorded_at = timezone.now() - dt.timedelta(days=3)
    outcome = visits.record_visit(
        actor=world.rep,
        institution=world.hospital,
        starts_at=recorded_at - dt.timedelta(hours=2),
        report=world.report(),
        now=recorded_at,
    )
    api = bearer_client(world.rep)
    locked = api.patch(
        f"/api/v1/visits/{outcome.visit.pk}",
        {"professional_ids": [world.doctor.pk], "feedback": "改"},
        content_type="application/json",
    )
    assert "48 小时" in assert_error(locked, 409, "visit_locked")["message"]
    no_reason = post(
        api, f"/api/v1/visits/{outcome.visit.pk}/amendments", {"reason": "", "changes": {"notes": "x"}}
    )
    assert "reason" in assert_error(no_reason, 400, "invalid")["fields"]
    assert not VisitAmendment.objects.exists()
    amended = post(
        api,
        f"/api/v1/visits/{outcome.visit.pk}/amendments",
        {"reason": "补充", "changes": {"notes": "补充备注"}},
    )
    assert amended.status_code == 201
    assert amended.json()["amendment"]["changes"] == {"notes": {"old": "下次带病例资料", "new": "补充备注"}}
    detail = api.get(f"/api/v1/visits/{outcome.visit.pk}").json()
    assert detail["locked"] and detail["notes"] == "补充备注" and len(detail["amendments"]) == 1


def test_unknown_fields_are_refused(world: World):
    response = post(bearer_client(world.rep), "/api/v1/visits", body(world, prescriptions=12))
    assert "prescriptions" in assert_error(response, 422, "validation_error")["fields"]


def test_list_is_visible_only_and_paginated(world: World, django_assert_max_num_queries):
    for day in range(1, 8):
        visits.record_visit(
            actor=world.rep,
            institution=world.hospital,
            starts_at=at(timezone.localdate() - dt.timedelta(days=day), 10),
            report=world.report(),
        )
    api = bearer_client(world.rep)
    # token, user, roles, scope, page of visits, and one prefetch each for professionals,
    # products and key messages; the token's last use is written once a minute at most.
    with django_assert_max_num_queries(10):
        page = api.get("/api/v1/visits?page_size=5").json()
    assert len(page["results"]) == 5 and page["next"]
    rest = api.get(page["next"]).json()
    assert len(rest["results"]) == 2
    assert bearer_client(world.personas.outsider).get("/api/v1/visits").json()["results"] == []
    assert (
        len(
            bearer_client(world.personas.district_manager)
            .get("/api/v1/visits?page_size=50")
            .json()["results"]
        )
        == 7
    )


def test_commitments_api(world: World):
    api = bearer_client(world.rep)
    refused = post(api, "/api/v1/commitments", {"professional_id": world.doctor.pk, "description": "送资料"})
    assert "截止日期" in assert_error(refused, 400, "invalid")["message"]
    made = post(
        api,
        "/api/v1/commitments",
        {
            "professional_id": world.doctor.pk,
            "description": "送资料",
            "due_on": timezone.localdate().isoformat(),
        },
    )
    assert made.status_code == 201
    cid = made.json()["id"]
    assert_error(post(api, f"/api/v1/commitments/{cid}/close", {"how_kept": " "}), 400, "invalid")
    closed = post(api, f"/api/v1/commitments/{cid}/close", {"how_kept": "已送达"})
    assert closed.json()["status"] == "done"
    CommitmentFactory(
        professional=world.doctor, owner=world.rep, due_on=timezone.localdate() - dt.timedelta(days=1)
    )
    overdue = api.get("/api/v1/commitments?overdue=true").json()["results"]
    assert len(overdue) == 1
    assert_error(bearer_client(world.personas.outsider).get(f"/api/v1/commitments/{cid}"), 404, "not_found")


def test_callbacks_api(world: World):
    callback = CallbackFactory(professional=world.doctor, owner=world.rep)
    api = bearer_client(world.rep)
    assert [c["id"] for c in api.get("/api/v1/callbacks?status=due").json()["results"]] == [callback.pk]
    refused = post(api, f"/api/v1/callbacks/{callback.pk}/complete", {"outcome": "好", "satisfaction": 9})
    assert "satisfaction" in assert_error(refused, 400, "invalid")["fields"]
    done = post(api, f"/api/v1/callbacks/{callback.pk}/complete", {"outcome": "好", "satisfaction": 5})
    assert done.json()["status"] == "done"
    assert Callback.objects.get().satisfaction == 5


def test_safety_signals_api(world: World):
    visits.record_visit(
        actor=world.rep,
        institution=world.hospital,
        starts_at=at(world.yesterday, 10),
        report=world.report(notes="过敏"),
    )
    signal = SafetySignal.objects.get()
    forbidden = post(
        bearer_client(world.rep), f"/api/v1/safety-signals/{signal.pk}/triage", {"status": "triaged"}
    )
    assert_error(forbidden, 403, "forbidden")
    service = bearer_client(UserFactory(username="svc", roles=[Role.SERVICE]))
    assert [s["id"] for s in service.get("/api/v1/safety-signals?status=new").json()["results"]] == [
        signal.pk
    ]
    done = post(
        service, f"/api/v1/safety-signals/{signal.pk}/triage", {"status": "reported", "note": "已上报"}
    )
    assert done.status_code == 200 and done.json()["status"] == "reported"


def test_coaching_api(world: World):
    manager = world.personas.district_manager
    visit = visits.record_visit(
        actor=world.rep,
        institution=world.hospital,
        starts_at=at(world.yesterday, 10),
        report=world.report(co_visitor_id=manager.pk),
    ).visit
    scores = {"preparation": 4, "messaging": 5, "listening": 3, "compliance": 5}
    assert_error(
        post(bearer_client(world.rep), f"/api/v1/visits/{visit.pk}/coaching", scores), 403, "forbidden"
    )
    bad = post(bearer_client(manager), f"/api/v1/visits/{visit.pk}/coaching", {**scores, "listening": 0})
    assert "listening" in assert_error(bad, 400, "invalid")["fields"]
    ok = post(
        bearer_client(manager), f"/api/v1/visits/{visit.pk}/coaching", {**scores, "strengths": "准备充分"}
    )
    assert ok.status_code == 200 and ok.json()["coach_id"] == manager.pk
    assert Visit.objects.get().coaching.strengths == "准备充分"
