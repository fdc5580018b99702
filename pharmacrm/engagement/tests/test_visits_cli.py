"""The visit and follow-up commands call the same services: refusals name the rule and write nothing."""

from __future__ import annotations

import datetime as dt
import json
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from pharmacrm.compliance.models import ComplianceEvent
from pharmacrm.engagement.models import Commitment, Visit
from pharmacrm.engagement.tests.factories import CommitmentFactory
from pharmacrm.engagement.tests.visit_world import World, at, snapshot

pytestmark = pytest.mark.django_db


def write(tmp_path: Path, world: World, **overrides: object) -> str:
    data = {
        "institution_id": world.hospital.pk,
        "starts_at": at(world.yesterday, 10).isoformat(),
        "professional_ids": [world.doctor.pk],
        "product_ids": [world.product.pk],
        "key_message_ids": [world.message.pk],
        "feedback": "认可",
        "commitments": [
            {
                "professional_id": world.doctor.pk,
                "description": "送资料",
                "due_on": timezone.localdate().isoformat(),
            }
        ],
    }
    data.update(overrides)
    path = tmp_path / "visit.json"
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return str(path)


def test_record_from_json_and_list(world: World, tmp_path: Path):
    out = StringIO()
    call_command("visits", "record", "--user", "owner", "--file", write(tmp_path, world), stdout=out)
    visit = Visit.objects.get()
    assert f"visit {visit.pk}" in out.getvalue()
    assert visit.history.first().history_source == "cli"
    assert Commitment.objects.get().visit == visit
    listed = StringIO()
    call_command("visits", "list", "--user", "owner", stdout=listed)
    assert "协和医院" in listed.getvalue()


def test_refused_from_the_shell_writes_nothing(world: World, tmp_path: Path):
    before = snapshot()
    path = write(tmp_path, world, hospitality=[{"professional_id": world.doctor.pk, "kind": "card"}])
    with pytest.raises(CommandError, match="禁止现金、卡券、礼品与娱乐"):
        call_command("visits", "record", "--user", "owner", "--file", path)
    assert snapshot() == before
    assert ComplianceEvent.objects.filter(kind="refused", rule="forbidden_gift_kinds").count() == 1


def test_followups_command_is_idempotent(world: World):
    CommitmentFactory(
        professional=world.doctor, owner=world.rep, due_on=timezone.localdate() - dt.timedelta(days=1)
    )
    first, second = StringIO(), StringIO()
    call_command("followups", stdout=first)
    call_command("followups", stdout=second)
    assert "1 reminded, 1 escalated" in first.getvalue()
    assert "0 reminded, 0 escalated" in second.getvalue()
