"""Shared flow fixtures: a distributor in Beijing, two hospitals, one SKU, and a commercial user."""

from __future__ import annotations

import io
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest

from pharmacrm.commercial.tests.factories import ProductFactory
from pharmacrm.core.models import Role
from pharmacrm.core.tests.factories import UserFactory
from pharmacrm.customers.tests.factories import InstitutionFactory
from pharmacrm.flow.tests.factories import DistributorFactory, SkuFactory

HEADER = "销售日期,客户编码,客户名称,产品编码,产品名称,规格,数量,单位,单价,金额,批号,业务类型"


@dataclass
class FlowWorld:
    distributor: Any
    union: Any  # 北京协和医院
    peking: Any  # 北京大学第一医院
    sku: Any
    sku2: Any
    user: Any


@pytest.fixture
def world(db: Any) -> FlowWorld:
    product = ProductFactory(generic_name="沙库巴曲缬沙坦钠片", brand_name="诺欣妥")
    other = ProductFactory(generic_name="阿托伐他汀钙片", brand_name="立普妥")
    user = UserFactory(username="kam", roles=[Role.COMMERCIAL])
    return FlowWorld(
        distributor=DistributorFactory(code="GK01", manager=user),
        union=InstitutionFactory(name="北京协和医院", external_id="H001"),
        peking=InstitutionFactory(name="北京大学第一医院", external_id="H002"),
        sku=SkuFactory(
            product=product, code="NXT100", strength="100mg", pack="14片", standard_units=Decimal(14)
        ),
        sku2=SkuFactory(product=other, code="LPT20", strength="20mg", pack="7片", standard_units=Decimal(7)),
        user=user,
    )


def csv_file(*lines: str, header: str = HEADER, encoding: str = "utf-8") -> io.BytesIO:
    return io.BytesIO(("\n".join([header, *lines]) + "\n").encode(encoding))


GOOD_ROWS = (
    "2026-01-05,H001,北京协和医院,NXT100,诺欣妥,100mg*14片,10,盒,25.5,255,B1,纯销",
    "2026/1/6,,北京大学第一医院,,诺欣妥,100mg*14片,2,箱,510,,B1,纯销",
    "20260107,,北京协和医院（东院）,,立普妥,20mg*7片,70,片,3,,B2,销售",
    "2026年1月8日,H002,北京大学第一医院,NXT100,诺欣妥,100mg*14片,-1,盒,25.5,-25.5,B1,退货",
)
