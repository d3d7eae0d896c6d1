"""Set-based statements for batches: many rows in one statement, their ids found after."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Table, and_, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection


def pairs_in(
    first: ColumnElement[Any], second: ColumnElement[Any], pairs: list[tuple[str, str]]
) -> ColumnElement[bool]:
    """``first IN (...) AND second IN (...)``: a superset of the pairs that, unlike a
    row-value IN, SQLite answers from the two-column index. Callers keep exact pairs."""
    return and_(first.in_({a for a, _ in pairs}), second.in_({b for _, b in pairs}))


async def insert_keyed(
    conn: AsyncConnection, table: Table, rows: list[dict[str, Any]], key: tuple[str, ...]
) -> list[int]:
    """Inserts rows in one executemany and returns their ids, found by a unique key.

    (An INSERT ... RETURNING that keeps the rows' order runs row by row on SQLite, which
    costs more than the whole rest of the batch.)
    """
    await conn.execute(insert(table), rows)
    wanted = [tuple(row[k] for k in key) for row in rows]
    columns = [table.c[k] for k in key]
    condition = (
        columns[0].in_([w[0] for w in wanted])
        if len(columns) == 1
        else pairs_in(columns[0], columns[1], [(w[0], w[1]) for w in wanted])
    )
    found = {
        tuple(row[1:]): int(row[0])
        for row in await conn.execute(select(table.c.id, *columns).where(condition))
    }  # a superset when the key has two columns; only the wanted keys are read from it
    return [found[w] for w in wanted]
