"""Trino-to-DuckDB translation: one test per entry of DIALECT_DIFFERENCES, run on DuckDB."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import duckdb
import pytest

from focus_emulator.sql import (
    DIALECT_DIFFERENCES,
    SESSION_SETUP,
    TranslationError,
    translate_trino_to_duckdb,
)

pytestmark = pytest.mark.unit

SCHEMA = {
    "t": {
        "tags": "map<string,string>",
        "d": "date",
        "ts": "timestamp",
        "i": "int",
        "cost": "double",
    }
}


@pytest.fixture(scope="module")
def con() -> duckdb.DuckDBPyConnection:
    connection = duckdb.connect()
    for statement in SESSION_SETUP:
        connection.execute(statement)
    connection.execute(
        "CREATE TABLE t AS SELECT MAP {'InstanceType': 'm6i.2xlarge'} AS tags, DATE '2024-01-31' AS d, "
        "TIMESTAMP '2024-01-01 23:00:00' AS ts, 7 AS i, 2.5::DOUBLE AS cost, '$' AS \"$path\""
    )
    return connection


def run(con: duckdb.DuckDBPyConnection, sql: str) -> list[tuple]:
    return con.execute(translate_trino_to_duckdb(sql, SCHEMA)).fetchall()


def test_every_difference_documented() -> None:
    assert len(DIALECT_DIFFERENCES) >= 14


def test_bare_decimal_is_38_0(con: duckdb.DuckDBPyConnection) -> None:
    assert run(con, "SELECT CAST(cost AS DECIMAL) FROM t") == [(Decimal("3"),)]


def test_date_add_on_date_stays_date(con: duckdb.DuckDBPyConnection) -> None:
    assert run(con, "SELECT date_add('month', 1, d) FROM t") == [(dt.date(2024, 2, 29),)]
    assert run(con, "SELECT date_add('day', -1, DATE '2024-03-01')") == [(dt.date(2024, 2, 29),)]


def test_date_add_on_timestamp_stays_timestamp(con: duckdb.DuckDBPyConnection) -> None:
    assert run(con, "SELECT date_add('hour', 2, ts) FROM t") == [(dt.datetime(2024, 1, 2, 1, 0),)]


def test_date_trunc_on_date_stays_date(con: duckdb.DuckDBPyConnection) -> None:
    assert run(con, "SELECT date_trunc('month', d) FROM t") == [(dt.date(2024, 1, 1),)]
    assert run(con, "SELECT date_trunc('day', ts) FROM t") == [(dt.datetime(2024, 1, 1),)]


def test_date_diff_counts_whole_units(con: duckdb.DuckDBPyConnection) -> None:
    sql = "SELECT date_diff('day', ts, TIMESTAMP '2024-01-02 01:00:00') FROM t"
    assert run(con, sql) == [(0,)]
    assert run(con, "SELECT date_diff('month', DATE '2024-01-15', DATE '2024-02-14')") == [(0,)]


def test_cardinality_of_map_and_array(con: duckdb.DuckDBPyConnection) -> None:
    assert run(con, "SELECT cardinality(tags), cardinality(split('a,b', ',')) FROM t") == [(1, 2)]


def test_element_at_missing_key_is_null(con: duckdb.DuckDBPyConnection) -> None:
    sql = "SELECT element_at(tags, 'InstanceType'), element_at(tags, 'CoreCount') FROM t"
    assert run(con, sql) == [("m6i.2xlarge", None)]


def test_integer_division_truncates(con: duckdb.DuckDBPyConnection) -> None:
    assert run(con, "SELECT i / 2, -7 / 2, cost / 2 FROM t") == [(3, -3, 1.25)]


def test_path_pseudo_column_kept(con: duckdb.DuckDBPyConnection) -> None:
    assert '"$path"' in translate_trino_to_duckdb('SELECT "$path" FROM t', SCHEMA)
    assert run(con, 'SELECT "$path" FROM t') == [("$",)]


def test_from_iso8601_timestamp_is_utc(con: duckdb.DuckDBPyConnection) -> None:
    rows = run(con, "SELECT CAST(from_iso8601_timestamp('2026-04-01T02:00:00+02:00') AS timestamp)")
    assert rows == [(dt.datetime(2026, 4, 1, 0, 0),)]


def test_varchar_casts(con: duckdb.DuckDBPyConnection) -> None:
    assert run(con, "SELECT CAST(i AS varchar), CAST(i AS varchar(10)) FROM t") == [("7", "7")]


def test_try_cast_null_on_failure(con: duckdb.DuckDBPyConnection) -> None:
    assert run(con, "SELECT try_cast('x' AS bigint), try_cast('12' AS bigint)") == [(None, 12)]


def test_approx_percentile(con: duckdb.DuckDBPyConnection) -> None:
    [(value,)] = run(con, "SELECT approx_percentile(x, 0.5) FROM UNNEST(sequence(1, 101)) AS u(x)")
    assert abs(value - 51) <= 2


def test_regexp_like_partial_match(con: duckdb.DuckDBPyConnection) -> None:
    assert run(con, "SELECT regexp_like('m6i.2xlarge', '\\d+xlarge'), regexp_like('abc', '^b')") == [
        (True, False)
    ]


def test_json_format_of_map(con: duckdb.DuckDBPyConnection) -> None:
    assert run(con, "SELECT json_format(CAST(tags AS JSON)) FROM t") == [('{"InstanceType":"m6i.2xlarge"}',)]


def test_unaliased_projection_named_like_athena() -> None:
    sql = translate_trino_to_duckdb("SELECT i, count(*), i AS j FROM t GROUP BY 1", SCHEMA)
    assert "AS _col1" in sql
    assert "AS j" in sql


def test_syntax_error_raises() -> None:
    with pytest.raises(TranslationError, match="SYNTAX_ERROR"):
        translate_trino_to_duckdb("SELECT FROM WHERE (")
