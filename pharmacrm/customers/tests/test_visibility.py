"""Each customer model: owner and managers above see it, colleague and outsiders get 404."""

from pharmacrm.core.testing import visibility_test
from pharmacrm.customers.tests.factories import DepartmentFactory, InstitutionFactory, ProfessionalFactory

test_institution_visibility = visibility_test(
    lambda p: InstitutionFactory(territory=p.own_territory),
    url="customers:institution_detail",
    api="/api/v1/institutions/{pk}",
)
test_professional_visibility = visibility_test(
    lambda p: ProfessionalFactory(institution=InstitutionFactory(territory=p.own_territory)),
    url="customers:professional_detail",
    api="/api/v1/professionals/{pk}",
)
test_department_visibility = visibility_test(
    lambda p: DepartmentFactory(institution=InstitutionFactory(territory=p.own_territory))
)
test_unassigned_institution_only_company_wide = visibility_test(
    lambda p: InstitutionFactory(territory=None),
    url="customers:institution_detail",
    sees=("director", "admin"),
    blind=("owner", "colleague", "outsider", "district_manager", "regional_manager"),
)
