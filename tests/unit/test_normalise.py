"""Unit tests of the normalisation SQL: reasons, the Trino SELECT, DDL and UNLOAD text."""

from __future__ import annotations

import duckdb
import pytest
import sqlglot

from focus_emulator.sql import SESSION_SETUP, translate_trino_to_duckdb
from focus_pipeline.focus_schema import AWS_FOCUS_1_0_COLUMNS, AWS_FOCUS_1_2_COLUMNS
from focus_pipeline.normalise import (
    build_create_table_sql,
    build_normalise_sql,
    build_unload_sql,
    needs_normalisation,
    temporary_table_name,
)

pytestmark = pytest.mark.unit

CANONICAL = dict(AWS_FOCUS_1_2_COLUMNS)


def _output_names(sql: str) -> list[str]:
    return [select.alias_or_name for select in sqlglot.parse_one(sql, read="trino").expressions]


def test_canonical_needs_no_normalisation():
    assert needs_normalisation(CANONICAL) == []
    assert needs_normalisation({name.lower(): kind for name, kind in CANONICAL.items()}) == []


def test_focus_1_0_needs_normalisation():
    reasons = needs_normalisation(dict(AWS_FOCUS_1_0_COLUMNS))
    assert any("FOCUS 1.0" in reason for reason in reasons)
    assert "x_CostCategories merged into Tags" in reasons


def test_string_and_epoch_timestamps_need_normalisation():
    schema = {**CANONICAL, "ChargePeriodStart": "string", "ChargePeriodEnd": "bigint"}
    assert needs_normalisation(schema) == [
        "ChargePeriodEnd is bigint, expected timestamp",
        "ChargePeriodStart is string, expected timestamp",
    ]


def test_struct_discounts_is_not_normalised():
    schema = {**CANONICAL, "x_Discounts": "struct<total:double>"}
    assert needs_normalisation(schema) == []


def test_select_of_focus_1_0_is_valid_trino_with_60_columns():
    sql = build_normalise_sql(dict(AWS_FOCUS_1_0_COLUMNS), "focus_billing.tmp_normalise_d1")
    names = _output_names(sql)
    assert names == list(CANONICAL)
    assert '"x_usagetype" AS "SkuMeter"' in sql
    assert 'CAST(NULL AS varchar) AS "InvoiceId"' in sql
    assert 'CAST(NULL AS double) AS "PricingCurrencyEffectiveCost"' in sql
    assert 'CAST(NULL AS map(varchar, varchar)) AS "SkuPriceDetails"' in sql
    assert "map_concat" in sql


def test_select_keeps_drift_columns_and_skips_missing_required():
    schema = {name: kind for name, kind in CANONICAL.items() if name != "BilledCost"}
    schema["x_NewThing"] = "string"
    names = _output_names(build_normalise_sql(schema, "t"))
    assert "BilledCost" not in names
    assert names[-1] == "x_newthing"


def test_select_of_1_2_missing_skumeter_stays_missing():
    schema = {name: kind for name, kind in CANONICAL.items() if name != "SkuMeter"}
    assert "SkuMeter" not in _output_names(build_normalise_sql(schema, "t"))


def test_ddl_and_unload_text():
    ddl = build_create_table_sql(
        {"BilledCost": "double", "x_Discounts": "map<string,double>"}, "db.t", "s3://b/raw/"
    )
    assert "`billedcost` double" in ddl
    assert "`x_discounts` map<string,double>" in ddl
    assert ddl.endswith("LOCATION 's3://b/raw/'")
    unload = build_unload_sql("SELECT 1", "s3://b/snap/")
    assert unload.startswith("UNLOAD (SELECT 1)")
    assert "WITH (format = 'PARQUET', compression = 'SNAPPY')" in unload


def test_temporary_table_name_is_identifier_safe():
    assert temporary_table_name("20260401T080000Z-ab-CD") == "tmp_normalise_20260401t080000z_ab_cd"


@pytest.fixture(scope="module")
def duck() -> duckdb.DuckDBPyConnection:
    connection = duckdb.connect()
    for statement in SESSION_SETUP:
        connection.execute(statement)
    return connection


def _run_timestamp(duck, column_type: str, values: list) -> list:
    """Run the ChargePeriodStart expression of the SELECT through the emulator's SQL translation."""
    schema = {**CANONICAL, "ChargePeriodStart": column_type}
    sql = build_normalise_sql(schema, "src")
    expression = next(
        select.this
        for select in sqlglot.parse_one(sql, read="trino").expressions
        if select.alias == "ChargePeriodStart"
    )
    duck_type = {"string": "TEXT", "bigint": "BIGINT"}[column_type]
    duck.execute(f"CREATE OR REPLACE TABLE src (chargeperiodstart {duck_type})")
    duck.executemany("INSERT INTO src VALUES (?)", [[value] for value in values])
    query = translate_trino_to_duckdb(f"SELECT {expression.sql(dialect='trino')} AS v FROM src")
    return [row[0] for row in duck.execute(query).fetchall()]


def test_iso_text_timestamps_become_april_first(duck):
    values = ["2026-04-01T00:00:00Z", "2026-04-01T00:00:00+00:00", "2026-04-01 00:00:00.123456"]
    parsed = _run_timestamp(duck, "string", values)
    assert [value.strftime("%Y-%m-%d %H:%M") for value in parsed] == ["2026-04-01 00:00"] * 3


def test_unparseable_text_timestamp_becomes_null(duck):
    assert _run_timestamp(duck, "string", ["next tuesday"]) == [None]


def test_epoch_integers_in_any_unit_become_april_first(duck):
    seconds = 1775001600
    values = [seconds, seconds * 1000, seconds * 1_000_000, seconds * 1_000_000_000]
    parsed = _run_timestamp(duck, "bigint", values)
    assert [value.strftime("%Y-%m-%d %H:%M") for value in parsed] == ["2026-04-01 00:00"] * 4
