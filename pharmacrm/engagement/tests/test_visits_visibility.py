"""Each visit-related model: the owner and the managers above see it; colleague, outsider, other region and no role do not."""

from __future__ import annotations

from typing import Any

from django.utils import timezone

from pharmacrm.core.testing import visibility_test
from pharmacrm.customers.tests.factories import InstitutionFactory, ProfessionalFactory
from pharmacrm.engagement.models import Coaching, Hospitality, SafetySignal, VisitAmendment
from pharmacrm.engagement.tests.factories import CallbackFactory, CommitmentFactory, VisitFactory


def _visit(p: Any) -> Any:
    return VisitFactory(owner=p.owner, institution=InstitutionFactory(territory=p.own_territory))


def _professional(p: Any) -> Any:
    return ProfessionalFactory(institution=InstitutionFactory(territory=p.own_territory))


test_visit_visibility = visibility_test(_visit, url="engagement:visit_detail", api="/api/v1/visits/{pk}")
test_amendment_visibility = visibility_test(
    lambda p: VisitAmendment.objects.create(visit=_visit(p), author=p.owner, reason="笔误", changes={})
)
test_coaching_visibility = visibility_test(
    lambda p: Coaching.objects.create(
        visit=_visit(p), coach=p.district_manager, preparation=3, messaging=3, listening=3, compliance=3
    )
)
test_hospitality_visibility = visibility_test(
    lambda p: Hospitality.objects.create(
        professional=_professional(p), kind="meal", recorded_by=p.owner, on=timezone.localdate()
    )
)
test_commitment_visibility = visibility_test(
    lambda p: CommitmentFactory(professional=_professional(p), owner=p.owner), api="/api/v1/commitments/{pk}"
)
test_callback_visibility = visibility_test(
    lambda p: CallbackFactory(professional=_professional(p), owner=p.owner), api="/api/v1/callbacks/{pk}"
)
test_safety_signal_visibility = visibility_test(
    lambda p: SafetySignal.objects.create(visit=_visit(p), terms="过敏", excerpt="过敏"),
    api="/api/v1/safety-signals/{pk}",
)
