"""Pinned query counts for list pages and API lists: the count is fixed and does not grow with rows."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.http import HttpResponse


def assert_flat_query_count(
    assert_max_num_queries: Any,
    *,
    fetch: Callable[[], HttpResponse],
    add_rows: Callable[[int], None],
    pinned: int,
    small: int = 3,
    large: int = 30,
) -> list[HttpResponse]:
    """Fetch with `small` rows, then with `large`; both take the same number of queries, at most `pinned`.

    `assert_max_num_queries` is pytest-django's `django_assert_max_num_queries` fixture. A warm-up
    fetch first keeps once-per-process or once-per-minute work (caches, token touch) out of the count.
    Returns the two measured responses so the caller can check they show the rows.
    """
    add_rows(small)
    fetch()
    counts: list[int] = []
    responses: list[HttpResponse] = []
    for grow_by in (0, large - small):
        add_rows(grow_by)
        with assert_max_num_queries(pinned) as captured:
            response = fetch()
        assert response.status_code == 200
        counts.append(len(captured.captured_queries))
        responses.append(response)
    assert counts[0] == counts[1], f"{small} rows took {counts[0]} queries, {large} rows took {counts[1]}"
    return responses
