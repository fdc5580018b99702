"""Ship the `professional_estimate_roles` rule (flow data, RULES_CN §2) in both policy sets.

China: no rep, no district manager. The second jurisdiction's example also lets district managers
see an institution's sales split by its professionals, to show that sets can differ.
"""

from django.db import migrations

CHINA = {"allowed_roles": ["admin", "director", "regional_manager", "commercial", "compliance"]}
OTHER = {"allowed_roles": ["admin", "director", "regional_manager", "district_manager", "commercial", "compliance"]}


def load(apps, schema_editor):
    PolicySet = apps.get_model("compliance", "PolicySet")
    PolicyRule = apps.get_model("compliance", "PolicyRule")
    for code, params in (("CN", CHINA), ("HK", OTHER)):
        policy_set = PolicySet.objects.filter(code=code).first()
        if policy_set is not None:
            PolicyRule.objects.get_or_create(
                policy_set=policy_set,
                code="professional_estimate_roles",
                defaults={"params": params, "enabled": True},
            )


def unload(apps, schema_editor):
    apps.get_model("compliance", "PolicyRule").objects.filter(code="professional_estimate_roles").delete()


class Migration(migrations.Migration):
    dependencies = [("compliance", "0003_compliance_event")]
    operations = [migrations.RunPython(load, unload)]
