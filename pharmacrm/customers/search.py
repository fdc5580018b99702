"""One search over institutions and professionals: Chinese substring, pinyin, initials, phone and WeChat id.

How it works
------------
Each searchable value is written as *keys* into an index table (`ProfessionalSearchKey`,
`InstitutionSearchKey`), chosen so that every kind of match is a **prefix** match on a key:

=============  ===========================================  ============================
match          keys written for 北京协和医院 / 张伟 138…5678   query → key range
=============  ===========================================  ============================
Chinese        every suffix: 北京协和医院, 京协和医院, 协和医院…  "协和" ≤ key < "协咊"
full pinyin    beijingxieheyiyuan, and from each syllable:   "xiehe", "zhangw"
               jingxieheyiyuan, xieheyiyuan, …
initials       bjxhyy, jxhyy, xhyy, …  /  zw                 "zw"
mobile         13800135678, and the tail reversed: ~8765…    "138…" / 尾号 "5678" → "~8765"
WeChat id      the id, lower-cased                           "wxid_ab"
=============  ===========================================  ============================

A prefix is a range on a b-tree (`key >= 'zw' AND key < 'zx'`), which both databases answer from
an index, in key order, stopping at the LIMIT: the cost depends on the results asked for, not on
the table. The key column compares byte-wise on both (see `SearchKeyField`). `starts` tells a key
that begins the value (exact and prefix matches) from one taken from inside it (substring
matches), so ranking — exact name > prefix > substring — is two range scans: starts=True first
(an exact key sorts first in its range), starts=False only when too few were found.

Scope: company-wide users search every key. Everyone else searches the keys of the institutions of
the territories they may see (customers hang off territories; a test holds this equal to
`visible(Institution)`), and the hits are loaded through `visible(Professional | Institution)`,
so a stale key can never show a row its user may not see. Each key carries its institution, and
two indexes serve the two shapes of scope (`_shaped_keys` writes each query so that only the
right index can serve it; SQLite has no statistics to choose by):
- (starts, key, institution): walk the range in key order — the director; and scopes as wide as
  a region, testing each walked key's institution (one primary-key lookup) until the LIMIT;
- (institution, key, starts): one short range per institution — a rep's few territories, a
  district. `_scope` picks by size: walking costs about rows-wanted × institutions ÷ in-scope,
  probing about one range per institution in scope.

Why suffix keys
---------------
Measured on the `large` demo (1,001,426 professionals, 41,508 institutions, SQLite 3.40, a shared
2-core box): `name LIKE '%晓明%' LIMIT 20` takes 300 ms and `LIKE '%翟%'` (few matches) 580 ms —
full scans, as is `search_pinyin LIKE 'zhangw%'` (286 ms: SQLite's LIKE is case-insensitive and
skips a normal index). With suffix keys a search (both kinds, scope included) is 3–8 ms of CPU at
10^4 and at 10^6 alike (`pharmacrm bench customers_search`; figures in the commit messages).
- A bigram token table: portable and smaller, but a query of n characters must intersect n−1
  bigram lists (医院 is in every hospital's) and then check the name; single characters (伟)
  need unigrams anyway. Suffixes answer any length with one range and need no check.
- SQLite FTS5 trigram + PostgreSQL pg_trgm: two code paths, and most Chinese names are two or
  three characters, at or below trigram length.
- Restricting to the visible set first: fine for a rep (a few thousand rows), not for a director
  who sees 10^6.
The price is rows: 9.7 keys per professional on average (a 3-character name has 3 suffixes, 3
pinyin suffixes, 2 initials keys, 2 mobile keys, a WeChat id) and ~3 per character of an
institution name — 9.7 million rows for the large demo: 850 MB with their indexes, about 55% of
its SQLite file.

Keeping keys in step
--------------------
`index_professionals` / `index_institutions` rewrite the keys of saved objects; the services call
them through `services.refresh_search_keys` whenever a name, alias, mobile, WeChat id or
institution changes. Bulk paths (import, demo data) pass their objects in batches, or call
`rebuild_search_index()` once at the end.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import connection, models, transaction
from django.db.models import Count, Exists, Max, OuterRef, Q, QuerySet
from django.db.models.functions import Cast
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from pharmacrm.core.errors import DomainError
from pharmacrm.core.models import Territory
from pharmacrm.core.visibility import visible
from pharmacrm.customers import pinyin
from pharmacrm.customers.models import Institution, InstitutionSearchKey, Professional, ProfessionalSearchKey
from pharmacrm.customers.models.search import KEY_LENGTH, KeyField

MAX_QUERY_LENGTH = 64
PROFESSIONAL = "professional"
INSTITUTION = "institution"
KINDS = (PROFESSIONAL, INSTITUTION)
KIND_LABELS = {PROFESSIONAL: gettext_lazy("医务人员"), INSTITUTION: gettext_lazy("机构")}

# Ranking, best first.
EXACT, PREFIX, SUBSTRING = 0, 1, 2
MATCH_NAMES = {EXACT: "exact", PREFIX: "prefix", SUBSTRING: "substring"}
FIELD_RANK = {
    KeyField.NAME: 0,
    KeyField.ALIAS: 1,
    KeyField.PINYIN: 2,
    KeyField.INITIALS: 3,
    KeyField.MOBILE: 4,
    KeyField.WECHAT: 5,
}

_NOT_KEY = re.compile(r"[^\w-]+")
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f]")
_LETTER = re.compile(r"[a-z]")
_TOKEN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f]|[a-z0-9]+|[_-]+")
# A reversed mobile number sits behind "~", which normalize() never lets into a query.
TAIL = "~"


class InvalidSearch(DomainError):
    """An empty or over-long query: a field error on `q`, like any other bad input."""

    code = "validation_error"
    status = 422


# --- keys ----------------------------------------------------------------------------------------


def normalize(text: str) -> str:
    """What keys and queries are compared as: NFKC (full-width → ASCII), lower case, no spaces or punctuation."""
    return _NOT_KEY.sub("", unicodedata.normalize("NFKC", text or "").lower())


def _suffixes(text: str) -> Iterator[tuple[str, bool]]:
    """Suffixes starting at each token (a Chinese character, or a run of letters/digits)."""
    for match in _TOKEN.finditer(text):
        if match.group().startswith(("_", "-")):
            continue
        yield text[match.start() : match.start() + KEY_LENGTH], match.start() == 0


def _syllable_suffixes(syllables: Sequence[str]) -> Iterator[tuple[str, str, bool]]:
    for i in range(len(syllables)):
        rest = syllables[i:]
        yield "".join(rest)[:KEY_LENGTH], KeyField.PINYIN, i == 0
        initials = pinyin.initials(list(rest))
        if i == 0 or len(initials) >= 2:
            yield initials[:KEY_LENGTH], KeyField.INITIALS, i == 0


Key = tuple[str, str, bool]  # (key, field, starts)


def _add(keys: dict[tuple[str, bool], str], key: str, field_code: str, starts: bool) -> None:
    if not key:
        return
    current = keys.get((key, starts))
    if current is None or FIELD_RANK[KeyField(field_code)] < FIELD_RANK[KeyField(current)]:
        keys[(key, starts)] = field_code


def _name_keys(keys: dict[tuple[str, bool], str], name: str, *, field_code: str, person: bool) -> None:
    for key, code, starts in _keys_of_name(name, field_code, person):
        _add(keys, key, code, starts)


@functools.lru_cache(maxsize=10_000)
def _keys_of_name(name: str, field_code: str, person: bool) -> tuple[Key, ...]:
    # Cached: a million professionals share far fewer names. Kept small: each entry holds ~10
    # keys, and an import of 10^6 rows must stay under 300 MB (the common names still hit).
    keys: list[Key] = [(key, field_code, starts) for key, starts in _suffixes(normalize(name))]
    readings = pinyin.person_readings(name) if person else [pinyin.syllables(name)]
    for syllables in readings:
        keys.extend(_syllable_suffixes(syllables))
    return tuple(keys)


def mobile_digits(mobile: str) -> str:
    digits = re.sub(r"\D", "", unicodedata.normalize("NFKC", mobile or ""))
    if len(digits) == 13 and digits.startswith("86"):
        digits = digits[2:]
    return digits


def professional_keys(*, name: str, mobile: str = "", wechat_id: str = "") -> list[Key]:
    keys: dict[tuple[str, bool], str] = {}
    _name_keys(keys, name, field_code=KeyField.NAME, person=True)
    digits = mobile_digits(mobile)
    if len(digits) >= 3:
        _add(keys, digits[:KEY_LENGTH], KeyField.MOBILE, True)
        _add(keys, (TAIL + digits[::-1])[:KEY_LENGTH], KeyField.MOBILE, False)
    _add(keys, normalize(wechat_id)[:KEY_LENGTH], KeyField.WECHAT, True)
    return [(key, code, starts) for (key, starts), code in keys.items()]


def split_aliases(aliases: str) -> list[str]:
    return [a.strip() for a in re.split(r"[;；,，、\n]", aliases or "") if a.strip()]


def institution_keys(*, name: str, aliases: str = "") -> list[Key]:
    keys: dict[tuple[str, bool], str] = {}
    _name_keys(keys, name, field_code=KeyField.NAME, person=False)
    for alias in split_aliases(aliases):
        _name_keys(keys, alias, field_code=KeyField.ALIAS, person=False)
    return [(key, code, starts) for (key, starts), code in keys.items()]


# --- writing the index ---------------------------------------------------------------------------


def _insert(model: type[models.Model], columns: Sequence[str], rows: list[tuple[Any, ...]]) -> None:
    # Derived rows with no history or signals: one executemany is 5–10× faster than bulk_create.
    if not rows:
        return
    qn = connection.ops.quote_name
    # Table and column names come from the model, quoted; the values are parameters.
    sql = "INSERT INTO {} ({}) VALUES ({})".format(  # noqa: S608
        qn(model._meta.db_table), ", ".join(qn(c) for c in columns), ", ".join(["%s"] * len(columns))
    )
    # One transaction per batch: in autocommit SQLite would commit every row. Inside a caller's
    # transaction (an import) no savepoint: SQLite keeps the original of every page a savepoint
    # touches until it is released, and ~18,000 keys scattered over a 10^6-row index touch tens of
    # thousands of pages (SQLite's heap peaked 70 -> 91 MB from 1.5 to 3x10^5 imported rows).
    atomic = contextlib.nullcontext() if connection.in_atomic_block else transaction.atomic()
    with atomic, connection.cursor() as cursor:
        cursor.executemany(sql, rows)


def _batches(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    iterator = iter(items)
    while batch := list(itertools.islice(iterator, size)):
        yield batch


def index_professionals(
    professionals: Iterable[Professional], *, fresh: bool = False, batch_size: int = 2000
) -> int:
    """Rewrite the search keys of saved professionals (name, mobile, WeChat id, institution).

    Call after any change to those fields; pass many at once from bulk paths. `fresh=True` skips
    deleting old keys (the professionals were just created). Returns the number of keys written.
    """
    written = 0
    for batch in _batches(professionals, batch_size):
        if not fresh:
            ProfessionalSearchKey.objects.filter(professional_id__in=[p.pk for p in batch]).delete()
        rows = [
            (p.pk, p.institution_id, key, code, starts)
            for p in batch
            for key, code, starts in professional_keys(name=p.name, mobile=p.mobile, wechat_id=p.wechat_id)
        ]
        _insert(ProfessionalSearchKey, ("professional_id", "institution_id", "key", "field", "starts"), rows)
        written += len(rows)
    return written


def index_institutions(
    institutions: Iterable[Institution], *, fresh: bool = False, batch_size: int = 2000
) -> int:
    """Rewrite the search keys of saved institutions (name and aliases). Returns the number of keys written."""
    written = 0
    for batch in _batches(institutions, batch_size):
        if not fresh:
            InstitutionSearchKey.objects.filter(institution_id__in=[i.pk for i in batch]).delete()
        rows = [
            (i.pk, key, code, starts)
            for i in batch
            for key, code, starts in institution_keys(name=i.name, aliases=i.aliases)
        ]
        _insert(InstitutionSearchKey, ("institution_id", "key", "field", "starts"), rows)
        written += len(rows)
    return written


def move_professional_keys(*, institution_from: int, institution_to: int) -> None:
    """Follow professionals moved wholesale from one institution to another (a merge)."""
    ProfessionalSearchKey.objects.filter(institution_id=institution_from).update(
        institution_id=institution_to
    )


def _stream(qs: QuerySet[Any], fields: Sequence[str], chunk: int) -> Iterator[Any]:
    # Keyset pagination: bounded memory on 10^6 rows, on both databases.
    last = 0
    while True:
        rows = list(qs.filter(pk__gt=last).order_by("pk").only(*fields)[:chunk])
        if not rows:
            return
        yield from rows
        last = rows[-1].pk


@contextlib.contextmanager
def _without_key_indexes() -> Iterator[None]:
    """Drop the two key indexes for a bulk load and build them again after.

    Keys arrive in professional order, so every insert lands at a random place in both indexes:
    at 10^6 professionals that took 21 minutes; sorting once when the index is built is minutes
    faster. The indexes come back even if the load fails.
    """
    # Plain DDL rather than the schema editor, which SQLite refuses inside a transaction.
    editor = connection.schema_editor()
    indexes = [
        (model, index)
        for model in (ProfessionalSearchKey, InstitutionSearchKey)
        for index in model._meta.indexes
    ]
    with connection.cursor() as cursor:
        for _model, index in indexes:
            cursor.execute(f"DROP INDEX IF EXISTS {connection.ops.quote_name(index.name)}")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                # Inside a transaction PostgreSQL refuses CREATE INDEX while deferred foreign-key
                # checks are pending: run them now.
                cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            for model, index in indexes:
                cursor.execute(str(index.create_sql(model, editor)))
            if connection.vendor == "postgresql":
                cursor.execute("SET CONSTRAINTS ALL DEFERRED")


def rebuild_search_index(*, chunk: int = 5000, progress: Any = None) -> dict[str, int]:
    """Drop and rewrite every search key (after bulk loads that bypass the services: demo data, a
    big import). Not for a live system's daytime: searches are slow while the indexes are rebuilt."""
    counts = {"institutions": 0, "professionals": 0}
    InstitutionSearchKey.objects.all().delete()
    ProfessionalSearchKey.objects.all().delete()
    with _without_key_indexes():
        for batch in _batches(_stream(Institution.objects.all(), ("name", "aliases"), chunk), chunk):
            index_institutions(batch, fresh=True, batch_size=chunk)
            counts["institutions"] += len(batch)
        fields = ("name", "mobile", "wechat_id", "institution_id")
        for batch in _batches(_stream(Professional.objects.all(), fields, chunk), chunk):
            index_professionals(batch, fresh=True, batch_size=chunk)
            counts["professionals"] += len(batch)
            if progress is not None:
                progress(counts["professionals"])
    return counts


# --- searching -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Hit:
    """One result. `kind` is the translated label (the template's badge); `type` the code."""

    kind: str
    title: str
    subtitle: str
    url: str
    type: str
    id: int
    match: str  # exact / prefix / substring
    via: str  # the key field that matched: n, a, p, i, m, w
    via_label: str
    # The title cut around the matched characters, for highlighting: (before, match, after).
    parts: tuple[str, str, str]

    @property
    def text(self) -> str:
        """One line for autocomplete options."""
        return f"{self.title} · {self.subtitle}" if self.subtitle else self.title


@dataclass
class SearchResults:
    query: str
    professionals: list[Hit] = field(default_factory=list)
    institutions: list[Hit] = field(default_factory=list)

    @property
    def hits(self) -> list[Hit]:
        return [*self.professionals, *self.institutions]

    def __len__(self) -> int:
        return len(self.professionals) + len(self.institutions)


def clean_query(query: str | None) -> str:
    """The query as typed, trimmed; refused when empty or too long (the message names the field)."""
    text = (query or "").strip()
    if not normalize(text):
        raise InvalidSearch(
            _("请输入要搜索的姓名、拼音、首字母、手机号或微信号。"), fields={"q": [_("不能为空。")]}
        )
    if len(text) > MAX_QUERY_LENGTH:
        raise InvalidSearch(
            _("搜索内容过长（最多 %(max)d 个字符）。") % {"max": MAX_QUERY_LENGTH},
            fields={"q": [_("最多 %(max)d 个字符。") % {"max": MAX_QUERY_LENGTH}]},
        )
    return text


@dataclass(frozen=True)
class _Terms:
    starts: tuple[str, ...]  # looked up among keys that begin a value
    inside: str  # looked up among keys from inside a value


def _terms(text: str) -> _Terms:
    q = normalize(text)[:KEY_LENGTH]
    if q.replace("-", "").isdigit():
        q = q.replace("-", "")  # a phone number typed as 138-0013-5678
    starts = [q]
    if _CJK.search(q) and _LETTER.search(q):
        # "张wei": half typed in pinyin; look the whole of it up as pinyin too.
        converted = "".join(pinyin.syllables(q))[:KEY_LENGTH]
        if converted and converted != q:
            starts.append(converted)
    inside = (TAIL + q[::-1])[:KEY_LENGTH] if q.isdigit() else q
    return _Terms(starts=tuple(starts), inside=inside)


def _successor(term: str) -> str:
    last = ord(term[-1]) + 1
    if 0xD800 <= last <= 0xDFFF:  # skip surrogates, which no key contains
        last = 0xE000
    return term[:-1] + chr(last)


def _starts(value: bool) -> Q:
    # Spelled `starts IN (1)`: Django writes starts=True as a bare `WHERE starts` (and False as
    # `NOT starts`), which SQLite cannot use as the equality leading the (starts, key, …) index — it
    # then scans the whole table. An IN of one value is an equality to both planners.
    return Q(starts__in=[value])


def _starts_unindexed(value: bool) -> Q:
    # Against CAST(starts AS integer), aliased in _candidates: no index can lead with it.
    return Q(starts_number=int(value))


@dataclass
class _Candidate:
    rank: tuple[int, int, int, str]
    match: int
    via: str
    key: str


def _shaped_keys(
    model: type[ProfessionalSearchKey] | type[InstitutionSearchKey],
    scope: _Scope,
) -> tuple[QuerySet[Any], Callable[[bool], Q]]:
    """The keys within `scope`, and how to filter them on `starts`, written for the right index.

    Two indexes, and each query is written so that only the right one can serve it (SQLite has no
    statistics for these and would otherwise guess):
    - (starts, key, institution): everyone, walking the keys in order. A wide scope is tested per
      key walked, with a correlated EXISTS on the key's institution (a primary-key lookup and a
      test of its territory): the walk stops at the LIMIT, so its cost follows the rows wanted and
      the scope's share, not the scope's size — an `IN (the scope's institutions)` made the
      database enumerate a region's 4,503 institutions for every statement (~1.5 ms each at 10^6);
    - (institution, key, starts): a narrow scope, one range per institution — `CAST(starts)`
      keeps the planner off the first, which would walk every key in the range.
    """
    keys: QuerySet[Any] = model.objects.all()
    if scope.territories is None:
        return keys, _starts
    if scope.walk:
        in_scope = Institution.objects.filter(pk=OuterRef("institution_id"), territory__in=scope.territories)
        return keys.filter(Exists(in_scope)), _starts
    keys = keys.filter(institution__in=scope.institutions).alias(
        starts_number=Cast("starts", models.IntegerField())
    )
    return keys, _starts_unindexed


def visible_keys(
    model: type[ProfessionalSearchKey] | type[InstitutionSearchKey], *, user: Any, starts: bool
) -> QuerySet[Any]:
    """The keys of `model` that `user` may search, beginning a value (`starts`) or from inside one."""
    scope = _scope(user)
    if scope.empty:
        return model.objects.none()
    keys, starts_filter = _shaped_keys(model, scope)
    return keys.filter(starts_filter(starts))


def _candidates(
    model: type[ProfessionalSearchKey] | type[InstitutionSearchKey],
    owner: str,
    *,
    terms: _Terms,
    scope: _Scope,
    limit: int,
) -> dict[int, _Candidate]:
    keys, starts_filter = _shaped_keys(model, scope)
    # An object usually matches on a few keys (zhangwei, zw, a WeChat id starting "z"), so fetch
    # more rows than objects wanted.
    fetch = limit * 4
    found: dict[int, _Candidate] = {}

    def collect(rows: Iterable[tuple[int, str, str]], starts: bool, term: str) -> None:
        for object_id, key, code in rows:
            match = (EXACT if key == term else PREFIX) if starts else SUBSTRING
            rank = (match, FIELD_RANK[KeyField(code)], len(key), key)
            current = found.get(object_id)
            if current is None or rank < current.rank:
                found[object_id] = _Candidate(rank=rank, match=match, via=code, key=key)

    for term in terms.starts:
        rows = keys.filter(starts_filter(True), key__gte=term, key__lt=_successor(term)).order_by("key")
        collect(rows.values_list(owner, "key", "field")[:fetch], True, term)
    if len(found) < limit:
        term = terms.inside
        rows = keys.filter(starts_filter(False), key__gte=term, key__lt=_successor(term)).order_by("key")
        collect(rows.values_list(owner, "key", "field")[:fetch], False, term)
    return found


def _highlight(title: str, query: str, candidate: _Candidate) -> tuple[str, str, str]:
    """Cut the title around what matched: the characters typed, or those the pinyin/initials stand for."""
    needle = query.strip()
    if candidate.via in (KeyField.NAME, KeyField.ALIAS):
        at = title.lower().find(needle.lower())
        if at >= 0:
            return title[:at], title[at : at + len(needle)], title[at + len(needle) :]
    elif (
        candidate.via in (KeyField.PINYIN, KeyField.INITIALS)
        and candidate.match != SUBSTRING
        # Names of Chinese characters only: one syllable per character.
        and title
        and all(_CJK.match(c) for c in title)
    ):
        typed = normalize(query)
        if candidate.via == KeyField.INITIALS:
            covered = len(typed)
        else:
            covered, length = 0, 0
            for syllable in pinyin.syllables(title):
                if length >= len(typed):
                    break
                length += len(syllable)
                covered += 1
        return "", title[:covered], title[covered:]
    return title, "", ""


# Labels and URL shapes, resolved once per search rather than once per hit.
_GRADES = dict(Institution.Grade.choices)
_INSTITUTION_KINDS = dict(Institution.Kind.choices)
_URL_NAMES = {PROFESSIONAL: "customers:professional_detail", INSTITUTION: "customers:institution_detail"}
_PLACEHOLDER = 987654321


def _rows(kind: str, user: Any, ids: list[int]) -> dict[int, tuple[str, str]]:
    """(name, subtitle) of the rows among `ids` that the user may see: one query, no model instances."""
    if kind == PROFESSIONAL:
        people = visible(Professional, user=user).filter(pk__in=ids)
        return {
            pk: (name, institution + (f" · {department}" if department else ""))
            for pk, name, institution, department in people.values_list(
                "pk", "name", "institution__name", "department__name"
            )
        }
    rows = {}
    places = visible(Institution, user=user).filter(pk__in=ids)
    for pk, name, kind_code, grade, city, province in places.values_list(
        "pk", "name", "kind", "grade", "city__name", "province__name"
    ):
        parts = [str(_INSTITUTION_KINDS.get(kind_code, kind_code))]
        if grade and grade != Institution.Grade.UNGRADED:
            parts.append(str(_GRADES.get(grade, grade)))
        parts.append(city or province or "")
        rows[pk] = (name, " · ".join(p for p in parts if p))
    return rows


def _hits(kind: str, user: Any, candidates: dict[int, _Candidate], query: str, limit: int) -> list[Hit]:
    # Rank on the keys alone, then load only the best: a few spare in case a stale key points at a
    # row the user may no longer see.
    ranked = sorted(candidates, key=lambda pk: (candidates[pk].rank, pk))[: limit + 5]
    rows = _rows(kind, user, ranked)
    url = reverse(_URL_NAMES[kind], args=[_PLACEHOLDER]).replace(str(_PLACEHOLDER), "{}")
    label = str(KIND_LABELS[kind])
    via_labels = {code: str(label) for code, label in KeyField.choices}
    hits = []
    for pk in ranked:
        if pk not in rows:
            continue
        name, subtitle = rows[pk]
        candidate = candidates[pk]
        hits.append(
            Hit(
                kind=label,
                title=name,
                subtitle=subtitle,
                url=url.format(pk),
                type=kind,
                id=pk,
                match=MATCH_NAMES[candidate.match],
                via=candidate.via,
                via_label=via_labels[candidate.via],
                parts=_highlight(name, query, candidate),
            )
        )
        if len(hits) == limit:
            break
    return hits


def _institution_scope(user: Any) -> QuerySet[Any, Any] | None:
    """The ids of the institutions whose keys `user` searches; None for company-wide users (every key, no join).

    Customers hang off territories (an institution is visible when its territory is), so the scope
    is written as institutions of the visible territories: the database then walks a few hundred
    territories and the territory index, where `visible(Institution)` spelled as one subquery makes
    SQLite scan every institution to test a manager's org path (10 ms a query at 10^6).
    test_search.py checks that both spellings agree for every persona.
    """
    institutions = visible(Institution, user=user)
    if institutions.query.is_empty():
        return institutions  # sees nothing
    if not institutions.query.has_filters():
        return None  # sees everything
    territories = visible(Territory, user=user).values("pk")
    return Institution.objects.filter(territory__in=territories).values("pk")


# Probing costs a b-tree descent per institution in scope (about as much as stepping over 20 index
# entries); walking costs about (80 rows wanted) × (institutions ÷ institutions in scope) entries.
# Walking wins once scope² > 80 ÷ 20 × institutions: at 10^6 (41,508 institutions) a region (4,503)
# walks, a district (179) and a rep's territories (5) probe. Measured, not only reasoned: see
# bench/customers_search.py.
WALK_FACTOR = 4


@dataclass(frozen=True)
class _Scope:
    """Whose keys one search reads: everyone's (territories None), or those of the visible territories."""

    territories: QuerySet[Any, Any] | None = None
    institutions: QuerySet[Any, Any] | None = None
    walk: bool = False
    empty: bool = False


def _scope(user: Any) -> _Scope:
    """The user's key scope, and whether to walk the key index or probe it per institution.

    The choice needs the scope's size, estimated from its territories (a few hundred at most)
    rather than counted over its institutions, which would enumerate them (1.5 ms for a region at
    10^6): institutions in scope ≈ all institutions × territories in scope ÷ all territories.
    """
    institutions = _institution_scope(user)
    if institutions is None:
        return _Scope()
    if institutions.query.is_empty():
        return _Scope(empty=True)
    territories = visible(Territory, user=user).values("pk")
    everything = Institution.objects.aggregate(top=Max("pk"))["top"] or 0
    counts = Territory.objects.aggregate(all=Count("pk"), mine=Count("pk", filter=Q(pk__in=territories)))
    estimate = everything * counts["mine"] / max(counts["all"], 1)
    walk = estimate * estimate > WALK_FACTOR * everything
    return _Scope(territories=territories, institutions=institutions, walk=walk)


def search(*, user: Any, query: str, kinds: Sequence[str] = KINDS, limit: int = 20) -> SearchResults:
    """Professionals and institutions `user` may see that match `query`, best first, at most `limit` of each.

    Raises InvalidSearch for an empty or over-long query. A constant number of queries whatever the
    number of results: ≤ 3 per kind, and 2 to size a limited scope.
    """
    text = clean_query(query)
    results = SearchResults(query=text)
    scope = _scope(user)
    if scope.empty:
        return results
    terms = _terms(text)
    if PROFESSIONAL in kinds:
        found = _candidates(ProfessionalSearchKey, "professional_id", terms=terms, scope=scope, limit=limit)
        if found:
            results.professionals = _hits(PROFESSIONAL, user, found, text, limit)
    if INSTITUTION in kinds:
        found = _candidates(InstitutionSearchKey, "institution_id", terms=terms, scope=scope, limit=limit)
        if found:
            results.institutions = _hits(INSTITUTION, user, found, text, limit)
    return results


def matching_q(model: type[Institution] | type[Professional], query: str) -> Q:
    """A filter for list pages: rows with a key matching `query` (exact, prefix or substring).

    `Professional.objects.filter(matching_q(Professional, "zw"))` — each branch is a key range that
    leads with `starts`, so the subquery reads index ranges, not the whole key table. Combine with
    the list's visible() queryset as usual.
    """
    terms = _terms(query)
    key_model: Any = ProfessionalSearchKey if model is Professional else InstitutionSearchKey
    owner = "professional_id" if model is Professional else "institution_id"
    ranges = Q(_starts(False), key__gte=terms.inside, key__lt=_successor(terms.inside))
    for term in terms.starts:
        ranges |= Q(_starts(True), key__gte=term, key__lt=_successor(term))
    return Q(pk__in=key_model.objects.filter(ranges).values(owner))
