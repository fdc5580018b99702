"""The demo company's products and their approved key messages.

Brand names (商品名) and generic names (通用名) are invented for the demo: they are not real
products or brands. Every demo product's code starts with DEMO-, which is how --reset finds them.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from pharmacrm.commercial.models import KeyMessage, Product, TherapeuticArea
from pharmacrm.ops.demo.writer import Writer

PRODUCT_PREFIX = "DEMO-"

# Therapeutic area: (code, name, the professionals' therapeutic_areas values it speaks to).
AREAS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("DEMO-CV", "心血管", ("心血管", "老年医学", "肾病", "全科")),
    ("DEMO-EN", "内分泌与代谢", ("内分泌", "老年医学", "肾病", "全科")),
    ("DEMO-RS", "呼吸", ("呼吸", "儿科", "重症", "急诊", "感染")),
    ("DEMO-GI", "消化", ("消化", "外科", "中医", "肝病")),
)
# code, area code, generic name, brand name, key messages (text per message code).
PRODUCTS: tuple[tuple[str, str, str, str, tuple[str, ...]], ...] = (
    ("DEMO-CV01", "DEMO-CV", "卡莫地平缓释片", "信脉乐", (
        "每日一次，24小时平稳控制血压，谷峰比高",
        "对心率影响小，踝部水肿发生率低",
    )),
    ("DEMO-CV02", "DEMO-CV", "瑞伐他汀钙片", "信脂达", (
        "中等剂量即可使LDL-C达标，符合血脂管理指南推荐",
        "药物相互作用少，适合多重用药的老年患者",
    )),
    ("DEMO-CV03", "DEMO-CV", "福沙坦钾氨氯地平片", "信压宁", (
        "单片复方，提高高血压患者长期依从性",
    )),
    ("DEMO-EN01", "DEMO-EN", "泰格列汀片", "信糖宁", (
        "单药低血糖风险低，不增加体重",
        "肾功能不全患者无需调整剂量",
    )),
    ("DEMO-EN02", "DEMO-EN", "依格列净片", "信糖悦", (
        "降糖同时带来心肾获益证据",
        "每日一次口服，可与二甲双胍联合使用",
    )),
    ("DEMO-RS01", "DEMO-RS", "维洛溴铵吸入粉雾剂", "信畅舒", (
        "长效支气管扩张，每日一次吸入改善慢阻肺症状",
        "装置操作简单，老年患者易于掌握",
    )),
    ("DEMO-RS02", "DEMO-RS", "布地莫德福莫特罗吸入气雾剂", "信喘平", (
        "按需联合维持治疗，减少哮喘急性发作",
    )),
    ("DEMO-GI01", "DEMO-GI", "艾替拉唑肠溶片", "信胃安", (
        "起效快，夜间酸控制稳定",
        "受CYP2C19基因多态性影响小",
    )),
)  # fmt: skip


@dataclass
class Portfolio:
    """Saved products and messages, as the visit generator needs them."""

    products: list[int] = field(default_factory=list)
    by_area: dict[str, list[int]] = field(default_factory=dict)  # professional's area → product pks
    # product pk → [(message pk, valid_from, valid_to)]
    messages: dict[int, list[tuple[int, dt.date, dt.date | None]]] = field(default_factory=dict)

    def messages_on(self, product: int, day: dt.date) -> list[int]:
        return [
            pk
            for pk, start, end in self.messages.get(product, [])
            if start <= day and (end is None or day <= end)
        ]


def write_portfolio(*, writer: Writer, today: dt.date) -> Portfolio:
    """Areas, products and approved key messages. Each message's first version was replaced by a
    second one half a year ago (the wording was re-approved), so old visits carry v1 and recent ones v2."""
    areas: dict[str, int] = {}
    for code, name, _served in AREAS:
        existing = TherapeuticArea.objects.filter(name=name).first()
        if existing is not None:  # the company's own row of that name: use it, never touch it
            areas[code] = existing.pk
        else:
            areas[code] = writer.create(TherapeuticArea, [TherapeuticArea(code=code, name=name)])[0].pk
    saved = writer.create(
        Product,
        [
            Product(code=code, generic_name=generic, brand_name=brand, therapeutic_area_id=areas[area])
            for code, area, generic, brand, _messages in PRODUCTS
        ],
    )
    portfolio = Portfolio(products=[p.pk for p in saved])
    start = dt.date(today.year - 2, 1, 1)
    switch = today - dt.timedelta(days=182)
    messages = []
    for product, (code, _area, _generic, _brand, texts) in zip(saved, PRODUCTS, strict=True):
        for n, text in enumerate(texts, start=1):
            message_code = f"{code.removeprefix(PRODUCT_PREFIX)}-KM{n:02d}"
            messages.append(
                KeyMessage(
                    product=product,
                    code=message_code,
                    version=1,
                    text=text,
                    approved=True,
                    valid_from=start,
                    valid_to=switch - dt.timedelta(days=1),
                )
            )
            messages.append(
                KeyMessage(
                    product=product,
                    code=message_code,
                    version=2,
                    text=f"{text}（{switch.year}年修订版）",
                    approved=True,
                    valid_from=switch,
                )
            )
    for message in writer.create(KeyMessage, messages):
        portfolio.messages.setdefault(message.product_id, []).append(
            (message.pk, message.valid_from, message.valid_to)
        )
    by_code = {p.code: p.pk for p in saved}
    for code, _name, served in AREAS:
        for area in served:
            portfolio.by_area.setdefault(area, []).extend(by_code[p[0]] for p in PRODUCTS if p[1] == code)
    return portfolio


def demo_products() -> list[int]:
    return list(Product.objects.filter(code__startswith=PRODUCT_PREFIX).values_list("pk", flat=True))
