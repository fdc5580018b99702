"""Ship the default profile requirements per professional role and the default tier rules.

Both follow the seed documents: the rep plan's "complete profile" (basic and professional
background, interests, key dates, communication preference, current concerns, prescribing habits,
unmet needs) weighted per role, and the policy's classification into 重要 / 潜在 / 一般 clients
(decision makers at grade-3 hospitals with high potential are key; high or medium potential is
potential; everyone else is general). Companies change both as data; re-running is harmless.
"""

from django.db import migrations

# field, weight, months after which a confirmation is stale
_CLINICAL = [
    ("department", 2, 24),
    ("title", 1, 24),
    ("preferred_channel", 1, 12),
    ("preferred_time", 1, 12),
    ("interests", 1, 12),
    ("current_concerns", 2, 6),
    ("prescribing_habits", 2, 12),
    ("therapeutic_areas", 2, 12),
    ("product_attitude", 1, 6),
    ("key_dates", 1, 24),
    ("needs", 2, 6),
]
_LEADER = [
    ("preferred_channel", 1, 12),
    ("preferred_time", 1, 12),
    ("interests", 1, 12),
    ("current_concerns", 3, 6),
    ("academic_posts", 1, 24),
    ("key_dates", 1, 24),
    ("needs", 2, 6),
]
REQUIREMENTS = {
    "physician": _CLINICAL,
    "department_head": [*_CLINICAL, ("academic_posts", 1, 24), ("influence_decision", 1, 12)],
    "president": _LEADER,
    "vice_president": _LEADER,
    "medical_affairs_director": _LEADER,
    "pharmacy_director": [*_LEADER, ("department", 1, 24), ("therapeutic_areas", 1, 12), ("product_attitude", 1, 6)],
    "head_nurse": [
        ("department", 2, 24),
        ("title", 1, 24),
        ("preferred_channel", 1, 12),
        ("preferred_time", 1, 12),
        ("interests", 1, 12),
        ("current_concerns", 2, 6),
        ("key_dates", 1, 24),
        ("needs", 2, 6),
    ],
    "procurement": [
        ("preferred_channel", 1, 12),
        ("preferred_time", 1, 12),
        ("current_concerns", 2, 6),
        ("needs", 1, 6),
    ],
}

DECISION_MAKERS = ["president", "vice_president", "pharmacy_director", "medical_affairs_director", "department_head"]
RULES = [
    {
        "name": "三级医院决策者 · 高处方潜力 → 重要客户",
        "dimension": "tier",
        "priority": 10,
        "conditions": [
            {"field": "role", "op": "in", "value": DECISION_MAKERS},
            {"field": "institution.kind", "op": "eq", "value": "hospital"},
            {"field": "institution.grade", "op": "in", "value": ["3a", "3b", "3"]},
            {"field": "prescribing_potential", "op": "eq", "value": "high"},
        ],
        "result": "key",
    },
    {
        "name": "高或中处方潜力 → 潜在客户",
        "dimension": "tier",
        "priority": 50,
        "conditions": [{"field": "prescribing_potential", "op": "in", "value": ["high", "medium"]}],
        "result": "potential",
    },
    {
        "name": "其他 → 一般客户",
        "dimension": "tier",
        "priority": 900,
        "conditions": [],
        "result": "general",
    },
]


def ship_defaults(apps, schema_editor):
    ProfileRequirement = apps.get_model("customers", "ProfileRequirement")
    SegmentationRule = apps.get_model("customers", "SegmentationRule")
    for role, rows in REQUIREMENTS.items():
        for field, weight, months in rows:
            ProfileRequirement.objects.get_or_create(
                role=role, field=field, defaults={"weight": weight, "stale_after_months": months}
            )
    if not SegmentationRule.objects.exists():
        for rule in RULES:
            SegmentationRule.objects.create(is_active=True, **rule)


def remove_defaults(apps, schema_editor):
    ProfileRequirement = apps.get_model("customers", "ProfileRequirement")
    SegmentationRule = apps.get_model("customers", "SegmentationRule")
    for role, rows in REQUIREMENTS.items():
        ProfileRequirement.objects.filter(role=role, field__in=[f for f, _w, _m in rows]).delete()
    SegmentationRule.objects.filter(name__in=[r["name"] for r in RULES]).delete()


class Migration(migrations.Migration):
    dependencies = [("customers", "0004_profile_quality_and_segmentation_runs")]

    operations = [migrations.RunPython(ship_defaults, remove_defaults)]
