"""Fast batched inserts for the demo, with or without a 'created' audit row per object."""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Callable
from typing import Any, TypeVar

from django.db import connections, models, router
from django.utils import timezone
from simple_history.utils import bulk_create_with_history

from pharmacrm.core.audit import Source

M = TypeVar("M", bound=models.Model)


def _column(field: Any) -> str:
    column = field.column
    assert isinstance(column, str)
    return column


def history_model(model: type[models.Model]) -> type[models.Model] | None:
    """The simple-history model of `model`, if it is audited."""
    manager = getattr(model._meta, "simple_history_manager_attribute", None)
    return getattr(model, manager).model if manager else None


class RawTable:
    """Multi-row INSERT … RETURNING id for one model, without the ORM's per-value preparation.

    At a million professionals Django's bulk_create spends most of its time compiling SQL
    (preparing each of ~40 values per row); the database itself is a fraction of it. Values
    passed in are plain Python values; dates, JSON and decimals are prepared by their field, and
    fields not passed get their default (auto_now fields: now), computed once.
    """

    def __init__(self, model: type[models.Model], columns: tuple[str, ...], *, now: Any):
        self.connection = connections[router.db_for_write(model)]
        quote = self.connection.ops.quote_name
        self.defaults: dict[str, Any] = {}  # attname → Python value, for the fields not passed
        rest: list[tuple[str, Any]] = []
        for f in model._meta.concrete_fields:
            if f.primary_key or f.attname in columns or f.name in columns:
                continue
            auto = getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False)
            default = now if auto else f.get_default()
            self.defaults[f.attname] = default
            rest.append((_column(f), f.get_db_prep_save(default, self.connection)))
        self.constants = tuple(value for _col, value in rest)
        self.adapters: list[tuple[int, Callable[[Any], Any]]] = []
        names = []
        for i, name in enumerate(columns):
            field = model._meta.get_field(name)
            assert isinstance(field, models.Field)
            names.append(quote(_column(field)))
            if isinstance(field, models.DateField | models.JSONField | models.DecimalField):
                self.adapters.append(
                    (i, functools.partial(field.get_db_prep_save, connection=self.connection))
                )
        names += [quote(col) for col, _v in rest]
        self.width = len(names)
        # Identifiers come from model metadata, quoted by the backend; values are parameters.
        self.head = f"INSERT INTO {quote(model._meta.db_table)} ({', '.join(names)}) VALUES "  # noqa: S608
        self.tail = f" RETURNING {quote(_column(model._meta.pk))}"
        limit = 65535 if self.connection.vendor == "postgresql" else 32766
        self.per_statement = max(1, limit // self.width)

    def insert(self, rows: list[tuple[Any, ...]]) -> list[int]:
        """Insert `rows` (tuples in column order); the new primary keys, in the same order."""
        ids: list[int] = []
        one = "(" + ", ".join(["%s"] * self.width) + ")"
        with self.connection.cursor() as cursor:
            for start in range(0, len(rows), self.per_statement):
                part = rows[start : start + self.per_statement]
                params: list[Any] = []
                for row in part:
                    if self.adapters:
                        values = list(row)
                        for i, adapt in self.adapters:
                            if values[i] is not None:
                                values[i] = adapt(values[i])
                        params.extend(values)
                    else:
                        params.extend(row)
                    params.extend(self.constants)
                # RETURNING gives the keys in VALUES order on SQLite and PostgreSQL (Django's
                # bulk_create relies on the same).
                cursor.execute(self.head + ", ".join([one] * len(part)) + self.tail, params)
                ids.extend(r[0] for r in cursor.fetchall())
        return ids


class _HistoryTable:
    """The 'created' historical rows for rows just written through a RawTable."""

    META = ("history_date", "history_type", "history_source")

    def __init__(self, model: type[models.Model], table: RawTable, columns: tuple[str, ...], *, now: Any):
        history = history_model(model)
        assert history is not None
        pk = model._meta.pk.attname
        tracked = [f.attname for f in history.tracked_fields]  # type: ignore[attr-defined]
        # For each tracked field: where its value comes from (the row, the primary key or a default).
        self.sources: list[tuple[str, Any]] = []
        for name in tracked:
            if name == pk:
                self.sources.append(("pk", None))
            elif name in columns:
                self.sources.append(("row", columns.index(name)))
            else:
                self.sources.append(("default", table.defaults[name]))
        self.meta = (now, "+", Source.SYSTEM.value)
        self.table = RawTable(history, (*tracked, *self.META), now=now)

    def insert(self, rows: list[tuple[Any, ...]], ids: list[int]) -> None:
        out = []
        for row, pk in zip(rows, ids, strict=True):
            values = [
                pk if kind == "pk" else row[ref] if kind == "row" else ref for kind, ref in self.sources
            ]
            out.append((*values, *self.meta))
        self.table.insert(out)


class Writer:
    """Batched inserts for the generator; with `history`, each object also gets its 'created' audit row."""

    def __init__(self, *, history: bool, batch_size: int):
        self.history = history
        self.batch_size = batch_size
        self.counts: Counter[str] = Counter()
        self.now = timezone.now()
        self._tables: dict[
            tuple[type[models.Model], tuple[str, ...]], tuple[RawTable, _HistoryTable | None]
        ] = {}

    def _count(self, model: type[models.Model], n: int) -> None:
        self.counts[model._meta.model_name or model.__name__] += n

    def create(self, model: type[M], objs: list[M]) -> list[M]:
        """Save model instances through the ORM (the org tree and users: few rows, some need model logic)."""
        if not objs:
            return objs
        self._count(model, len(objs))
        if self.history:
            return bulk_create_with_history(
                objs,
                model,
                batch_size=self.batch_size,
                custom_historical_attrs={"history_source": Source.SYSTEM},
            )
        return model._default_manager.bulk_create(objs, batch_size=self.batch_size)

    def insert(
        self, model: type[models.Model], columns: tuple[str, ...], rows: list[tuple[Any, ...]]
    ) -> list[int]:
        """Save plain rows (customers: up to millions) and return their primary keys in order."""
        if not rows:
            return []
        self._count(model, len(rows))
        key = (model, columns)
        if key not in self._tables:
            table = RawTable(model, columns, now=self.now)
            history = _HistoryTable(model, table, columns, now=self.now) if self.history else None
            self._tables[key] = (table, history)
        table, history = self._tables[key]
        ids: list[int] = []
        for start in range(0, len(rows), self.batch_size):
            part = rows[start : start + self.batch_size]
            part_ids = table.insert(part)
            if history is not None:
                history.insert(part, part_ids)
            ids.extend(part_ids)
        return ids
