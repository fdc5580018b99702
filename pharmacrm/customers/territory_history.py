"""Which territory each institution belonged to, and when: its territory periods, kept in step with every move.

An institution's territory is *resolved*: its own (`Institution.territory`), else the
`TerritoryRule` of its city, else of its province. `InstitutionTerritoryPeriod` records the
resolved territory over time, so sales attribution can give a sale to the territory the
institution was in on the sale date while visibility keeps following the current territory.

Every write that can change the resolved territory calls `realign` in its own transaction: the
institution services (form, API), institution imports, merges, and the territory-rule services
below. A move takes effect today; an admin may backdate it (`effective`, with a reason). The
first period of an institution that never had one starts at the beginning (a new institution's
earlier sales, if a distributor reports them later, are its first territory's). Applying the same
move twice changes nothing.

Apps above customers react to a move without customers importing them: flow registers a listener
with `on_institution_move` that queues re-attribution of the moved institutions' sales after
commit.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

from django.db import transaction
from django.db.models import F, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from pharmacrm.core.audit import Source, acting_as, current_state
from pharmacrm.core.errors import DomainError, NotAllowed
from pharmacrm.core.imports.bulk import in_list_chunks, insert_with_history
from pharmacrm.core.models import Division, Role, Territory, TerritoryRule
from pharmacrm.customers.models import Institution, InstitutionTerritoryPeriod

REASON_MAX = InstitutionTerritoryPeriod._meta.get_field("reason").max_length or 200
ONE_DAY = dt.timedelta(days=1)

Span = tuple[
    dt.date | None, dt.date | None, int
]  # first day (None = beginning), last day (None = open), territory


# --- Listeners ------------------------------------------------------------------------------------
# listener(*, institution_ids: list[int], since: date | None) after commit; since None = all dates.
_move_listeners: list[Callable[..., None]] = []


def on_institution_move(listener: Callable[..., None]) -> None:
    """Call `listener(institution_ids=…, since=…)` after every committed change of territory history."""
    if listener not in _move_listeners:
        _move_listeners.append(listener)


def institutions_moved(*, institution_ids: Iterable[int], since: dt.date | None) -> None:
    """Tell the listeners, after commit, that these institutions' territory on/after `since` changed.

    Also called by a merge: the merged institution's sales now follow the survivor's history.
    """
    ids = sorted(set(institution_ids))
    if not ids:
        return
    for listener in _move_listeners:
        transaction.on_commit(partial(listener, institution_ids=ids, since=since))


# --- Reading ----------------------------------------------------------------------------------------


def resolve_territories(institution_ids: Iterable[int]) -> dict[int, int | None]:
    """Institution → its territory now: its own, else its city's rule, else its province's rule."""
    ids = sorted(set(institution_ids))
    rules = {(r.province_id, r.city_id): r.territory_id for r in TerritoryRule.objects.all()}
    resolved: dict[int, int | None] = {}
    for chunk in in_list_chunks(ids):
        for pk, own, province, city in Institution.objects.filter(pk__in=chunk).values_list(
            "pk", "territory_id", "province_id", "city_id"
        ):
            resolved[pk] = own or rules.get((province, city)) or rules.get((province, None))
    return resolved


def _periods_of(ids: Sequence[int]) -> Iterator[QuerySet[InstitutionTerritoryPeriod]]:
    """These institutions' periods, by institution and start (an open start first), a query per IN-list."""
    for chunk in in_list_chunks(ids):
        yield InstitutionTerritoryPeriod.objects.filter(institution_id__in=chunk).order_by(
            "institution_id", F("valid_from").asc(nulls_first=True)
        )


def spans_by_institution(institution_ids: Iterable[int]) -> dict[int, list[Span]]:
    """Institution → its periods as (first, last, territory), oldest first (attribution's input)."""
    ids = sorted(set(institution_ids))
    spans: dict[int, list[Span]] = defaultdict(list)
    for periods in _periods_of(ids):
        for institution_id, first, last, territory_id in periods.values_list(
            "institution_id", "valid_from", "valid_to", "territory_id"
        ):
            spans[institution_id].append((first, last, territory_id))
    return dict(spans)


# --- Writing ----------------------------------------------------------------------------------------


def check_effective(*, actor: Any, effective: dt.date | None, reason: str) -> dt.date | None:
    """Validate a move's effective date and reason; None means today. Raises naming the field."""
    reason = (reason or "").strip()
    if len(reason) > REASON_MAX:
        raise DomainError(
            _("原因最多 {n} 个字符。").format(n=REASON_MAX), fields={"reason": [_("内容过长。")]}
        )
    if effective is None:
        return None
    today = timezone.localdate()
    if effective > today:
        message = _("生效日期 {day} 晚于今天（{today}）：辖区调整只能从今天或以前生效。").format(
            day=effective, today=today
        )
        raise DomainError(message, fields={"effective": [message]})
    if effective < today:
        if actor is not None and not actor.has_role(Role.ADMIN):
            message = _("只有系统管理员可以把辖区调整的生效日期定在今天以前。")
            raise NotAllowed(message, fields={"effective": [message]})
        if not reason:
            message = _("生效日期早于今天（追溯调整）时须填写原因。")
            raise DomainError(message, fields={"reason": [message]})
    return effective


def _rewrite(
    *,
    periods: list[InstitutionTerritoryPeriod],
    institution_id: int,
    territory_id: int | None,
    day: dt.date | None,
    actor: Any,
    reason: str,
) -> bool:
    """Make the institution's timeline say `territory_id` from `day` on (None: the whole timeline).

    `periods` are the institution's periods, oldest first. Periods starting on or after `day` go,
    the one across `day` ends the day before (or simply continues when it is already in the
    territory), and the territory's period starts on `day`. Writes deletions first, then the
    shortened period, then the new or extended one, so no statement ever overlaps two periods (the
    database refuses that). Returns whether anything changed.
    """
    doomed: list[InstitutionTerritoryPeriod] = []
    shortened: InstitutionTerritoryPeriod | None = None
    carried: InstitutionTerritoryPeriod | None = None  # an existing period that carries on from `day`
    for period in periods:
        if day is None or (period.valid_from is not None and period.valid_from >= day):
            doomed.append(period)
            continue
        ends_before = period.valid_to is not None and period.valid_to < day - ONE_DAY
        if ends_before:
            continue
        if period.territory_id == territory_id:
            carried = period  # across `day`, or ending the day before: it continues
        elif period.valid_to is None or period.valid_to >= day:
            shortened = period
    reused: InstitutionTerritoryPeriod | None = None
    if carried is None and territory_id is not None:
        # A later period in the same territory moves its start instead of being deleted and recreated:
        # the audit trail then reads "start date changed" (a backdated move).
        reused = next((p for p in doomed if p.territory_id == territory_id), None)
        if reused is not None:
            doomed.remove(reused)
    if (
        not doomed
        and shortened is None
        and (carried is None or carried.valid_to is None)
        and (reused is None or (reused.valid_from == day and reused.valid_to is None))
        and (carried is not None or reused is not None or territory_id is None)
    ):
        return False
    change_reason = reason[:100] if reason else None
    with acting_as(actor):
        for period in doomed:
            period._change_reason = change_reason  # type: ignore[attr-defined]  # read by simple-history
            period.delete()
        if shortened is not None:
            assert day is not None
            shortened.valid_to = day - ONE_DAY
            shortened._change_reason = change_reason  # type: ignore[attr-defined]
            shortened.save(update_fields=["valid_to"])
        if carried is not None and carried.valid_to is not None:
            carried.valid_to = None
            carried._change_reason = change_reason  # type: ignore[attr-defined]
            carried.save(update_fields=["valid_to"])
        elif reused is not None:
            reused.valid_from, reused.valid_to = day, None
            reused.recorded_by = actor
            reused.reason = reason
            reused._change_reason = change_reason  # type: ignore[attr-defined]
            reused.save(update_fields=["valid_from", "valid_to", "recorded_by", "reason"])
        elif carried is None and territory_id is not None:
            created = InstitutionTerritoryPeriod(
                institution_id=institution_id,
                territory_id=territory_id,
                valid_from=day,
                recorded_by=actor,
                reason=reason,
            )
            created._change_reason = change_reason  # type: ignore[attr-defined]
            created.save()
    return True


@transaction.atomic
def realign(
    *,
    institution_ids: Iterable[int],
    actor: Any,
    effective: dt.date | None = None,
    reason: str = "",
    force: bool = False,
    notify: bool = True,
) -> dict[int, dt.date | None]:
    """Bring the institutions' territory periods in step with their resolved territory.

    Returns the institutions that moved, each with the first day whose territory changed (None:
    since the beginning).

    Call it inside the transaction that may have moved them (after the write). An institution
    whose current period already names its resolved territory is left alone, unless `force`
    (a backdated move whose territory was recorded earlier). The move starts on `effective`
    (checked by `check_effective`), else today, else — for an institution that never had a
    period — at the beginning. With `notify`, the listeners hear of the moves after commit (a
    brand-new institution has no sales to re-attribute: its creators pass notify=False).
    """
    ids = sorted(set(institution_ids))
    if not ids:
        return {}
    today = timezone.localdate()
    resolved = resolve_territories(ids)
    periods: dict[int, list[InstitutionTerritoryPeriod]] = defaultdict(list)
    for chunk in _periods_of(ids):
        for period in chunk:
            periods[period.institution_id].append(period)
    reason = (reason or "").strip()[:REASON_MAX]
    moved: dict[int, dt.date | None] = {}
    since: dt.date | None = today
    first: list[InstitutionTerritoryPeriod] = []  # institutions that never had a period
    for institution_id in ids:
        if institution_id not in resolved:
            continue  # deleted meanwhile (a merge)
        mine = periods.get(institution_id, [])
        target = resolved[institution_id]
        current = next((p.territory_id for p in mine if p.valid_to is None), None)
        if current == target and not force:
            continue
        day = effective if effective is not None else (today if mine else None)
        if not mine and day is None:
            assert target is not None
            first.append(
                InstitutionTerritoryPeriod(
                    institution_id=institution_id, territory_id=target, recorded_by=actor, reason=reason
                )
            )
        elif not _rewrite(
            periods=mine,
            institution_id=institution_id,
            territory_id=target,
            day=day,
            actor=actor,
            reason=reason,
        ):
            continue
        moved[institution_id] = day
        since = None if day is None or since is None else min(since, day)
    if first:
        # An import may create a hundred thousand institutions: their first periods in one executemany.
        state = current_state()
        insert_with_history(
            InstitutionTerritoryPeriod,
            first,
            actor=actor,
            when=timezone.now(),
            attrs={
                "history_source": state.source if state else Source.SYSTEM,
                "history_ip": state.ip if state else None,
                "history_change_reason": reason[:100] or None,
            },
        )
    if notify:
        institutions_moved(institution_ids=moved, since=since)
    return moved


# --- Territory rules ---------------------------------------------------------------------------------
# A rule gives every institution of its area that has no territory of its own to a territory: changing
# a rule moves them, so rules change here, where the moves are recorded with them.


def _require_admin(actor: Any) -> None:
    if actor is not None and not actor.has_role(Role.ADMIN):
        raise NotAllowed(_("只有系统管理员可以修改辖区规则。"))


def _area(province: Division | str, city: Division | str | None) -> tuple[Division, Division | None]:
    code = province.pk if isinstance(province, Division) else str(province)
    found = Division.objects.filter(pk=code, level=Division.Level.PROVINCE).first()
    if found is None:
        message = _("未知省份代码：“{code}”。").format(code=code)
        raise DomainError(message, fields={"province": [message]})
    if city in (None, ""):
        return found, None
    city_code = city.pk if isinstance(city, Division) else str(city)
    city_row = Division.objects.filter(pk=city_code, level=Division.Level.CITY).first()
    if city_row is None or city_row.parent_id != found.pk:
        message = _("城市“{city}”不属于“{province}”。").format(city=city_code, province=found.name)
        raise DomainError(message, fields={"city": [message]})
    return found, city_row


def _institutions_of_area(province: Division, city: Division | None) -> list[int]:
    area = Institution.objects.filter(territory__isnull=True, province=province)
    if city is not None:
        area = area.filter(city=city)
    return list(area.values_list("pk", flat=True))


@dataclass(frozen=True)
class RuleChange:
    """What set_territory_rule did: the area's rule (with its areas loaded), and who held the area before."""

    rule: TerritoryRule
    previous: Territory | None  # the territory the rule was taken from; None for a new or unchanged rule


@transaction.atomic
def set_territory_rule(
    *,
    actor: Any,
    territory: Territory,
    province: Division | str,
    city: Division | str | None = None,
    effective: dt.date | None = None,
    reason: str = "",
) -> RuleChange:
    """Give the area (a province, or one city of it) to `territory`; its institutions without a territory move.

    One rule per area: an existing rule for the same area changes hands. The moves start today, or
    on `effective` (admins, with a reason).
    """
    _require_admin(actor)
    effective = check_effective(actor=actor, effective=effective, reason=reason)
    province_row, city_row = _area(province, city)
    rule = (
        TerritoryRule.objects.select_for_update(of=("self",))
        .select_related("territory")
        .filter(province=province_row, city=city_row)
        .first()
    )
    previous = None
    with acting_as(actor):
        if rule is None:
            rule = TerritoryRule.objects.create(territory=territory, province=province_row, city=city_row)
        elif rule.territory_id != territory.pk:
            previous = rule.territory
            rule.territory = territory
            rule.save(update_fields=["territory"])
    rule.province, rule.city = province_row, city_row
    realign(
        institution_ids=_institutions_of_area(province_row, city_row),
        actor=actor,
        effective=effective,
        reason=reason or _("辖区规则变更"),
    )
    return RuleChange(rule=rule, previous=previous)


@transaction.atomic
def remove_territory_rule(
    *, actor: Any, rule: TerritoryRule, effective: dt.date | None = None, reason: str = ""
) -> None:
    """Remove a rule: its area's institutions without a territory follow the province's rule, or none."""
    _require_admin(actor)
    effective = check_effective(actor=actor, effective=effective, reason=reason)
    row = (
        TerritoryRule.objects.select_for_update(of=("self",))
        .select_related("province", "city")
        .get(pk=rule.pk)
    )
    province_row, city_row = row.province, row.city
    with acting_as(actor):
        row.delete()
    realign(
        institution_ids=_institutions_of_area(province_row, city_row),
        actor=actor,
        effective=effective,
        reason=reason or _("辖区规则变更"),
    )
