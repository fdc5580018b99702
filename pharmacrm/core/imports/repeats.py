"""Rows whose key repeats an earlier row's, found once the file has been read, in memory bounded by a run.

`seen.SeenKeys` answers "was this key seen before?" at once, but holds every key (24 bytes each);
a million-row file then costs 24 MB and ten million 240 MB. When the answer can wait until the
whole file has been read (a duplicated row refuses the file either way), the keys are instead
spilled to a temporary file in sorted runs and merged at the end: memory is one run plus a small
read buffer per run, whatever the length of the file. Keys are 64-bit hashes, as in SeenKeys.
"""

from __future__ import annotations

import heapq
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO

RUN_VALUES = 50_000  # values sorted in memory before they go to disk (~2.5 MB of ints)
READ_VALUES = 1024  # values read at a time from each run while merging
_ROW_BITS = 32  # row numbers below 2^32
_ROW_MASK = (1 << _ROW_BITS) - 1
_KEY_MASK = (1 << 64) - 1


class SortedRuns:
    """Non-negative ints of at most `width` bytes, kept on disk in sorted runs; iterating merges them."""

    def __init__(self, width: int, *, run_values: int = RUN_VALUES):
        self.width = width
        self.run_values = run_values
        self._pending: list[int] = []
        self._runs: list[tuple[int, int]] = []  # (offset, values) in the spill file
        self._spill: IO[bytes] | None = None
        self._end = 0

    def add(self, value: int) -> None:
        self._pending.append(value)
        if len(self._pending) >= self.run_values:
            self._write_run()

    def _write_run(self) -> None:
        if not self._pending:
            return
        self._pending.sort()
        width = self.width
        data = b"".join(v.to_bytes(width, "big") for v in self._pending)
        if self._spill is None:
            self._spill = tempfile.TemporaryFile()  # noqa: SIM115 (closed by close())
        os.pwrite(self._spill.fileno(), data, self._end)
        self._runs.append((self._end, len(self._pending)))
        self._end += len(data)
        self._pending = []

    def _read_run(self, offset: int, count: int) -> Iterator[int]:
        assert self._spill is not None
        fd, width = self._spill.fileno(), self.width
        while count:
            n = min(count, READ_VALUES)
            data = os.pread(fd, n * width, offset)
            for i in range(0, n * width, width):
                yield int.from_bytes(data[i : i + width], "big")
            offset += n * width
            count -= n

    def __iter__(self) -> Iterator[int]:
        """Every value added, in ascending order (one pass; add nothing while iterating)."""
        if not self._runs:
            yield from sorted(self._pending)
            return
        self._write_run()
        yield from heapq.merge(*(self._read_run(offset, n) for offset, n in self._runs))

    def close(self) -> None:
        if self._spill is not None:
            self._spill.close()
            self._spill = None
        self._runs, self._pending, self._end = [], [], 0


@dataclass(frozen=True)
class Repeat:
    row: int
    first_row: int  # the earliest row with the same key
    flagged: bool  # as passed to RepeatedKeys.add for `row` (e.g. the row was refused already)


class RepeatedKeys:
    """Collects (key, row) pairs; `repeats()` then lists every row whose key an earlier row had."""

    def __init__(self, *, run_values: int = RUN_VALUES):
        # key | row | flag in one int, so one sort orders by key, then row
        self._keys = SortedRuns(13, run_values=run_values)
        self._run_values = run_values

    def add(self, key: int, row: int, *, flagged: bool = False) -> None:
        if not 0 <= row <= _ROW_MASK:
            raise ValueError(f"row number out of range: {row}")
        self._keys.add(((key & _KEY_MASK) << (_ROW_BITS + 1)) | (row << 1) | flagged)

    def repeats(self) -> Iterator[Repeat]:
        """The repeated rows in row order (each after the first of its key), then forget everything."""
        found = SortedRuns(9, run_values=self._run_values)  # row | first row | flag, to put them in row order
        try:
            previous_key, first_row = -1, 0
            for value in self._keys:
                key, row = value >> (_ROW_BITS + 1), (value >> 1) & _ROW_MASK
                if key == previous_key:
                    found.add((row << (_ROW_BITS + 1)) | (first_row << 1) | (value & 1))
                else:
                    previous_key, first_row = key, row
            self._keys.close()
            for value in found:
                yield Repeat(value >> (_ROW_BITS + 1), (value >> 1) & _ROW_MASK, bool(value & 1))
        finally:
            found.close()
            self._keys.close()
