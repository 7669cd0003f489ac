"""A column SQLite must not search an index by, for the queries where walking another index
in order is better than what its planner, which has no statistics, would choose.

`not_indexed(column)` is the column itself everywhere; on SQLite it is written `+column`,
the form SQLite's documentation gives for keeping a term from using an index.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.visitors import InternalTraversal


class NotIndexed(ColumnElement[Any]):
    inherit_cache = True
    _traverse_internals = (("column", InternalTraversal.dp_clauseelement),)  # type: ignore[assignment]

    def __init__(self, column: ColumnElement[Any]) -> None:
        self.column = column
        self.type = column.type


def not_indexed(column: ColumnElement[Any]) -> NotIndexed:
    return NotIndexed(column)


@compiles(NotIndexed)
def _anywhere(element: NotIndexed, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(element.column, **kw)


@compiles(NotIndexed, "sqlite")
def _sqlite(element: NotIndexed, compiler: SQLCompiler, **kw: Any) -> str:
    return f"+{compiler.process(element.column, **kw)}"
