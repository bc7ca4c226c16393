"""Find the columns of each table that an Athena statement reads after projection pushdown.

Athena (Trino) reads from a Parquet file only the column chunks of the columns a query still needs
once unused projections are pruned: ``SELECT a FROM (SELECT * FROM t)`` reads ``a``, and
``SELECT count(*) FROM t`` reads no data column. ``columns_read`` reproduces this with sqlglot's
``qualify`` (expands stars from the Glue schema) and ``pushdown_projections`` (drops the
projections no outer query uses), then collects the columns each base table's scopes reference.
"""

from __future__ import annotations

import logging
from collections import defaultdict

from sqlglot import exp
from sqlglot.errors import OptimizeError, SqlglotError
from sqlglot.optimizer.pushdown_projections import pushdown_projections
from sqlglot.optimizer.qualify import qualify
from sqlglot.optimizer.scope import Scope, traverse_scope

log = logging.getLogger(__name__)

TableKey = tuple[str, str]
# Database -> table -> column -> Glue type, with the partition keys as columns.
CatalogSchema = dict[str, dict[str, dict[str, str]]]


def columns_read(tree: exp.Query, schema: CatalogSchema) -> dict[TableKey, set[str]]:
    """Return ``{(database, table): columns}`` for every base table of ``tree`` that has a column read.

    Table nodes in ``tree`` must name their database, and ``schema`` must list every such table.
    Column names are lower case. A table whose query needs no column (``count(*)``) is absent.
    When sqlglot cannot qualify the statement, the result is an over-estimate: every column of a
    table when any projection is a star, otherwise every column name the statement mentions.
    """
    try:
        qualified = qualify(
            tree.copy(),
            schema=schema,
            dialect="trino",
            validate_qualify_columns=False,
            quote_identifiers=False,
            identify=False,
        )
        pushdown_projections(qualified, schema=schema, dialect="trino")
        scopes = traverse_scope(qualified)
    except (OptimizeError, SqlglotError, KeyError, ValueError) as err:
        log.debug("Projection pushdown skipped, counting columns by name: %s", err)
        return _columns_by_name(tree, schema)
    if any(_has_star_projection(scope) for scope in scopes):
        # A star that qualify() could not expand (its source has no known columns).
        return _columns_by_name(tree, schema)

    read: defaultdict[TableKey, set[str]] = defaultdict(set)
    unresolved: set[str] = set()
    for scope in scopes:
        for column in scope.columns:
            source = _source_of(scope, column.table)
            if isinstance(source, exp.Table):
                read[(source.db.lower(), source.name.lower())].add(column.name.lower())
            elif source is None:
                unresolved.add(column.name.lower())
    if unresolved:
        # A column qualify() could not tie to a source may come from any table that has it.
        for key in _base_tables(qualified):
            names = unresolved & set(schema.get(key[0], {}).get(key[1], {}))
            if names:
                read[key] |= names
    return dict(read)


def _source_of(scope: Scope, alias: str) -> exp.Expression | Scope | None:
    """Find the source named ``alias`` in ``scope`` or, for a correlated column, in an outer scope."""
    current: Scope | None = scope
    while current is not None:
        if alias in current.sources:
            return current.sources[alias]
        current = current.parent
    return None


def _has_star_projection(scope: Scope) -> bool:
    if not isinstance(scope.expression, exp.Select):
        return False
    return any(select.is_star for select in scope.expression.selects)


def _base_tables(tree: exp.Expression) -> set[TableKey]:
    cte_names = {cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE)}
    return {
        (table.db.lower(), table.name.lower())
        for table in tree.find_all(exp.Table)
        if table.name and (table.db or table.name.lower() not in cte_names)
    }


def _columns_by_name(tree: exp.Query, schema: CatalogSchema) -> dict[TableKey, set[str]]:
    mentioned = {column.name.lower() for column in tree.find_all(exp.Column)}
    star = any(True for _ in tree.find_all(exp.Star))
    read: dict[TableKey, set[str]] = {}
    for key in _base_tables(tree):
        columns = set(schema.get(key[0], {}).get(key[1], {}))
        read[key] = columns if star else mentioned & columns
    return read
