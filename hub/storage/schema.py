"""Bringing a database up to the schema of this release, at hub start, on SQLite and MariaDB alike.

The schema of record is the DDL itself: `records.sql` (the MariaDB statements, kept equal to
``mariadb.SCHEMA_SQL`` by a test) and ``sqlite.SCHEMA``. An upgrade compares that DDL with what the
database has and adds what is missing:

- a table that does not exist is created with its CREATE TABLE statement;
- a column of the DDL that an existing table lacks is added with ``ALTER TABLE t ADD COLUMN``,
  using the column's definition from the CREATE TABLE statement, so it must allow NULL or have a
  DEFAULT (rows stored before it have no value for it);
- an index that is missing is created (MariaDB: ``ALTER TABLE t ADD KEY ...``; SQLite: its
  ``CREATE INDEX IF NOT EXISTS`` statement), and so is a view;
- an ``INSERT INTO t ... SELECT`` statement fills a table derived from others, and runs only in
  the upgrade that creates ``t``: later rows come from the code that keeps ``t``.

No schema version number is kept: several changes written at the same time on different branches
each add their own lines to the DDL and merge without renumbering anything, and a database that an
administrator changed by hand is judged by what it has. So adding a column is one edit: write it
into the CREATE TABLE statement of both backends. Nothing is ever dropped or changed in type.
Statements run only when something is missing, so an account without ALTER or CREATE works on a
database that is already current.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Sequence

from .base import StorageError

_CREATE_TABLE = re.compile(r"CREATE TABLE IF NOT EXISTS (\w+)\s*\((.*)\)", re.S | re.I)
_CREATE_INDEX = re.compile(r"CREATE (?:UNIQUE )?INDEX IF NOT EXISTS (\w+) ON (\w+)", re.I)
_CREATE_VIEW = re.compile(r"CREATE (?:OR REPLACE )?VIEW (?:IF NOT EXISTS )?(\w+)", re.I)
_FILL = re.compile(r"INSERT INTO (\w+)", re.I)
_CONSTRAINT_WORDS = ("PRIMARY", "UNIQUE", "KEY", "INDEX", "CONSTRAINT", "FOREIGN", "CHECK")


@dataclass(frozen=True)
class TableDDL:
    """A CREATE TABLE statement taken apart: column definitions and named keys, in order."""
    name: str
    statement: str
    columns: dict[str, str]          # column -> its definition ("VARCHAR(255) NULL COMMENT ...")
    keys: dict[str, str]             # index name -> its clause ("KEY name (a, b)")


@dataclass
class Existing:
    """What a database has: each table's columns and index names, and its views."""
    columns: dict[str, set[str]] = field(default_factory=dict)
    indexes: dict[str, set[str]] = field(default_factory=dict)
    views: set[str] = field(default_factory=set)


def parse_table(statement: str) -> TableDDL:
    match = _CREATE_TABLE.match(statement.strip())
    if match is None:
        raise ValueError(f"not a CREATE TABLE IF NOT EXISTS statement: {statement[:60]}")
    columns: dict[str, str] = {}
    keys: dict[str, str] = {}
    for part in _top_level_parts(match.group(2)):
        words = part.split()
        if words[0].upper() in _CONSTRAINT_WORDS:
            named = [w for w in words[1:3] if w.upper() not in ("KEY", "INDEX") and not w.startswith("(")]
            if named:
                keys[named[0].strip("`")] = part
        else:
            columns[words[0].strip("`")] = part[len(words[0]):].strip()
    return TableDDL(match.group(1), statement, columns, keys)


def upgrade_statements(ddl: Sequence[str], existing: Existing, alter_keys: bool) -> list[str]:
    """The statements that bring a database with ``existing`` up to ``ddl``, in DDL order.

    alter_keys: add a missing index of an existing table with ALTER TABLE ... ADD (MariaDB, whose
    keys live in the CREATE TABLE statement); SQLite has CREATE INDEX statements of its own.
    """
    statements: list[str] = []
    for statement in ddl:
        index, view, fill = (_CREATE_INDEX.match(statement), _CREATE_VIEW.match(statement),
                             _FILL.match(statement))
        if fill is not None:
            if fill.group(1) not in existing.columns:
                statements.append(statement)
        elif index is not None:
            if index.group(1) not in existing.indexes.get(index.group(2), set()):
                statements.append(statement)
        elif view is not None:
            if view.group(1) not in existing.views:
                statements.append(statement)
        else:
            statements.extend(_table_upgrade(parse_table(statement), existing, alter_keys))
    return statements


def _table_upgrade(table: TableDDL, existing: Existing, alter_keys: bool) -> list[str]:
    if table.name not in existing.columns:
        return [table.statement]
    have = existing.columns[table.name]
    added = []
    for column, definition in table.columns.items():
        if column in have:
            continue
        _check_addable(table.name, column, definition)
        # Identifiers come from the DDL constants of this package, never from input.
        added.append(f"ALTER TABLE {table.name} ADD COLUMN {column} {definition}")
    if alter_keys:
        indexes = existing.indexes.get(table.name, set())
        added += [f"ALTER TABLE {table.name} ADD {clause}"
                  for name, clause in table.keys.items() if name not in indexes]
    return added


def _check_addable(table: str, column: str, definition: str) -> None:
    """A column added to a table that has rows must be fillable for them: NULL or a DEFAULT."""
    upper = definition.upper()
    if "NOT NULL" in upper and "DEFAULT" not in upper:
        raise StorageError(f"schema: column {table}.{column} cannot be added to an existing table: "
                           "it is NOT NULL without a DEFAULT")
    if "PRIMARY" in upper or "UNIQUE" in upper:
        raise StorageError(f"schema: column {table}.{column} cannot be added to an existing table "
                           "with a key of its own: declare the key as an index")


def _top_level_parts(body: str) -> list[str]:
    """The comma-separated parts of a CREATE TABLE body, ignoring commas in parentheses and quotes."""
    parts, depth, quote, current = [], 0, "", []
    for char in body:
        if quote:
            quote = "" if char == quote else quote
        elif char in "'\"`":
            quote = char
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif char == "," and depth == 0:
            parts.append("".join(current).strip())
            current = []
            continue
        current.append(char)
    parts.append("".join(current).strip())
    return [" ".join(part.split()) for part in parts if part]
