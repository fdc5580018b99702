"""Visit records: flag reasons, commitment escalation, callbacks once per source, triage notes,
and the default adverse-event words (editable afterwards; this only fills what is missing)."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

# Words that, in a visit's notes or feedback, route the visit to the safety queue (RULES_CN §1: reps
# must not hide adverse reactions). Broad on purpose: a false alarm costs a triage, a miss a report.
ADVERSE_EVENT_TERMS = [
    "不良反应",
    "不良事件",
    "副作用",
    "过敏",
    "皮疹",
    "瘙痒",
    "头晕",
    "头痛",
    "恶心",
    "呕吐",
    "腹泻",
    "肝损伤",
    "肝功能异常",
    "肾损伤",
    "心悸",
    "呼吸困难",
    "休克",
    "住院",
    "死亡",
]


def load_terms(apps, schema_editor):
    term_model = apps.get_model("engagement", "AdverseEventTerm")
    for term in ADVERSE_EVENT_TERMS:
        term_model.objects.get_or_create(term=term)


def unload_terms(apps, schema_editor):
    apps.get_model("engagement", "AdverseEventTerm").objects.filter(term__in=ADVERSE_EVENT_TERMS).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("engagement", "0003_planning_defaults"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="commitment",
            name="escalated_to",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="escalated_commitments",
                to=settings.AUTH_USER_MODEL,
                verbose_name="已上报给",
            ),
        ),
        migrations.AddField(
            model_name="historicalcommitment",
            name="escalated_to",
            field=models.ForeignKey(
                blank=True,
                db_constraint=False,
                null=True,
                on_delete=django.db.models.deletion.DO_NOTHING,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
                verbose_name="已上报给",
            ),
        ),
        migrations.AddField(
            model_name="historicalsafetysignal",
            name="note",
            field=models.TextField(blank=True, verbose_name="处理说明"),
        ),
        migrations.AddField(
            model_name="historicalvisit",
            name="flag_reasons",
            field=models.JSONField(blank=True, default=dict, verbose_name="标记原因"),
        ),
        migrations.AddField(
            model_name="safetysignal",
            name="note",
            field=models.TextField(blank=True, verbose_name="处理说明"),
        ),
        migrations.AddField(
            model_name="visit",
            name="flag_reasons",
            field=models.JSONField(blank=True, default=dict, verbose_name="标记原因"),
        ),
        migrations.AddConstraint(
            model_name="callback",
            constraint=models.UniqueConstraint(
                condition=models.Q(("source", ""), _negated=True),
                fields=("professional", "reason", "source"),
                name="callback_once_per_source",
            ),
        ),
        migrations.RunPython(load_terms, unload_terms),
    ]
