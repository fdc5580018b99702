"""Inserting many new rows and their '+' history rows with one executemany each.

Django's bulk_create compiles a multi-row INSERT per batch, preparing every value through the
field machinery; on SQLite a batch is capped at 999 parameters (~20 rows of a wide table), so a
million professionals become 50,000 statements. simple-history's bulk_create_with_history then
does the same for the history table. Measured on 20,000 professionals (bench/customers.py), that
was ~60% of the import's time. Here each row becomes one parameter tuple of a single prepared
INSERT, executed with executemany (sqlite3 loops in C; psycopg pipelines), and primary keys are
allocated up front so history rows, segments and affiliations can point at them:

- SQLite: the import holds the write lock for its whole transaction (transaction_mode IMMEDIATE),
  so the next ids are simply above MAX(id) and the AUTOINCREMENT counter;
- PostgreSQL: nextval() of the column's sequence, as many as needed, in one query.

Only plain concrete fields are supported (what customer and flow models use); values that need
the database's own representation (datetimes, dates, decimals, JSON, IP addresses) go through the
field's get_db_prep_save, everything else is passed as is. auto_now/auto_now_add are honoured.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

from django.db import connection, models, transaction

Converter = Callable[[Any], Any]
T = TypeVar("T")


def in_list_chunks(values: Sequence[T]) -> Iterator[Sequence[T]]:
    """`values` in slices that one `IN (…)` each can take.

    SQLite caps the parameters of one statement; PostgreSQL takes long lists happily.
    """
    step = 900 if connection.vendor == "sqlite" else 10_000
    for start in range(0, len(values), step):
        yield values[start : start + step]


# Field types whose Python value is not what the driver should get.
_PREPARED_TYPES = frozenset(
    {
        "DateTimeField",
        "DateField",
        "TimeField",
        "DecimalField",
        "JSONField",
        "UUIDField",
        "GenericIPAddressField",
        "DurationField",
        "BinaryField",
    }
)
_plans: dict[
    tuple[str, type[models.Model], bool], tuple[str, list[tuple[str, Converter | None]], list[Any]]
] = {}


def _plan(
    model: type[models.Model], with_pk: bool
) -> tuple[str, list[tuple[str, Converter | None]], list[Any]]:
    """INSERT statement, (attname, converter) per column, and the fields needing pre_save."""
    key = (connection.vendor, model, with_pk)
    plan = _plans.get(key)
    if plan is None:
        fields = [f for f in model._meta.concrete_fields if with_pk or not f.primary_key]
        qn = connection.ops.quote_name
        sql = "INSERT INTO {} ({}) VALUES ({})".format(  # noqa: S608 (names from the model, quoted)
            qn(model._meta.db_table),
            ", ".join(qn(str(f.column)) for f in fields),
            ", ".join(["%s"] * len(fields)),
        )
        columns: list[tuple[str, Converter | None]] = []
        for f in fields:
            converter = None
            if f.get_internal_type() in _PREPARED_TYPES:
                converter = _converter(f)
            columns.append((f.attname, converter))
        auto = [f for f in fields if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False)]
        plan = _plans[key] = (sql, columns, auto)
    return plan


def _converter(field: models.Field[Any, Any]) -> Converter:
    def convert(value: Any) -> Any:
        return None if value is None else field.get_db_prep_save(value, connection)

    # The common cases straight to the backend's adapter: the field machinery (to_python, the
    # naive-datetime check, get_prep_value) cost ~15% of an import for values already right.
    internal = field.get_internal_type()
    if internal == "DateTimeField":
        # A batch stamps every row with the same instant (created_at, updated_at, history_date):
        # remember the last conversion (half of the datetime work of an import was this one value).
        # One (value, result) pair swapped as a whole, so threads never see half of it; holding the
        # value keeps its id from being reused by another object.
        last: list[tuple[Any, Any]] = [(None, None)]

        def convert_datetime(value: Any) -> Any:
            seen, result = last[0]
            if value is seen and value is not None:
                return result
            if type(value) is dt.datetime and value.tzinfo is not None:
                result = connection.ops.adapt_datetimefield_value(value)
            else:
                result = convert(value)
            last[0] = (value, result)
            return result

        return convert_datetime
    if internal == "DateField":

        def convert_date(value: Any) -> Any:
            if type(value) is dt.date:
                return connection.ops.adapt_datefield_value(value)
            return convert(value)

        return convert_date
    return convert


def allocate_pks(model: type[models.Model], count: int) -> list[int]:
    """`count` fresh primary keys for `model`, safe inside the caller's transaction."""
    if count == 0:
        return []
    table = model._meta.db_table
    column = str(model._meta.pk.column)
    qn = connection.ops.quote_name
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
                [table, column, count],
            )
            return [row[0] for row in cursor.fetchall()]
        cursor.execute(f"SELECT COALESCE(MAX({qn(column)}), 0) FROM {qn(table)}")  # noqa: S608
        top = cursor.fetchone()[0]
        if connection.vendor == "sqlite":
            cursor.execute("SELECT seq FROM sqlite_sequence WHERE name = %s", [table])
            row = cursor.fetchone()
            top = max(top, row[0] if row else 0)
    return list(range(top + 1, top + 1 + count))


def insert(
    model: type[models.Model],
    objs: Sequence[models.Model],
    *,
    with_pk: bool = True,
    now: dt.datetime | None = None,
) -> None:
    """INSERT the objects as they are (their pks included unless with_pk=False); no signals.

    auto_now/auto_now_add fields get `now` when given (one instant for a whole bulk write, as one
    transaction has), else the time of each object's pre_save.
    """
    if not objs:
        return
    sql, columns, auto = _plan(model, with_pk)
    fks: list[Any] = [f for f in model._meta.concrete_fields if f.is_relation]
    stamped = [f.attname for f in auto] if now is not None else []
    rows = []
    for obj in objs:
        if stamped:
            for attname in stamped:
                setattr(obj, attname, now)
        else:
            for field in auto:
                field.pre_save(obj, True)
        for field in fks:
            # A related object saved after this one was built (Segment(professional=p) before p had
            # its pk): take the pk now, as Model.save() would.
            if getattr(obj, field.attname) is None and field.is_cached(obj):
                related = field.get_cached_value(obj)
                if related is not None:
                    setattr(obj, field.attname, related.pk)
        rows.append(tuple(getattr(obj, a) if c is None else c(getattr(obj, a)) for a, c in columns))
        obj._state.adding = False
        obj._state.db = connection.alias
    with connection.cursor() as cursor:
        cursor.executemany(sql, rows)


def insert_with_history(
    model: type[models.Model],
    objs: Sequence[models.Model],
    *,
    actor: Any,
    when: dt.datetime,
    attrs: dict[str, Any],
) -> None:
    """Allocate pks, INSERT the objects, then one '+' history row each (same user, date and source)."""
    if not objs:
        return
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("insert_with_history allocates primary keys and must run inside a transaction")
    for obj, pk in zip(objs, allocate_pks(model, len(objs)), strict=True):
        obj.pk = pk
    insert(model, objs, now=when)
    history_model = model.history.model  # type: ignore[attr-defined]
    sql, columns, _auto = _plan(history_model, False)
    fixed = {
        "history_date": when,
        "history_user_id": getattr(actor, "pk", None),
        "history_change_reason": None,
        "history_type": "+",
        **attrs,
    }
    tracked = {f.attname for f in history_model.tracked_fields}
    defaults = {f.attname: f.get_default() for f in history_model._meta.concrete_fields}
    # Each history column is the object's value, or the same for every row (who, when, how).
    recipe: list[tuple[bool, Any, Converter | None]] = []
    for attname, converter in columns:
        if attname in tracked and attname not in fixed:
            recipe.append((False, attname, converter))
        else:
            value = fixed.get(attname, defaults.get(attname))
            recipe.append((True, converter(value) if converter and value is not None else value, None))
    rows = [
        tuple(
            value
            if constant
            else (getattr(obj, value) if converter is None else converter(getattr(obj, value)))
            for constant, value, converter in recipe
        )
        for obj in objs
    ]
    with connection.cursor() as cursor:
        cursor.executemany(sql, rows)
