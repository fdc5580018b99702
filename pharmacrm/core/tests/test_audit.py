"""The audit trail: every audited write names who, through which channel, and what changed."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from pharmacrm.core import services
from pharmacrm.core.audit import Source, audit_context, current_state, history_entries
from pharmacrm.core.models import OrgUnit, Territory, User
from pharmacrm.core.testing import Personas
from pharmacrm.core.tests.factories import TerritoryFactory

pytestmark = pytest.mark.django_db


def latest(model_history: object) -> object:
    return model_history.order_by("-history_id").first()  # type: ignore[attr-defined]


class TestChannels:
    def test_a_page_records_the_user_the_ui_and_the_address(self, client: Client, personas: Personas) -> None:
        client.force_login(personas.owner)

        client.post(reverse("web:language"), {"language": "en"})

        record = latest(User.history.filter(id=personas.owner.pk))
        assert record.history_user == personas.owner  # type: ignore[attr-defined]
        assert record.history_source == Source.UI  # type: ignore[attr-defined]
        assert record.history_ip == "127.0.0.1"  # type: ignore[attr-defined]
        entry = history_entries(personas.owner)[0]
        assert [(c.field, c.old, c.new) for c in entry.changes] == [("language", "zh-hans", "en")]
        assert entry.changes[0].label == "界面语言"

    def test_the_api_records_the_user_and_the_api(self, client: Client, personas: Personas) -> None:
        from pharmacrm.core.models import ApiToken
        from pharmacrm.core.tests.factories import PASSWORD

        client.post(
            "/api/v1/auth/token", {"username": "owner", "password": PASSWORD}, content_type="application/json"
        )

        record = ApiToken.history.get()
        assert (record.history_user, record.history_source) == (personas.owner, Source.API)

    def test_an_import_records_the_importing_user(self, personas: Personas) -> None:
        # (Core imports no other app, so an org unit stands in for an imported row here; the
        # customers app's own import tests cover institutions.)
        with audit_context(source=Source.IMPORT, actor=personas.admin):
            unit = services.create_org_unit(
                actor=personas.admin,
                name="北一B组",
                code="N1B",
                kind=OrgUnit.Kind.TEAM,
                parent=personas.district_n1,
            )

        record = unit.history.get()  # type: ignore[attr-defined]
        assert (record.history_user, record.history_source, record.history_type) == (
            personas.admin,
            Source.IMPORT,
            "+",
        )

    def test_a_command_records_the_operator_and_the_cli(self, personas: Personas) -> None:
        with audit_context(source=Source.CLI, actor=personas.admin):
            territory = TerritoryFactory(org_unit=personas.team_n1a, name="新辖区")
            territory.name = "新辖区（调整）"
            territory.save()

        change, creation = territory.history.order_by("-history_id")  # type: ignore[attr-defined]
        assert (change.history_user, change.history_source) == (personas.admin, Source.CLI)
        assert (creation.history_user, creation.history_source) == (personas.admin, Source.CLI)
        assert [(c.field, c.old, c.new) for c in change.diff_against(creation).changes] == [
            ("name", "新辖区", "新辖区（调整）")
        ]

    def test_without_a_context_the_write_is_the_systems(self, personas: Personas) -> None:
        unit = OrgUnit.objects.create(
            name="临时组", code="TMP", kind=OrgUnit.Kind.TEAM, parent=personas.district_n1
        )

        record = unit.history.get()  # type: ignore[attr-defined]
        assert record.history_user is None
        assert record.history_source == Source.SYSTEM

    def test_a_deletion_is_recorded_with_its_actor(self, personas: Personas) -> None:
        territory = TerritoryFactory(org_unit=personas.team_n1a)
        pk = territory.pk

        with audit_context(source=Source.UI, actor=personas.director):
            territory.delete()

        record = Territory.history.filter(id=pk).order_by("-history_id").first()
        assert record is not None
        assert (record.history_type, record.history_user, record.history_source) == (
            "-",
            personas.director,
            Source.UI,
        )


class TestAuditContext:
    def test_the_explicit_actor_wins_over_the_request_user(self, client: Client, personas: Personas) -> None:
        # A task or import started from a page attributes its writes to whoever it names.
        with audit_context(source=Source.SYSTEM, actor=personas.admin):
            territory = TerritoryFactory(org_unit=personas.team_n1a)

        record = territory.history.get()  # type: ignore[attr-defined]
        assert record.history_user == personas.admin

    def test_contexts_nest_and_restore(self, personas: Personas) -> None:
        assert current_state() is None
        with audit_context(source=Source.IMPORT, actor=personas.admin):
            with audit_context(source=Source.CLI, actor=personas.director, ip="10.0.0.1"):
                state = current_state()
                assert state is not None
                assert (state.source, state.actor, state.ip) == (Source.CLI, personas.director, "10.0.0.1")
            state = current_state()
            assert state is not None
            assert (state.source, state.actor) == (Source.IMPORT, personas.admin)
        assert current_state() is None

    def test_the_context_is_reset_after_an_error(self, personas: Personas) -> None:
        with pytest.raises(RuntimeError), audit_context(source=Source.CLI, actor=personas.admin):
            raise RuntimeError("boom")

        assert current_state() is None
        assert Territory.objects.count() == 3  # the personas' only


class TestHistoryEntries:
    def test_newest_first_with_the_fields_each_change_touched(self, personas: Personas) -> None:
        territory = TerritoryFactory(org_unit=personas.team_n1a, name="甲", code="JIA")
        territory.name = "乙"
        territory.save()
        territory.is_active = False
        territory.code = "YI"
        territory.save()

        entries = history_entries(territory)

        assert [e.record.history_type for e in entries] == ["~", "~", "+"]
        assert {(c.field, c.old, c.new) for c in entries[0].changes} == {
            ("is_active", True, False),
            ("code", "JIA", "YI"),
        }
        assert [(c.label, c.old, c.new) for c in entries[1].changes] == [("名称", "甲", "乙")]
        assert entries[2].changes == []

    def test_the_limit_keeps_the_oldest_shown_entrys_diff(self, personas: Personas) -> None:
        territory = TerritoryFactory(org_unit=personas.team_n1a, name="v0")
        for n in range(1, 4):
            territory.name = f"v{n}"
            territory.save()

        entries = history_entries(territory, limit=2)

        assert len(entries) == 2
        assert [(c.old, c.new) for c in entries[1].changes] == [("v1", "v2")]
