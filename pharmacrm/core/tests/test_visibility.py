"""Organisation models through the visibility scope, with the three personas and their managers."""

from pharmacrm.core.testing import visibility_test

test_territory_visibility = visibility_test(
    lambda p: p.own_territory, url="web:territory_detail", api="/api/v1/territories/{pk}"
)
test_user_visibility = visibility_test(
    lambda p: p.owner,
    url="web:user_detail",
    # The owner sees their own record; reps see no other person.
)
test_assignment_visibility = visibility_test(lambda p: p.own_territory.assignments.get())
