"""Each profile model: the owner and the managers above see it; colleague, outsider and others get 404."""

from pharmacrm.core.testing import visibility_test
from pharmacrm.customers.tests.factories import (
    AffiliationFactory,
    InstitutionFactory,
    KeyDateFactory,
    NeedFactory,
    PlanFactory,
    ProfessionalFactory,
    SegmentFactory,
    StepFactory,
)


def _own_professional(p):
    return ProfessionalFactory(institution=InstitutionFactory(territory=p.own_territory))


test_affiliation_visibility = visibility_test(
    lambda p: AffiliationFactory(professional=_own_professional(p)), api="/api/v1/affiliations/{pk}"
)
test_key_date_visibility = visibility_test(
    lambda p: KeyDateFactory(professional=_own_professional(p)), api="/api/v1/key-dates/{pk}"
)
test_need_visibility = visibility_test(
    lambda p: NeedFactory(professional=_own_professional(p)), api="/api/v1/needs/{pk}"
)
test_segment_visibility = visibility_test(
    lambda p: SegmentFactory(professional=_own_professional(p)), api="/api/v1/segments/{pk}"
)
test_plan_visibility = visibility_test(
    lambda p: PlanFactory(professional=_own_professional(p), owner=p.owner),
    url="customers:plan_detail",
    api="/api/v1/plans/{pk}",
)
test_institution_plan_visibility = visibility_test(
    lambda p: PlanFactory(
        professional=None, institution=InstitutionFactory(territory=p.own_territory), owner=p.owner
    ),
    url="customers:plan_detail",
    api="/api/v1/plans/{pk}",
)
test_step_visibility = visibility_test(
    lambda p: StepFactory(plan=PlanFactory(professional=_own_professional(p), owner=p.owner)),
    api="/api/v1/plan-steps/{pk}",
)
