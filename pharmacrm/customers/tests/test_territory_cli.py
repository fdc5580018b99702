"""`pharmacrm territories`: the same services from the shell, refusals exit with the message and change nothing."""

from __future__ import annotations

import datetime as dt
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from pharmacrm.core.models import TerritoryRule
from pharmacrm.core.testing import Personas
from pharmacrm.customers.models import Institution
from pharmacrm.customers.tests.factories import InstitutionFactory
from pharmacrm.customers.tests.test_territory_history import Unchanged, timeline

pytestmark = pytest.mark.django_db

TODAY = timezone.localdate()


def territories(*args: str) -> str:
    out = StringIO()
    call_command("territories", *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def hospital(personas: Personas) -> Institution:
    return InstitutionFactory(name="北京协和医院", external_id="H1", territory=personas.own_territory)


def test_an_admin_backdates_a_move_from_the_shell(personas: Personas, hospital: Institution) -> None:
    day = TODAY - dt.timedelta(days=7)
    out = territories(
        "move",
        "H1",
        "--territory",
        "COL",
        "--user",
        "admin",
        "--effective",
        day.isoformat(),
        "--reason",
        "补录",
    )
    assert f"moved from {day.isoformat()}; re-attribution queued" in out
    assert f"{day.isoformat()} – now        COL 同事辖区  管理员 补录" in out
    assert timeline(hospital) == [("OWN", None, day - dt.timedelta(days=1)), ("COL", day, None)]
    assert "unchanged" in territories(
        "move",
        f"#{hospital.pk}",
        "--territory",
        "COL",
        "--user",
        "admin",
        "--effective",
        day.isoformat(),
        "--reason",
        "补录",
    )


def test_a_refused_move_exits_with_the_message_and_changes_nothing(
    personas: Personas, hospital: Institution
) -> None:
    unchanged = Unchanged()
    with pytest.raises(CommandError, match="只有系统管理员可以把辖区调整的生效日期定在今天以前。"):
        territories(
            "move",
            "H1",
            "--territory",
            "OWN",
            "--user",
            "dm",
            "--effective",
            "2025-01-01",
            "--reason",
            "补录",
        )
    with pytest.raises(CommandError, match="not found, or not visible to 赵代表"):
        territories("move", "H1", "--territory", "OUT", "--user", "outsider")
    unchanged.check()


def test_a_rule_from_the_shell_moves_the_area(personas: Personas) -> None:
    clinic = InstitutionFactory(name="社区诊所", kind="clinic", grade="none")
    assert timeline(clinic) == []
    assert "rule: 同事辖区: 北京市北京市" in territories("rule", "11", "--city", "1101", "--territory", "COL")
    assert timeline(clinic) == [("COL", None, None)]  # its first territory, since the beginning
    territories("unrule", "11", "--city", "1101", "--user", "admin")
    assert not TerritoryRule.objects.exists()
    # No territory from today: its period ends yesterday.
    yesterday = (TODAY - dt.timedelta(days=1)).isoformat()
    assert f" beginning – {yesterday} COL 同事辖区" in territories("history", f"#{clinic.pk}")
    with pytest.raises(CommandError, match="只有系统管理员可以修改辖区规则。"):
        territories("rule", "11", "--territory", "COL", "--user", "director")
