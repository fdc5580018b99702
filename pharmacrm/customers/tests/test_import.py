"""Importing customer master data: upserts, idempotency, history, and every refusal with nothing changed."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from pharmacrm.core.audit import Source
from pharmacrm.core.models import Role, TerritoryRule
from pharmacrm.core.tests.factories import AssignmentFactory, UserFactory
from pharmacrm.customers.models import (
    Affiliation,
    Department,
    Institution,
    Professional,
    ProfessionalSearchKey,
)
from pharmacrm.customers.tests.import_helpers import (
    csv_bytes,
    errors,
    institutions_csv,
    run,
    seed_hospitals,
    snapshot,
)

pytestmark = pytest.mark.django_db

PROFESSIONAL_HEADER = [
    "外部编码",
    "姓名",
    "角色",
    "机构外部编码",
    "科室",
    "手机",
    "处方习惯",
    "科室决策影响力",
]


def professionals_csv(*rows: list[str]) -> bytes:
    return csv_bytes([PROFESSIONAL_HEADER, *rows])


# --- Institutions -----------------------------------------------------------------------------------


def test_institutions_are_created_with_import_history_search_keys_and_territory(personas):
    TerritoryRule.objects.create(territory=personas.own_territory, province_id="43")
    report = seed_hospitals(actor=personas.admin)
    assert report.written
    xiangya = Institution.objects.get(external_id="H2")
    assert (xiangya.province_id, xiangya.city_id, xiangya.grade) == ("43", "4301", "3a")
    assert xiangya.territory == personas.own_territory  # by the province rule
    assert xiangya.search_initials == "xyyy"
    record = xiangya.history.get()
    assert (record.history_type, record.history_source, record.history_user) == (
        "+",
        Source.IMPORT,
        personas.admin,
    )
    assert xiangya.search_keys.exists()


def test_choices_accept_codes_labels_and_english_labels():
    report = run(
        "institutions",
        institutions_csv(
            ["A", "甲医院", "hospital", "3a", "11", "1101", "110101"],
            ["B", "乙药房", "Pharmacy", "", "北京", "北京", ""],
            ["C", "丙诊所", "社区卫生服务中心", "未定级", "湖南", "长沙", "芙蓉区"],
        ),
    )
    assert report.ok, list(report.lines())
    kinds = dict(Institution.objects.values_list("external_id", "kind"))
    assert kinds == {"A": "hospital", "B": "pharmacy", "C": "clinic"}
    assert Institution.objects.get(external_id="C").county_id == "430102"


def test_loading_the_same_file_twice_changes_nothing():
    seed_hospitals()
    before = snapshot()
    again = run(
        "institutions",
        institutions_csv(
            ["H1", "北京协和医院", "医院", "三级甲等", "北京市", "北京市", "东城区"],
            ["H2", "湘雅医院", "医院", "三级甲等", "湖南省", "长沙市", ""],
        ),
    )
    assert (again.created, again.updated, again.unchanged) == (0, 0, 2)
    assert snapshot() == before


def test_a_changed_row_updates_that_record_with_one_history_row():
    seed_hospitals()
    report = run(
        "institutions",
        institutions_csv(["H2", "中南大学湘雅医院", "医院", "三级甲等", "湖南省", "长沙市", ""]),
    )
    assert (report.created, report.updated) == (0, 1)
    xiangya = Institution.objects.get(external_id="H2")
    assert xiangya.name == "中南大学湘雅医院"
    assert xiangya.search_initials.startswith("zndx")
    assert xiangya.history.count() == 2
    assert xiangya.history.first().history_type == "~"


def test_without_external_id_the_natural_key_updates_instead_of_duplicating():
    header = ["名称", "类型", "省", "市", "床位数"]
    assert run("institutions", csv_bytes([header, ["社区卫生服务中心甲", "诊所", "湖南", "长沙", "20"]])).ok
    report = run("institutions", csv_bytes([header, ["社区卫生服务中心甲", "诊所", "湖南", "长沙", "25"]]))
    assert (report.created, report.updated) == (0, 1)
    assert Institution.objects.get(name="社区卫生服务中心甲").beds == 25


def test_same_name_in_same_city_without_external_id_is_reported_as_possible_duplicate():
    run("institutions", csv_bytes([["名称", "类型", "省", "市"], ["长沙市第一医院", "医院", "湖南", "长沙"]]))
    existing = Institution.objects.get()
    report = run("institutions", institutions_csv(["X9", "长沙市第一医院", "医院", "", "湖南", "长沙", ""]))
    assert report.ok
    assert [(w.row, w.column, w.value) for w in report.warnings] == [(2, "名称", "长沙市第一医院")]
    assert f"ID {existing.pk}" in report.warnings[0].reason


def test_unknown_province_is_refused_with_row_column_value_and_nothing_written():
    before = snapshot()
    report = run(
        "institutions",
        institutions_csv(
            ["H1", "北京协和医院", "医院", "三级甲等", "北京市", "北京市", ""],
            ["H3", "火星医院", "医院", "三级甲等", "火星省", "", ""],
        ),
    )
    assert not report.written
    assert errors(report) == [(3, "省", "火星省", "未知的省份（请填写省级行政区全称、简称或 2 位代码）")]
    assert snapshot() == before


def test_city_outside_its_province_is_refused():
    before = snapshot()
    report = run("institutions", institutions_csv(["H1", "某医院", "医院", "", "湖南省", "广州市", ""]))
    assert errors(report) == [(2, "市", "广州市", "不是“湖南省”下的城市")]
    assert snapshot() == before


def test_grade_not_in_the_list_is_refused_naming_the_options():
    before = snapshot()
    report = run("institutions", institutions_csv(["H1", "某医院", "医院", "四级特等", "湖南省", "", ""]))
    [(row, column, value, reason)] = errors(report)
    assert (row, column, value) == (2, "等级", "四级特等")
    assert reason.startswith("不在可选值中，可选：三级甲等（3a）")
    assert snapshot() == before


def test_grade_on_a_pharmacy_is_refused():
    report = run("institutions", institutions_csv(["P1", "某药房", "药房", "三级甲等", "湖南省", "", ""]))
    assert errors(report) == [(2, "等级", "三级甲等", "只有医院可以填写等级，此机构类型为“药房”")]
    assert Institution.objects.count() == 0


def test_duplicate_external_id_in_one_file_is_refused_naming_the_first_row():
    before = snapshot()
    report = run(
        "institutions",
        institutions_csv(
            ["H1", "甲医院", "医院", "", "湖南省", "", ""],
            ["H2", "乙医院", "医院", "", "湖南省", "", ""],
            ["H1", "丙医院", "医院", "", "湖南省", "", ""],
        ),
    )
    assert errors(report) == [(4, "外部编码", "H1", "外部编码在本文件中重复（与第 2 行相同）")]
    assert snapshot() == before


def test_every_bad_row_is_reported_even_far_apart_and_nothing_is_written():
    good = [[f"G{i}", f"医院{i}", "医院", "", "湖南省", "", ""] for i in range(4500)]
    good[10][4] = "火星"
    good[4400][3] = "五级"
    before = snapshot()
    report = run("institutions", institutions_csv(*good))
    assert [(e[0], e[1]) for e in errors(report)] == [(12, "省"), (4402, "等级")]
    assert (report.rows, report.error_rows, report.written) == (4500, 2, False)
    assert snapshot() == before


def test_partial_writes_the_good_rows_and_skips_the_bad():
    report = run(
        "institutions",
        institutions_csv(
            ["H1", "甲医院", "医院", "", "湖南省", "", ""], ["H2", "乙医院", "医院", "", "火星", "", ""]
        ),
        partial=True,
    )
    assert report.written and report.status == "partial"
    assert (report.created, report.skipped) == (1, 1)
    assert list(Institution.objects.values_list("external_id", flat=True)) == ["H1"]


def test_dry_run_counts_but_writes_nothing():
    before = snapshot()
    report = run(
        "institutions", institutions_csv(["H1", "甲医院", "医院", "", "湖南省", "", ""]), dry_run=True
    )
    assert (report.ok, report.created, report.written) == (True, 1, False)
    assert snapshot() == before


def test_parent_may_be_an_earlier_row_of_the_same_file_but_not_a_later_one():
    header = ["外部编码", "名称", "类型", "省", "上级机构外部编码", "隶属关系"]
    report = run(
        "institutions",
        csv_bytes(
            [
                header,
                ["C0", "连锁总部", "药房", "湖南", "", ""],
                ["C1", "连锁一店", "药房", "湖南", "C0", "连锁"],
            ]
        ),
    )
    assert report.ok, list(report.lines())
    assert Institution.objects.get(external_id="C1").parent == Institution.objects.get(external_id="C0")
    before = snapshot()
    report = run(
        "institutions",
        csv_bytes(
            [header, ["D1", "分店", "药房", "湖南", "D0", "连锁"], ["D0", "总店", "药房", "湖南", "", ""]]
        ),
    )
    assert errors(report) == [
        (
            2,
            "上级机构外部编码",
            "D0",
            "找不到此外部编码的上级机构（上级机构须已存在，或在本文件中排在本行之前）",
        )
    ]
    assert snapshot() == before


def test_a_commercial_manager_cannot_update_institutions_outside_their_territories(personas):
    commercial = UserFactory(username="ka", org_unit=personas.team_n1a, roles=[Role.COMMERCIAL])
    AssignmentFactory(territory=personas.own_territory, user=commercial, valid_from=dt.date(2020, 1, 1))
    run(
        "institutions",
        csv_bytes(
            [["外部编码", "名称", "类型", "省", "辖区编码"], ["H9", "外区医院", "医院", "湖南", "OUT"]]
        ),
    )
    before = snapshot()
    report = run(
        "institutions",
        csv_bytes(
            [["外部编码", "名称", "类型", "省", "辖区编码"], ["H9", "改名医院", "医院", "湖南", "OWN"]]
        ),
        actor=commercial,
    )
    assert errors(report) == [(2, "外部编码", "H9", "对应的已有机构不在您的可见范围内，不能通过导入修改")]
    assert snapshot() == before


# --- Departments and professionals -----------------------------------------------------------------------


def test_professionals_get_a_primary_affiliation_segments_and_search_keys(personas):
    seed_hospitals()
    report = run(
        "professionals",
        professionals_csv(["D1", "张伟", "科室主任", "H1", "心内科", "13800138000", "偏好循证方案", "4"]),
        actor=personas.admin,
    )
    assert report.ok, list(report.lines())
    zhang = Professional.objects.get(external_id="D1")
    assert zhang.department == Department.objects.get(institution__external_id="H1", name="心内科")
    affiliation = Affiliation.objects.get(professional=zhang)
    assert (affiliation.is_primary, affiliation.valid_to) == (True, None)
    assert zhang.segments.filter(dimension="tier").exists()
    assert zhang.history.count() == 1 and zhang.history.get().history_source == Source.IMPORT
    assert ProfessionalSearchKey.objects.filter(professional=zhang, key="zw").exists()
    assert zhang.confirmed_fields["mobile"] == timezone.localdate().isoformat()


def test_professionals_file_twice_changes_nothing():
    seed_hospitals()
    data = professionals_csv(
        ["D1", "张伟", "科室主任", "H1", "心内科", "13800138000", "", "4"],
        ["", "李娜", "医生", "H2", "儿科", "", "", ""],
    )
    run("professionals", data)
    before = snapshot()
    again = run("professionals", data)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 2)
    assert snapshot() == before


def test_a_department_of_another_institution_is_refused():
    seed_hospitals()
    before = snapshot()
    report = run("professionals", professionals_csv(["D1", "张伟", "医生", "H1", "儿科", "", "", ""]))
    assert errors(report) == [
        (2, "科室", "儿科", "科室“儿科”属于其他机构（湘雅医院），不属于本行的机构“北京协和医院”")
    ]
    assert snapshot() == before


def test_moving_a_professional_closes_the_primary_affiliation_and_opens_a_new_one():
    seed_hospitals()
    run("professionals", professionals_csv(["D1", "张伟", "医生", "H1", "心内科", "", "", ""]))
    report = run("professionals", professionals_csv(["D1", "张伟", "医生", "H2", "心内科", "", "", ""]))
    assert report.updated == 1
    zhang = Professional.objects.get(external_id="D1")
    assert zhang.institution.external_id == "H2"
    current = Affiliation.objects.get(professional=zhang, valid_to__isnull=True)
    assert (current.institution_id, current.is_primary) == (zhang.institution_id, True)
    assert Affiliation.objects.filter(professional=zhang, valid_to__isnull=False).count() == 1


def test_prescription_counts_in_prescribing_habits_are_refused():
    seed_hospitals()
    before = snapshot()
    report = run(
        "professionals", professionals_csv(["D1", "张伟", "医生", "H1", "", "", "每月开 200 张", ""])
    )
    [(row, column, value, reason)] = errors(report)
    assert (row, column, value) == (2, "处方习惯", "每月开 200 张")
    assert "不能记录处方数量或占比" in reason
    assert snapshot() == before


def test_out_of_range_influence_and_unknown_institution_are_refused_on_their_rows():
    seed_hospitals()
    before = snapshot()
    report = run(
        "professionals",
        professionals_csv(
            ["D1", "张伟", "医生", "H1", "", "", "", "9"],
            ["D2", "王芳", "医生", "H404", "", "", "", ""],
        ),
    )
    assert errors(report) == [
        (2, "科室决策影响力", "9", "应在 1 到 5 之间"),
        (3, "机构外部编码", "H404", "找不到外部编码为此值的机构（或您无权查看），请先导入机构"),
    ]
    assert snapshot() == before


def test_affiliation_marked_primary_repoints_the_professional():
    seed_hospitals()
    run("professionals", professionals_csv(["D1", "张伟", "医生", "H1", "心内科", "", "", ""]))
    report = run(
        "affiliations",
        csv_bytes(
            [
                ["医务人员外部编码", "机构外部编码", "科室", "主要执业点", "开始日期"],
                ["D1", "H2", "心内科", "是", "2024-03-01"],
            ]
        ),
    )
    assert report.ok, list(report.lines())
    zhang = Professional.objects.get(external_id="D1")
    assert zhang.institution.external_id == "H2"
    assert Affiliation.objects.filter(professional=zhang, is_primary=True, valid_to__isnull=True).count() == 1
