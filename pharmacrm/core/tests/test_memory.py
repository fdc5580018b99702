"""release_free_heap: safe to call anywhere, and on glibc it really calls malloc_trim."""

from __future__ import annotations

import ctypes

from pharmacrm.core import memory


def test_release_free_heap_calls_malloc_trim_when_there_is_one(monkeypatch):
    calls = []
    monkeypatch.setattr(memory, "_malloc_trim", lambda: lambda pad: calls.append(pad) or 1)
    memory.release_free_heap()
    assert calls == [0]


def test_release_free_heap_is_a_no_op_without_malloc_trim(monkeypatch):
    monkeypatch.setattr(memory, "_malloc_trim", lambda: None)
    memory.release_free_heap()  # must not raise
    assert memory._malloc_trim() is None


def test_loads_glibc_malloc_trim_on_linux():
    try:
        ctypes.CDLL(None).malloc_trim  # noqa: B018
    except AttributeError:
        assert memory._malloc_trim() is None
    else:
        assert memory._malloc_trim() is not None
