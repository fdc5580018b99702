"""Attribution alone: territory and rep of 10^5 matched flow rows, then a re-run and a re-attribution.

    pharmacrm bench attribution --scale tiny                  # 10^5 rows
    pharmacrm bench attribution --scale tiny -o rows=1000000

The rows are written straight into FlowRecord (core.imports.bulk, no import pipeline) for one demo
distributor: every demo customer (institutions of every kind but distributors), one SKU, sale
dates spread over the 24 months before today, so coverage takeovers and institution moves in the
demo fall inside the range. Then, each timed on its own:

1. first attribution: `attribute_file(flags=False)` on rows with no territory or rep yet;
2. the same again: nothing to change (idempotent), every statement still runs;
3. `reattribute()` of every row (what a full re-attribution task does), nothing to change;
4. `reattribute(since=…)` of the last 12 months.

窜货 and 两票制 flags are left out (they are measured by `pharmacrm bench flow`). The rows are
deleted afterwards, so the benchmark can run again on the same database.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import random
import time
from decimal import Decimal
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from pharmacrm.channels.models import ChannelPartner
from pharmacrm.commercial.models import Sku
from pharmacrm.core.imports import bulk
from pharmacrm.core.models import User
from pharmacrm.customers.models import Institution
from pharmacrm.flow import attribution
from pharmacrm.flow.models import FlowFile, FlowRecord
from pharmacrm.ops.demo.institutions import DEMO_PREFIX

ROWS = 100_000
PERIOD = dt.date(2031, 1, 1)  # a label no demo file uses; the sale dates are the last 24 months


def _world() -> tuple[ChannelPartner, list[int], Sku, User]:
    partner = (
        ChannelPartner.objects.filter(institution__external_id__startswith=DEMO_PREFIX)
        .order_by("code")
        .first()
    )
    customers = list(
        Institution.objects.filter(external_id__startswith=DEMO_PREFIX)
        .exclude(kind=Institution.Kind.DISTRIBUTOR)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    sku = Sku.objects.order_by("code").first()
    operator = User.objects.filter(username="admin").first()
    if partner is None or not customers or sku is None or operator is None:
        raise LookupError("the bench database has no demo distributor, customers, SKU or admin")
    return partner, customers, sku, operator


def _write_rows(
    rows: int, partner: ChannelPartner, customers: list[int], sku: Sku, operator: User
) -> FlowFile:
    rng = random.Random(rows)
    today = timezone.localdate()
    first = today - dt.timedelta(days=730)
    with transaction.atomic():
        file = FlowFile.objects.create(
            distributor=partner,
            period=PERIOD,
            original_name="bench-attribution",
            sha256="a" * 64,
            uploaded_by=operator,
            received_on=today,
            status=FlowFile.Status.IMPORTED,
            row_count=rows,
        )
        batch: list[FlowRecord] = []
        for i in range(rows):
            key = hashlib.blake2b(str(i).encode(), digest_size=16).hexdigest()
            batch.append(
                FlowRecord(
                    file_id=file.pk,
                    distributor_id=partner.pk,
                    period=PERIOD,
                    row_no=i + 2,
                    row_key=key,
                    sale_date=first + dt.timedelta(days=rng.randrange(730)),
                    kind=FlowRecord.Kind.SALE,
                    customer_name="bench",
                    institution_id=customers[rng.randrange(len(customers))],
                    customer_match="code",
                    customer_confidence=Decimal(100),
                    sku_id=sku.pk,
                    product_match="code",
                    product_confidence=Decimal(100),
                    unit="盒",
                    quantity=Decimal(rng.randint(1, 50)),
                )
            )
            if len(batch) == 5000:
                bulk.insert(FlowRecord, batch, with_pk=False)  # no row's pk is read afterwards
                batch.clear()
        bulk.insert(FlowRecord, batch, with_pk=False)
    return file


def _timed(label: str, out: Any, call: Any) -> Any:
    started = time.perf_counter()
    with transaction.atomic():
        result = call()
    seconds = time.perf_counter() - started
    out(f"{label}: {seconds:.2f} s — rows {result.rows:,}, changed {result.changed:,}")
    return result


def _remove(file: FlowFile) -> None:
    with transaction.atomic():
        FlowRecord.objects.filter(file=file)._raw_delete(connection.alias)
        FlowFile.objects.filter(pk=file.pk)._raw_delete(connection.alias)


def run(*, ctx: Any) -> None:
    out = ctx.out
    rows = int(ctx.options.get("rows", ROWS))
    partner, customers, sku, operator = _world()
    FlowFile.objects.filter(distributor=partner, period=PERIOD).delete()  # an interrupted earlier run
    started = time.perf_counter()
    file = _write_rows(rows, partner, customers, sku, operator)
    out(f"{rows:,} rows over {len(customers)} customers written in {time.perf_counter() - started:.1f} s")
    try:
        _timed(
            "1. attribute_file (first)", out, lambda: attribution.attribute_file(file_id=file.pk, flags=False)
        )
        _timed(
            "2. attribute_file (again)", out, lambda: attribution.attribute_file(file_id=file.pk, flags=False)
        )
        _timed("3. reattribute (all rows)", out, lambda: attribution.reattribute())
        since = timezone.localdate() - dt.timedelta(days=365)
        _timed("4. reattribute (last 12 months)", out, lambda: attribution.reattribute(since=since))
        moved = customers[:3]
        _timed(
            "5. reattribute (3 institutions, last 12 months)",
            out,
            lambda: attribution.reattribute(since=since, institution_ids=moved),
        )
        attributed = FlowRecord.objects.filter(file=file, rep__isnull=False).count()
        out(f"rows attributed to a rep: {attributed:,} of {rows:,}")
    finally:
        _remove(file)
