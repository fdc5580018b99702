"""Search keys for Chinese names: full pinyin without tones and the initials ("张伟" → zhangwei, zw)."""

from __future__ import annotations

import functools
import re
import unicodedata

# pypinyin reads characters as common words; as surnames these read differently (曾 is zēng, not
# céng). Where both readings are used for the surname, both are listed: people search with
# whichever they say.
SURNAME_READINGS: dict[str, tuple[str, ...]] = {
    "曾": ("zeng",),
    "单": ("shan",),
    "解": ("xie",),
    "仇": ("qiu",),
    "区": ("ou",),
    "查": ("zha",),
    "朴": ("piao",),
    "覃": ("qin", "tan"),
    "乐": ("yue", "le"),
    "缪": ("miao",),
    "翟": ("zhai",),
    "盖": ("ge", "gai"),
    "秘": ("bi",),
    "种": ("chong",),
    "尉": ("yu", "wei"),
    "尉迟": ("yu", "chi"),
    "长孙": ("zhang", "sun"),
    "万俟": ("mo", "qi"),
    "单于": ("chan", "yu"),
    "澹台": ("tan", "tai"),
    "令狐": ("ling", "hu"),
}
_COMPOUND_SURNAMES = {s for s in SURNAME_READINGS if len(s) == 2}
_ASCII_WORD = re.compile(r"[a-z0-9]+")


def _split_ascii(chunk: str) -> list[str]:
    # Latin letters and digits inside a name ("301医院", "Smith") are kept as their own words.
    return _ASCII_WORD.findall(chunk.lower())


def syllables(text: str) -> list[str]:
    """The toneless pinyin syllables of `text`; letters and digit runs count as one syllable each."""
    return list(_syllables(text))


@functools.lru_cache(maxsize=20_000)
def _syllables(text: str) -> tuple[str, ...]:
    # Imported on first use: pypinyin loads its phrase dictionary on import (~55 MB resident), and
    # every process imports this module through customers.services at start-up, including those
    # that never need a syllable (a flow import, the worker, most requests).
    from pypinyin import Style, lazy_pinyin

    # Names repeat a lot (张伟 thousands of times in 10^6); pypinyin is the slow part of indexing.
    text = unicodedata.normalize("NFKC", text)
    # pypinyin accepts a list from `errors` (its stubs say str): each word becomes one syllable.
    return tuple(s for s in lazy_pinyin(text, style=Style.NORMAL, errors=_split_ascii) if s)  # type: ignore[arg-type]


def person_readings(name: str) -> list[list[str]]:
    """The syllables of a person's name, one list per plausible reading of the surname."""
    for surname in (name[:2], name[:1]):
        if len(surname) == 2 and surname not in _COMPOUND_SURNAMES:
            continue
        readings = SURNAME_READINGS.get(surname)
        if not readings:
            continue
        rest = syllables(name[len(surname) :])
        if len(surname) == 2:
            return [[*readings, *rest]]
        return [[reading, *rest] for reading in readings]
    return [syllables(name)]


def search_keys(text: str) -> tuple[str, str]:
    syllable_list = syllables(text)
    full = "".join(syllable_list).lower()
    return full[:200], initials(syllable_list)[:32]


def initials(syllable_list: list[str]) -> str:
    """First letters of the syllables; a run of digits stays whole ("301医院" → 301yy)."""
    return "".join(s if s.isdigit() else s[0] for s in syllable_list).lower()
