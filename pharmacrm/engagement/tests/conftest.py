"""Fixtures shared by the engagement tests."""

from pharmacrm.engagement.tests.visit_world import world  # noqa: F401  (the visit tests' fixture)
