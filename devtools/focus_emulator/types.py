"""Type mappings: Parquet (Arrow) to Glue, Glue to DuckDB, and DuckDB results to Athena column types."""

from __future__ import annotations

import pyarrow as pa


class UnsupportedTypeError(ValueError):
    """Raised for an Arrow type that the Glue crawler cannot map."""


def glue_type_from_arrow(arrow_type: pa.DataType) -> str:
    """Return the Glue (Hive) type name a crawler records for an Arrow type."""
    if pa.types.is_float64(arrow_type) or pa.types.is_float32(arrow_type):
        return "double" if pa.types.is_float64(arrow_type) else "float"
    if pa.types.is_int64(arrow_type) or pa.types.is_uint32(arrow_type) or pa.types.is_uint64(arrow_type):
        return "bigint"
    if pa.types.is_int32(arrow_type) or pa.types.is_uint16(arrow_type):
        return "int"
    if pa.types.is_int16(arrow_type) or pa.types.is_uint8(arrow_type):
        return "smallint"
    if pa.types.is_int8(arrow_type):
        return "tinyint"
    if pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type):
        return "string"
    if pa.types.is_boolean(arrow_type):
        return "boolean"
    if pa.types.is_timestamp(arrow_type):
        return "timestamp"
    if pa.types.is_date(arrow_type):
        return "date"
    if pa.types.is_decimal(arrow_type):
        return f"decimal({arrow_type.precision},{arrow_type.scale})"
    if pa.types.is_binary(arrow_type) or pa.types.is_large_binary(arrow_type):
        return "binary"
    if pa.types.is_map(arrow_type):
        key = glue_type_from_arrow(arrow_type.key_type)
        value = glue_type_from_arrow(arrow_type.item_type)
        return f"map<{key},{value}>"
    if pa.types.is_list(arrow_type) or pa.types.is_large_list(arrow_type):
        return f"array<{glue_type_from_arrow(arrow_type.value_type)}>"
    if pa.types.is_struct(arrow_type):
        fields = ",".join(f"{field.name.lower()}:{glue_type_from_arrow(field.type)}" for field in arrow_type)
        return f"struct<{fields}>"
    if pa.types.is_null(arrow_type):
        return "string"
    raise UnsupportedTypeError(f"Parquet type {arrow_type} has no Glue equivalent in the emulator.")


def duckdb_type_from_glue(glue_type: str) -> str:
    """Return the DuckDB type for a Glue type (string -> VARCHAR, struct<a:int> -> STRUCT(a INTEGER))."""
    text = glue_type.strip()
    lowered = text.lower()
    simple = {
        "string": "VARCHAR",
        "varchar": "VARCHAR",
        "char": "VARCHAR",
        "double": "DOUBLE",
        "float": "FLOAT",
        "bigint": "BIGINT",
        "int": "INTEGER",
        "integer": "INTEGER",
        "smallint": "SMALLINT",
        "tinyint": "TINYINT",
        "boolean": "BOOLEAN",
        "timestamp": "TIMESTAMP",
        "date": "DATE",
        "binary": "BLOB",
    }
    if lowered in simple:
        return simple[lowered]
    if lowered.startswith(("varchar(", "char(")):
        return "VARCHAR"
    if lowered.startswith("decimal"):
        return text.upper()
    if lowered.startswith("map<"):
        key, value = _split_top_level(text[4:-1])
        return f"MAP({duckdb_type_from_glue(key)}, {duckdb_type_from_glue(value)})"
    if lowered.startswith("array<"):
        return f"{duckdb_type_from_glue(text[6:-1])}[]"
    if lowered.startswith("struct<"):
        members = []
        for member in _split_top_level(text[7:-1]):
            name, _, kind = member.partition(":")
            members.append(f'"{name.strip()}" {duckdb_type_from_glue(kind)}')
        return f"STRUCT({', '.join(members)})"
    raise UnsupportedTypeError(f"Glue type {glue_type!r} has no DuckDB equivalent in the emulator.")


def _split_top_level(text: str) -> list[str]:
    """Split on commas that are not inside <...> or (...)."""
    parts, depth, current = [], 0, []
    for char in text:
        if char in "<(":
            depth += 1
        elif char in ">)":
            depth -= 1
        if char == "," and depth == 0:
            parts.append("".join(current).strip())
            current = []
        else:
            current.append(char)
    if current:
        parts.append("".join(current).strip())
    return parts


def athena_type_from_arrow(arrow_type: pa.DataType) -> str:
    """Return the column type name Athena reports in ResultSetMetadata for an Arrow result column."""
    if pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type) or pa.types.is_null(arrow_type):
        return "varchar"
    if pa.types.is_floating(arrow_type):
        return "double" if pa.types.is_float64(arrow_type) else "real"
    if pa.types.is_int64(arrow_type) or pa.types.is_uint64(arrow_type) or pa.types.is_uint32(arrow_type):
        return "bigint"
    if pa.types.is_integer(arrow_type):
        return "integer"
    if pa.types.is_boolean(arrow_type):
        return "boolean"
    if pa.types.is_timestamp(arrow_type):
        return "timestamp"
    if pa.types.is_date(arrow_type):
        return "date"
    if pa.types.is_decimal(arrow_type):
        return "decimal"
    if pa.types.is_map(arrow_type):
        return "map"
    if pa.types.is_list(arrow_type) or pa.types.is_large_list(arrow_type):
        return "array"
    if pa.types.is_struct(arrow_type):
        return "row"
    return "varchar"
