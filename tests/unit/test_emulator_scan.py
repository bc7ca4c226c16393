"""Columns each table of a statement reads after projection pushdown (focus_emulator.scan)."""

from __future__ import annotations

import pytest
import sqlglot

from focus_emulator.scan import columns_read

pytestmark = pytest.mark.unit

SCHEMA = {
    "db": {
        "t": {
            "a": "double",
            "b": "string",
            "c": "map<string,double>",
            "billing_period": "string",
        },
        "u": {"a": "double", "d": "timestamp"},
    }
}
ALL_T = {"a", "b", "c", "billing_period"}


def read(sql: str) -> dict[tuple[str, str], set[str]]:
    return columns_read(sqlglot.parse_one(sql, read="trino"), SCHEMA)


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("SELECT count(*) FROM db.t", {}),
        ("SELECT count(*) FROM (SELECT * FROM db.t) AS s", {}),
        ("SELECT * FROM db.t", {("db", "t"): ALL_T}),
        ("SELECT a FROM (SELECT * FROM db.t)", {("db", "t"): {"a"}}),
        ("WITH x AS (SELECT * FROM db.t) SELECT sum(a) FROM x", {("db", "t"): {"a"}}),
        (
            "WITH x AS (SELECT a, b FROM db.t), y AS (SELECT *, a * 2 AS z FROM x) SELECT z FROM y",
            {("db", "t"): {"a"}},
        ),
        ("SELECT count(*) FROM db.t WHERE billing_period = '2026-04'", {("db", "t"): {"billing_period"}}),
        ("SELECT a FROM db.t WHERE b = 'x' ORDER BY c['k']", {("db", "t"): {"a", "b", "c"}}),
        ("SELECT a FROM (SELECT DISTINCT * FROM db.t)", {("db", "t"): ALL_T}),
        (
            "SELECT count(*) FROM (SELECT * FROM db.t) AS s GROUP BY a, b HAVING count(*) > 1",
            {("db", "t"): {"a", "b"}},
        ),
        (
            "SELECT t.a FROM db.t AS t WHERE EXISTS (SELECT 1 FROM db.u WHERE u.d > t.b)",
            {("db", "t"): {"a", "b"}, ("db", "u"): {"d"}},
        ),
        ("SELECT a FROM db.t UNION ALL SELECT a FROM db.u", {("db", "t"): {"a"}, ("db", "u"): {"a"}}),
        ("SELECT k FROM db.t CROSS JOIN UNNEST(map_keys(c)) AS x(k)", {("db", "t"): {"c"}}),
    ],
)
def test_columns_read(sql, expected):
    assert read(sql) == expected


def test_columns_read_names_partition_keys_lower_case():
    assert read("SELECT \"A\" FROM db.t WHERE Billing_Period = 'x'") == {("db", "t"): {"a", "billing_period"}}


def test_columns_read_unknown_table_star():
    # db.v is not in the schema, so its star cannot be expanded: count every column by name.
    result = read("SELECT * FROM db.v CROSS JOIN db.t")
    assert result[("db", "t")] == ALL_T
    assert result[("db", "v")] == set()
