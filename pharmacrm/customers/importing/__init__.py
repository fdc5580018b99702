"""Customer master data import kinds: institutions, departments, professionals, affiliations.

Found by core.imports.registry (it imports every app's `importing` module); each module registers
its kind. The writes happen here, in bulk with their history rows, rather than through the
one-object services, because a 10^6-row file must not cost a query per row; the checks mirror
the models' own rules (choices, lengths, ranges, constraints) so the database never refuses a row
the report accepted.
"""

from pharmacrm.customers.importing import affiliations, departments, institutions, professionals

__all__ = ["affiliations", "departments", "institutions", "professionals"]
