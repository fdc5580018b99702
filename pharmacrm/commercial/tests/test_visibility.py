"""Listings: the owner and the managers above see them; colleague, outsider and others get 404."""

from pharmacrm.commercial.tests.factories import ListingFactory
from pharmacrm.core.testing import visibility_test
from pharmacrm.customers.tests.factories import InstitutionFactory

test_listing_visibility = visibility_test(
    lambda p: ListingFactory(institution=InstitutionFactory(territory=p.own_territory), owner=p.owner),
    url="commercial:listing_detail",
    api="/api/v1/listings/{pk}",
)
