"""Institutions' territory history: every path that moves an institution records it, refusals change nothing."""

from __future__ import annotations

import datetime as dt
import importlib
from typing import Any

import pytest
from django.apps import apps
from django.db import IntegrityError, transaction
from django.utils import timezone

from pharmacrm.core.errors import DomainError, NotAllowed
from pharmacrm.core.models import Division, TerritoryRule
from pharmacrm.core.testing import Personas
from pharmacrm.core.tests.factories import TerritoryFactory
from pharmacrm.customers import merge, services, territory_history
from pharmacrm.customers.models import Institution, InstitutionTerritoryPeriod
from pharmacrm.customers.tests.factories import InstitutionFactory
from pharmacrm.customers.tests.import_helpers import institutions_csv, run

pytestmark = pytest.mark.django_db

P = InstitutionTerritoryPeriod
TODAY = timezone.localdate()
YESTERDAY = TODAY - dt.timedelta(days=1)


def timeline(institution: Institution) -> list[tuple[str, dt.date | None, dt.date | None]]:
    """(territory code, from, to), oldest first."""
    rows = P.objects.filter(institution=institution).select_related("territory")
    return sorted(
        ((p.territory.code, p.valid_from, p.valid_to) for p in rows), key=lambda r: r[1] or dt.date.min
    )


class Unchanged:
    """Periods and their history rows, and institutions and theirs, as they were: a refusal wrote nothing."""

    def __init__(self) -> None:
        self.before = self.snapshot()

    @staticmethod
    def snapshot() -> tuple[Any, ...]:
        return (
            sorted(P.objects.values_list("pk", "territory_id", "valid_from", "valid_to"), key=str),
            P.history.count(),  # type: ignore[attr-defined]
            sorted(Institution.objects.values_list("pk", "territory_id")),
            Institution.history.count(),  # type: ignore[attr-defined]
        )

    def check(self) -> None:
        assert self.snapshot() == self.before


@pytest.fixture
def moves(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """What the move listeners are told (after commit)."""
    heard: list[dict[str, Any]] = []
    monkeypatch.setattr(territory_history, "_move_listeners", [lambda **kw: heard.append(kw)])
    return heard


@pytest.fixture
def hospital(personas: Personas) -> Institution:
    return InstitutionFactory(name="北京协和医院", territory=personas.own_territory)


def test_a_new_institution_is_in_its_territory_since_the_beginning(personas: Personas, moves: list) -> None:
    inst = services.create_institution(
        actor=personas.owner,
        name="北京天坛医院",
        kind="hospital",
        province="11",
        territory=personas.own_territory,
    )
    assert timeline(inst) == [("OWN", None, None)]
    record = P.history.get(institution_id=inst.pk)  # type: ignore[attr-defined]
    assert (record.history_type, record.history_user) == ("+", personas.owner)
    assert moves == []  # a new institution has no sales to re-attribute


def test_changing_the_territory_is_a_move_from_today(
    personas: Personas, hospital: Institution, moves: list, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        services.update_institution(
            actor=personas.district_manager,
            institution=hospital,
            changes={"territory": personas.colleague_territory},
        )
    assert timeline(hospital) == [("OWN", None, YESTERDAY), ("COL", TODAY, None)]
    new = P.objects.get(institution=hospital, territory=personas.colleague_territory)
    assert new.recorded_by == personas.district_manager
    assert moves == [{"institution_ids": [hospital.pk], "since": TODAY}]
    # Visibility follows the current territory at once: the owner no longer sees it, the colleague does.
    assert not Institution.objects.filter(pk=hospital.pk, territory=personas.own_territory).exists()


def test_recording_the_same_move_again_changes_nothing(
    personas: Personas, hospital: Institution, moves: list
) -> None:
    services.move_institution(
        actor=personas.admin, institution=hospital, territory=personas.colleague_territory
    )
    moves.clear()
    unchanged = Unchanged()
    result = services.move_institution(
        actor=personas.admin, institution=hospital, territory=personas.colleague_territory
    )
    assert result.moved is False
    unchanged.check()
    assert moves == []


def test_an_admin_backdates_a_move_with_a_reason(
    personas: Personas, hospital: Institution, moves: list, django_capture_on_commit_callbacks: Any
) -> None:
    day = TODAY - dt.timedelta(days=40)
    with django_capture_on_commit_callbacks(execute=True):
        result = services.move_institution(
            actor=personas.admin,
            institution=hospital,
            territory=personas.colleague_territory,
            effective=day,
            reason="医院划归同事辖区，系统录入晚了",
        )
    assert (result.moved, result.since) == (True, day)
    assert timeline(hospital) == [("OWN", None, day - dt.timedelta(days=1)), ("COL", day, None)]
    new = P.objects.get(institution=hospital, territory=personas.colleague_territory)
    assert (new.recorded_by, new.reason) == (personas.admin, "医院划归同事辖区，系统录入晚了")
    assert new.history.first().history_change_reason == "医院划归同事辖区，系统录入晚了"
    assert moves == [{"institution_ids": [hospital.pk], "since": day}]


def test_backdating_a_move_recorded_today_moves_its_start(personas: Personas, hospital: Institution) -> None:
    services.move_institution(
        actor=personas.district_manager, institution=hospital, territory=personas.colleague_territory
    )
    moved = P.objects.get(institution=hospital, territory=personas.colleague_territory)
    day = TODAY - dt.timedelta(days=10)
    services.move_institution(
        actor=personas.admin,
        institution=hospital,
        territory=personas.colleague_territory,
        effective=day,
        reason="实际 10 天前已调整",
    )
    assert timeline(hospital) == [("OWN", None, day - dt.timedelta(days=1)), ("COL", day, None)]
    # The same period, its start corrected (the audit trail reads "changed", not deleted and re-created).
    assert P.objects.get(institution=hospital, territory=personas.colleague_territory).pk == moved.pk
    assert moved.history.first().history_type == "~"


def test_backdating_over_a_later_move_replaces_it(personas: Personas, hospital: Institution) -> None:
    third = TerritoryFactory(code="THIRD", org_unit=personas.team_n1a)
    services.move_institution(
        actor=personas.admin,
        institution=hospital,
        territory=personas.colleague_territory,
        effective=TODAY - dt.timedelta(days=5),
        reason="调整",
    )
    early = TODAY - dt.timedelta(days=30)
    services.move_institution(
        actor=personas.admin, institution=hospital, territory=third, effective=early, reason="更正"
    )
    assert timeline(hospital) == [("OWN", None, early - dt.timedelta(days=1)), ("THIRD", early, None)]
    assert P.history.filter(territory=personas.colleague_territory, history_type="-").count() == 1  # type: ignore[attr-defined]


@pytest.mark.parametrize("persona", ["owner", "district_manager", "director"])
def test_only_an_admin_may_backdate_and_nothing_changes(
    personas: Personas, hospital: Institution, persona: str
) -> None:
    unchanged = Unchanged()
    with pytest.raises(NotAllowed) as refused:
        services.move_institution(
            actor=personas[persona],
            institution=hospital,
            territory=personas.colleague_territory,
            effective=TODAY - dt.timedelta(days=3),
            reason="补录",
        )
    assert refused.value.message == "只有系统管理员可以把辖区调整的生效日期定在今天以前。"
    assert list(refused.value.fields) == ["effective"]
    unchanged.check()


def test_a_backdated_move_without_a_reason_or_in_the_future_is_refused(
    personas: Personas, hospital: Institution
) -> None:
    unchanged = Unchanged()
    with pytest.raises(DomainError) as no_reason:
        services.move_institution(
            actor=personas.admin,
            institution=hospital,
            territory=personas.colleague_territory,
            effective=TODAY - dt.timedelta(days=3),
        )
    assert no_reason.value.message == "生效日期早于今天（追溯调整）时须填写原因。"
    assert list(no_reason.value.fields) == ["reason"]
    tomorrow = TODAY + dt.timedelta(days=1)
    with pytest.raises(DomainError) as future:
        services.move_institution(
            actor=personas.admin,
            institution=hospital,
            territory=personas.colleague_territory,
            effective=tomorrow,
        )
    assert future.value.message == f"生效日期 {tomorrow} 晚于今天（{TODAY}）：辖区调整只能从今天或以前生效。"
    unchanged.check()


def test_a_rep_cannot_move_an_institution_into_a_territory_they_do_not_cover(
    personas: Personas, hospital: Institution
) -> None:
    unchanged = Unchanged()
    with pytest.raises(DomainError) as refused:
        services.move_institution(
            actor=personas.owner, institution=hospital, territory=personas.outside_territory
        )
    assert refused.value.message == f"辖区不存在或无权查看：{personas.outside_territory.pk}"
    unchanged.check()


# --- Rules, area changes, imports, merges -------------------------------------------------------------


def test_a_territory_rule_moves_the_institutions_without_a_territory_of_their_own(
    personas: Personas, moves: list, django_capture_on_commit_callbacks: Any
) -> None:
    rule = TerritoryRule.objects.create(territory=personas.own_territory, province_id="11", city_id="1101")
    clinic = InstitutionFactory(name="社区诊所", kind="clinic", grade="none")
    own = InstitutionFactory(name="自有辖区医院", territory=personas.outside_territory)
    assert timeline(clinic) == [("OWN", None, None)]
    with django_capture_on_commit_callbacks(execute=True):
        territory_history.set_territory_rule(
            actor=personas.admin, territory=personas.colleague_territory, province="11", city="1101"
        )
    rule.refresh_from_db()
    assert rule.territory == personas.colleague_territory
    assert timeline(clinic) == [("OWN", None, YESTERDAY), ("COL", TODAY, None)]
    assert timeline(own) == [("OUT", None, None)]
    assert moves == [{"institution_ids": [clinic.pk], "since": TODAY}]
    # Removing the rule leaves the clinic in no territory from today: the period that began today goes.
    territory_history.remove_territory_rule(actor=personas.admin, rule=rule)
    assert timeline(clinic) == [("OWN", None, YESTERDAY)]
    assert not TerritoryRule.objects.filter(pk=rule.pk).exists()


def test_only_an_admin_changes_territory_rules(personas: Personas) -> None:
    unchanged = Unchanged()
    rules = TerritoryRule.objects.count()
    with pytest.raises(NotAllowed) as refused:
        territory_history.set_territory_rule(
            actor=personas.director, territory=personas.own_territory, province="11"
        )
    assert refused.value.message == "只有系统管理员可以修改辖区规则。"
    assert TerritoryRule.objects.count() == rules
    unchanged.check()


def test_a_city_outside_the_province_is_refused(personas: Personas) -> None:
    Division.objects.get_or_create(code="31", defaults={"name": "上海市", "level": "province"})
    with pytest.raises(DomainError) as refused:
        territory_history.set_territory_rule(
            actor=personas.admin, territory=personas.own_territory, province="31", city="1101"
        )
    assert refused.value.message == "城市“1101”不属于“上海市”。"
    assert not TerritoryRule.objects.exists()


def test_moving_an_institution_to_another_city_moves_it_to_that_citys_rule(personas: Personas) -> None:
    tianjin_province = Division.objects.get(code="12")
    tianjin = Division.objects.get(code="1201")
    TerritoryRule.objects.create(territory=personas.own_territory, province_id="11", city_id="1101")
    TerritoryRule.objects.create(
        territory=personas.outside_territory, province=tianjin_province, city=tianjin
    )
    clinic = InstitutionFactory(name="社区诊所", kind="clinic", grade="none")
    services.update_institution(
        actor=personas.admin, institution=clinic, changes={"province": "12", "city": "1201"}
    )
    assert timeline(clinic) == [("OWN", None, YESTERDAY), ("OUT", TODAY, None)]


def test_an_import_records_new_institutions_and_moves(personas: Personas, moves: list) -> None:
    TerritoryRule.objects.create(territory=personas.own_territory, province_id="11")
    header = ["外部编码", "名称", "类型", "省", "辖区"]
    from pharmacrm.customers.tests.import_helpers import csv_bytes

    report = run("institutions", csv_bytes([header, ["H1", "北京协和医院", "医院", "北京市", ""]]))
    assert report.ok, list(report.lines())
    inst = Institution.objects.get(external_id="H1")
    assert timeline(inst) == [("OWN", None, None)]
    report = run("institutions", csv_bytes([header, ["H1", "北京协和医院", "医院", "北京市", "COL"]]))
    assert (report.updated, report.ok) == (1, True)
    assert timeline(inst) == [("OWN", None, YESTERDAY), ("COL", TODAY, None)]
    assert P.objects.get(institution=inst, territory=personas.colleague_territory).reason == "导入"
    # The same file again: nothing moves.
    unchanged = Unchanged()
    run("institutions", csv_bytes([header, ["H1", "北京协和医院", "医院", "北京市", "COL"]]))
    unchanged.check()


def test_a_refused_import_records_no_period() -> None:
    unchanged = Unchanged()
    report = run("institutions", institutions_csv(["X1", "某医院", "医院", "三级甲等", "火星", "", ""]))
    assert not report.ok
    unchanged.check()


def test_a_merge_keeps_the_survivors_history_and_re_attributes_the_survivor(
    personas: Personas, moves: list, django_capture_on_commit_callbacks: Any
) -> None:
    kept = InstitutionFactory(name="北京协和医院", territory=personas.own_territory)
    gone = InstitutionFactory(name="协和医院", territory=personas.colleague_territory)
    with django_capture_on_commit_callbacks(execute=True):
        merge.merge_institutions(
            actor=personas.admin, survivor_id=kept.pk, merged_id=gone.pk, choices={"territory": "merged"}
        )
    assert timeline(kept) == [("OWN", None, YESTERDAY), ("COL", TODAY, None)]
    assert not P.objects.filter(institution_id=gone.pk).exists()
    deleted = P.history.filter(institution_id=gone.pk, history_type="-").get()  # type: ignore[attr-defined]
    assert deleted.history_change_reason.startswith("合并：协和医院")
    # The merged institution's sales now follow the survivor's history: all of them, every date.
    assert moves == [{"institution_ids": [kept.pk], "since": None}]


# --- The database and the backfill ---------------------------------------------------------------------


def test_the_database_refuses_overlapping_periods(personas: Personas, hospital: Institution) -> None:
    """An exclusion constraint on PostgreSQL, triggers on SQLite: an overlap never reaches the table."""
    with pytest.raises(IntegrityError), transaction.atomic():
        P.objects.create(
            institution=hospital,
            territory=personas.colleague_territory,
            valid_from=dt.date(2020, 1, 1),
            valid_to=dt.date(2020, 12, 31),
        )
    first = P.objects.get(institution=hospital)
    P.objects.filter(pk=first.pk).update(valid_to=dt.date(2019, 12, 31))
    later = P.objects.create(
        institution=hospital, territory=personas.colleague_territory, valid_from=dt.date(2020, 1, 1)
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        P.objects.filter(pk=later.pk).update(valid_from=dt.date(2019, 12, 31))
    with pytest.raises(IntegrityError), transaction.atomic():
        P.objects.filter(pk=first.pk).update(valid_to=dt.date(2020, 6, 30))


def test_the_backfill_gives_every_institution_its_resolved_territory_since_the_beginning(
    personas: Personas,
) -> None:
    TerritoryRule.objects.create(territory=personas.colleague_territory, province_id="11", city_id="1101")
    own = InstitutionFactory(territory=personas.own_territory)
    by_rule = InstitutionFactory(kind="clinic", grade="none")
    elsewhere = InstitutionFactory(province=Division.objects.get(code="12"), city=None)
    P.objects.all().delete()
    migration = importlib.import_module("pharmacrm.customers.migrations.0007_institution_territory_periods")
    migration.backfill(apps, None)
    assert timeline(own) == [("OWN", None, None)]
    assert timeline(by_rule) == [("COL", None, None)]
    assert timeline(elsewhere) == []
