"""Factories for flow data: distributors, SKUs, templates, files, records and aliases."""

from __future__ import annotations

import datetime as dt
import hashlib
from decimal import Decimal

import factory
from factory.django import DjangoModelFactory

from pharmacrm.channels.models import ChannelPartner
from pharmacrm.commercial.models import Sku
from pharmacrm.commercial.tests.factories import ProductFactory
from pharmacrm.core.models import OrgUnit, Role
from pharmacrm.core.tests.factories import OrgUnitFactory, UserFactory
from pharmacrm.customers.models import Institution
from pharmacrm.customers.tests.factories import InstitutionFactory
from pharmacrm.flow.models import (
    CustomerAlias,
    FlowFile,
    FlowPeriodClose,
    FlowRecord,
    FlowTemplate,
    InventoryRecord,
    ProductAlias,
)


class SkuFactory(DjangoModelFactory):
    class Meta:
        model = Sku
        django_get_or_create = ("code",)

    product = factory.SubFactory(ProductFactory)
    code = factory.Sequence(lambda n: f"SKU{n:04d}")
    strength = "100mg"
    pack = "14片"
    unit = "盒"
    standard_units = Decimal("14")
    standard_unit = "片"


class DistributorFactory(DjangoModelFactory):
    """A ChannelPartner of kind distributor, with its own institution."""

    class Meta:
        model = ChannelPartner
        django_get_or_create = ("code",)

    institution = factory.SubFactory(
        InstitutionFactory,
        name=factory.Sequence(lambda n: f"国药控股第{n}医药有限公司"),
        kind=Institution.Kind.DISTRIBUTOR,
        grade=Institution.Grade.UNGRADED,
    )
    code = factory.Sequence(lambda n: f"D{n:03d}")
    kind = ChannelPartner.Kind.DISTRIBUTOR
    # get_or_create on "HQ": the personas' company when they exist
    org_unit = factory.SubFactory(OrgUnitFactory, code="HQ", name="总部", kind=OrgUnit.Kind.COMPANY)
    manager = None


class FlowTemplateFactory(DjangoModelFactory):
    class Meta:
        model = FlowTemplate

    distributor = factory.SubFactory(DistributorFactory)
    name = factory.Sequence(lambda n: f"模板{n}")
    column_mapping = factory.LazyFunction(dict)
    headers = factory.LazyFunction(list)
    header_signature = factory.Sequence(lambda n: hashlib.sha256(str(n).encode()).hexdigest())


class FlowFileFactory(DjangoModelFactory):
    class Meta:
        model = FlowFile

    distributor = factory.SubFactory(DistributorFactory)
    period = dt.date(2026, 1, 1)
    original_name = "flow.xlsx"
    sha256 = factory.Sequence(lambda n: hashlib.sha256(f"file{n}".encode()).hexdigest())
    uploaded_by = factory.SubFactory(UserFactory, roles=[Role.COMMERCIAL])
    received_on = dt.date(2026, 2, 3)
    status = FlowFile.Status.IMPORTED


class FlowRecordFactory(DjangoModelFactory):
    class Meta:
        model = FlowRecord

    file = factory.SubFactory(FlowFileFactory)
    distributor = factory.LazyAttribute(lambda o: o.file.distributor)
    period = factory.LazyAttribute(lambda o: o.file.period)
    row_no = factory.Sequence(lambda n: n + 2)
    row_key = factory.Sequence(lambda n: hashlib.blake2b(f"row{n}".encode(), digest_size=16).hexdigest())
    sale_date = factory.LazyAttribute(lambda o: o.period + dt.timedelta(days=4))
    kind = FlowRecord.Kind.SALE
    customer_name = factory.LazyAttribute(lambda o: o.institution.name if o.institution else "未知医院")
    institution = factory.SubFactory(InstitutionFactory)
    product_name = "诺欣妥"
    sku = factory.SubFactory(SkuFactory)
    quantity = Decimal("10")
    standard_quantity = Decimal("140")
    unit_price = Decimal("25.5")
    amount = Decimal("255.00")


class InventoryRecordFactory(DjangoModelFactory):
    class Meta:
        model = InventoryRecord

    file = factory.SubFactory(FlowFileFactory, kind=FlowFile.Kind.INVENTORY)
    distributor = factory.LazyAttribute(lambda o: o.file.distributor)
    period = factory.LazyAttribute(lambda o: o.file.period)
    row_no = factory.Sequence(lambda n: n + 2)
    row_key = factory.Sequence(lambda n: hashlib.blake2b(f"inv{n}".encode(), digest_size=16).hexdigest())
    as_of = factory.LazyAttribute(lambda o: o.period.replace(day=28))
    sku = factory.SubFactory(SkuFactory)
    product_name = "诺欣妥"
    quantity = Decimal("100")


class FlowPeriodCloseFactory(DjangoModelFactory):
    class Meta:
        model = FlowPeriodClose

    distributor = factory.SubFactory(DistributorFactory)
    period = dt.date(2026, 1, 1)
    closed_by = factory.SubFactory(UserFactory, roles=[Role.COMMERCIAL])


class CustomerAliasFactory(DjangoModelFactory):
    class Meta:
        model = CustomerAlias

    distributor = None
    text = factory.Sequence(lambda n: f"别名医院{n}")
    institution = factory.SubFactory(InstitutionFactory)


class ProductAliasFactory(DjangoModelFactory):
    class Meta:
        model = ProductAlias

    distributor = None
    text = factory.Sequence(lambda n: f"别名产品{n}")
    sku = factory.SubFactory(SkuFactory)
