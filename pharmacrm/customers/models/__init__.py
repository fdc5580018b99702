"""Customer models: master data, profile details, segmentation and development plans."""

from pharmacrm.customers.models.core import Department, Institution, Professional
from pharmacrm.customers.models.plans import DevelopmentPlan, DevelopmentStep
from pharmacrm.customers.models.profile import Affiliation, KeyDate, Need, ProfileRequirement
from pharmacrm.customers.models.search import InstitutionSearchKey, ProfessionalSearchKey
from pharmacrm.customers.models.segmentation import Dimension, Segment, SegmentationRule, SegmentationRun
from pharmacrm.customers.models.territory import InstitutionTerritoryPeriod

__all__ = [
    "Affiliation",
    "Department",
    "DevelopmentPlan",
    "DevelopmentStep",
    "Dimension",
    "Institution",
    "InstitutionSearchKey",
    "InstitutionTerritoryPeriod",
    "KeyDate",
    "Need",
    "Professional",
    "ProfessionalSearchKey",
    "ProfileRequirement",
    "Segment",
    "SegmentationRule",
    "SegmentationRun",
]
