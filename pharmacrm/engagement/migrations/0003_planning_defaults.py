"""Defaults matching the rep customer-maintenance seed: visit frequency by customer importance,
non-material care templates, and the weights of the rep's "whom to see today" ranking.

All of them are editable afterwards on the engagement settings pages; this only fills an empty table.
"""

from decimal import Decimal

from django.db import migrations

# (tier, role, engagement_stage, visits per month). The most specific rule wins: role + stage,
# then stage, then role, then the tier alone.
FREQUENCY = [
    # Key customers are seen most often, then potential, then general customers.
    ("key", "", "", "4"),
    ("potential", "", "", "2"),
    ("general", "", "", "1"),
    # A department head's decisions carry the department: seen more often than a physician of the
    # same tier (a key customer already gets the highest rate).
    ("potential", "department_head", "", "3"),
    ("general", "department_head", "", "2"),
    # Pharmacy directors receive reps by appointment at set times (reception rules): fewer,
    # purposeful visits (listing, P&T committee).
    ("key", "pharmacy_director", "", "2"),
    ("potential", "pharmacy_director", "", "1"),
    ("general", "pharmacy_director", "", "0.5"),
    # A customer to win back (需激活) is seen more often until the relationship is active again.
    ("key", "", "reactivation", "6"),
    ("potential", "", "reactivation", "3"),
    ("general", "", "reactivation", "2"),
    ("key", "pharmacy_director", "reactivation", "3"),
    # A newly developed customer with potential: frequent contact early on.
    ("potential", "", "new", "3"),
]

CARE_TEMPLATES = [
    ("birthday", "{salutation}，祝您生日快乐！愿您身体健康、工作顺利。如您近期需要相关领域的最新文献或指南解读，随时告诉我。"),
    ("birthday", "{salutation}，生日快乐！感谢您一直以来对学术交流工作的支持，祝您新的一岁一切顺遂。"),
    ("work_anniversary", "{salutation}，恭喜您从业又满一年！感谢您多年来对患者和临床工作的付出，祝工作顺利。"),
    ("promotion", "{salutation}，恭喜您晋升！祝您在新的岗位上一切顺利，后续如有学术交流方面的需要，我随时配合。"),
    ("other", "{salutation}，在这个特别的日子向您致以问候，祝您一切顺利！"),
    ("new_year", "{salutation}，新年快乐！感谢您过去一年的支持，祝您新的一年身体健康、工作顺利。"),
    ("spring_festival", "{salutation}，新春快乐！感谢您过去一年对学术交流工作的支持，祝您和家人新年健康平安、万事如意。"),
    ("spring_festival", "{salutation}，值此新春佳节，{rep}向您拜年！节日期间门急诊繁忙，请注意休息。"),
    ("lantern", "{salutation}，元宵节快乐！祝您阖家团圆、幸福安康。"),
    ("qingming", "{salutation}，清明时节，春和景明，祝您工作顺利、身体健康。"),
    ("dragon_boat", "{salutation}，端午安康！祝您和家人平安健康。"),
    ("mid_autumn", "{salutation}，中秋快乐！月圆人团圆，祝您和家人幸福安康。"),
    ("mid_autumn", "{salutation}，中秋佳节，感谢您一直以来的支持。节后我会把近期整理的指南更新要点发给您参考。"),
    ("national_day", "{salutation}，国庆快乐！假期期间坚守岗位辛苦了，祝您工作顺利。"),
    ("doctors_day", "{salutation}，中国医师节快乐！感谢您守护患者健康的每一天，向您致敬。"),
    ("doctors_day", "{salutation}，医师节快乐！如您对近期的学术会议或最新研究感兴趣，我可以为您整理相关资料。"),
    ("nurses_day", "{salutation}，国际护士节快乐！感谢您和护理团队的辛勤付出。"),
    ("pharmacists_day", "{salutation}，世界药师日快乐！感谢您为合理用药和患者安全所做的工作。"),
]

# factor → weight. Points of a reason = weight × its intensity (0–2); dismiss_days and
# dismissal_decay are the ranking's memory of the rep's dismissals.
WEIGHTS = [
    ("overdue", "3.00"),
    ("commitment_due", "4.00"),
    ("declining", "2.00"),
    ("key_date", "2.50"),
    ("unmet_need", "1.50"),
    ("key_customer", "1.00"),
    ("dismiss_days", "7.00"),
    ("dismissal_decay", "0.50"),
]


def load(apps, schema_editor):
    FrequencyRule = apps.get_model("engagement", "FrequencyRule")
    CareTemplate = apps.get_model("engagement", "CareTemplate")
    NextBestActionWeight = apps.get_model("engagement", "NextBestActionWeight")
    if not FrequencyRule.objects.exists():
        FrequencyRule.objects.bulk_create(
            FrequencyRule(tier=t, role=r, engagement_stage=s, visits_per_month=Decimal(v)) for t, r, s, v in FREQUENCY
        )
    if not CareTemplate.objects.exists():
        CareTemplate.objects.bulk_create(CareTemplate(occasion=o, text=t) for o, t in CARE_TEMPLATES)
    existing = set(NextBestActionWeight.objects.values_list("factor", flat=True))
    NextBestActionWeight.objects.bulk_create(
        NextBestActionWeight(factor=f, weight=Decimal(w)) for f, w in WEIGHTS if f not in existing
    )


def unload(apps, schema_editor):
    apps.get_model("engagement", "NextBestActionWeight").objects.filter(factor__in=[f for f, _ in WEIGHTS]).delete()


class Migration(migrations.Migration):
    dependencies = [("engagement", "0002_planning_policy_and_decisions")]

    operations = [migrations.RunPython(load, unload)]
