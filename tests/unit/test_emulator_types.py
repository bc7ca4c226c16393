"""Type inference of the emulated Glue crawler and the Glue-to-DuckDB mapping."""

from __future__ import annotations

import pyarrow as pa
import pytest

from focus_emulator.crawler import is_excluded
from focus_emulator.types import duckdb_type_from_glue, glue_type_from_arrow

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("arrow_type", "glue_type"),
    [
        (pa.float64(), "double"),
        (pa.int64(), "bigint"),
        (pa.int32(), "int"),
        (pa.string(), "string"),
        (pa.bool_(), "boolean"),
        (pa.timestamp("ms"), "timestamp"),
        (pa.timestamp("us", tz="UTC"), "timestamp"),
        (pa.timestamp("ns"), "timestamp"),
        (pa.map_(pa.string(), pa.string()), "map<string,string>"),
        (pa.map_(pa.string(), pa.float64()), "map<string,double>"),
        (pa.struct([("Amount", pa.float64()), ("Name", pa.string())]), "struct<amount:double,name:string>"),
        (pa.list_(pa.string()), "array<string>"),
    ],
)
def test_glue_type_from_arrow(arrow_type: pa.DataType, glue_type: str) -> None:
    assert glue_type_from_arrow(arrow_type) == glue_type


@pytest.mark.parametrize(
    ("glue_type", "duckdb_type"),
    [
        ("string", "VARCHAR"),
        ("map<string,double>", "MAP(VARCHAR, DOUBLE)"),
        ("struct<a:int,b:map<string,string>>", 'STRUCT("a" INTEGER, "b" MAP(VARCHAR, VARCHAR))'),
        ("array<bigint>", "BIGINT[]"),
    ],
)
def test_duckdb_type_from_glue(glue_type: str, duckdb_type: str) -> None:
    assert duckdb_type_from_glue(glue_type) == duckdb_type


@pytest.mark.parametrize(
    ("key", "excluded"),
    [
        ("_SUCCESS", True),
        ("billing_period=2026-04/_temporary", True),
        ("metadata/focus-export-Manifest.json", True),
        ("part.tmp", True),
        ("billing_period=2026-04/delivery=d1/part-0.parquet", False),
    ],
)
def test_exclusion_globs(key: str, excluded: bool) -> None:
    assert is_excluded(key, ["**/_*", "**/*.json", "**/*.tmp"]) is excluded
