"""Matching flow rows to master data: code → learned alias → fuzzy name, customer and product separately.

A matcher is built once per file (one query per source, then dictionaries) and memoises every
answer by normalised text, so a million rows that name a few thousand customers cost a few
thousand fuzzy searches, not a million.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.conf import settings
from rapidfuzz import fuzz, process

from pharmacrm.channels.models import ChannelPartner
from pharmacrm.commercial.models import Sku
from pharmacrm.customers.models import Institution
from pharmacrm.flow.models import AliasKind, CustomerAlias, MatchMethod, ProductAlias
from pharmacrm.flow.parsing import normalise_name, normalise_spec, product_text

DEFAULT_FUZZY_THRESHOLD = 88


def fuzzy_threshold() -> float:
    return float(getattr(settings, "FLOW_FUZZY_THRESHOLD", DEFAULT_FUZZY_THRESHOLD))


@dataclass(frozen=True)
class Match:
    target_id: int | None
    method: str = ""
    confidence: Decimal | None = None
    # the code resolved to two different targets (e.g. a code alias and a SKU code disagree)
    ambiguous: tuple[int, ...] = ()


NO_MATCH = Match(None)
_HUNDRED = Decimal("100.00")


def _fuzzy(text: str, choices: dict[int, str], threshold: float) -> Match:
    if not text or not choices:
        return NO_MATCH
    best = process.extractOne(text, choices, scorer=fuzz.WRatio, score_cutoff=threshold)
    if best is None:
        return NO_MATCH
    _choice, score, key = best
    return Match(int(key), MatchMethod.FUZZY, Decimal(str(round(score, 2))))


def fuzzy_candidates(text: str, choices: dict[int, str], *, limit: int = 3) -> list[tuple[int, float]]:
    """The best few candidates with their scores (for the unmatched queue), whatever the threshold."""
    if not text or not choices:
        return []
    return [
        (int(key), round(score, 1))
        for _c, score, key in process.extract(text, choices, scorer=fuzz.WRatio, limit=limit)
    ]


class CustomerMatcher:
    """Institution for (customer code, customer name) of one distributor's rows."""

    def __init__(self, distributor: ChannelPartner, *, threshold: float | None = None):
        self.threshold = fuzzy_threshold() if threshold is None else threshold
        self.by_external_id: dict[str, int] = {}
        for pk, external_id in Institution.objects.filter(external_id__gt="").values_list(
            "pk", "external_id"
        ):
            if external_id:
                self.by_external_id[external_id] = pk
        self.code_alias: dict[str, int] = {}
        self.name_alias: dict[str, int] = {}
        aliases = CustomerAlias.objects.filter(distributor__isnull=True) | CustomerAlias.objects.filter(
            distributor=distributor
        )
        # global aliases first so the distributor's own override them
        for kind, text, institution_id, dist_id in aliases.order_by("-distributor_id").values_list(
            "kind", "text", "institution_id", "distributor_id"
        ):
            target = self.code_alias if kind == AliasKind.CODE else self.name_alias
            if dist_id is None and text in target:
                continue
            target[text] = institution_id
        province = distributor.institution.province_id
        candidates = Institution.objects.exclude(pk=distributor.institution_id)
        if province:
            in_province = candidates.filter(province_id=province)
            if in_province.exists():
                candidates = in_province
        self.names: dict[int, str] = {
            pk: normalise_name(name)
            for pk, name in candidates.values_list("pk", "name").iterator(chunk_size=5000)
        }
        self.exact: dict[str, int] = {}
        for pk, name in self.names.items():
            self.exact.setdefault(name, pk)
        self._memo: dict[tuple[str, str], Match] = {}

    def match(self, code: str, name: str) -> Match:
        key = (code, name)
        found = self._memo.get(key)
        if found is None:
            found = self._match(code, name)
            self._memo[key] = found
        return found

    def _match(self, code: str, name: str) -> Match:
        if code:
            target = self.code_alias.get(code) or self.by_external_id.get(code)
            if target:
                return Match(target, MatchMethod.CODE, _HUNDRED)
        text = normalise_name(name)
        if not text:
            return NO_MATCH
        target = self.name_alias.get(text)
        if target:
            return Match(target, MatchMethod.ALIAS, _HUNDRED)
        target = self.exact.get(text)
        if target:
            return Match(target, MatchMethod.FUZZY, _HUNDRED)
        return _fuzzy(text, self.names, self.threshold)

    def candidates(self, name: str, *, limit: int = 3) -> list[tuple[int, float]]:
        return fuzzy_candidates(normalise_name(name), self.names, limit=limit)


def sku_texts(sku: Any) -> list[str]:
    """Ways a distributor may write a SKU: generic or brand name with strength and pack."""
    spec = normalise_spec(f"{sku.strength}{sku.pack}")
    names = [sku.product.generic_name, sku.product.brand_name]
    return [normalise_name(n) + spec for n in names if n]


class ProductMatcher:
    """SKU for (product code, product name, spec) of one distributor's rows."""

    def __init__(self, distributor: ChannelPartner, *, threshold: float | None = None):
        self.threshold = fuzzy_threshold() if threshold is None else threshold
        self.by_code: dict[str, int] = {}
        self.choices: dict[int, str] = {}
        self.exact: dict[str, int] = {}
        for sku in Sku.objects.select_related("product"):
            self.by_code[sku.code] = sku.pk
            for i, text in enumerate(sku_texts(sku)):
                # process.extractOne keys must be unique: encode (sku, variant) in one int
                self.choices[sku.pk * 4 + i] = text
                self.exact.setdefault(text, sku.pk)
        self.code_alias: dict[str, int] = {}
        self.name_alias: dict[str, int] = {}
        aliases = ProductAlias.objects.filter(distributor__isnull=True) | ProductAlias.objects.filter(
            distributor=distributor
        )
        for kind, text, sku_id, dist_id in aliases.order_by("-distributor_id").values_list(
            "kind", "text", "sku_id", "distributor_id"
        ):
            target = self.code_alias if kind == AliasKind.CODE else self.name_alias
            if dist_id is None and text in target:
                continue
            target[text] = sku_id
        self._memo: dict[tuple[str, str, str], Match] = {}

    def match(self, code: str, name: str, spec: str) -> Match:
        key = (code, name, spec)
        found = self._memo.get(key)
        if found is None:
            found = self._match(code, name, spec)
            self._memo[key] = found
        return found

    def _match(self, code: str, name: str, spec: str) -> Match:
        if code:
            by_alias = self.code_alias.get(code)
            by_sku = self.by_code.get(code)
            if by_alias and by_sku and by_alias != by_sku:
                return Match(None, ambiguous=(by_alias, by_sku))
            target = by_alias or by_sku
            if target:
                return Match(target, MatchMethod.CODE, _HUNDRED)
        text = product_text(name, spec)
        if not text:
            return NO_MATCH
        target = self.name_alias.get(text)
        if target:
            return Match(target, MatchMethod.ALIAS, _HUNDRED)
        target = self.exact.get(text)
        if target:
            return Match(target, MatchMethod.FUZZY, _HUNDRED)
        found = _fuzzy(text, self.choices, self.threshold)
        if found.target_id is not None:
            return Match(found.target_id // 4, found.method, found.confidence)
        return found

    def candidates(self, name: str, spec: str, *, limit: int = 3) -> list[tuple[int, float]]:
        seen: dict[int, float] = {}
        for key, score in fuzzy_candidates(product_text(name, spec), self.choices, limit=limit * 2):
            seen.setdefault(key // 4, score)
        return list(seen.items())[:limit]
