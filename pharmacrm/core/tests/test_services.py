"""Organisation writes: roles and territory coverage, each audited; refusals change nothing."""

from __future__ import annotations

import datetime as dt

import pytest

from pharmacrm.core import services, visibility
from pharmacrm.core.audit import Source, audit_context
from pharmacrm.core.errors import Conflict, DomainError, NotAllowed
from pharmacrm.core.models import OrgUnit, Role, TerritoryAssignment, UserRole
from pharmacrm.core.testing import Personas
from pharmacrm.core.tests.factories import UserFactory

pytestmark = pytest.mark.django_db

ADMIN_ONLY = "只有系统管理员可以执行此操作。"
START = dt.date(2020, 1, 1)  # when the personas' coverage began


def snapshot() -> tuple[int, ...]:
    """Row and history counts that a refused write must leave alone."""
    return (
        UserRole.objects.count(),
        UserRole.history.count(),
        TerritoryAssignment.objects.count(),
        TerritoryAssignment.history.count(),
        OrgUnit.objects.count(),
        OrgUnit.history.count(),
    )


class TestSetRoles:
    def test_grants_and_removals_are_history_rows(self, personas: Personas) -> None:
        with audit_context(source=Source.CLI, actor=personas.admin):
            services.set_roles(actor=personas.admin, user=personas.owner, roles=[Role.COMMERCIAL])

        assert personas.owner.roles == {Role.COMMERCIAL}
        granted = UserRole.history.get(role=Role.COMMERCIAL)
        removed = UserRole.history.get(role=Role.REP, history_type="-")
        for record in (granted, removed):
            assert record.user_id == personas.owner.pk
            assert (record.history_user, record.history_source) == (personas.admin, Source.CLI)
        assert granted.history_type == "+"

    def test_the_scope_follows_the_new_roles(self, personas: Personas) -> None:
        assert not visibility.scope_for(personas.owner).company_wide

        services.set_roles(actor=personas.admin, user=personas.owner, roles=[Role.REP, Role.DIRECTOR])

        assert visibility.scope_for(personas.owner).company_wide

    @pytest.mark.parametrize("persona", ["director", "regional_manager", "owner", "no_role"])
    def test_only_an_admin_may_set_roles(self, personas: Personas, persona: str) -> None:
        before = snapshot()

        with pytest.raises(NotAllowed) as refused:
            services.set_roles(actor=personas[persona], user=personas[persona], roles=[Role.ADMIN])

        assert refused.value.message == ADMIN_ONLY
        assert refused.value.status == 403
        assert snapshot() == before
        assert not personas[persona].has_role(Role.ADMIN)

    def test_an_unknown_role_is_refused(self, personas: Personas) -> None:
        before = snapshot()

        with pytest.raises(DomainError) as refused:
            services.set_roles(actor=personas.admin, user=personas.owner, roles=[Role.REP, "boss"])

        assert refused.value.message == "未知角色：boss"
        assert refused.value.fields == {"roles": ["未知角色。"]}
        assert snapshot() == before

    def test_an_admin_cannot_drop_their_own_admin_role(self, personas: Personas) -> None:
        before = snapshot()

        with pytest.raises(DomainError) as refused:
            services.set_roles(actor=personas.admin, user=personas.admin, roles=[Role.DIRECTOR])

        assert refused.value.message == "不能移除自己的系统管理员角色。"
        assert snapshot() == before


class TestAssignTerritory:
    def test_a_new_primary_holder_closes_the_previous_period_the_day_before(self, personas: Personas) -> None:
        newcomer = UserFactory(username="newcomer", org_unit=personas.team_n1a, roles=[Role.REP])
        handover = dt.date(2024, 3, 1)

        with audit_context(source=Source.CLI, actor=personas.admin):
            assignment = services.assign_territory(
                actor=personas.admin, territory=personas.own_territory, user=newcomer, valid_from=handover
            )

        previous = TerritoryAssignment.objects.get(territory=personas.own_territory, user=personas.owner)
        assert previous.valid_to == dt.date(2024, 2, 29)
        assert (assignment.valid_from, assignment.valid_to, assignment.kind) == (handover, None, "primary")
        on = TerritoryAssignment.objects.filter(territory=personas.own_territory).on
        assert [a.user for a in on(dt.date(2024, 2, 29))] == [personas.owner]
        assert [a.user for a in on(handover)] == [newcomer]
        closed = TerritoryAssignment.history.get(id=previous.pk, history_type="~")
        assert [c.field for c in closed.diff_against(closed.prev_record).changes] == ["valid_to"]
        opened = TerritoryAssignment.history.get(id=assignment.pk)
        for record in (closed, opened):
            assert (record.history_user, record.history_source) == (personas.admin, Source.CLI)

    def test_a_shared_holder_leaves_the_primary_alone(self, personas: Personas) -> None:
        services.assign_territory(
            actor=personas.admin,
            territory=personas.own_territory,
            user=personas.colleague,
            valid_from=dt.date(2024, 3, 1),
            kind=TerritoryAssignment.Kind.SHARED,
        )

        assert TerritoryAssignment.objects.get(user=personas.owner).valid_to is None
        assert set(
            TerritoryAssignment.objects.filter(territory=personas.own_territory)
            .on(dt.date(2024, 3, 1))
            .values_list("user__username", flat=True)
        ) == {"owner", "colleague"}

    def test_a_same_day_overlap_is_refused_and_changes_nothing(self, personas: Personas) -> None:
        before = snapshot()

        with pytest.raises(Conflict) as refused:
            services.assign_territory(
                actor=personas.admin,
                territory=personas.own_territory,
                user=personas.colleague,
                valid_from=START,
            )

        assert refused.value.message == "本辖区 在 2020-01-01 已有主负责人 王代表。"
        assert refused.value.fields == {"valid_from": ["与现有分配重叠。"]}
        assert refused.value.status == 409
        assert snapshot() == before
        assert TerritoryAssignment.objects.get(user=personas.owner).valid_to is None

    def test_a_period_starting_before_a_later_holder_is_refused(self, personas: Personas) -> None:
        # The owner holds the territory from 2020; an open period from 2019 would overlap it.
        before = snapshot()

        with pytest.raises(Conflict) as refused:
            services.assign_territory(
                actor=personas.admin,
                territory=personas.own_territory,
                user=personas.colleague,
                valid_from=dt.date(2019, 6, 1),
            )

        assert refused.value.message == "本辖区 从 2020-01-01 起已有主负责人 王代表。"
        assert snapshot() == before

    def test_a_handover_after_a_closed_period_needs_no_change_to_it(self, personas: Personas) -> None:
        TerritoryAssignment.objects.filter(user=personas.owner).update(valid_to=dt.date(2023, 12, 31))

        services.assign_territory(
            actor=personas.admin,
            territory=personas.own_territory,
            user=personas.colleague,
            valid_from=dt.date(2024, 1, 1),
        )

        assert TerritoryAssignment.objects.get(user=personas.owner).valid_to == dt.date(2023, 12, 31)
        assert not TerritoryAssignment.history.filter(user=personas.owner, history_type="~").exists()

    @pytest.mark.parametrize("persona", ["director", "regional_manager", "district_manager", "owner"])
    def test_only_an_admin_may_assign(self, personas: Personas, persona: str) -> None:
        before = snapshot()

        with pytest.raises(NotAllowed) as refused:
            services.assign_territory(
                actor=personas[persona],
                territory=personas.own_territory,
                user=personas.colleague,
                valid_from=dt.date(2024, 3, 1),
            )

        assert refused.value.message == ADMIN_ONLY
        assert snapshot() == before

    def test_only_field_staff_may_hold_a_territory(self, personas: Personas) -> None:
        before = snapshot()

        with pytest.raises(DomainError) as refused:
            services.assign_territory(
                actor=personas.admin,
                territory=personas.own_territory,
                user=personas.district_manager,
                valid_from=dt.date(2024, 3, 1),
            )

        assert refused.value.message == "只有医药代表或商务人员可以负责辖区。"
        assert refused.value.fields == {"user": ["该用户没有医药代表或商务角色。"]}
        assert snapshot() == before

    def test_the_new_holder_sees_the_territory_at_once(self, personas: Personas) -> None:
        assert not visibility.can_see(personas.own_territory, user=personas.colleague)

        services.assign_territory(
            actor=None,
            territory=personas.own_territory,
            user=personas.colleague,
            valid_from=dt.date(2024, 3, 1),
        )

        assert visibility.can_see(personas.own_territory, user=personas.colleague)
        # The handover date is past: the previous holder (as loaded by their next request) no longer sees it.
        previous_holder = type(personas.owner).objects.get(pk=personas.owner.pk)
        assert not visibility.can_see(personas.own_territory, user=previous_holder)


class TestCreateOrgUnit:
    def test_an_admin_creates_a_team_under_a_district(self, personas: Personas) -> None:
        unit = services.create_org_unit(
            actor=personas.admin,
            name="北一B组",
            code="N1B",
            kind=OrgUnit.Kind.TEAM,
            parent=personas.district_n1,
        )

        assert unit.path == "/HQ/N/N1/N1B/"
        assert unit.history.get().history_type == "+"  # type: ignore[attr-defined]

    @pytest.mark.parametrize(
        ("kind", "parent_code", "code", "message"),
        [
            ("region", None, "X", "只有公司是顶层组织，其余组织必须有上级。"),
            ("district", "N1A", "X", "下级组织的层级必须低于上级。"),
            ("team", "N1", "N1A", "编码 N1A 已存在。"),
        ],
    )
    def test_a_bad_unit_is_refused(
        self, personas: Personas, kind: str, parent_code: str | None, code: str, message: str
    ) -> None:
        before = snapshot()
        parent = OrgUnit.objects.get(code=parent_code) if parent_code else None

        with pytest.raises(DomainError) as refused:
            services.create_org_unit(actor=personas.admin, name="新组织", code=code, kind=kind, parent=parent)

        assert refused.value.message == message
        assert snapshot() == before

    def test_only_an_admin_may_create_units(self, personas: Personas) -> None:
        before = snapshot()

        with pytest.raises(NotAllowed):
            services.create_org_unit(
                actor=personas.director, name="北一B组", code="N1B", kind="team", parent=personas.district_n1
            )

        assert snapshot() == before
