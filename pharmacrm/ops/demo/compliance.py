"""The demo's compliance records: reps' filings (医药代表备案) and professionals' consents to be contacted."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Sequence
from typing import Any

from pharmacrm.compliance.models import Consent, ContactChannel, Purpose, RepRegistration
from pharmacrm.core.models import Role
from pharmacrm.ops.demo.organisation import Plan, TerritoryPlan

Status = RepRegistration.Status

UNFILED_SHARE = 0.03  # new reps whose filing is still pending: they have no visit history
EXPIRING_SHARE = 0.05  # filed, but the filing runs out within 30 days
FILING_YEARS = 3
ALWAYS_FILED = frozenset({"rep1", "rep2"})  # the demo's reps can record visits

REGISTRATION_COLUMNS = ("user_id", "number", "status", "filed_on", "expires_on", "notes")


def plan_registrations(
    *, rng: random.Random, plan: Plan, today: dt.date
) -> tuple[list[tuple[Any, ...]], set[int]]:
    """One registration row per rep (REGISTRATION_COLUMNS order) and the user pks of unfiled reps.

    A filing lasts three years. Active reps filed before the visit history starts, so every past
    visit was made while filed; reps who left have their filing revoked.
    """
    rows: list[tuple[Any, ...]] = []
    unfiled: set[int] = set()
    history_start = plan.coverage_start
    serial = 0
    for user in plan.users:
        if Role.REP not in user.roles:
            continue
        serial += 1
        roll = rng.random()
        fixed = user.username in ALWAYS_FILED
        if user.is_active and not fixed and roll < UNFILED_SHARE:
            unfiled.add(user.pk)
            rows.append((user.pk, "", Status.PENDING, None, None, "新入职，备案材料已提交，等待平台审核"))
            continue
        if user.is_active and not fixed and roll < UNFILED_SHARE + EXPIRING_SHARE:
            expires = today + dt.timedelta(days=rng.randint(3, 29))
        else:
            # Valid well past today: a filing renewed at some point since the history started.
            expires = today + dt.timedelta(days=rng.randint(60, 900))
        filed = dt.date(expires.year - FILING_YEARS, expires.month, min(expires.day, 28))
        if filed > history_start:
            # The three years ran from a renewal; the first filing was earlier still.
            filed = history_start - dt.timedelta(days=rng.randint(10, 300))
            expires = max(expires, filed + dt.timedelta(days=1))
        number = f"YDBA{filed:%Y%m}{serial:05d}"
        if user.is_active:
            rows.append((user.pk, number, Status.FILED, filed, expires, ""))
        else:
            rows.append((user.pk, number, Status.REVOKED, filed, expires, "离职，备案已注销"))
    return rows, unfiled


CONSENT_COLUMNS = (
    "professional_id",
    "purpose",
    "channel",
    "source",
    "scope",
    "evidence",
    "given_on",
    "recorded_by_id",
)
CONSENT_CHANNELS: dict[str, float] = {
    ContactChannel.IN_PERSON: 45,
    ContactChannel.WECHAT: 35,
    ContactChannel.PHONE: 20,
}
CONSENT_SHARE = 0.85


def consent_rows(
    *,
    rng: random.Random,
    person_ids: Sequence[int],
    territories: Sequence[TerritoryPlan | None],
    plan: Plan,
    today: dt.date,
) -> list[tuple[Any, ...]]:
    """Most professionals agreed to be contacted on a channel or two, on paper or electronically."""
    rows: list[tuple[Any, ...]] = []
    channels = list(CONSENT_CHANNELS)
    weights = list(CONSENT_CHANNELS.values())
    span = (today - plan.coverage_start).days + 700
    for pk, territory in zip(person_ids, territories, strict=True):
        if territory is None or territory.holder is None or rng.random() >= CONSENT_SHARE:
            continue
        wanted = {rng.choices(channels, weights=weights)[0] for _n in range(rng.choice((1, 1, 2)))}
        for channel in sorted(wanted):
            given = today - dt.timedelta(days=rng.randint(7, span))
            holder = territory.holder
            if (
                territory.previous is not None
                and territory.takeover is not None
                and given < territory.takeover
            ):
                holder = territory.previous
            paper = rng.random() < 0.55
            source = Consent.Source.PAPER if paper else Consent.Source.ELECTRONIC
            serial = rng.randrange(10000)  # not the pk: the same seed gives the same text after a --reset
            evidence = (
                f"纸质同意书 第{given:%Y%m}-{serial:04d}号"
                if paper
                else f"电子签署流水号 E{given:%Y%m%d}{serial:04d}"
            )
            scope = f"学术沟通与拜访（{ContactChannel(channel).label}）"
            rows.append((pk, Purpose.CONTACT, channel, source, scope, evidence, given, plan.users[holder].pk))
    return rows
