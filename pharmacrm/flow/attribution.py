"""Attribution: each flow record's territory and rep on its sale date, its 窜货 and 两票制 flags, set-based.

A record's territory is the territory its institution was in on the sale date, read from the
institution's territory history (customers.InstitutionTerritoryPeriod: its own territory, or its
area's TerritoryRule, over time); its rep is the primary holder of that territory on the sale date,
read from the TerritoryAssignment history. An institution moved to another territory keeps its
earlier sales with the old territory and rep.

Institutions' periods and the territories' coverage periods are resolved in Python (small): each
institution's time line is cut into (territory, rep, first day, last day) pieces, institutions
with the same piece are grouped, and one plain UPDATE per group selects its rows by (institution,
sale date) — never row by row, so attribution keeps up with a million-row import; only
differences are written, so re-running it changes nothing (idempotent) and reports what changed.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from django.db.models import Count, Min, Q, QuerySet

from pharmacrm.channels.models import ChannelPartner
from pharmacrm.core.imports.bulk import in_list_chunks
from pharmacrm.core.models import TerritoryAssignment
from pharmacrm.customers.models import Institution, InstitutionTerritoryPeriod
from pharmacrm.customers.territory_history import spans_by_institution
from pharmacrm.flow.models import FlowRecord

CHUNK = 20_000  # rows per UPDATE: big enough to amortise, small enough for the SQLite WAL


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


# --- Chunking --------------------------------------------------------------------------------------


def _id_chunks(record_ids: Iterable[int]) -> Iterator[Q]:
    """Filters covering `record_ids` in chunks: a pk range when a chunk is contiguous (bulk inserts are)."""
    ids = sorted(set(record_ids))
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start : start + CHUNK]
        if chunk[-1] - chunk[0] + 1 == len(chunk):
            yield Q(pk__gte=chunk[0], pk__lte=chunk[-1])
        else:
            for sub in in_list_chunks(chunk):
                yield Q(pk__in=sub)


# --- Steps -----------------------------------------------------------------------------------------


Segment = tuple[dt.date | None, dt.date | None, int | None]  # first day, last day (None = open), rep


def _coverage(territory_ids: set[int]) -> dict[int, list[Segment]]:
    """Per territory, the whole time line cut into periods with their primary holder (None in gaps)."""
    rows: dict[int, list[tuple[dt.date, dt.date | None, int]]] = defaultdict(list)
    for territory_id, user_id, start, end in (
        TerritoryAssignment.objects.filter(
            territory_id__in=territory_ids, kind=TerritoryAssignment.Kind.PRIMARY
        )
        .order_by("territory_id", "valid_from", "pk")
        .values_list("territory_id", "user_id", "valid_from", "valid_to")
    ):
        rows[territory_id].append((start, end, user_id))
    one_day = dt.timedelta(days=1)
    timeline: dict[int, list[Segment]] = {}
    for territory_id in territory_ids:
        segments: list[Segment] = []
        cursor: dt.date | None = None  # first day not yet covered (None = the beginning of time)
        periods = rows.get(territory_id, [])
        for i, (start, end, user_id) in enumerate(periods):
            # The latest start wins where periods overlap (they should not for primary holders).
            following = periods[i + 1][0] if i + 1 < len(periods) else None
            if following is not None and (end is None or end >= following):
                end = following - one_day
            if end is not None and end < start:
                continue
            if cursor is None or start > cursor:
                segments.append((cursor, start - one_day, None))
            segments.append((start, end, user_id))
            cursor = None if end is None else end + one_day
            if end is None:
                break
        else:
            segments.append((cursor, None, None))
        timeline[territory_id] = segments
    return timeline


Piece = tuple[int | None, int | None, dt.date | None, dt.date | None]  # territory, rep, first, last


def _later(a: dt.date | None, b: dt.date | None) -> dt.date | None:
    """The later of two first days (None = the beginning of time)."""
    return b if a is None else a if b is None else max(a, b)


def _earlier(a: dt.date | None, b: dt.date | None) -> dt.date | None:
    """The earlier of two last days (None = open-ended)."""
    return b if a is None else a if b is None else min(a, b)


def _pieces(
    spans: list[tuple[dt.date | None, dt.date | None, int]], coverage: dict[int, list[Segment]]
) -> list[Piece]:
    """One institution's whole time line as (territory, rep, first, last): its territory periods cut by
    their territories' coverage periods; days outside every period are nobody's (None, None)."""
    one_day = dt.timedelta(days=1)
    pieces: list[Piece] = []
    cursor: dt.date | None = None  # first day not yet placed (None = the beginning of time)
    started = False
    for first, last, territory_id in spans:
        if started and cursor is None:
            break  # an open-ended period already reached the end of time
        if (not started and first is not None) or (
            started and first is not None and cursor is not None and first > cursor
        ):
            pieces.append((None, None, cursor, first - one_day))
        for seg_first, seg_last, rep_id in coverage.get(territory_id, [(None, None, None)]):
            lo, hi = _later(first, seg_first), _earlier(last, seg_last)
            if lo is None or hi is None or lo <= hi:
                pieces.append((territory_id, rep_id, lo, hi))
        started = True
        cursor = None if last is None else last + one_day
    if not started:
        pieces.append((None, None, None, None))
    elif cursor is not None:
        pieces.append((None, None, cursor, None))
    return pieces


def _attribute_chunk(rows: QuerySet[FlowRecord]) -> AttributionResult:
    """Territory and rep of `rows`: one UPDATE per (territory, rep, date range), writing only differences.

    The territory periods of each institution and the coverage periods of each territory are
    resolved in Python (a few thousand institutions, a few hundred periods); institutions whose
    time lines share a piece are updated together, so every statement is a plain indexed UPDATE
    (institution, sale_date range) with no per-row subquery.
    """
    result = AttributionResult()
    institution_ids = sorted(
        i for i in rows.order_by().values_list("institution_id", flat=True).distinct() if i is not None
    )
    spans = spans_by_institution(institution_ids)
    coverage = _coverage({t for periods in spans.values() for _f, _l, t in periods})
    groups: dict[Piece, list[int]] = defaultdict(list)
    for institution_id in institution_ids:
        for piece in _pieces(spans.get(institution_id, []), coverage):
            groups[piece].append(institution_id)
    for (territory_id, rep_id, first, last), members in groups.items():
        for chunk in in_list_chunks(members):
            part = rows.filter(institution_id__in=chunk)
            if first is not None:
                part = part.filter(sale_date__gte=first)
            if last is not None:
                part = part.filter(sale_date__lte=last)
            result += _write(part, territory_id, rep_id)
    # Unmatched rows: nobody's.
    result += _write(rows.filter(institution__isnull=True), None, None)
    return result


def _write(part: QuerySet[FlowRecord], territory_id: int | None, rep_id: int | None) -> AttributionResult:
    """Set territory and rep on `part` where they differ; counts what changed."""
    result = AttributionResult()
    same_territory = Q(territory_id=territory_id) if territory_id else Q(territory__isnull=True)
    same_rep = Q(rep_id=rep_id) if rep_id else Q(rep__isnull=True)
    # One statement for both counts (a re-run that changes nothing costs one read, not two). A
    # negated Q in an aggregate's filter counts NULLs as different, as exclude() does.
    counts = part.aggregate(territory=Count("pk", filter=~same_territory), rep=Count("pk", filter=~same_rep))
    result.territory, result.rep = counts["territory"], counts["rep"]
    if result.territory or result.rep:
        result.changed = part.exclude(same_territory & same_rep).update(
            territory_id=territory_id, rep_id=rep_id
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
    institution_of = dict(ChannelPartner.objects.values_list("pk", "institution_id"))
    candidates = rows.filter(public_hospital, kind=FlowRecord.Kind.SALE, sku__isnull=False)
    flipped = 0
    # One (distributor, SKU, month) at a time: its first transfer received from another distributor
    # in the window decides, since every sale of that month on or after it has one before it.
    for distributor_id, sku_id, period in (
        candidates.order_by().values_list("distributor_id", "sku_id", "period").distinct()
    ):
        previous = (period - dt.timedelta(days=1)).replace(day=1)
        month_end = (period.replace(day=28) + dt.timedelta(days=4)).replace(day=1) - dt.timedelta(days=1)
        first = (
            FlowRecord.objects.filter(
                kind=FlowRecord.Kind.TRANSFER,
                institution_id=institution_of[distributor_id],
                sku_id=sku_id,
                sale_date__gte=previous,
                sale_date__lte=month_end,
            )
            .exclude(distributor_id=distributor_id)
            .aggregate(first=Min("sale_date"))["first"]
        )
        group = candidates.filter(distributor_id=distributor_id, sku_id=sku_id, period=period)
        if first is None:
            flipped += group.filter(extra_hop=True).update(extra_hop=False)
            continue
        flipped += group.filter(extra_hop=False, sale_date__gte=first).update(extra_hop=True)
        flipped += group.filter(extra_hop=True, sale_date__lt=first).update(extra_hop=False)
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
    # The whole file at once: each statement selects its rows by (institution, sale date).
    result = _attribute_rows(records, flags=flags)
    result.rows = records.count()
    return result


def reattribute(
    *,
    since: dt.date | None = None,
    territory_ids: Iterable[int] | None = None,
    institution_ids: Iterable[int] | None = None,
) -> AttributionResult:
    """Re-attribute every record sold on or after `since` (all when None); returns what changed.

    Run after territory coverage is corrected or an institution moves. Idempotent: a second run
    reports 0 changed rows. `territory_ids` narrows the run to records now attributed to those
    territories or whose institution was ever in one of them (a coverage correction touches few
    territories); `institution_ids` to the records of those institutions (a move).
    """
    records = FlowRecord.objects.filter(Q(institution__isnull=False) | Q(territory__isnull=False))
    if since is not None:
        records = records.filter(sale_date__gte=since)
    if territory_ids is not None:
        ids = list(territory_ids)
        members = InstitutionTerritoryPeriod.objects.filter(territory_id__in=ids)
        if since is not None:
            members = members.filter(Q(valid_to__isnull=True) | Q(valid_to__gte=since))
        records = records.filter(
            Q(territory_id__in=ids) | Q(institution_id__in=members.values("institution_id"))
        )
    if institution_ids is not None:
        records = records.filter(institution_id__in=list(institution_ids))
    result = _attribute_chunk(records)
    result.rows = records.count()
    return result
