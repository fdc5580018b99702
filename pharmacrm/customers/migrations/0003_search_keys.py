# The search index (customers.search): one row per key, with a backfill for existing customers.

import django.db.models.deletion
from django.db import migrations, models

import pharmacrm.customers.models.search

KEY_FIELD_CHOICES = [
    ("n", "名称"),
    ("a", "别名"),
    ("p", "拼音"),
    ("i", "首字母"),
    ("m", "手机"),
    ("w", "微信号"),
]


def backfill(apps, schema_editor):
    from pharmacrm.customers.search import institution_keys, professional_keys

    Institution = apps.get_model("customers", "Institution")
    Professional = apps.get_model("customers", "Professional")
    InstitutionSearchKey = apps.get_model("customers", "InstitutionSearchKey")
    ProfessionalSearchKey = apps.get_model("customers", "ProfessionalSearchKey")
    rows = [
        InstitutionSearchKey(institution_id=pk, key=key, field=code, starts=starts)
        for pk, name, aliases in Institution.objects.values_list("pk", "name", "aliases").iterator()
        for key, code, starts in institution_keys(name=name, aliases=aliases)
    ]
    InstitutionSearchKey.objects.bulk_create(rows, batch_size=2000)
    batch = []
    for pk, name, mobile, wechat_id, institution_id in Professional.objects.values_list(
        "pk", "name", "mobile", "wechat_id", "institution_id"
    ).iterator():
        batch.extend(
            ProfessionalSearchKey(
                professional_id=pk, institution_id=institution_id, key=key, field=code, starts=starts
            )
            for key, code, starts in professional_keys(name=name, mobile=mobile, wechat_id=wechat_id)
        )
        if len(batch) >= 5000:
            ProfessionalSearchKey.objects.bulk_create(batch, batch_size=2000)
            batch = []
    ProfessionalSearchKey.objects.bulk_create(batch, batch_size=2000)


class Migration(migrations.Migration):
    dependencies = [
        ("customers", "0002_affiliation_developmentplan_developmentstep_and_more"),
    ]

    operations = [
        migrations.CreateModel(
            name="InstitutionSearchKey",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("key", pharmacrm.customers.models.search.SearchKeyField(max_length=40)),
                ("field", models.CharField(choices=KEY_FIELD_CHOICES, max_length=1)),
                ("starts", models.BooleanField()),
                (
                    "institution",
                    models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="search_keys",
                        to="customers.institution",
                    ),
                ),
            ],
            options={"verbose_name": "机构搜索键", "verbose_name_plural": "机构搜索键"},
        ),
        migrations.CreateModel(
            name="ProfessionalSearchKey",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("key", pharmacrm.customers.models.search.SearchKeyField(max_length=40)),
                ("field", models.CharField(choices=KEY_FIELD_CHOICES, max_length=1)),
                ("starts", models.BooleanField()),
                (
                    "institution",
                    models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="customers.institution",
                    ),
                ),
                (
                    "professional",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="search_keys",
                        to="customers.professional",
                    ),
                ),
            ],
            options={"verbose_name": "医务人员搜索键", "verbose_name_plural": "医务人员搜索键"},
        ),
        migrations.AddIndex(
            model_name="institutionsearchkey",
            index=models.Index(fields=["starts", "key"], name="inst_search_key"),
        ),
        migrations.AddIndex(
            model_name="institutionsearchkey",
            index=models.Index(fields=["institution", "starts", "key"], name="inst_search_scoped_key"),
        ),
        migrations.AddIndex(
            model_name="professionalsearchkey",
            index=models.Index(fields=["starts", "key"], name="prof_search_key"),
        ),
        migrations.AddIndex(
            model_name="professionalsearchkey",
            index=models.Index(fields=["institution", "starts", "key"], name="prof_search_scoped_key"),
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop, elidable=True),
    ]
