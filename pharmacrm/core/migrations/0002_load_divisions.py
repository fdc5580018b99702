"""Load China's provinces, cities and counties (2023 statistical codes) into core.Division."""

import csv
from pathlib import Path

from django.db import migrations

DATA = Path(__file__).resolve().parent.parent / "data"


def load(apps, schema_editor):
    Division = apps.get_model("core", "Division")
    provinces = {}
    rows = []
    with (DATA / "provinces.csv").open(encoding="utf-8") as f:
        for r in csv.DictReader(f):
            provinces[r["code"]] = r["name"]
            rows.append(Division(code=r["code"], name=r["name"], level="province", parent_id=None))
    Division.objects.bulk_create(rows, batch_size=500)
    rows = []
    with (DATA / "cities.csv").open(encoding="utf-8") as f:
        for r in csv.DictReader(f):
            # Municipalities list their city level as 市辖区; show the municipality's own name.
            name = provinces[r["provinceCode"]] if r["name"] in ("市辖区", "县") else r["name"]
            rows.append(Division(code=r["code"], name=name, level="city", parent_id=r["provinceCode"]))
    Division.objects.bulk_create(rows, batch_size=500)
    rows = []
    with (DATA / "areas.csv").open(encoding="utf-8") as f:
        for r in csv.DictReader(f):
            rows.append(Division(code=r["code"], name=r["name"], level="county", parent_id=r["cityCode"]))
    Division.objects.bulk_create(rows, batch_size=500)


def unload(apps, schema_editor):
    apps.get_model("core", "Division").objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [("core", "0001_initial")]
    operations = [migrations.RunPython(load, unload)]
