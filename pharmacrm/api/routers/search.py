"""GET /search: one search over the professionals and institutions the caller may see."""

from __future__ import annotations

from typing import Any, Literal

from django.http import HttpRequest
from ninja import Query, Router, Schema

from pharmacrm.api.schemas import ErrorOut
from pharmacrm.customers import search

router = Router(tags=["search"])


class SearchHitOut(Schema):
    type: Literal["professional", "institution"]
    id: int
    title: str
    subtitle: str
    url: str
    match: Literal["exact", "prefix", "substring"]
    via: str  # which key matched: n name, a alias, p pinyin, i initials, m mobile, w WeChat id


class SearchOut(Schema):
    query: str
    professionals: list[SearchHitOut]
    institutions: list[SearchHitOut]


@router.get(
    "/search",
    response={200: SearchOut, 422: ErrorOut},
    summary="Search customers",
    description="Chinese substring (协和), full pinyin or its start (zhangwei, zhangw), initials (zw), mobile "
    "prefix or tail (138…, 5678) and WeChat id, over the professionals and institutions the caller may "
    "see. Best first (exact > prefix > substring), at most `limit` of each kind; `kind` picks one kind. "
    "An empty `q` or one over 64 characters is a 422 naming `q`.",
)
def search_customers(
    request: HttpRequest,
    q: str = "",
    kind: Literal["professional", "institution"] | None = None,
    limit: int = Query(20, ge=1, le=50),
) -> Any:
    kinds = (kind,) if kind else search.KINDS
    return search.search(user=request.user, query=q, kinds=kinds, limit=limit)
