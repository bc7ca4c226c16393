"""Translate Athena (Trino) SQL to DuckDB SQL with sqlglot, fixing the differences that change results.

sqlglot 30.15 transpiles most of Trino to DuckDB. ``DIALECT_DIFFERENCES`` lists the cases where its
output runs but returns something other than Athena would (or does not run), each with the fix
applied here; ``tests/unit/test_emulator_sql.py`` has one test per entry. Run the output on a
DuckDB connection prepared with ``SESSION_SETUP`` (UTC session time zone, as Athena uses).

Some fixes depend on the type of an expression (a ``date_add`` on a DATE stays a DATE). The
translation infers types with sqlglot from literals, casts and, when ``schema`` is given, from the
table columns. An expression of unknown type gets the fix for its most common billing use, as each
entry says.
"""

from __future__ import annotations

import logging
import re

import sqlglot
from sqlglot import exp
from sqlglot.errors import OptimizeError, SqlglotError
from sqlglot.optimizer.annotate_types import annotate_types
from sqlglot.optimizer.qualify import qualify

log = logging.getLogger(__name__)

# Statements to run once on each DuckDB connection that executes translated SQL.
SESSION_SETUP: tuple[str, ...] = ("SET TimeZone = 'UTC'",)

# Trino behaviour -> DuckDB behaviour of sqlglot's plain output -> what translate_trino_to_duckdb emits.
DIALECT_DIFFERENCES: dict[str, str] = {
    "decimal_default_precision": (
        "Trino's bare DECIMAL is DECIMAL(38,0) and DuckDB's is DECIMAL(18,3), so a bare DECIMAL "
        "becomes DECIMAL(38,0)."
    ),
    "date_add_on_date": (
        "Trino's date_add(unit, n, date) returns a DATE and DuckDB's date + INTERVAL returns a "
        "TIMESTAMP, so the result is cast back to DATE when the argument is a DATE."
    ),
    "date_trunc_on_date": (
        "Trino's date_trunc(unit, date) returns a DATE and DuckDB's returns a TIMESTAMP, so the "
        "result is cast back to DATE when the argument is a DATE."
    ),
    "date_diff_whole_units": (
        "Trino's date_diff counts whole units elapsed and DuckDB's date_diff counts unit "
        "boundaries crossed (23:00 to 01:00 is 0 days in Trino, 1 in DuckDB), so it becomes "
        "DuckDB's date_sub."
    ),
    "cardinality_of_map": (
        "sqlglot writes cardinality() as array_length(), which DuckDB rejects on a MAP, so "
        "cardinality() of a MAP, or of an expression of unknown type, stays cardinality()."
    ),
    "element_at_missing_key": (
        "Trino's element_at(map, key) returns NULL for a missing key, and so does DuckDB's "
        "map[key], which sqlglot emits (checked, no rewrite needed)."
    ),
    "integer_division": (
        "Trino divides two integers with truncation (7 / 2 = 3) and DuckDB's / returns a DOUBLE "
        "(3.5), so a division of two integer expressions becomes DuckDB's // (which truncates "
        "toward zero too). A division with an operand of unknown type stays /."
    ),
    "path_pseudo_column": (
        'Athena\'s "$path" pseudo-column is kept as the quoted identifier "$path", so the relation '
        "a query reads must provide a column of that name holding the s3:// URI of each row's file."
    ),
    "from_iso8601_timestamp": (
        "sqlglot emits CAST(... AS TIMESTAMPTZ), which depends on the session time zone, so "
        "SESSION_SETUP sets it to UTC as Athena does."
    ),
    "varchar_casts": "CAST(x AS varchar) and varchar(n) become TEXT and TEXT(n), which DuckDB accepts.",
    "try_cast": "try_cast returns NULL on failure in both engines (no rewrite needed).",
    "approx_percentile": (
        "approx_percentile becomes approx_quantile; both are approximations, so tests compare "
        "them with a tolerance."
    ),
    "regexp_like": "regexp_like becomes regexp_matches; both match anywhere in the string.",
    "json_format_of_map": (
        "json_format(CAST(map AS JSON)) becomes CAST(TO_JSON(...) AS TEXT) and gives the same "
        "compact text, with keys in map order."
    ),
}

_INTEGER_TYPES = {
    exp.DataType.Type.TINYINT,
    exp.DataType.Type.SMALLINT,
    exp.DataType.Type.INT,
    exp.DataType.Type.BIGINT,
}


class TranslationError(ValueError):
    """Raised when the SQL text is not valid Trino SQL."""


def translate_trino_to_duckdb(sql: str, schema: dict[str, dict[str, str]] | None = None) -> str:
    """Translate one Trino (Athena) statement to DuckDB SQL.

    ``schema`` maps table names (``table`` or ``db.table``) to ``{column: type}`` with Hive or
    Trino type names; it lets the translation apply the type-dependent fixes to columns.
    Raises TranslationError with the parser's message when the SQL does not parse.
    """
    try:
        tree = sqlglot.parse_one(sql, read="trino")
    except SqlglotError as err:
        message = re.sub(r"\x1b\[[0-9;]*m", "", str(err)).replace("\n", " ")
        raise TranslationError(f"SYNTAX_ERROR: {message}") from err
    annotated = _annotate(tree.copy(), schema)
    if annotated is not tree:
        _restore_output_names(tree, annotated)
    annotated = annotated.transform(_rewrite, copy=False)
    return annotated.sql(dialect="duckdb")


def _restore_output_names(original: exp.Expression, qualified: exp.Expression) -> None:
    """Name the outer projections as Athena does, undoing the aliases qualify() adds.

    Athena names an unaliased column projection after the column and any other unaliased
    projection ``_col<N>`` (0-based), where qualify() would write ``_col_<N>`` or a column name.
    """
    for source, target in zip(_outer_selects(original), _outer_selects(qualified), strict=False):
        for index, (before, after) in enumerate(zip(source.expressions, target.expressions, strict=False)):
            if isinstance(before, exp.Alias | exp.Star) or not isinstance(after, exp.Alias):
                continue
            if isinstance(before, exp.Column):
                name = before.name
            else:
                name = f"_col{index}"
            after.set("alias", exp.to_identifier(name))


def _outer_selects(tree: exp.Expression) -> list[exp.Select]:
    if isinstance(tree, exp.Select):
        return [tree]
    if isinstance(tree, exp.SetOperation):
        return _outer_selects(tree.this)
    return []


def _annotate(tree: exp.Expression, schema: dict[str, dict[str, str]] | None) -> exp.Expression:
    """Attach sqlglot types to the tree, qualifying columns first when a schema is known."""
    if schema:
        try:
            qualified = qualify(
                tree.copy(),
                schema=schema,
                dialect="trino",
                validate_qualify_columns=False,
                quote_identifiers=False,
                identify=False,
                expand_stars=False,
            )
            return annotate_types(qualified, schema=schema, dialect="trino")
        except (OptimizeError, SqlglotError, KeyError, ValueError) as err:
            # Statements the optimizer cannot qualify (DDL, UNLOAD) still translate without types.
            log.debug("Type inference skipped for a statement: %s", err)
    try:
        return annotate_types(tree, dialect="trino")
    except (OptimizeError, SqlglotError, KeyError, ValueError) as err:
        log.debug("Type inference skipped for a statement: %s", err)
        return tree


def _type_of(node: exp.Expression) -> exp.DataType.Type | None:
    kind = node.type
    if kind is None or kind.this == exp.DataType.Type.UNKNOWN:
        return None
    return kind.this


def _is_date(node: exp.Expression) -> bool:
    return _type_of(node) == exp.DataType.Type.DATE


def _rewrite(node: exp.Expression) -> exp.Expression:
    if isinstance(node, exp.DataType) and node.this == exp.DataType.Type.DECIMAL and not node.expressions:
        return exp.DataType.build("DECIMAL(38, 0)")
    if isinstance(node, exp.DateAdd | exp.TimestampTrunc | exp.DateTrunc) and _is_date(node.this):
        if isinstance(node.parent, exp.Cast):
            return node
        copied = node.copy()
        copied.type = None
        return exp.cast(copied, exp.DataType.Type.DATE)
    if isinstance(node, exp.DateDiff):
        unit = node.args.get("unit")
        unit_name = unit.name if unit is not None else "DAY"
        return exp.Anonymous(
            this="DATE_SUB",
            expressions=[exp.Literal.string(unit_name.upper()), node.expression, node.this],
        )
    if isinstance(node, exp.ArraySize):
        kind = node.this.type
        if kind is None or not kind.is_type(exp.DataType.Type.ARRAY):
            return exp.Anonymous(this="CARDINALITY", expressions=[node.this])
    if isinstance(node, exp.Div) and not isinstance(node, exp.IntDiv):
        left, right = _type_of(node.this), _type_of(node.expression)
        if left in _INTEGER_TYPES and right in _INTEGER_TYPES:
            return exp.IntDiv(this=node.this, expression=node.expression)
    return node
