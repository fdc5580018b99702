"""Keys seen earlier in a file, and the row each first appeared on, in about 24 bytes a key.

A dict of a million external ids costs ~115 MB (string, int and slot objects); this is an
open-addressing table of 64-bit key hashes in two flat arrays (16 MB + 8 MB at 10^6 keys), so
duplicate detection over a 10^6-row file fits the import's memory budget. Two different keys
collide only if their 64-bit hashes are equal: at 10^6 keys the chance that this happens at all
in a file is about 3 in 10^8, and the worst outcome is a row refused as a duplicate, which the
report names (both row numbers), so a person would notice.
"""

from __future__ import annotations

from array import array
from collections.abc import Hashable

_EMPTY = 0
_MASK64 = (1 << 64) - 1


class SeenKeys:
    def __init__(self, capacity: int = 1 << 12):
        self._size = 0
        self._allocate(capacity)

    def _allocate(self, capacity: int) -> None:
        self._capacity = capacity
        self._hashes = array("Q", bytes(8 * capacity))
        self._rows = array("I", bytes(4 * capacity))

    def __len__(self) -> int:
        return self._size

    @staticmethod
    def _hash(key: Hashable) -> int:
        return (hash(key) & _MASK64) or 1

    def _slot(self, h: int) -> int:
        mask = self._capacity - 1
        i = h & mask
        hashes = self._hashes
        while hashes[i] != _EMPTY and hashes[i] != h:
            i = (i + 1) & mask
        return i

    def get(self, key: Hashable) -> int | None:
        """The row where `key` was first seen, or None."""
        h = self._hash(key)
        i = self._slot(h)
        return self._rows[i] if self._hashes[i] == h else None

    def add(self, key: Hashable, row: int) -> int | None:
        """Remember `key` at `row` unless already seen; returns the earlier row if it was."""
        h = self._hash(key)
        i = self._slot(h)
        if self._hashes[i] == h:
            return self._rows[i]
        self._hashes[i] = h
        self._rows[i] = row
        self._size += 1
        if self._size * 10 > self._capacity * 6:
            self._grow()
        return None

    def set(self, key: Hashable, row: int) -> None:
        """Remember `key` at `row`, replacing an earlier row."""
        h = self._hash(key)
        i = self._slot(h)
        if self._hashes[i] != h:
            self._size += 1
        self._hashes[i] = h
        self._rows[i] = row
        if self._size * 10 > self._capacity * 6:
            self._grow()

    def _grow(self) -> None:
        hashes, rows = self._hashes, self._rows
        self._allocate(self._capacity * 2)
        mask = self._capacity - 1
        new_hashes, new_rows = self._hashes, self._rows
        for h, row in zip(hashes, rows, strict=True):
            if h != _EMPTY:
                i = h & mask
                while new_hashes[i] != _EMPTY:
                    i = (i + 1) & mask
                new_hashes[i] = h
                new_rows[i] = row
