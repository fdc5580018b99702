"""统方 (RULES_CN §2): flow data never carries per-professional figures, reps see no flow at all,
and a per-professional estimate is only for the roles the compliance policy allows."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from django.apps import apps
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from pharmacrm.commercial.sales import sales_totals
from pharmacrm.compliance.models import PolicyRule, PolicySet
from pharmacrm.core.exports.base import _discover, _specs
from pharmacrm.core.models import Role
from pharmacrm.core.testing import Personas
from pharmacrm.core.tests.factories import UserFactory
from pharmacrm.customers.tests.factories import InstitutionFactory
from pharmacrm.flow.attribution import attribute_records
from pharmacrm.flow.sales import professional_estimate_decision
from pharmacrm.flow.tests.factories import DistributorFactory, FlowFileFactory, FlowRecordFactory

pytestmark = pytest.mark.django_db
PER_PERSON = re.compile(r"professional|doctor|physician|prescri|department|医生|科室", re.IGNORECASE)


def test_no_flow_model_holds_a_per_professional_field() -> None:
    from pharmacrm.customers.models import Department, Professional

    models = list(apps.get_app_config("flow").get_models())
    assert len(models) >= 6
    for model in models:
        for f in model._meta.get_fields():
            assert getattr(f, "related_model", None) not in (Professional, Department), (
                f"{model.__name__}.{f.name}"
            )
            assert not PER_PERSON.search(f.name), f"{model.__name__}.{f.name}"
            assert not PER_PERSON.search(str(getattr(f, "verbose_name", ""))), f"{model.__name__}.{f.name}"


def _properties(schema: dict[str, Any], components: dict[str, Any], seen: set[str]) -> set[str]:
    names: set[str] = set()
    ref = schema.get("$ref")
    if ref:
        name = ref.rsplit("/", 1)[-1]
        if name in seen:
            return names
        seen.add(name)
        return _properties(components.get(name, {}), components, seen)
    for key, sub in (schema.get("properties") or {}).items():
        names.add(key)
        names |= _properties(sub, components, seen)
    for key in ("items", "additionalProperties"):
        if isinstance(schema.get(key), dict):
            names |= _properties(schema[key], components, seen)
    for key in ("anyOf", "allOf", "oneOf"):
        for sub in schema.get(key, []):
            names |= _properties(sub, components, seen)
    return names


def test_no_flow_api_response_or_export_has_a_per_professional_property(personas: Personas) -> None:
    client = Client()
    client.force_login(personas.director)
    spec = client.get("/api/v1/openapi.json").json()
    components = spec["components"]["schemas"]
    flow_paths = {p: ops for p, ops in spec["paths"].items() if p.startswith("/api/v1/flow")}
    assert flow_paths, "the flow API is mounted"
    names: set[str] = set()
    for ops in flow_paths.values():
        for op in ops.values():
            for response in op.get("responses", {}).values():
                for content in response.get("content", {}).values():
                    names |= _properties(content.get("schema", {}), components, set())
    assert "institution_id" in names  # the finest level there is
    assert not {n for n in names if PER_PERSON.search(n)}
    _discover()
    flow_models = set(apps.get_app_config("flow").get_models())
    for export in (s for s in _specs.values() if s.model in flow_models):
        for column in export.columns(personas.director):
            assert not PER_PERSON.search(f"{column.name} {column.header}"), (export.name, column.name)


@pytest.fixture
def flow_in_own_territory(personas: Personas) -> Any:
    """A month of flow to a hospital in the owner's (a rep's) own territory."""
    distributor = DistributorFactory(org_unit=personas.team_n1a)
    file = FlowFileFactory(distributor=distributor, period=dt.date(2026, 1, 1))
    record = FlowRecordFactory(file=file, institution=InstitutionFactory(territory=personas.own_territory))
    attribute_records(record_ids=[record.pk])
    record.refresh_from_db()
    assert record.rep_id == personas.owner.pk  # attributed to the rep: still not shown to the rep
    return record


def _flow_page_urls(file_id: int, record_id: int) -> list[str]:
    """Every page of the flow app, with ids filled in (a page added later is covered too)."""
    urls: list[str] = []
    resolver = get_resolver()
    flow = next(
        (p for p in resolver.url_patterns if isinstance(p, URLResolver) and p.namespace == "flow"), None
    )
    if flow is None:
        return urls
    prefix = "/" + str(flow.pattern).lstrip("^")
    for pattern in flow.url_patterns:
        if not isinstance(pattern, URLPattern):
            continue
        route = str(pattern.pattern)
        route = re.sub(r"<int:(file_id|pk|id)>", str(file_id), route)
        route = re.sub(r"<int:record_id>", str(record_id), route)
        if "<" not in route:
            urls.append(prefix + route)
    return urls


@pytest.mark.parametrize("persona", ["owner", "colleague", "outsider"])
def test_a_rep_gets_no_flow_page_api_or_sales_figure(
    personas: Personas, flow_in_own_territory: Any, persona: str
) -> None:
    rep = personas[persona]
    client = Client()
    client.force_login(rep)
    record = flow_in_own_territory
    assert client.get(f"/api/v1/flow/files/{record.file_id}").status_code == 404
    for path in ("/api/v1/flow/records", "/api/v1/flow/files", "/api/v1/flow/unmatched?kind=customer"):
        response = client.get(path)
        assert response.status_code in (403, 404), (path, response.status_code)
        assert str(record.customer_name) not in response.content.decode()
    for url in _flow_page_urls(record.file_id, record.pk):
        response = client.get(url)
        assert response.status_code in (403, 404), (url, response.status_code)
    assert sales_totals(user=rep, start=dt.date(2026, 1, 1), end=dt.date(2026, 1, 31)) == {}


@pytest.mark.parametrize(
    ("roles", "allowed"),
    [
        ([Role.REP], False),
        ([Role.DISTRICT_MANAGER], False),
        ([Role.REP, Role.COMMERCIAL], False),  # a rep never, whatever else they hold
        ([Role.MARKETING], False),
        ([Role.COMMERCIAL], True),
        ([Role.REGIONAL_MANAGER], True),
        ([Role.DIRECTOR], True),
        ([Role.COMPLIANCE], True),
    ],
)
def test_per_professional_estimates_follow_the_china_default(roles: list[str], allowed: bool) -> None:
    user = UserFactory(roles=roles)
    decision = professional_estimate_decision(user=user)
    assert decision.allowed is allowed
    if not allowed:
        assert decision.rule == "professional_estimate_roles"
        assert "按医生拆分的销量估算限定角色" in decision.message


def test_another_jurisdiction_may_allow_district_managers() -> None:
    PolicySet.objects.update(is_active=False)
    other = PolicySet.objects.create(code="XX", name="示例", jurisdiction="示例", is_active=True)
    PolicyRule.objects.create(
        policy_set=other,
        code="professional_estimate_roles",
        params={"allowed_roles": ["director", "district_manager"]},
        enabled=True,
    )
    assert professional_estimate_decision(user=UserFactory(roles=[Role.DISTRICT_MANAGER])).allowed
    assert not professional_estimate_decision(user=UserFactory(roles=[Role.COMMERCIAL])).allowed
    assert not professional_estimate_decision(user=UserFactory(roles=[Role.REP])).allowed


def test_the_shipped_policy_sets_hold_the_rule() -> None:
    """The migration puts the rule in the China set (no district manager) and the example set (with)."""
    china = PolicyRule.objects.get(policy_set__code="CN", code="professional_estimate_roles")
    other = PolicyRule.objects.get(policy_set__code="HK", code="professional_estimate_roles")
    assert (
        "district_manager" not in china.params["allowed_roles"] and "rep" not in china.params["allowed_roles"]
    )
    assert "district_manager" in other.params["allowed_roles"]
