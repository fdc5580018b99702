"""The scorecard metric registry: what a channel review can measure, and how.

Apps register metrics from their AppConfig.ready(): channels registers sales vs the agreement's
target and the manual metrics; flow registers flow-data timeliness, coverage, inventory days and
out-of-region share. A scorecard line names a metric by its code; a review pre-fills every
automatic metric by calling `compute(partner=…, start=…, end=…)` for the quarter.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.utils.translation import gettext as _

if TYPE_CHECKING:
    from pharmacrm.channels.models import ChannelPartner


@dataclass(frozen=True)
class MetricValue:
    """A measured value for one partner and period."""

    value: Decimal | None  # None = not measurable for this partner/period
    detail: str  # one line a reviewer can read: how it was computed


Compute = Callable[..., MetricValue]  # compute(*, partner: ChannelPartner, start: date, end: date)


@dataclass(frozen=True)
class Metric:
    code: str
    label: Any  # lazy string
    unit: str
    compute: Compute | None  # None = entered by the reviewer

    @property
    def manual(self) -> bool:
        return self.compute is None


_registry: dict[str, Metric] = {}


def register_metric(code: str, *, label: Any, unit: str, compute: Compute | None) -> None:
    """Declare a metric. `compute=None` makes it a manual metric the reviewer enters.

    Registering the same code twice replaces it (app reloads in tests); codes are stable keys
    stored on scorecards and reviews, so never rename one.
    """
    _registry[code] = Metric(code=code, label=label, unit=unit, compute=compute)


def unregister_metric(code: str) -> None:
    """Remove a metric (tests that register a fake source clean up with this)."""
    _registry.pop(code, None)


def get_metric(code: str) -> Metric | None:
    return _registry.get(code)


def registered_metrics() -> list[Metric]:
    return sorted(_registry.values(), key=lambda m: m.code)


def compute_metric(code: str, *, partner: ChannelPartner, start: date, end: date) -> MetricValue:
    """The value of an automatic metric; a metric that fails or is unknown is reported, never raised.

    A review must open even when one data source is down, so the failure becomes the detail line.
    """
    metric = _registry.get(code)
    if metric is None:
        return MetricValue(None, _("未注册的指标 {code}").format(code=code))
    if metric.compute is None:
        return MetricValue(None, _("人工录入"))
    try:
        return metric.compute(partner=partner, start=start, end=end)
    except LookupError as exc:  # e.g. no sales source registered yet
        return MetricValue(None, _("数据源不可用：{reason}").format(reason=exc))
