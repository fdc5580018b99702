"""Flow import: rows/s against a raw executemany of the same rows (goal ≥ 0.5×, matching included), the
import process's peak memory (goal < 300 MB), and the match rate on the demo's messy customer names.

    pharmacrm bench flow                          # 10^6 rows, the bench database (demo loaded if empty)
    pharmacrm bench flow -o rows=100000           # a quicker run
    pharmacrm bench flow --scale tiny -o rows=100000
    pharmacrm bench flow -o rows=100000 -o bulk_create=1   # also the ORM's bulk_create, for reference

1. file: N rows of CSV in one month for one demo distributor, its customers written the way the
   demo's distributors write them (ops/demo/flow.py `messy_name`: brackets, campus and company
   suffixes, typos, short names), products as "brand generic" + spec; generated once per N;
2. raw: the same file read with csv.reader, each row's parameter tuple built from the cells (every
   NOT NULL column, and the institution and SKU looked up in plain dicts of the names the file
   was written with: no checks, no matching, no attribution) and inserted with one prepared
   INSERT and `cursor.executemany` per 5,000 rows, in one transaction, into the same table (as
   bench/customers.py does); then removed. With `-o bulk_create=1` the same rows also go through
   FlowRecord(...) + bulk_create(batch_size=5000), which SQLite cuts into ~33-row statements: a
   reference line only, never the ratio's denominator;
3. import: `pharmacrm import flow FILE --distributor CODE` in a child process, as a user runs it
   (template detection, every check, customer and product matching code → alias → fuzzy,
   duplicate detection, all-or-nothing write, attribution and 窜货/两票制 flags), right after the
   raw insert (each side starts from a settled disk: WAL checkpointed, dirty pages written back);
   wall time and the child's own peak resident set (ru_maxrss of the whole import
   process, read through `benchmarks.run_child` so the benchmark process's own peak is not
   counted: see there);
4. the match rate by method of the imported rows, and of the demo's own 24 months of flow data.
The imported rows are deleted afterwards so the benchmark can run again.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import json
import os
import random
import sys
import time
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count
from django.utils import timezone

from pharmacrm.channels.models import ChannelPartner
from pharmacrm.commercial.models import Sku
from pharmacrm.core.models import User
from pharmacrm.customers.models import Institution
from pharmacrm.flow.importing import save_template
from pharmacrm.flow.models import FlowFile, FlowRecord, InventoryRecord
from pharmacrm.flow.parsing import suggest_mapping
from pharmacrm.ops import benchmarks
from pharmacrm.ops.demo.flow import match_rate_lines, messy_names_for
from pharmacrm.ops.demo.institutions import DEMO_PREFIX

ROWS = 1_000_000
PERIOD = dt.date(2030, 1, 1)  # a month no demo file covers
GOAL_RATIO, GOAL_MB = 0.5, 300
HEADER = ["销售日期", "客户名称", "产品名称", "规格", "数量", "单位", "单价", "金额", "批号", "业务类型"]


def workdir() -> Path:
    path = Path(settings.VAR_DIR) / "flow"  # the benchmark child's VAR_DIR is already var/bench/
    path.mkdir(parents=True, exist_ok=True)
    return path


def _world() -> tuple[ChannelPartner, list[tuple[int, str, str]], list[Sku]]:
    partner = (
        ChannelPartner.objects.filter(institution__external_id__startswith=DEMO_PREFIX)
        .select_related("institution")
        .order_by("code")
        .first()
    )
    if partner is None:
        raise LookupError("no demo channel partner in the bench database (load the demo first)")
    customers = list(
        Institution.objects.filter(
            external_id__startswith=DEMO_PREFIX, province_id=partner.institution.province_id
        )
        .exclude(kind=Institution.Kind.DISTRIBUTOR)
        .order_by("pk")
        .values_list("pk", "name", "kind")
    )
    skus = list(Sku.objects.select_related("product").order_by("code"))
    if not customers or not skus:
        raise LookupError("the bench database has no demo institutions or SKUs")
    return partner, customers, skus


def _messy(customers: list[tuple[int, str, str]]) -> list[tuple[int, str, str]]:
    """(institution, the name the file writes it with, kind of mess): the same for every run."""
    return messy_names_for(customers, seed=f"bench-flow:{len(customers)}")


def _product(sku: Sku) -> tuple[str, str]:
    """(product name, spec) as the file writes the SKU."""
    return f"{sku.product.brand_name} {sku.product.generic_name}".strip(), f"{sku.strength}*{sku.pack}"


def flow_file(
    rows: int, customers: list[tuple[int, str, str]], skus: list[Sku]
) -> tuple[Path, dict[str, int]]:
    """The CSV (generated once per size) and how many of its rows carry each kind of messy name."""
    path = workdir() / f"flow_{rows}.csv"
    messy = _messy(customers)
    rng = random.Random(rows)
    kinds: Counter[str] = Counter()
    products = [_product(s) for s in skus]
    tally = path.with_suffix(".json")
    if path.exists() and tally.exists():
        return path, json.loads(tally.read_text())
    with path.open("w", newline="", encoding="utf-8") as handle:
        out = csv.writer(handle)
        out.writerow(HEADER)
        for i in range(rows):
            _pk, name, mess = messy[rng.randrange(len(messy))]
            kinds[mess] += 1
            product, spec = products[rng.randrange(len(products))]
            packs = rng.randint(1, 200)
            price = Decimal(rng.randint(2500, 32000)) / 100
            out.writerow(
                [
                    f"2030-01-{rng.randint(1, 31):02d}",
                    name,
                    product,
                    spec,
                    packs,
                    "盒",
                    price,
                    (price * packs).quantize(Decimal("0.01")),
                    f"B{i:07d}",  # batch numbers make every row distinct (duplicates are refused)
                    "纯销",
                ]
            )
    tally.write_text(json.dumps(kinds))
    return path, dict(kinds)


def _new_file(partner: ChannelPartner, operator: User, name: str) -> FlowFile:
    return FlowFile.objects.create(
        distributor=partner,
        period=PERIOD,
        original_name=name,
        sha256="0" * 64,
        uploaded_by=operator,
        received_on=timezone.localdate(),
        status=FlowFile.Status.CHECKED,
    )


def raw_insert(
    path: Path,
    partner: ChannelPartner,
    operator: User,
    customers: list[tuple[int, str, str]],
    skus: list[Sku],
) -> tuple[int, float]:
    """The floor: csv.reader, each row's parameter tuple, one executemany per 5,000 rows, one transaction."""
    institution_of = {name: pk for pk, name, _mess in _messy(customers)}
    sku_of = {_product(s): s.pk for s in skus}
    kind_of = {"纯销": FlowRecord.Kind.SALE.value}
    fields = [f for f in FlowRecord._meta.concrete_fields if not f.primary_key]
    quote = connection.ops.quote_name
    sql = "INSERT INTO {} ({}) VALUES ({})".format(  # names from the model, quoted
        quote(FlowRecord._meta.db_table),
        ", ".join(quote(str(f.column)) for f in fields),
        ", ".join(["%s"] * len(fields)),
    )
    position = {f.attname: i for i, f in enumerate(fields)}
    blank = [f.get_default() if f.has_default() else (None if f.null else "") for f in fields]
    started = time.perf_counter()
    count = 0
    with transaction.atomic():
        file = _new_file(partner, operator, "raw")
        blank[position["file_id"]] = file.pk
        blank[position["distributor_id"]] = partner.pk
        blank[position["period"]] = PERIOD
        # the column of each cell, as locals: the loop below is the floor, so it does nothing more
        row_no, key, sale_date, kind_at, customer, institution = (
            position[name]
            for name in ("row_no", "row_key", "sale_date", "kind", "customer_name", "institution_id")
        )
        product_at, spec_at, sku, unit_at, quantity_at, price_at, amount_at, batch_at = (
            position[name]
            for name in (
                "product_name", "product_spec", "sku_id", "unit", "quantity", "unit_price", "amount", "batch_no",
            )
        )  # fmt: skip
        with path.open(encoding="utf-8", newline="") as handle, connection.cursor() as cursor:
            reader = csv.reader(handle)
            next(reader)
            batch: list[tuple[Any, ...]] = []
            for number, cells in enumerate(reader, start=2):
                day, name, product, spec, quantity, unit, price, amount, batch_no, kind = cells
                values = blank.copy()
                values[row_no] = number
                values[key] = hashlib.blake2b("\x1f".join(cells).encode(), digest_size=16).hexdigest()
                values[sale_date] = dt.date.fromisoformat(day)
                values[kind_at] = kind_of[kind]
                values[customer] = name
                values[institution] = institution_of[name]
                values[product_at] = product
                values[spec_at] = spec
                values[sku] = sku_of[(product, spec)]
                values[unit_at] = unit
                values[quantity_at] = Decimal(quantity)
                values[price_at] = Decimal(price)
                values[amount_at] = Decimal(amount)
                values[batch_at] = batch_no
                batch.append(tuple(values))
                if len(batch) == 5000:
                    cursor.executemany(sql, batch)
                    count += len(batch)
                    batch.clear()
            if batch:
                cursor.executemany(sql, batch)
                count += len(batch)
    seconds = time.perf_counter() - started
    _remove(FlowFile.objects.filter(pk=file.pk))
    return count, seconds


def orm_insert(path: Path, partner: ChannelPartner, operator: User) -> tuple[int, float]:
    """Reference only: FlowRecord(...) + bulk_create(batch_size=5000), one transaction (no FKs resolved)."""
    started = time.perf_counter()
    with transaction.atomic():
        file = _new_file(partner, operator, "bulk_create")
        count = 0
        batch: list[FlowRecord] = []
        with path.open(encoding="utf-8", newline="") as handle:
            reader = csv.reader(handle)
            next(reader)
            for number, cells in enumerate(reader, start=2):
                day, name, product, spec, quantity, unit, price, amount, batch_no, _kind = cells
                batch.append(
                    FlowRecord(
                        file_id=file.pk,
                        distributor_id=partner.pk,
                        period=PERIOD,
                        row_no=number,
                        row_key=hashlib.blake2b("\x1f".join(cells).encode(), digest_size=16).hexdigest(),
                        sale_date=dt.date.fromisoformat(day),
                        kind="sale",
                        customer_name=name,
                        product_name=product,
                        product_spec=spec,
                        unit=unit,
                        quantity=Decimal(quantity),
                        unit_price=Decimal(price),
                        amount=Decimal(amount),
                        batch_no=batch_no,
                    )
                )
                if len(batch) >= 5000:
                    FlowRecord.objects.bulk_create(batch, batch_size=5000)
                    count += len(batch)
                    batch.clear()
        if batch:
            FlowRecord.objects.bulk_create(batch, batch_size=5000)
            count += len(batch)
    seconds = time.perf_counter() - started
    _remove(FlowFile.objects.filter(pk=file.pk))
    return count, seconds


def settle() -> None:
    """Let the disk catch up before a measurement: the WAL folded into the database, dirty pages written.

    Without it the import, which runs right after the raw insert and the removal of its rows, pays
    for writing back their gigabyte: measured at 10^6 rows (load 3), 131 s in the benchmark
    against 93 s for the same command on a quiet disk.
    """
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    connection.close()
    os.sync()


def _remove(files: Any) -> None:
    with transaction.atomic():
        FlowRecord.objects.filter(file__in=files)._raw_delete(connection.alias)
        InventoryRecord.objects.filter(file__in=files)._raw_delete(connection.alias)
        FlowFile.objects.filter(pk__in=list(files.values_list("pk", flat=True))).update(replaced_by=None)
        files._raw_delete(connection.alias)


def cli_import(path: Path, partner: ChannelPartner, operator: User) -> tuple[float, float, str]:
    """`pharmacrm import flow FILE --distributor CODE` in a child: (seconds, its peak RSS in MB, first line)."""
    connection.close()
    log = workdir() / "import.log"
    argv = [sys.executable, "-m", "pharmacrm", "import", "flow", str(path)]
    argv += ["--distributor", partner.code, "--user", operator.username]
    with log.open("w") as handle:
        child = benchmarks.run_child(argv, env=dict(os.environ), output=handle)
    output = log.read_text()
    if child.code:
        raise RuntimeError(f"import failed ({child.code}): {output[-3000:]}")
    lines = [line for line in output.strip().splitlines() if line.strip()]
    return child.seconds, child.peak_mb, lines[0] if lines else ""


def run(*, ctx: Any) -> None:
    out = ctx.out
    rows = int(ctx.options.get("rows", ROWS))
    partner, customers, skus = _world()
    operator = User.objects.filter(username="admin").first() or User.objects.filter(is_superuser=True).first()
    assert operator is not None
    _remove(FlowFile.objects.filter(distributor=partner, period=PERIOD))  # an interrupted earlier run
    started = time.perf_counter()
    path, kinds = flow_file(rows, customers, skus)
    out(
        f"File: {path} ({path.stat().st_size / 1024 / 1024:.0f} MB, {rows:,} rows, {len(customers)} customers "
        f"of {partner.code} written the demo's messy way, {len(skus)} SKUs; {time.perf_counter() - started:.1f} s)"
    )
    # The layout is saved as this distributor's template first, as a user does in the template page
    # (the importer's automatic name for a first template can clash with one saved the same day).
    save_template(
        actor=operator,
        distributor=partner,
        header=HEADER,
        mapping=suggest_mapping(HEADER),
        name="基准测试模板",
    )
    if ctx.options.get("bulk_create"):
        settle()
        count, orm_seconds = orm_insert(path, partner, operator)
        out(
            f"reference, not the floor: FlowRecord(...) + bulk_create(batch_size=5000): {count:,} rows in "
            f"{orm_seconds:.1f} s = {count / orm_seconds:,.0f} rows/s ({benchmarks.describe_load()})"
        )
    # Raw and import back to back, so both see about the same load, each from a settled disk.
    settle()
    count, raw_seconds = raw_insert(path, partner, operator, customers, skus)
    raw_rate = count / raw_seconds
    out(
        f"raw executemany: {count:,} rows in {raw_seconds:.1f} s = {raw_rate:,.0f} rows/s "
        f"({benchmarks.describe_load()})"
    )
    settle()
    seconds, peak_mb, summary = cli_import(path, partner, operator)
    rate = rows / seconds
    ratio = rate / raw_rate
    out(
        f"import (pharmacrm import flow, child process): {seconds:.1f} s = {rate:,.0f} rows/s "
        f"({benchmarks.describe_load()})"
    )
    out(f"  {summary}")
    out(f"  ratio to raw: {ratio:.2f}× (goal ≥ {GOAL_RATIO}×) {'OK' if ratio >= GOAL_RATIO else 'MISSED'}")
    out(
        f"  peak RSS of the import process: {peak_mb:.0f} MB (goal < {GOAL_MB} MB) {'OK' if peak_mb < GOAL_MB else 'MISSED'}"
    )

    files = FlowFile.objects.filter(distributor=partner, period=PERIOD)
    imported = FlowRecord.objects.filter(file__in=files)
    methods = Counter(dict(imported.values_list("customer_match").annotate(n=Count("pk")).order_by()))
    exact = imported.filter(customer_match="fuzzy", customer_confidence=100).count()
    total = sum(methods.values()) or 1
    out(
        f"match rate on the messy names ({total:,} rows; mess in the file: "
        + ", ".join(f"{k} {100 * v / rows:.0f}%" for k, v in sorted(kinds.items(), key=lambda kv: -kv[1]))
        + "):"
    )
    out(f"  code {100 * methods.get('code', 0) / total:.1f}%, alias {100 * methods.get('alias', 0) / total:.1f}%, "
        f"exact name {100 * exact / total:.1f}%, fuzzy {100 * (methods.get('fuzzy', 0) - exact) / total:.1f}%, "
        f"unmatched {100 * methods.get('', 0) / total:.1f}%")  # fmt: skip
    products = Counter(dict(imported.values_list("product_match").annotate(n=Count("pk")).order_by()))
    out(f"  products unmatched {100 * products.get('', 0) / total:.1f}%")
    _remove(files)
    out("the demo's own flow data (24 months, imported through the pipeline, queue worked monthly):")
    for line in match_rate_lines():
        out(f"  {line}")
