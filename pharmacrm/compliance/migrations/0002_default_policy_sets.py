"""Ship the China policy set (active) and a second jurisdiction's set, plus default retention rules."""

from django.db import migrations

CHINA = {
    "rep_must_be_registered": {},
    "no_sales_target_for_rep": {"measures": ["amount", "volume"]},
    "no_per_doctor_prescription_stats": {"allowed_roles": []},
    "department_stats_roles": {"allowed_roles": ["admin", "director", "regional_manager", "commercial", "compliance"]},
    "forbidden_gift_kinds": {"kinds": ["cash", "card", "gift", "entertainment"]},
    "permitted_gift_kinds": {"kinds": ["meal", "academic_material", "greeting"]},
    "meal_cap_per_person": {"amount": "300"},
    "speaker_fee_annual_cap": {"amount": "50000"},
    "no_speaker_fee_same_department": {},
    "consent_required_for_contact": {"purposes": ["contact", "materials", "events", "surveys"]},
    "mask_contacts_for_roles": {"masked_roles": ["marketing"]},
}

# An example of another jurisdiction (Hong Kong SAR style): no national rep filing, sales roles may
# hold targets, a different hospitality cap, and department figures for district managers too.
OTHER = {
    "no_per_doctor_prescription_stats": {"allowed_roles": []},
    "department_stats_roles": {
        "allowed_roles": ["admin", "director", "regional_manager", "district_manager", "commercial", "compliance"]
    },
    "forbidden_gift_kinds": {"kinds": ["cash", "card", "entertainment"]},
    "permitted_gift_kinds": {"kinds": ["meal", "academic_material", "greeting", "gift"]},
    "meal_cap_per_person": {"amount": "500"},
    "speaker_fee_annual_cap": {"amount": "80000"},
    "consent_required_for_contact": {"purposes": ["materials", "events", "surveys"]},
    "mask_contacts_for_roles": {"masked_roles": ["marketing"]},
}


def load(apps, schema_editor):
    PolicySet = apps.get_model("compliance", "PolicySet")
    PolicyRule = apps.get_model("compliance", "PolicyRule")
    RetentionRule = apps.get_model("compliance", "RetentionRule")
    china = PolicySet.objects.create(
        code="CN",
        name="中国大陆默认合规政策",
        jurisdiction="中国大陆",
        description="医药代表备案、禁止统方、反商业贿赂（RDPAC/SAMR 2025）、个人信息保护法。",
        is_active=True,
    )
    other = PolicySet.objects.create(
        code="HK",
        name="香港特区示例政策",
        jurisdiction="中国香港特别行政区",
        description="示例：另一法域的规则可以不同（无医药代表备案、招待上限不同）。",
        is_active=False,
    )
    for policy_set, rules in ((china, CHINA), (other, OTHER)):
        PolicyRule.objects.bulk_create(
            [PolicyRule(policy_set=policy_set, code=code, params=params, enabled=True) for code, params in rules.items()]
        )
    RetentionRule.objects.bulk_create(
        [
            RetentionRule(target="personal_notes", months=36, enabled=True),
            RetentionRule(target="contact_details", months=12, enabled=True),
            RetentionRule(target="access_log", months=36, enabled=True),
        ]
    )


def unload(apps, schema_editor):
    apps.get_model("compliance", "PolicySet").objects.filter(code__in=["CN", "HK"]).delete()
    apps.get_model("compliance", "RetentionRule").objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [("compliance", "0001_initial")]
    operations = [migrations.RunPython(load, unload)]
