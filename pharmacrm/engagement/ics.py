"""A rep's visit plan as an iCalendar file (RFC 5545) for phone calendars.

Phone calendars sync to servers the company does not control (possibly abroad, PIPL Art. 38), so
an event names the institution and the number of people only: no professional's name, phone,
WeChat or e-mail, and no objective (it may quote a need). The event links back to the visit.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _

from pharmacrm.engagement.models import Visit

PRODID = "-//PharmaCRM//Visit plan//ZH"
UID_DOMAIN = "pharmacrm"


def escape(text: str) -> str:
    """TEXT value escaping (RFC 5545 §3.3.11)."""
    return (
        text.replace("\\", "\\\\")
        .replace(";", "\\;")
        .replace(",", "\\,")
        .replace("\r\n", "\\n")
        .replace("\n", "\\n")
    )


def fold(line: str) -> str:
    """Fold a content line at 75 octets without splitting a UTF-8 character (§3.1)."""
    out: list[str] = []
    current = ""
    size = 0
    limit = 75
    for char in line:
        width = len(char.encode())
        if size + width > limit:
            out.append(current)
            current, size, limit = " ", 1, 75
        current += char
        size += width
    out.append(current)
    return "\r\n".join(out)


def _utc(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")


def summary_for(visit: Visit, people: int) -> str:
    channel = visit.get_channel_display()
    if people > 1:
        return _("拜访：{place}（{n} 位客户，{channel}）").format(
            place=visit.institution.name, n=people, channel=channel
        )
    return _("拜访：{place}（{channel}）").format(place=visit.institution.name, channel=channel)


def plan_calendar(*, visits: Iterable[Visit], name: str, link: Callable[[Visit], str] | None = None) -> str:
    """The calendar text. `visits` need `institution` selected and `professionals` prefetched;
    `link(visit)` gives the absolute URL of a visit's page."""
    stamp = _utc(timezone.now())
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        f"PRODID:{PRODID}",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        f"X-WR-CALNAME:{escape(name)}",
        "X-WR-TIMEZONE:Asia/Shanghai",
    ]
    for visit in visits:
        people = len(visit.professionals.all())
        status = (
            "TENTATIVE"
            if visit.approval in (Visit.Approval.PENDING, Visit.Approval.REJECTED)
            else "CONFIRMED"
        )
        if visit.status == Visit.Status.CANCELLED:
            status = "CANCELLED"
        lines += [
            "BEGIN:VEVENT",
            f"UID:visit-{visit.pk}@{UID_DOMAIN}",
            f"DTSTAMP:{stamp}",
            f"DTSTART:{_utc(visit.starts_at)}",
            f"DTEND:{_utc(visit.ends_at)}",
            f"SUMMARY:{escape(summary_for(visit, people))}",
            f"LOCATION:{escape(visit.institution.name)}",
            f"STATUS:{status}",
            f"LAST-MODIFIED:{_utc(visit.updated_at)}",
        ]
        if link is not None:
            lines.append(f"URL:{link(visit)}")
        lines.append("END:VEVENT")
    lines.append("END:VCALENDAR")
    return "".join(fold(line) + "\r\n" for line in lines)


def rep_calendar(*, user: Any, rep: Any, link: Callable[[Visit], str] | None = None) -> str:
    """The rep's visits `user` may see, from a week ago to two months ahead."""
    from pharmacrm.engagement.planning import calendar_visits

    today = timezone.localdate()
    visits = calendar_visits(
        user=user, rep=rep, first=today - dt.timedelta(days=7), last=today + dt.timedelta(days=62)
    )
    return plan_calendar(visits=visits, name=_("{name}的拜访计划").format(name=rep), link=link)
