"""Attribution: each flow record's territory and rep on its sale date, its 窜货 and 两票制 flags, set-based.

A record's territory is its institution's territory (Institution.territory, or the province/city
TerritoryRule when the institution has none); its rep is the primary holder of that territory on
the sale date, read from the TerritoryAssignment history. Everything is done with UPDATE
statements over id ranges (correlated subqueries), never row by row, so attribution keeps up
with a million-row import; re-running it changes nothing (idempotent) and reports what changed.

Institutions do not carry territory validity periods: a realigned institution's past sales follow
its current territory (the audit history records the move, but attribution does not read it).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from django.db import connection
from django.db.models import Exists, F, IntegerField, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce

from pharmacrm.channels.models import ChannelPartner
from pharmacrm.core.models import TerritoryAssignment, TerritoryRule
from pharmacrm.customers.models import Institution
from pharmacrm.flow.models import FlowRecord

CHUNK = 20_000  # rows per UPDATE: big enough to amortise, small enough for the SQLite WAL


def _in_chunk() -> int:
    # SQLite caps the parameters of one statement; PostgreSQL takes long IN lists happily.
    return 900 if connection.vendor == "sqlite" else 10_000


@dataclass
class AttributionResult:
    """What an attribution run looked at and changed (counts of rows)."""

    rows: int = 0
    changed: int = 0  # rows whose territory or rep changed
    territory: int = 0
    rep: int = 0
    out_of_region: int = 0  # rows whose 窜货 flag flipped
    extra_hop: int = 0  # rows whose 两票制 flag flipped
    details: dict[str, int] = field(default_factory=dict)

    def __iadd__(self, other: AttributionResult) -> AttributionResult:
        self.rows += other.rows
        self.changed += other.changed
        self.territory += other.territory
        self.rep += other.rep
        self.out_of_region += other.out_of_region
        self.extra_hop += other.extra_hop
        return self

    def as_dict(self) -> dict[str, int]:
        return {
            "rows": self.rows,
            "changed": self.changed,
            "territory": self.territory,
            "rep": self.rep,
            "out_of_region": self.out_of_region,
            "extra_hop": self.extra_hop,
        }


# --- Expressions ---------------------------------------------------------------------------------


def territory_expression() -> Subquery:
    """The territory of the row's institution: its own, else the city rule, else the province rule."""
    city_rule = TerritoryRule.objects.filter(province_id=OuterRef("province_id"), city_id=OuterRef("city_id"))
    province_rule = TerritoryRule.objects.filter(province_id=OuterRef("province_id"), city__isnull=True)
    institution = Institution.objects.filter(pk=OuterRef("institution_id")).annotate(
        resolved=Coalesce(
            F("territory_id"),
            Subquery(city_rule.values("territory_id")[:1]),
            Subquery(province_rule.values("territory_id")[:1]),
            output_field=IntegerField(),
        )
    )
    return Subquery(institution.values("resolved")[:1], output_field=IntegerField())


def rep_expression(territory_ref: OuterRef) -> Subquery:
    """The primary holder of the territory `territory_ref` on the row's sale date (latest start wins)."""
    holders = (
        TerritoryAssignment.objects.filter(
            territory_id=territory_ref,
            kind=TerritoryAssignment.Kind.PRIMARY,
            valid_from__lte=OuterRef("sale_date"),
        )
        .filter(Q(valid_to__isnull=True) | Q(valid_to__gte=OuterRef("sale_date")))
        .order_by("-valid_from", "-pk")
    )
    return Subquery(holders.values("user_id")[:1], output_field=IntegerField())


def _differs(column: str, annotation: str) -> Q:
    """Null-safe `column IS DISTINCT FROM annotation` (Django has no such lookup)."""
    return (
        Q(**{f"{column}__isnull": True, f"{annotation}__isnull": False})
        | Q(**{f"{column}__isnull": False, f"{annotation}__isnull": True})
        | (Q(**{f"{column}__isnull": False, f"{annotation}__isnull": False}) & ~Q(**{column: F(annotation)}))
    )


# --- Chunking --------------------------------------------------------------------------------------


def _id_chunks(record_ids: Iterable[int]) -> Iterator[Q]:
    """Filters covering `record_ids` in chunks: a pk range when a chunk is contiguous (bulk inserts are)."""
    ids = sorted(set(record_ids))
    step = _in_chunk()
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start : start + CHUNK]
        if chunk[-1] - chunk[0] + 1 == len(chunk):
            yield Q(pk__gte=chunk[0], pk__lte=chunk[-1])
        else:
            for sub in range(0, len(chunk), step):
                yield Q(pk__in=chunk[sub : sub + step])


def _range_chunks(qs: QuerySet[FlowRecord]) -> Iterator[Q]:
    """pk-range filters walking `qs` CHUNK ids at a time (no id lists in memory)."""
    bounds = qs.order_by().values_list("pk", flat=True)
    low = bounds.order_by("pk").first()
    high = bounds.order_by("-pk").first()
    if low is None or high is None:
        return
    for start in range(low, high + 1, CHUNK):
        yield Q(pk__gte=start, pk__lt=start + CHUNK)


# --- Steps -----------------------------------------------------------------------------------------


def _attribute_chunk(rows: QuerySet[FlowRecord]) -> AttributionResult:
    """Territory, then rep, of `rows`; counts the rows where either differs before writing."""
    result = AttributionResult()
    result.changed = (
        rows.annotate(new_territory=territory_expression())
        .annotate(new_rep=rep_expression(OuterRef("new_territory")))
        .filter(_differs("territory_id", "new_territory") | _differs("rep_id", "new_rep"))
        .count()
    )
    result.territory = (
        rows.annotate(new_territory=territory_expression())
        .filter(_differs("territory_id", "new_territory"))
        .update(territory_id=territory_expression())
    )
    # A second statement: the rep follows the territory just written.
    result.rep = (
        rows.annotate(new_rep=rep_expression(OuterRef("territory_id")))
        .filter(_differs("rep_id", "new_rep"))
        .update(rep_id=rep_expression(OuterRef("territory_id")))
    )
    return result


def _in_region(codes: frozenset[str]) -> Q:
    return (
        Q(institution__province_id__in=codes)
        | Q(institution__city_id__in=codes)
        | Q(institution__county_id__in=codes)
    )


def flag_out_of_region(rows: QuerySet[FlowRecord]) -> int:
    """Set `out_of_region` (窜货) on `rows`: a matched sale outside the distributor's agreed regions.

    Regions are read per sale date (contracts §3); dates with the same regions are updated together.
    Returns how many rows' flag flipped.
    """
    from pharmacrm.channels.selectors import agreement_regions

    pairs = rows.order_by().values_list("distributor_id", "sale_date").distinct()
    by_day: dict[dt.date, set[int]] = defaultdict(set)
    for distributor_id, day in pairs:
        by_day[day].add(distributor_id)
    # (distributor, regions or None) → sale dates
    groups: dict[tuple[int, frozenset[str] | None], list[dt.date]] = defaultdict(list)
    for day, distributors in by_day.items():
        regions = agreement_regions(partner_ids=distributors, on=day)
        for distributor_id in distributors:
            groups[(distributor_id, regions.get(distributor_id))].append(day)
    flipped = 0
    for (distributor_id, codes), days in groups.items():
        base = rows.filter(distributor_id=distributor_id, sale_date__in=days)
        if codes is None:
            flipped += base.filter(out_of_region=True).update(out_of_region=False)
            continue
        flipped += (
            base.filter(institution__isnull=False, out_of_region=False)
            .exclude(_in_region(codes))
            .update(out_of_region=True)
        )
        flipped += (
            base.filter(out_of_region=True)
            .filter(_in_region(codes) | Q(institution__isnull=True))
            .update(out_of_region=False)
        )
    return flipped


def flag_extra_hops(rows: QuerySet[FlowRecord]) -> int:
    """Set `extra_hop` (两票制): a distributor's sale to a public hospital of goods it got by transfer.

    The goods reached the hospital through two distributors, i.e. three invoices. Detected from the
    transfer (调拨) rows other distributors reported to this distributor's institution for the same
    SKU, dated from the first day of the month before the sale up to the sale date. Returns how
    many rows' flag flipped.
    """
    public_hospital = Q(
        institution__kind=Institution.Kind.HOSPITAL, institution__ownership=Institution.Ownership.PUBLIC
    )
    # Two levels out: the candidate sale (the transfer row is the first level).
    partner_institution = ChannelPartner.objects.filter(pk=OuterRef(OuterRef("distributor_id"))).values(
        "institution_id"
    )[:1]
    received = FlowRecord.objects.filter(
        kind=FlowRecord.Kind.TRANSFER,
        institution_id=Subquery(partner_institution),
        sku_id=OuterRef("sku_id"),
        sale_date__lte=OuterRef("sale_date"),
    ).exclude(distributor_id=OuterRef("distributor_id"))
    candidates = rows.filter(public_hospital, kind=FlowRecord.Kind.SALE, sku__isnull=False)
    flipped = 0
    for period in candidates.order_by().values_list("period", flat=True).distinct():
        previous = (period - dt.timedelta(days=1)).replace(day=1)
        hit = Exists(received.filter(sale_date__gte=previous))
        in_period = candidates.filter(period=period)
        flipped += in_period.filter(extra_hop=False).filter(hit).update(extra_hop=True)
        flipped += in_period.filter(extra_hop=True).exclude(hit).update(extra_hop=False)
    flipped += (
        rows.filter(extra_hop=True)
        .exclude(public_hospital & Q(kind=FlowRecord.Kind.SALE, sku__isnull=False))
        .update(extra_hop=False)
    )
    return flipped


# --- Entry points ------------------------------------------------------------------------------------


def attribute_records(*, record_ids: Iterable[int], flags: bool = True) -> AttributionResult:
    """Attribute the given records (after an import or after mapping rows in the unmatched queue).

    Sets territory and rep at the sale date and, with `flags`, the 窜货 and 两票制 flags. Safe to
    call again on the same rows: only differences are written.
    """
    ids = set(record_ids)
    result = AttributionResult(rows=len(ids))
    for chunk in _id_chunks(ids):
        result += _attribute_rows(FlowRecord.objects.filter(chunk), flags=flags)
    return result


def _attribute_rows(rows: QuerySet[FlowRecord], *, flags: bool) -> AttributionResult:
    part = _attribute_chunk(rows)
    if flags:
        part.out_of_region = flag_out_of_region(rows)
        part.extra_hop = flag_extra_hops(rows)
    return part


def attribute_file(*, file_id: int, flags: bool = True) -> AttributionResult:
    """Attribute every record of one flow file (pk ranges, no id list in memory)."""
    records = FlowRecord.objects.filter(file_id=file_id)
    result = AttributionResult(rows=records.count())
    for chunk in _range_chunks(records):
        result += _attribute_rows(records.filter(chunk), flags=flags)
    return result


def reattribute(
    *, since: dt.date | None = None, territory_ids: Iterable[int] | None = None
) -> AttributionResult:
    """Re-attribute every record sold on or after `since` (all when None); returns what changed.

    Run after territory coverage is corrected. Idempotent: a second run reports 0 changed rows.
    `territory_ids` narrows the run to records currently in those territories or whose
    institution belongs to them (a correction touches few territories).
    """
    records = FlowRecord.objects.filter(Q(institution__isnull=False) | Q(territory__isnull=False))
    if since is not None:
        records = records.filter(sale_date__gte=since)
    if territory_ids is not None:
        ids = list(territory_ids)
        # Institutions without a territory of their own may belong to them by a rule.
        records = records.filter(
            Q(territory_id__in=ids)
            | Q(institution__territory_id__in=ids)
            | Q(institution__territory__isnull=True)
        )
    result = AttributionResult()
    for chunk in _range_chunks(records):
        rows = FlowRecord.objects.filter(pk__in=records.filter(chunk).values("pk"))
        part = _attribute_chunk(rows)
        part.rows = rows.count()
        result += part
    return result
